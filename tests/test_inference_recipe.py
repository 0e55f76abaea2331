"""The inference recipe on the CPU: BN folding, channels_last and bf16 autocast each give the
plain module's outputs (exactly up to fp32 rounding, or within bf16 precision), and do what
they say to the module (no batch norms left, NHWC weights, bf16 convolutions)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import resdsl
from resdsl.backends.inference_recipe import InferenceModel, InferenceRecipe, apply_recipe, fold_batchnorm, foldable_pairs


def _with_random_statistics(model: nn.Module) -> nn.Module:
    """Non-trivial BN statistics and affine terms, so folding has something to get wrong."""
    gen = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
    return model.eval()


def _pair(spec, **params):
    torch.manual_seed(0)
    plain = _with_random_statistics(resdsl.build(spec, **params))
    other = resdsl.build(spec, **params)
    other.load_state_dict(plain.state_dict())
    return plain, other.eval(), resdsl.load(spec, **params)


def _count(model, kind) -> int:
    return sum(isinstance(m, kind) for m in model.modules())


def test_every_batch_norm_of_resnet18_follows_its_own_conv():
    # torchvision's resnet18 has 20 batch norms: the stem, 2 per basic block (8), 3 projections.
    pairs = foldable_pairs(resdsl.load("resnet18"))
    assert len(pairs) == 20
    assert ("layer2.0.downsample.0", "layer2.0.downsample.1") in pairs and ("conv1", "bn1") in pairs


@pytest.mark.parametrize("spec, params", [("resnet18", {}), ("cifar_resnet", {"n": 2})])
def test_folding_keeps_outputs_and_leaves_no_batch_norm(spec, params):
    plain, folded, net = _pair(spec, **params)
    assert fold_batchnorm(folded, net) == _count(plain, nn.BatchNorm2d)
    assert _count(folded, nn.BatchNorm2d) == 0
    assert all(m.bias is not None for m in folded.modules() if isinstance(m, nn.Conv2d))
    x = torch.randn(2, *net.input_shape)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), plain(x), rtol=1e-4, atol=1e-4)


def test_folding_refuses_a_model_in_training_mode():
    net = resdsl.load("cifar_resnet", n=1)
    with pytest.raises(ValueError, match="^fold batch norms only in eval mode"):
        fold_batchnorm(resdsl.build(net), net)


def test_channels_last_keeps_outputs():
    plain, other, net = _pair("cifar_resnet", n=2)
    model = apply_recipe(other, net, InferenceRecipe(channels_last=True))
    assert isinstance(model, InferenceModel)
    assert other.layer2[0].conv1.weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(2, *net.input_shape)
    with torch.no_grad():
        torch.testing.assert_close(model(x), plain(x), rtol=1e-5, atol=1e-5)


def test_bf16_autocast_runs_convolutions_in_bf16_and_returns_fp32():
    plain, other, net = _pair("cifar_resnet", n=2)
    model = apply_recipe(other, net, InferenceRecipe(channels_last=True, bf16=True, fold_bn=True))
    dtypes = []
    other.layer3[1].conv2.register_forward_hook(lambda m, i, out: dtypes.append(out.dtype))
    x = torch.randn(2, *net.input_shape)
    with torch.no_grad():
        out, expected = model(x), plain(x)
    assert dtypes == [torch.bfloat16] and out.dtype == torch.float32
    # bf16 keeps 8 bits of mantissa: agreement to a few parts in a hundred of the output scale.
    assert (out - expected).abs().max() <= 0.05 * expected.abs().max()


def test_auto_recipe_is_the_inference_recipe_only_on_cuda():
    assert InferenceRecipe.auto("cuda") == InferenceRecipe(channels_last=True, bf16=True)
    assert InferenceRecipe.auto("cuda:1", fold_bn=True) == InferenceRecipe(True, True, True)
    assert InferenceRecipe.auto("cpu") == InferenceRecipe()


def test_build_inference_on_the_cpu_is_the_plain_module_in_eval_mode():
    model = resdsl.build("cifar_resnet", n=1, inference=True)
    assert type(model).__name__ == "CifarResnet" and not model.training
    folded = resdsl.build("cifar_resnet", n=1, inference=InferenceRecipe(fold_bn=True))
    assert _count(folded, nn.BatchNorm2d) == 0
