"""The registry of IR ops: everything resdsl knows about one kind of node, in one place.

Every consumer reads an op's `OpDef` and nothing else switches on op names:
- shape inference (`infer`), with the user-facing objections as `ShapeError`;
- cost counting (`params`, `macs` for the conv+fc convention, `element_ops` for "all");
- the PyTorch code generator (`torch`: constructor source from argument source strings and the
  operands' dimensions; `forward`: the call, for ops that are expressions rather than modules;
  `helper`: a class the generated file must define; `shared`: one module per class; the
  emitters live in `resdsl.ir.op_torch`);
- the paper-style `label` (diagrams, summaries), the Table 1 `phrase` (None: omitted), the
  drawing `role`, and which ops a conv unit `absorbs` in the unit-level diagram;
- the questions consumers would otherwise ask of an op's name, one flag each: `is_source`,
  `weighted`, `convolves`, `foldable`, `joins`, `flattens_input`, `channels_param`, `tensors`,
  `stacks_channels`, `picks_part`.

Adding an op means one `OpDef` here and, when users write it, one `LayerKind` in
`resdsl.frontend.layers` (a test walks every op through every consumer).

Shapes are tuples of ints: (C, H, W) for feature maps, (F,) for a flattened vector.
Node params are concrete values: pairs such as `kernel`, `stride`, `padding`, `dilation` are
(h, w) tuples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from resdsl.ir.op_torch import (
    BN_ACT1D_HELPER,
    BN_ACT_HELPER,
    DROP_PATH_HELPER,
    PAD_HELPER,
    Dims,
    avgpool_torch,
    bn_torch,
    conv_torch,
    kwargs,
    linear_torch,
    maxpool_torch,
)

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


def _elements(params, inputs, out) -> int:
    return math.prod(out)


def _window_ops(params, inputs, out) -> int:
    kh, kw = params["kernel"]
    return math.prod(out) * kh * kw


def _input_elements(params, inputs, out) -> int:
    return math.prod(inputs[0])


# --- shape rules -------------------------------------------------------------------------------


def _needs_map(shape: Shape, what: str) -> None:
    if len(shape) != 3:
        raise ShapeError("E0208", f"{what} needs a C×H×W input, got {fmt_shape(shape)}", help="put it before the layer that flattens the map")


def _window(size: int, k: int, s: int, p: int, d: int = 1, ceil: bool = False) -> int:
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= size + p:  # PyTorch: the last window must start inside the input
        out -= 1
    return out


def _spatial(params: dict, shape: Shape, what: str) -> tuple[int, int]:
    _needs_map(shape, what)
    _, h, w = shape
    kh, kw = params["kernel"]
    sh, sw = params["stride"]
    ph, pw = params["padding"]
    dh, dw = params.get("dilation", (1, 1))
    ceil = params.get("ceil", False)
    oh, ow = _window(h, kh, sh, ph, dh, ceil), _window(w, kw, sw, pw, dw, ceil)
    if oh <= 0 or ow <= 0:
        raise ShapeError(
            "E0204",
            f"{what} {kh}x{kw} on a {h}×{w} input leaves a spatial size of {oh}×{ow}",
            help="reduce the strides or kernel, add padding, or use a larger input",
        )
    return oh, ow


def _conv_shape(params: dict, inputs: list[Shape]) -> Shape:
    (shape,) = inputs
    _needs_map(shape, "conv")
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


def _pool_shape(what: str) -> Callable:
    def infer(params, inputs: list[Shape]) -> Shape:
        (shape,) = inputs
        kh, kw = params["kernel"]
        ph, pw = params["padding"]
        if 2 * ph > kh or 2 * pw > kw:  # PyTorch refuses it when the module runs
            raise ShapeError("E0201", f"{what} padding {ph}x{pw} is more than half its {kh}x{kw} window", help="padding may be at most kernel // 2")
        return (shape[0], *_spatial(params, shape, what))

    return infer


def _global_pool_shape(params, inputs: list[Shape]) -> Shape:
    (shape,) = inputs
    _needs_map(shape, "global average pool")
    return (shape[0], 1, 1)


def _linear_shape(params, inputs: list[Shape]) -> Shape:
    return (params["out_features"],)


def _linear_params(params, inputs, out) -> int:
    return math.prod(inputs[0]) * out[0] + (out[0] if params["bias"] else 0)


def _linear_macs(params, inputs, out) -> int:
    return math.prod(inputs[0]) * out[0]


def _add_shape(params, inputs: list[Shape]) -> Shape:
    a, b = inputs
    if a != b and not params.get("residual"):  # a residual add is checked after its shortcut exists
        raise ShapeError("E0203", f"`add` receives {fmt_shape(a)} and {fmt_shape(b)}", help="both operands need the same shape")
    return a


def _mul_shape(params, inputs: list[Shape]) -> Shape:
    a, b = inputs
    if a == b:
        return a
    big, small = (a, b) if len(a) == 3 and b[1:] == (1, 1) else (b, a)
    if len(big) == 3 and len(small) == 3 and small[1:] == (1, 1) and small[0] == big[0]:
        return big
    raise ShapeError(
        "E0203",
        f"`mul` receives {fmt_shape(a)} and {fmt_shape(b)}",
        help="multiply equal shapes, or a C×H×W map by a C×1×1 gate of the same C",
    )


def _pad_shape(params, inputs: list[Shape]) -> Shape:
    _needs_map(inputs[0], "zero padding")
    c, h, w = inputs[0]
    s, out = params["stride"], params["channels"]
    if out < c:
        raise ShapeError("E0206", f"option A cannot reduce channels ({c} → {out}): it only zero-pads")
    return (out, -(-h // s), -(-w // s))


def _bn_params(params, inputs, out) -> int:
    return 2 * out[0]


# --- interpretation (the reference meaning, `resdsl.ir.interpret`) -----------------------------
# `interpret(params, xs, weights)`: the op's eval-mode result from its operand tensors `xs` and
# the tensors it owns (`weights`: state_dict names such as "weight", "running_mean"), written
# with torch.nn.functional alone. It shares nothing with the emitters above: the property test
# compares the two. torch is imported on first use, so `resdsl check` never loads it.


def _functional():
    import torch.nn.functional as F

    return F


def _conv_run(p: dict, xs: list, w: dict):
    return _functional().conv2d(xs[0], w["weight"], w.get("bias"), p["stride"], p["padding"], p["dilation"], p["groups"])


def _bn_run(p: dict, xs: list, w: dict):
    return _functional().batch_norm(xs[0], w["running_mean"], w["running_var"], w["weight"], w["bias"], False, 0.0, 1e-5)


def _linear_run(p: dict, xs: list, w: dict):
    x = xs[0]
    return _functional().linear(x.flatten(1) if x.dim() > 2 else x, w["weight"], w.get("bias"))


def _maxpool_run(p: dict, xs: list, w: dict):
    return _functional().max_pool2d(xs[0], p["kernel"], p["stride"], p["padding"], ceil_mode=p["ceil"])


def _avgpool_run(p: dict, xs: list, w: dict):
    return _functional().avg_pool2d(xs[0], p["kernel"], p["stride"], p["padding"], p["ceil"], p["count_pad"])


def _pad_run(p: dict, xs: list, w: dict):
    x = xs[0][:, :, :: p["stride"], :: p["stride"]]
    extra = p["channels"] - x.shape[1]
    return _functional().pad(x, (0, 0, 0, 0, extra // 2, extra - extra // 2))


def _unchanged(p: dict, xs: list, w: dict):
    return xs[0]


# --- paper-style labels (the paper's Fig. 3 and Table 1 notation) -----------------------------


def _suffix_stride(params) -> str:
    sh, sw = params["stride"]
    return f", /{sh}" if sh == sw and sh > 1 else (f", /{sh}x{sw}" if (sh, sw) != (1, 1) else "")


def _conv_label(params) -> str:
    kh, kw = params["kernel"]
    groups = f", groups {params['groups']}" if params["groups"] != 1 else ""
    return f"{kh}x{kw} conv, {params['out_channels']}{groups}{_suffix_stride(params)}"


def _stride_words(params: dict) -> str:
    sh, sw = params["stride"]
    if (sh, sw) == (1, 1):
        return ""
    return f", stride {sh}" if sh == sw else f", stride {sh}×{sw}"


def _kernel_words(params: dict) -> str:
    kh, kw = params["kernel"]
    return f"{kh}×{kw}"


def _conv_phrase(p: dict, in_block: bool) -> str:
    text = f"{_kernel_words(p)}, {p['out_channels']}"
    text += f", C={p['groups']}" if p["groups"] != 1 else ""
    text += f", dilation {p['dilation'][0]}" if p["dilation"] != (1, 1) else ""
    return text if in_block else text + _stride_words(p)


@dataclass(frozen=True)
class OpDef:
    """What one IR op means, for every consumer (see the module docstring).

    `torch` is None for ops that are expressions in `forward` (add, mul) or that have no module
    (input). `forward(module, operands)` returns the call for the forward method; the default
    calls the op's module attribute on its one operand. `passthrough` ops are the identity in
    eval mode (zero-init looks through them to the branch's last batch norm). `interpret` is the
op's meaning in torch.nn.functional, independent of the emitters (`resdsl.ir.interpret`).
    """

    name: str
    arity: int
    infer: Callable[[dict, list[Shape]], Shape]
    params: Callable[[dict, list[Shape], Shape], int] = _zero
    macs: Callable[[dict, list[Shape], Shape], int] = _zero
    element_ops: Callable[[dict, list[Shape], Shape], int] = _zero
    torch: Callable[[dict, list[Dims]], str] | None = None
    forward: Callable[[str, list[str]], str] = lambda module, xs: f"{module}({xs[0]})"
    helper: str = ""  # a class the generated file defines when the op is used
    helpers: tuple[str, ...] = ()  # more classes, each defined where the generated code names it
    shared: bool = False  # one module per class serves every use (the ReLU, as torchvision)
    label: Callable[[dict], str] = lambda params: ""
    phrase: Callable[[dict, bool], str] | None = None  # Table 1 words; None: not listed
    role: str = "conv"  # drawing style (resdsl.backends.draw.style.ROLES): conv, norm, pool, fc, add, input, gate
    absorbs: tuple[str, ...] = ()  # ops a unit ending with this op takes in (unit view)
    passthrough: bool = False
    normalizes: bool = False  # a batch norm: zero-init's target, init's ones/zeros
    no_op: Callable[[dict], bool] = lambda params: False  # computes nothing here: not drawn
    # tensors of the output's size it makes (activations): BN + ReLU makes two; or a rule of
    # (params, operand shapes), as `sum` of k values, which writes k - 1 (Python adds pairwise)
    outputs: int | Callable[[dict, list[Shape]], int] = 1
    scratch: Callable[[dict, list[Shape], Shape], int] = _zero  # elements of other tensors it writes (activations): a standardised weight
    interpret: Callable[[dict, list, dict], object] | None = None  # eval-mode meaning (see above)
    is_source: bool = False  # the network's input: no operand, no activation of its own, one per graph
    weighted: bool = False  # a weighted layer (conv, fc): counted in `layers` and in the drawing's title
    convolves: bool = False  # a convolution: a norm reading one is post-activation (Table 1)
    foldable: bool = False  # a batch norm that folds into a `convolves` op it alone reads (inference)
    joins: bool = False  # a residual join (+): operands of one shape, drawn as the join, not a layer
    flattens_input: bool = False  # flattens a C×H×W operand, makes a vector; in a block it needs C×1×1
    channels_param: str = ""  # the param that sets the output's channels (features for a vector)
    tensors: tuple[str, ...] = ()  # state_dict tensors a node always owns (a true `bias` param adds one)
    sums: bool = False  # adds its operands, all of one shape: its size is one operand's (one tuple entry's)
    base: str = ""  # an unlabelled node's name stem where it is not its layer kind's (`act1`: timm's)
    stacks_channels: bool = False  # its output's channels are its operands' channels added up (concat)
    picks_part: bool = False  # one entry of a split's tuple, its `index` param saying which
    parts: Callable[[dict], int] | None = None  # a tuple of values: how many `part` nodes read it (`split`)
    out_channels: Callable[[dict, list[str]], str] | None = None  # generated code: output channels from args and operand channels (source); None: the first operand's


_BN_TENSORS = ("weight", "bias", "running_mean", "running_var")

# The op a statement becomes where its `when` guard is false: the identity, so the block's
# numbering and generated class stay the same (the elaborator makes it, the code generator
# recognises it).
GUARDED_OFF = "identity"

OPS: dict[str, OpDef] = {
    op.name: op
    for op in [
        OpDef(
            "input", 0, lambda params, inputs: params["shape"], label=lambda p: "input", role="input", is_source=True,
            interpret=lambda p, xs, w: xs[0],  # the interpreter passes the network input as its operand
        ),
        OpDef(
            "conv", 1, _conv_shape, _conv_params, _conv_macs,
            torch=conv_torch, interpret=_conv_run, label=_conv_label, phrase=_conv_phrase, absorbs=("bn", "bn_act", "relu"),
            weighted=True, convolves=True, channels_param="out_channels", tensors=("weight",),
        ),
        OpDef(
            "linear", 1, _linear_shape, _linear_params, _linear_macs,
            torch=linear_torch, interpret=_linear_run, label=lambda p: f"fc {p['out_features']}",
            phrase=lambda p, in_block: f"{p['out_features']}-d fc", role="fc", absorbs=("bn", "bn_act", "relu"),
            weighted=True, flattens_input=True, channels_param="out_features", tensors=("weight",),
        ),
        OpDef(
            "bn", 1, _same, _bn_params, element_ops=_elements,
            torch=bn_torch, interpret=_bn_run, label=lambda p: "batch norm", role="norm", absorbs=("relu",), normalizes=True,
            foldable=True, tensors=_BN_TENSORS,
        ),
        OpDef(
            "bn_act", 1, _same, _bn_params, element_ops=lambda p, i, o: 2 * math.prod(o),
            torch=lambda a, dims: f"BatchNormAct{1 if dims[0].rank == 1 else 2}d({dims[0].channels})", helper=BN_ACT_HELPER,
            helpers=(BN_ACT1D_HELPER,),
            interpret=lambda p, xs, w: _bn_run(p, xs, w).relu(),
            label=lambda p: "batch norm, relu", role="norm", normalizes=True, outputs=2, tensors=_BN_TENSORS,
        ),
        OpDef(
            "relu", 1, _same, element_ops=_elements, torch=lambda a, dims: "nn.ReLU(inplace=True)",
            interpret=lambda p, xs, w: xs[0].relu(), shared=True, label=lambda p: "relu", role="norm",
        ),
        OpDef(
            "sigmoid", 1, _same, element_ops=_elements, torch=lambda a, dims: "nn.Sigmoid()",
            interpret=lambda p, xs, w: xs[0].sigmoid(), label=lambda p: "sigmoid", role="norm",
        ),
        OpDef(
            "identity", 1, _same, torch=lambda a, dims: "nn.Identity()", interpret=_unchanged, label=lambda p: "identity",
            passthrough=True, no_op=lambda p: True,
        ),
        OpDef(
            "dropout", 1, _same, torch=lambda a, dims: f"nn.Dropout({a['p']})", interpret=_unchanged,
            label=lambda p: f"dropout {p['p']:g}", role="norm", passthrough=True, no_op=lambda p: p["p"] == 0,
        ),
        OpDef(
            "drop_path", 1, _same, torch=lambda a, dims: f"DropPath({a['p']})", helper=DROP_PATH_HELPER, interpret=_unchanged,
            label=lambda p: f"drop path {p['p']:.3g}", role="norm", passthrough=True, no_op=lambda p: p["p"] == 0,
        ),
        OpDef(
            "maxpool", 1, _pool_shape("max pool"), element_ops=_window_ops, torch=maxpool_torch, interpret=_maxpool_run,
            label=lambda p: f"{p['kernel'][0]}x{p['kernel'][1]} max pool{_suffix_stride(p)}",
            phrase=lambda p, in_block: f"{_kernel_words(p)} max pool{_stride_words(p)}", role="pool",
        ),
        OpDef(
            "avgpool", 1, _pool_shape("average pool"), element_ops=_window_ops, torch=avgpool_torch, interpret=_avgpool_run,
            label=lambda p: f"{p['kernel'][0]}x{p['kernel'][1]} avg pool{_suffix_stride(p)}",
            phrase=lambda p, in_block: f"{_kernel_words(p)} average pool{_stride_words(p)}", role="pool",
        ),
        OpDef(
            "global_avgpool", 1, _global_pool_shape, element_ops=_input_elements,
            torch=lambda a, dims: "nn.AdaptiveAvgPool2d(1)",
            interpret=lambda p, xs, w: xs[0].mean((2, 3), keepdim=True), label=lambda p: "avg pool",
            phrase=lambda p, in_block: "average pool", role="pool",
        ),
        OpDef(
            "flatten", 1, lambda params, inputs: (math.prod(inputs[0]),), torch=lambda a, dims: "nn.Flatten()",
            interpret=lambda p, xs, w: xs[0].flatten(1), label=lambda p: "flatten", role="norm", outputs=0,  # a view: no tensor of its own
        ),
        OpDef(
            "add", 2, _add_shape, element_ops=_elements, forward=lambda module, xs: f"{xs[0]} + {xs[1]}",
            interpret=lambda p, xs, w: xs[0] + xs[1],
            label=lambda p: "+", role="add", absorbs=("relu",), joins=True,
        ),
        OpDef(
            "mul", 2, _mul_shape, element_ops=_elements, forward=lambda module, xs: f"{xs[0]} * {xs[1]}",
            interpret=lambda p, xs, w: xs[0] * xs[1],
            label=lambda p: "×", role="add",
        ),
        OpDef(
            "pad_channels", 1, _pad_shape,
            torch=lambda a, dims: f"PadChannels({dims[0].channels}, {a['channels']}" + kwargs([("stride", a["stride"], "1")]) + ")",
            helper=PAD_HELPER, interpret=_pad_run, channels_param="channels",
            label=lambda p: f"zero-pad to {p['channels']}" + (f", /{p['stride']}" if p["stride"] > 1 else ""), role="zero_pad",
        ),
    ]
}
