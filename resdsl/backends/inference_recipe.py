"""The inference recipe: eval mode, optional batch-norm folding, channels_last, bf16 autocast.

`InferenceRecipe.auto(device)` is what `resdsl.build(spec, inference=True)` uses: on a CUDA
device, channels_last memory format and bf16 autocast (tensor cores run bf16 convolutions in
NHWC layout without transposes); elsewhere plain fp32, contiguous. BN folding is opt-in because
it changes the module tree (folded batch norms become `nn.Identity`, convolutions gain biases),
so weights must be loaded *before* the recipe is applied.

Folding uses the IR, not pattern matching on code: a batch norm is folded into a convolution
exactly when the IR says the conv's only consumer is that batch norm. Node ids are module paths,
so the IR names the modules to fuse.

Invariants: in eval mode the recipe's output equals the plain module's output up to rounding
(fp32 for folding and channels_last; bf16 precision with autocast); the module is never trained
after folding (folding refuses a module in training mode).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from resdsl.backends.torch_source import module_path
from resdsl.compiler import Network
from resdsl.ir.ops import OPS


@dataclass(frozen=True)
class InferenceRecipe:
    """What to apply to an inference model. `auto(device)` picks the GPU recipe on CUDA."""

    channels_last: bool = False
    bf16: bool = False
    fold_bn: bool = False

    @classmethod
    def auto(cls, device, fold_bn: bool = False) -> "InferenceRecipe":
        cuda = torch.device(device).type == "cuda"
        return cls(channels_last=cuda, bf16=cuda, fold_bn=fold_bn)


class InferenceModel(nn.Module):
    """Runs `inner` on channels_last input under bf16 autocast, as the recipe says.

    The output is cast back to fp32 so callers see the dtype they would get from `inner`.
    """

    def __init__(self, inner: nn.Module, channels_last: bool, bf16: bool) -> None:
        super().__init__()
        self.inner = inner
        self.channels_last = channels_last
        self.bf16 = bf16

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            out = self.inner(x)
        return out.float()


def foldable_pairs(net: Network) -> list[tuple[str, str]]:
    """(conv path, bn path) for every batch norm whose input is a conv used by nothing else."""
    g = net.graph
    pairs = []
    for node, attrs in g.nodes(data=True):
        if not OPS[attrs["op"]].foldable:
            continue
        (source,) = attrs["inputs"]
        if OPS[g.nodes[source]["op"]].convolves and list(g.successors(source)) == [node]:
            pairs.append((source, node))
    return pairs


def fold_batchnorm(model: nn.Module, net: Network) -> int:
    """Fold each foldable batch norm into its conv, in place; returns how many were folded."""
    if model.training:
        raise ValueError("fold batch norms only in eval mode: folding uses the running statistics")
    pairs = foldable_pairs(net)
    for conv_path, bn_path in pairs:
        conv_path, bn_path = module_path(net, conv_path), module_path(net, bn_path)  # renamed labels
        conv, bn = model.get_submodule(conv_path), model.get_submodule(bn_path)
        model.set_submodule(conv_path, fuse_conv_bn_eval(conv, bn))
        model.set_submodule(bn_path, nn.Identity())
    return len(pairs)


def apply_recipe(model: nn.Module, net: Network, recipe: InferenceRecipe, device=None) -> nn.Module:
    """`model` (built from `net`) in eval mode on `device`, with the recipe applied.

    Returns `model` itself when neither channels_last nor bf16 is asked for, else an
    `InferenceModel` wrapping it.
    """
    model.eval()
    if recipe.fold_bn:
        fold_batchnorm(model, net)
    if device is not None:
        model.to(device)
    if recipe.channels_last:
        model.to(memory_format=torch.channels_last)
    if recipe.channels_last or recipe.bf16:
        return InferenceModel(model, recipe.channels_last, recipe.bf16).eval()
    return model
