"""The registry of IR ops: everything resdsl knows about one kind of node, in one place.

For each op: its arity, its shape rule, its parameter and multiply-add counts, the PyTorch
constructor that implements it, and its paper-style label. Adding an op means adding one
`OpDef` here (and, if users write it directly, one `LayerKind` in `resdsl.layers`).

Shapes are tuples of ints: (C, H, W) for feature maps, (F,) for a flattened vector.
Node params are concrete values: pairs such as `kernel`, `stride`, `padding`, `dilation` are
(h, w) tuples. Shape rules raise `ShapeError` for a problem the user must fix; the pass that
calls them turns it into a located diagnostic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

Shape = tuple[int, ...]


class ShapeError(Exception):
    """A shape rule's objection, phrased for the user (the caller adds code and location)."""

    def __init__(self, code: str, message: str, help: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.help = help


def fmt_shape(shape: Shape | None) -> str:
    return "?" if shape is None else "×".join(str(d) for d in shape)


def _zero(params, inputs, out) -> int:
    return 0


def _window(size: int, k: int, s: int, p: int, d: int = 1) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _spatial(params: dict, shape: Shape, what: str) -> tuple[int, int]:
    if len(shape) != 3:
        raise ShapeError("E0208", f"{what} needs a C×H×W input, got {fmt_shape(shape)}")
    _, h, w = shape
    kh, kw = params["kernel"]
    sh, sw = params["stride"]
    ph, pw = params["padding"]
    dh, dw = params.get("dilation", (1, 1))
    oh, ow = _window(h, kh, sh, ph, dh), _window(w, kw, sw, pw, dw)
    if oh <= 0 or ow <= 0:
        raise ShapeError(
            "E0204",
            f"{what} {kh}x{kw} on a {h}×{w} input leaves a spatial size of {oh}×{ow}",
            help="reduce the strides or kernel, add padding, or use a larger input",
        )
    return oh, ow


def _conv_shape(params: dict, inputs: list[Shape]) -> Shape:
    (shape,) = inputs
    if len(shape) != 3:
        raise ShapeError("E0208", f"conv needs a C×H×W input, got {fmt_shape(shape)}")
    c, groups, out = shape[0], params["groups"], params["out_channels"]
    if c % groups or out % groups:
        bad = c if c % groups else out
        which = "input" if c % groups else "output"
        raise ShapeError(
            "E0205",
            f"groups {groups} does not divide the {which} channels {bad}",
            help="choose groups that divide both the input and output channel counts",
        )
    return (out, *_spatial(params, shape, "conv"))


def _conv_params(params, inputs, out) -> int:
    kh, kw = params["kernel"]
    c_in = inputs[0][0]
    return out[0] * (c_in // params["groups"]) * kh * kw + (out[0] if params["bias"] else 0)


def _conv_macs(params, inputs, out) -> int:
    kh, kw = params["kernel"]
    return out[0] * out[1] * out[2] * (inputs[0][0] // params["groups"]) * kh * kw


def _same(params, inputs: list[Shape]) -> Shape:
    return inputs[0]


def _pool_shape(params, inputs: list[Shape]) -> Shape:
    (shape,) = inputs
    return (shape[0], *_spatial(params, shape, "pool"))


def _global_pool_shape(params, inputs: list[Shape]) -> Shape:
    (shape,) = inputs
    if len(shape) != 3:
        raise ShapeError("E0208", f"global average pool needs a C×H×W input, got {fmt_shape(shape)}")
    return (shape[0], 1, 1)


def _linear_shape(params, inputs: list[Shape]) -> Shape:
    return (params["out_features"],)


def _linear_params(params, inputs, out) -> int:
    return math.prod(inputs[0]) * out[0] + (out[0] if params["bias"] else 0)


def _linear_macs(params, inputs, out) -> int:
    return math.prod(inputs[0]) * out[0]


def _add_shape(params, inputs: list[Shape]) -> Shape:
    return inputs[0]  # equality of the operands is checked by passes.validate_residuals


def _pad_shape(params, inputs: list[Shape]) -> Shape:
    c, h, w = inputs[0]
    s = params["stride"]
    return (c + params["before"] + params["after"], -(-h // s), -(-w // s))


def _bn_params(params, inputs, out) -> int:
    return 2 * out[0]


# --- PyTorch constructors --------------------------------------------------------------------
# Each takes Python expression strings (a literal such as "3" or a symbolic one such as
# "width * 4") and returns constructor source, leaving out arguments equal to PyTorch's defaults.


def _pair(value: str | tuple[str, str]) -> str:
    if isinstance(value, tuple):
        return value[0] if value[0] == value[1] else f"({value[0]}, {value[1]})"
    return value


def _kwargs(pairs: list[tuple[str, str, str]]) -> str:
    """`name=value` for each (name, value, default) whose value is not the default."""
    return "".join(f", {name}={value}" for name, value, default in pairs if value != default)


def _conv_torch(a: dict) -> str:
    return (
        f"nn.Conv2d({a['in_channels']}, {a['out_channels']}, kernel_size={_pair(a['kernel'])}"
        + _kwargs(
            [
                ("stride", _pair(a["stride"]), "1"),
                ("padding", _pair(a["padding"]), "0"),
                ("dilation", _pair(a["dilation"]), "1"),
                ("groups", a["groups"], "1"),
                ("bias", a["bias"], "True"),
            ]
        )
        + ")"
    )


def _maxpool_torch(a: dict) -> str:
    kernel = _pair(a["kernel"])
    return f"nn.MaxPool2d(kernel_size={kernel}, stride={_pair(a['stride'])}" + _kwargs(
        [("padding", _pair(a["padding"]), "0")]
    ) + ")"


def _avgpool_torch(a: dict) -> str:
    return f"nn.AvgPool2d(kernel_size={_pair(a['kernel'])}, stride={_pair(a['stride'])}" + _kwargs(
        [("padding", _pair(a["padding"]), "0")]
    ) + ")"


def _linear_torch(a: dict) -> str:
    return f"nn.Linear({a['in_features']}, {a['out_features']}" + _kwargs([("bias", a["bias"], "True")]) + ")"


# --- paper-style labels (the paper's Fig. 3 and Table 1 notation) -----------------------------


def _suffix_stride(params) -> str:
    sh, sw = params["stride"]
    return f", /{sh}" if sh == sw and sh > 1 else (f", /{sh}x{sw}" if (sh, sw) != (1, 1) else "")


def _conv_label(params) -> str:
    kh, kw = params["kernel"]
    groups = f", groups {params['groups']}" if params["groups"] != 1 else ""
    return f"{kh}x{kw} conv, {params['out_channels']}{groups}{_suffix_stride(params)}"


@dataclass(frozen=True)
class OpDef:
    """What one IR op means. `module` says whether it runs as an nn.Module attribute."""

    name: str
    arity: int
    infer: Callable[[dict, list[Shape]], Shape]
    params: Callable[[dict, list[Shape], Shape], int] = _zero
    macs: Callable[[dict, list[Shape], Shape], int] = _zero
    torch: Callable[[dict], str] | None = None
    label: Callable[[dict], str] = lambda params: ""
    module: bool = False


OPS: dict[str, OpDef] = {
    op.name: op
    for op in [
        OpDef("input", 0, lambda params, inputs: params["shape"], label=lambda p: "input"),
        OpDef(
            "conv",
            1,
            _conv_shape,
            _conv_params,
            _conv_macs,
            _conv_torch,
            _conv_label,
            module=True,
        ),
        OpDef(
            "bn",
            1,
            _same,
            _bn_params,
            torch=lambda a: f"nn.BatchNorm2d({a['channels']})",
            label=lambda p: "batch norm",
            module=True,
        ),
        OpDef("relu", 1, _same, torch=lambda a: "nn.ReLU(inplace=True)", label=lambda p: "relu"),
        OpDef(
            "maxpool",
            1,
            _pool_shape,
            torch=_maxpool_torch,
            label=lambda p: f"{p['kernel'][0]}x{p['kernel'][1]} max pool{_suffix_stride(p)}",
            module=True,
        ),
        OpDef(
            "avgpool",
            1,
            _pool_shape,
            torch=_avgpool_torch,
            label=lambda p: f"{p['kernel'][0]}x{p['kernel'][1]} avg pool{_suffix_stride(p)}",
            module=True,
        ),
        OpDef(
            "global_avgpool",
            1,
            _global_pool_shape,
            torch=lambda a: "nn.AdaptiveAvgPool2d(1)",
            label=lambda p: "avg pool",
            module=True,
        ),
        OpDef(
            "linear",
            1,
            _linear_shape,
            _linear_params,
            _linear_macs,
            _linear_torch,
            lambda p: f"fc {p['out_features']}",
            module=True,
        ),
        OpDef("add", 2, _add_shape, label=lambda p: "+"),
        OpDef(
            "pad_shortcut",
            1,
            _pad_shape,
            torch=lambda a: f"ZeroPadShortcut(stride={a['stride']}, before={a['before']}, after={a['after']})",
            label=lambda p: f"zero-pad +{p['before'] + p['after']}" + (f", /{p['stride']}" if p["stride"] > 1 else ""),
            module=True,
        ),
    ]
}


def op(name: str) -> OpDef:
    return OPS[name]
