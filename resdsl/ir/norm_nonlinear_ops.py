"""Two norms with a nonlinearity of their own, the values `evonorm_s0(groups)` and `frn`
(`resdsl.ir.layer_values`), one `OpDef` each, merged into `OPS` when `resdsl.ir` is
imported. Neither is followed by an activation in timm's nets: each is its own.

- `evonorm_s0`: EvoNorm-S0 (Liu et al. 2020, timm's EvoNorm2dS0): x·sigmoid(v·x) divided by the
  standard deviation of x's group (`groups` groups of channels, biased variance + 1e-5), then
  scale and shift: tensors `weight`, `bias`, `v` (C each). Costs: 3·C parameters; under `all`,
  one operation per element for the statistics, the gate, the division and the affine
  transform together (as a batch norm counts 1).
- `frn`: Filter Response Norm with its TLU (Singh and Krishnan 2020, timm's
  FilterResponseNormTlu2d): x divided by the root mean square of its channel's map (+ 1e-5),
  scaled and shifted, then max(·, τ): tensors `weight`, `bias`, `tau`. Costs: 3·C parameters,
  one operation per element under `all`.
"""

from __future__ import annotations

from resdsl.ir.norm_act_ops import _channels_divided_by
from resdsl.ir.ops import OPS, OpDef, _elements, _functional, _needs_map


def _three_per_channel(params, inputs, out) -> int:
    return 3 * out[0]


_evo_groups_divide = _channels_divided_by("groups", "evonorm_s0's {k} groups do not divide the {c} channels", "choose groups that divide every normalized channel count")


def _evo_shape(params, inputs):
    _needs_map(inputs[0], "evonorm_s0")
    return _evo_groups_divide(params, inputs)


def _frn_shape(params, inputs):
    _needs_map(inputs[0], "frn")
    return inputs[0]


def _channel(t):
    return t.view(1, -1, 1, 1)


def _evo_run(p: dict, xs: list, w: dict):
    x = xs[0]
    b, c, h, wd = x.shape
    grouped = x.reshape(b, p["groups"], -1)
    var = (grouped - grouped.mean(2, keepdim=True)).square().mean(2, keepdim=True)
    std = (var + 1e-5).sqrt().expand_as(grouped).reshape(b, c, h, wd)
    return x * _functional().sigmoid(x * _channel(w["v"])) / std * _channel(w["weight"]) + _channel(w["bias"])


def _frn_run(p: dict, xs: list, w: dict):
    x = xs[0]
    y = x / (x.square().mean((2, 3), keepdim=True) + 1e-5).sqrt()
    return (y * _channel(w["weight"]) + _channel(w["bias"])).maximum(_channel(w["tau"]))


EVO_HELPER = '''class EvoNormS0(nn.Module):
    """EvoNorm-S0 (Liu et al. 2020): x * sigmoid(v * x) over the standard deviation of x's group
    of channels, then scale and shift; a norm with its own nonlinearity."""

    def __init__(self, groups: int, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.groups = groups
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.v = nn.Parameter(torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        grouped = x.reshape(b, self.groups, c // self.groups, h, w)
        std = grouped.float().var(dim=(2, 3, 4), unbiased=False, keepdim=True).add(self.eps).sqrt().to(x.dtype)
        std = std.expand(grouped.shape).reshape(b, c, h, w)
        x = x * (x * self.v.view(1, -1, 1, 1)).sigmoid() / std
        return x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
'''

FRN_HELPER = '''class FilterResponseNorm(nn.Module):
    """Filter Response Norm with its TLU (Singh and Krishnan 2020): x over the root mean square of
    its channel's map, scaled and shifted, then max(., tau); a norm with its own nonlinearity."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.tau = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * x.square().float().mean(dim=(2, 3), keepdim=True).add(self.eps).rsqrt().to(x.dtype).expand(x.shape)
        x = x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return torch.maximum(x, self.tau.view(1, -1, 1, 1))
'''

NONLINEAR_NORM_OPS: dict[str, OpDef] = {
    op.name: op
    for op in [
        OpDef(
            "evonorm_s0", 1, _evo_shape, _three_per_channel, element_ops=_elements,
            torch=lambda a, dims: f"EvoNormS0({a['groups']}, {dims[0].channels})", helper=EVO_HELPER, interpret=_evo_run,
            label=lambda p: f"evonorm s0 /{p['groups']}", role="norm", normalizes=True, tensors=("weight", "bias", "v"),
        ),
        OpDef(
            "frn", 1, _frn_shape, _three_per_channel, element_ops=_elements,
            torch=lambda a, dims: f"FilterResponseNorm({dims[0].channels})", helper=FRN_HELPER, interpret=_frn_run,
            label=lambda p: "filter response norm, tlu", role="norm", normalizes=True, tensors=("weight", "bias", "tau"),
        ),
    ]
}

OPS.update(NONLINEAR_NORM_OPS)  # one registry: `resdsl.ir` imports this module
