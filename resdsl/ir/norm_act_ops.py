"""The ops a norm or activation value becomes (`resdsl.ir.layer_values`): group norm and
the activations beyond ReLU and the sigmoid, one `OpDef` each, merged into `OPS` when
`resdsl.ir` is imported.

Costs: a group norm counts as a batch norm does, 2·C parameters (its scale and shift) and one
element op per output element; an activation, one element op per output element.

`NORM_SLOT` and `ACT_SLOT` are no IR ops: they are what a generated block class writes for a
`norm VALUE` or `act VALUE` unit, a call of the factory the class takes (`norm(width)`,
`act()`), or the value's module where it is written literally (`nn.GroupNorm(32, width)`).
The elaborator replaces each with the value's own op, so the IR holds only concrete ops.
"""

from __future__ import annotations

from collections import ChainMap

import re

from resdsl.ir.ops import OPS, OpDef, ShapeError, _bn_params, _elements, _functional, _same


def _channels_divided_by(key: str, message: str, help: str):
    """The shape rule of a norm over groups: `params[key]` must divide the channels (E0205)."""

    def infer(params, inputs):
        (shape,) = inputs
        k, c = params[key], shape[0]
        if c % k:
            raise ShapeError("E0205", message.format(k=k, c=c), help=help)
        return shape

    return infer


_groupnorm_shape = _channels_divided_by("groups", "groupnorm's {k} groups do not divide the {c} channels", "choose groups that divide every normalized channel count")
_groupnorm_size_shape = _channels_divided_by(
    "size", "groupnorm_size's groups of {k} channels do not divide the {c} channels", "choose a group size that divides every normalized channel count"
)


def _groupnorm_run(p: dict, xs: list, w: dict):
    return _functional().group_norm(xs[0], p["groups"], w["weight"], w["bias"], 1e-5)


def _groupnorm_size_run(p: dict, xs: list, w: dict):
    return _functional().group_norm(xs[0], xs[0].shape[1] // p["size"], w["weight"], w["bias"], 1e-5)


GROUPNORM_SIZE_HELPER = '''class GroupNormSize(nn.GroupNorm):
    """Group norm of `size` channels a group (timm's GroupNorm with `group_size`)."""

    def __init__(self, size: int, num_channels: int) -> None:
        super().__init__(num_channels // size, num_channels)
'''


def _act(name: str, module: str, run) -> OpDef:
    ctor = f"nn.{module}()"  # out of place: its input may be read again (a residual's input)
    return OpDef(name, 1, _same, element_ops=_elements, torch=lambda a, dims: ctor, interpret=lambda p, xs, w: run(xs[0]), label=lambda p: name.replace("_", " "), role="norm")


def _f(name: str, **kw):
    return lambda x: getattr(_functional(), name)(x, **kw)


_PARTIAL = re.compile(r"partial\((?P<f>[A-Za-z_][\w.]*), (?P<rest>.*)\)$")


def call_source(factory: str, args: list[str]) -> str:
    """The source of calling `factory` (source) with `args`, a literal `partial` folded in:
    `partial(nn.GroupNorm, 32)` with ["c"] is `nn.GroupNorm(32, c)`, `partial(nn.SiLU,
    inplace=True)` with [] is `nn.SiLU(inplace=True)`; a parameter `norm` is `norm(c)`."""
    m = _PARTIAL.match(factory)
    if m is None:
        return f"{factory}({', '.join(args)})"
    rest = m.group("rest")
    if "=" in rest:  # keywords: the call's positional arguments come first
        return f"{m.group('f')}({', '.join(args + [rest])})"
    return f"{m.group('f')}({', '.join([rest] + args)})"


def _slot_call(a: dict, args: list[str]) -> str:
    return call_source(a["kind"], args)


NORM_ACT_OPS: dict[str, OpDef] = {
    op.name: op
    for op in [
        OpDef(
            "groupnorm", 1, _groupnorm_shape, _bn_params, element_ops=_elements,
            torch=lambda a, dims: f"nn.GroupNorm({a['groups']}, {dims[0].channels})", interpret=_groupnorm_run,
            label=lambda p: f"group norm /{p['groups']}", role="norm", normalizes=True, tensors=("weight", "bias"),
        ),
        OpDef(
            "groupnorm_size", 1, _groupnorm_size_shape, _bn_params, element_ops=_elements,
            torch=lambda a, dims: f"GroupNormSize({a['size']}, {dims[0].channels})", helper=GROUPNORM_SIZE_HELPER, interpret=_groupnorm_size_run,
            label=lambda p: f"group norm, {p['size']} per group", role="norm", normalizes=True, tensors=("weight", "bias"),
        ),
        _act("relu6", "ReLU6", _f("relu6")),
        _act("leaky_relu", "LeakyReLU", _f("leaky_relu", negative_slope=0.01)),
        _act("silu", "SiLU", _f("silu")),
        _act("gelu", "GELU", _f("gelu")),
        _act("hardswish", "Hardswish", _f("hardswish")),
        _act("hardsigmoid", "Hardsigmoid", _f("hardsigmoid")),
        _act("mish", "Mish", _f("mish")),
        _act("tanh", "Tanh", lambda x: x.tanh()),
    ]
}

NORM_SLOT = OpDef("norm", 1, _same, torch=lambda a, dims: _slot_call(a, [dims[0].channels]), role="norm", normalizes=True)
ACT_SLOT = OpDef("act", 1, _same, torch=lambda a, dims: _slot_call(a, []), role="norm", base="act")
SLOT_OPS = {"norm": NORM_SLOT, "act": ACT_SLOT}

OPS.update(NORM_ACT_OPS)  # one registry: `resdsl.ir` imports this module, so every reader of OPS sees them

# The ops a planned statement's unit may name: every IR op, and the slots a norm or activation
# value fills (`norm`, `act`), which become concrete ops (`bn`, `groupnorm`, `silu`) in the IR.
UNIT_OPS = ChainMap(OPS, SLOT_OPS)
