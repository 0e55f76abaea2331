"""The PyTorch backend: golden generated source, determinism, standalone import, torchvision
compatibility (names, strict state_dict loading, identical outputs) and initialization."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import resdsl
from conftest import ROOT, TESTS
from torchvision_reference import CONFIGS, reference

GOLDEN = TESTS / "golden" / "torch"


@pytest.mark.parametrize("spec", ["resnet18", "resnet50", "cifar_resnet", "resnet50d", "seresnet50", "preact_resnet", "resnetv2_50", "wide_resnet"])
def test_generated_source_matches_golden(spec, golden):
    golden(GOLDEN / f"{spec}.py", resdsl.generate_source(spec))


def _generate_in_subprocess(spec: str, seed: str) -> str:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    return subprocess.run(
        [sys.executable, "-m", "resdsl", "build", spec], capture_output=True, text=True, env=env, check=True
    ).stdout


def test_generation_is_byte_identical_across_runs():
    first, second = _generate_in_subprocess("resnet50", "1"), _generate_in_subprocess("resnet50", "2")
    assert first == second == resdsl.generate_source("resnet50")


_STANDALONE = r"""
import runpy, sys
sys.modules["resdsl"] = None  # any import of resdsl now fails
ns = runpy.run_path(sys.argv[1])
model = ns[sys.argv[2]]()
import torch
print(sum(p.numel() for p in model.parameters()), len(model.state_dict()),
      tuple(model.eval()(torch.zeros(1, *map(int, sys.argv[3].split("x")))).shape))
"""


@pytest.mark.parametrize("spec, factory", [("resnet18", "resnet18"), ("cifar_resnet", "cifar_resnet")])
def test_generated_file_runs_without_resdsl(tmp_path: Path, spec, factory):
    target = tmp_path / "model.py"
    subprocess.run([sys.executable, "-m", "resdsl", "build", spec, "-o", str(target)], check=True)
    net = resdsl.load(spec)
    shape = "x".join(map(str, net.input_shape))
    out = subprocess.run(
        [sys.executable, "-c", _STANDALONE, str(target), factory, shape],
        capture_output=True, text=True, cwd=tmp_path, check=True,
    ).stdout.split(maxsplit=2)
    built = resdsl.build(spec)
    assert int(out[0]) == net.params == sum(p.numel() for p in built.parameters())
    assert int(out[1]) == len(built.state_dict())
    assert out[2].strip() == str((1,) + net.output_shape)


def test_factory_and_build_have_the_same_parameter_names():
    ns: dict = {}
    exec(compile(resdsl.generate_source("resnext50_32x4d"), "gen.py", "exec"), ns)
    from_factory = ns["resnext50_32x4d"]()
    built = resdsl.build("resnext50_32x4d")
    assert [(k, v.shape) for k, v in from_factory.state_dict().items()] == [
        (k, v.shape) for k, v in built.state_dict().items()
    ]


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_torchvision_weights_load_strictly_and_give_the_same_outputs(name):
    torch.manual_seed(0)
    ref = reference(name).eval()
    model = resdsl.build(name).eval()
    assert list(model.state_dict()) == list(ref.state_dict())
    model.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), ref(x))


def test_torchvision_state_dict_sizes():
    assert len(resdsl.build("resnet18").state_dict()) == 122
    assert len(resdsl.build("resnet50").state_dict()) == 320
    keys = resdsl.build("resnet50").state_dict()
    for key in ("conv1.weight", "bn1.num_batches_tracked", "layer1.0.conv3.weight",
                "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_var", "fc.bias"):
        assert key in keys


def test_initialization_follows_torchvision():
    torch.manual_seed(0)
    model = resdsl.build("resnet50")
    conv = model.layer3[0].conv2  # 3x3, 256 out: fan_out = 256 * 9
    expected_std = (2 / (256 * 9)) ** 0.5
    assert abs(conv.weight.std().item() / expected_std - 1) < 0.02
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(torch.all(b.weight == 1) and torch.all(b.bias == 0) for b in bns)


def test_zero_init_residual_zeroes_the_last_bn_of_each_branch():
    model = resdsl.build("resnet50", zero_init_residual=True)
    last = [blk.bn3.weight for stage in (model.layer1, model.layer2, model.layer3, model.layer4) for blk in stage]
    assert len(last) == 16 and all(torch.count_nonzero(w) == 0 for w in last)
    assert torch.all(model.layer1[0].bn2.weight == 1)
    basic = resdsl.build("resnet18", zero_init_residual=True)
    assert torch.count_nonzero(basic.layer4[1].bn2.weight) == 0
    assert torch.all(basic.layer4[1].bn1.weight == 1)
