"""The ops of attention over paths: a `softmax` over paths (radix groups) and a `weighted_sum`.

Selective-kernel (SKNet) and split-attention (ResNeSt) blocks compute N paths of C channels,
attention logits of N·C channels from their pooled sum, a softmax over the paths for each
channel, and the weighted sum Σ_i w_i · x_i. Registered into `resdsl.ir.ops.OPS` like every
other op (by `resdsl.ir`'s `__init__`).

Layouts (timm's, so its weights load unchanged and its outputs are met exactly):

- `softmax n, groups g` reads C = g·n·k channels as (g, n, k) and writes them as (n, g, k) with
  a softmax over the n paths (timm's RadixSoftmax: view (B, g, n, -1), transpose (1, 2),
  softmax over n, reshape back). With g = 1 the layout is unchanged (SKNet's softmax).
- `weighted_sum x, n` reads its previous value as the weights w (N·C×1×1, or N·C×H×W) and
  `x` (N·C×H×W) as N paths of C channels each, path i being channels i·C .. (i+1)·C − 1; it
  returns Σ_i w_i · x_i (C×H×W).

Costs (docs/costs.md, `all` convention): the softmax is 3 operations per element (exp, the
sum, the division), one tensor; the weighted sum is N·C·H·W multiplications and
(N − 1)·C·H·W additions, writing N + 1 tensors of the output's size (the products, then the sum).
"""

from __future__ import annotations

import math

from resdsl.ir.ops import OPS, OpDef, Shape, ShapeError, fmt_shape


def _softmax_shape(params: dict, inputs: list[Shape]) -> Shape:
    (shape,) = inputs
    n, g = params["paths"], params["groups"]
    if shape[0] % (n * g):
        raise ShapeError(
            "E0216",
            f"`softmax {n}, groups {g}` cannot read {shape[0]} channels ({fmt_shape(shape)}) as {g} group(s) of {n} paths",
            help=f"the channels must be a multiple of paths × groups = {n * g}",
        )
    return shape


def _weighted_shape(params: dict, inputs: list[Shape]) -> Shape:
    weights, x = inputs
    n = params["paths"]
    if len(x) != 3 or x[0] % n:
        raise ShapeError(
            "E0217",
            f"`weighted_sum` cannot read {fmt_shape(x)} as {n} paths of equal channels (weights {fmt_shape(weights)})",
            help=f"the paths' value needs a channel count that is a multiple of {n}",
        )
    if weights != x and weights != (x[0], 1, 1):
        raise ShapeError(
            "E0217",
            f"`weighted_sum` receives weights {fmt_shape(weights)} for paths {fmt_shape(x)}",
            help=f"the weights need the paths' channels: {x[0]}×1×1 (or {fmt_shape(x)})",
        )
    return (x[0] // n, *x[1:])


def _softmax_run(p: dict, xs: list, w: dict):
    import torch.nn.functional as F

    x = xs[0]
    b, c, rest = x.shape[0], x.shape[1], tuple(x.shape[2:])
    grouped = x.reshape(b, p["groups"], p["paths"], c // (p["groups"] * p["paths"]), *rest)
    return F.softmax(grouped.permute(0, 2, 1, *range(3, grouped.dim())), dim=1).reshape(b, c, *rest)


def _weighted_run(p: dict, xs: list, w: dict):
    weights, x = xs
    n, b = p["paths"], x.shape[0]
    paths = x.reshape(b, n, x.shape[1] // n, *x.shape[2:])
    return (paths * weights.reshape(b, n, x.shape[1] // n, *weights.shape[2:])).sum(dim=1)


SOFTMAX_HELPER = '''class RadixSoftmax(nn.Module):
    """Softmax over `paths` per channel: channels (groups, paths, k) in, (paths, groups, k) out."""

    def __init__(self, paths: int, groups: int = 1) -> None:
        super().__init__()
        self.paths = paths
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.unflatten(1, (self.groups, self.paths, -1)).transpose(1, 2)
        return x.softmax(1).flatten(1, 3)
'''

WEIGHTED_SUM_HELPER = '''class WeightedSum(nn.Module):
    """The sum over `paths` of each path times its weights (path i: the i-th 1/paths of the channels)."""

    def __init__(self, paths: int) -> None:
        super().__init__()
        self.paths = paths

    def forward(self, weights: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return (x.unflatten(1, (self.paths, -1)) * weights.unflatten(1, (self.paths, -1))).sum(1)
'''


def _softmax_torch(a: dict, dims) -> str:
    return f"RadixSoftmax({a['paths']})" if a["groups"] == "1" else f"RadixSoftmax({a['paths']}, {a['groups']})"


ATTENTION_OPS = [
    OpDef(
        "softmax", 1, _softmax_shape, element_ops=lambda p, inputs, out: 3 * math.prod(out),
        torch=_softmax_torch, helper=SOFTMAX_HELPER, interpret=_softmax_run,
        label=lambda p: f"softmax /{p['paths']}" + (f", groups {p['groups']}" if p["groups"] > 1 else ""), role="norm",
    ),
    OpDef(
        "weighted_sum", 2, _weighted_shape,
        element_ops=lambda p, inputs, out: (2 * p["paths"] - 1) * math.prod(out),
        torch=lambda a, dims: f"WeightedSum({a['paths']})", helper=WEIGHTED_SUM_HELPER,
        forward=lambda module, xs: f"{module}({xs[0]}, {xs[1]})", interpret=_weighted_run,
        out_channels=lambda a, channels: f"({channels[1]}) // {a['paths']}",
        label=lambda p: f"Σ w·x /{p['paths']}", role="add", outputs=lambda p, inputs: p["paths"] + 1,
    ),
]

OPS.update((op.name, op) for op in ATTENTION_OPS)
