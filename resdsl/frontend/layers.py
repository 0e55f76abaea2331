"""The registry of layer kinds: what a user may write as `op args, option value`.

A `LayerKind` names its positional arguments and options with their defaults and limits, and
says which IR ops one statement expands into (`conv` -> conv, bn, relu). Argument values stay
AST expressions here, so the elaborator can evaluate them and the code generator can translate
the very same expressions to Python.

Invariant: a statement's structure (which ops it expands into) depends only on literal options
(`bn off`, `relu off`), never on parameter values, so one Python class can implement every
instance of a block.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from resdsl.frontend.syntax import ast
from resdsl.ir.definitions import Unit  # noqa: F401  (the units a kind expands into)

Exprs = ast.Expr | tuple[ast.Expr, ast.Expr]


@dataclass(frozen=True)
class Arg:
    """One argument or option.

    `type`: "int", "pair" (h, w), "bool", "float" (a probability in [0, 1)) or "value" (the
    name of a value: a label in the same body, or `input`). `doc` is the language reference's
    description (docs/language.md is generated from it).
    """

    name: str
    type: str
    minimum: int | None = None
    default: Callable[[dict, ast.Layer], Exprs] | None = None
    structural: bool = False  # must be a literal: it decides which ops exist
    doc: str = ""


@dataclass(frozen=True)
class LayerKind:
    """A layer kind users write: arguments, options, and the units one statement expands into.

    `reads` names the "value" arguments that become extra operands of the main unit (`mul
    gate`). `doc` and `example` feed the language reference and help texts.
    """

    name: str
    positional: tuple[Arg, ...]
    options: tuple[Arg, ...]
    expand: Callable[[dict], list[Unit]]
    base_name: str  # auto-naming stem for the main node
    numbered: bool = False  # conv1, conv2 even when alone (torchvision's names)
    doc: str = ""
    example: str = ""
    reads: tuple[str, ...] = ()

    def arg(self, name: str) -> Arg | None:
        if name == FROM.name:
            return FROM
        return next((a for a in self.positional + self.options if a.name == name), None)


# Every layer takes `from NAME`: it reads that value instead of the previous statement's.
# On `add` it names what the residual shortcut reads (the block input by default).
FROM = Arg("from", "value", doc="read this value instead of the previous statement's")


def _lit(value, span) -> ast.Literal:
    return ast.Literal(span, value)


def _const(value):
    def default(args, at):
        return _lit(value, at.span)

    default.shown = "on" if value is True else "off" if value is False else str(value)  # for the reference
    return default


def _same_padding(args: dict, at: ast.Layer) -> Exprs:
    """dilation * (k - 1) // 2 per axis: "same" for odd kernels, for any (symbolic) kernel.

    With a literal odd kernel it is dilation * ((k - 1) / 2), written plainly (`dilation` for
    a 3x3, `0` for a 1x1), so the generated code reads `padding=dilation`.
    """
    kernel, dilation = args["kernel"], args.get("dilation")
    out = []
    for axis in (0, 1):
        k = kernel[axis]
        d = dilation[axis] if dilation else _lit(1, k.span)
        if isinstance(k, ast.Literal) and isinstance(k.value, int) and not isinstance(k.value, bool) and k.value % 2:
            half = (k.value - 1) // 2
            out.append(_lit(0, k.span) if half == 0 else d if half == 1 else ast.BinOp(k.span, "*", d, _lit(half, k.span)))
            continue
        inner = ast.BinOp(k.span, "-", k, _lit(1, k.span))
        spread = inner if isinstance(d, ast.Literal) and d.value == 1 else ast.BinOp(k.span, "*", d, inner)
        out.append(ast.BinOp(k.span, "//", spread, _lit(2, k.span)))
    return tuple(out)


def _pool_padding(args: dict, at: ast.Layer) -> Exprs:
    return _same_padding({"kernel": args["kernel"]}, at)


_same_padding.shown = _pool_padding.shown = "same"  # for the language reference

_CONV_PARAMS = {k: k for k in ("kernel", "stride", "padding", "dilation", "groups", "bias")} | {"out_channels": "filters"}


def _conv(args: dict) -> list[Unit]:
    ws = args.get("ws") is not None  # `ws EPS`: weight standardisation (BiT's StdConv2d)
    units = [Unit("std_conv", "main", _CONV_PARAMS | {"eps": "ws"}) if ws else Unit("conv", "main", _CONV_PARAMS)]
    if args["bn"].value:  # `norm VALUE`: a slot the value fills (resdsl.ir.layer_values)
        units.append(Unit("bn", "bn") if args.get("norm") is None else Unit("norm", "bn", {"kind": "norm"}))
    if args["relu"].value:
        units.append(Unit("relu", "relu") if args.get("act") is None else Unit("act", "relu", {"kind": "act"}))
    return units


def _pool(op: str, names: tuple[str, ...] = ("kernel", "stride", "padding")) -> Callable[[dict], list[Unit]]:
    return lambda args: [Unit(op, "main", {k: k for k in names})]


def _avgpool(args: dict) -> list[Unit]:
    if args.get("kernel") is None:
        return [Unit("global_avgpool", "main")]
    return _pool("avgpool", ("kernel", "stride", "padding", "ceil", "count_pad"))(args)


def _batchnorm(args: dict) -> list[Unit]:
    return [Unit("bn_act" if args["relu"].value else "bn", "main")]


def _single(op: str, **params: str) -> Callable[[dict], list[Unit]]:
    return lambda args: [Unit(op, "main", dict(params))]


def _none(args, at):
    return None


_none.shown = "none"
_NONE = _none
_STRIDE = Arg("stride", "pair", 1, _const(1), doc="step of the window")
_KERNEL = Arg("kernel", "pair", 1, doc="window size, `3x3` or `3`")
_P = Arg("p", "float", doc="probability, 0 <= p < 1")

_VALUES = Arg("values", "values", doc="values: labels, `input`, `parts[i]`; a tuple counts as its values")
VALUE_KINDS = (
    LayerKind(
        "split", (Arg("parts", "int", 1, doc="number of equal parts"),), (), _single("split", parts="parts"), "split",
        doc="splits the channels into equal parts: a tuple of values, read as `parts[i]`", example="parts: split 4",
    ),
    LayerKind(
        "concat", (_VALUES,), (), _single("concat"), "concat",
        doc="concatenates values of equal H×W along the channels", example="concat convs, parts[3]",
    ),
    LayerKind(
        "sum", (_VALUES,), (), _single("sum"), "sum", doc="adds values of equal shape", example="sum paths",
    ),
)

# Attention over paths (SKNet, ResNeSt): see resdsl/ir/ops_attention.py for the layouts.
_PATHS = Arg("paths", "int", 1, doc="number of paths")
ATTENTION_KINDS = (
    LayerKind(
        "softmax", (_PATHS,), (Arg("groups", "int", 1, _const(1), doc="groups whose channels are read as (groups, paths, k) and written as (paths, groups, k)"),),
        _single("softmax", paths="paths", groups="groups"), "softmax",
        doc="softmax over paths for each channel (timm's RadixSoftmax); the channels are paths × groups × k", example="softmax 2, groups 4",
    ),
    LayerKind(
        "weighted_sum", (replace(FROM, name="other", doc="the paths: N·C×H×W, path i its i-th C channels"), _PATHS), (),
        _single("weighted_sum", paths="paths"), "weighted_sum",
        doc="Σ_i w_i · x_i over the paths stacked in the channels of `other` (one value, not a split's parts), with the weights w the previous value (N·C×1×1)",
        example="weighted_sum conv, 2",
        reads=("other",),
    ),
)

LAYER_KINDS: dict[str, LayerKind] = {
    kind.name: kind
    for kind in [
        LayerKind(
            "conv",
            (_KERNEL, Arg("filters", "int", 1, doc="output channels")),
            (
                _STRIDE,
                Arg("padding", "pair", 0, _same_padding, doc='default keeps the size ("same") for odd kernels: dilation·(k−1)/2'),
                Arg("dilation", "pair", 1, _const(1), doc="spacing of the kernel's taps"),
                Arg("groups", "int", 1, _const(1), doc="grouped convolution (ResNeXt's cardinality)"),
                Arg("bias", "bool", default=_const(False), doc="a bias term (off: the batch norm has one)"),
                Arg("bn", "bool", default=_const(True), structural=True, doc="batch norm after the conv"),
                Arg("relu", "bool", default=_const(True), structural=True, doc="ReLU after the batch norm"),
                Arg("norm", "norm", default=_NONE, doc="the norm in place of batch norm, a value: `groupnorm(32)`, a parameter"),
                Arg("act", "act", default=_NONE, doc="the activation in place of ReLU, a value: `silu`, a parameter"),
                Arg("ws", "float", default=_NONE, doc="weight standardisation with this eps (BiT's StdConv2d): `ws 1e-8`"),
            ),
            _conv,
            "conv",
            numbered=True,
            doc="convolution, then batch norm and ReLU unless switched off",
            example="conv 3x3, 64, stride 2, relu off",
        ),
        LayerKind(
            "batchnorm",
            (),
            (Arg("relu", "bool", default=_const(False), structural=True, doc="a ReLU fused into the same module (timm's BatchNormAct2d)"),),
            _batchnorm,
            "bn",
            numbered=True,
            doc="batch norm (BatchNorm1d after `linear`)",
            example="batchnorm",
        ),
        LayerKind(
            "norm",
            (Arg("kind", "norm", doc="a norm value: `batchnorm`, `groupnorm(32)`, a parameter"),),
            (),
            lambda a: [Unit("norm", "main", {"kind": "kind"})],
            "bn",
            numbered=True,
            doc="the norm a value names (a parameter: one class serves every value)",
            example="norm groupnorm(32)",
        ),
        LayerKind(
            "act",
            (Arg("kind", "act", doc="an activation value: `relu`, `silu`, a parameter"),),
            (),
            lambda a: [Unit("act", "main", {"kind": "kind"})],
            "act",
            doc="the activation a value names",
            example="act silu",
        ),
        LayerKind("relu", (), (), _single("relu"), "relu", doc="ReLU (one shared module per class, as torchvision)", example="relu"),
        LayerKind("sigmoid", (), (), _single("sigmoid"), "sigmoid", doc="logistic sigmoid (a gate)", example="sigmoid"),
        LayerKind("identity", (), (), _single("identity"), "identity", doc="passes its input on unchanged", example="identity"),
        LayerKind("dropout", (_P,), (), _single("dropout", p="p"), "dropout", doc="dropout: zeroes elements with probability p in training", example="dropout 0.3"),
        LayerKind(
            "drop_path",
            (_P,),
            (),
            _single("drop_path", p="p"),
            "drop_path",
            doc="stochastic depth: drops the whole branch of a sample with probability p in training; the identity in eval",
            example="drop_path 0.1",
        ),
        LayerKind(
            "maxpool",
            (_KERNEL,),
            (
                _STRIDE,
                Arg("padding", "pair", 0, _pool_padding, doc="default keeps the size for odd kernels"),
                Arg("ceil", "bool", default=_const(False), doc="round the output size up (PyTorch's ceil_mode)"),
            ),
            _pool("maxpool", ("kernel", "stride", "padding", "ceil")),
            "maxpool",
            doc="max pooling",
            example="maxpool 3x3, stride 2",
        ),
        LayerKind(
            "avgpool",
            (replace(_KERNEL, default=lambda a, at: None, doc="window size; none: global average pooling to C×1×1"),),
            (
                _STRIDE,
                Arg("padding", "pair", 0, _const(0), doc="zero padding"),
                Arg("ceil", "bool", default=_const(False), doc="round the output size up (PyTorch's ceil_mode)"),
                Arg("count_pad", "bool", default=_const(True), doc="count padding in the average (count_include_pad)"),
            ),
            _avgpool,
            "avgpool",
            doc="average pooling; with no kernel, global average pooling to C×1×1",
            example="avgpool 2x2, stride 2, ceil on, count_pad off",
        ),
        LayerKind(
            "linear",
            (Arg("features", "int", 1, doc="output features"),),
            (Arg("bias", "bool", default=_const(True), doc="a bias term"),),
            _single("linear", out_features="features", bias="bias"),
            "fc",
            doc="flatten, then a fully connected layer",
            example="fc: linear classes",
        ),
        LayerKind("flatten", (), (), _single("flatten"), "flatten", doc="C×H×W to a vector of C·H·W features (as `linear` does first)", example="flatten"),
        LayerKind(
            "add",
            (replace(FROM, name="other", default=lambda a, at: None, doc="a value to add; none: the residual add"),),
            (),
            _single("add"),
            "add",
            doc="`add`: the residual add, branch + shortcut(block input, or the `from` value); `add v`: adds a value",
            example="add",
            reads=("other",),
        ),
        LayerKind(
            "mul",
            (replace(FROM, name="other", doc="the value to multiply by"),),
            (),
            _single("mul"),
            "mul",
            doc="element-wise product; a C×1×1 operand broadcasts over C×H×W (a gate)",
            example="mul input",
            reads=("other",),
        ),
        LayerKind(
            "channel_conv",
            (Arg("kernel", "int", 1, doc="taps across the channels (odd)"),),
            (),
            _single("channel_conv", kernel="kernel"),
            "conv",
            doc="ECA's gate: a 1-D conv across the channels of a C×1×1 value, no bias (timm's EcaModule.conv)",
            example="conv: channel_conv 5",
        ),
        LayerKind(
            "blur_pool",
            (),
            (Arg("stride", "int", 1, _const(2), doc="subsampling step"),),
            _single("blur_pool", stride="stride"),
            "blur",
            doc="anti-aliased downsampling: a fixed 3×3 binomial blur, reflect padding, then the stride (timm's BlurPool2d)",
            example="blur_pool",
        ),
        LayerKind(
            "pad_channels",
            (Arg("channels", "int", 1, doc="output channels (zero-padded, half before and half after)"),),
            (Arg("stride", "int", 1, _const(1), doc="subsampling step (every stride-th row and column)"),),
            lambda a: [Unit("pad_channels", "main", {"channels": "channels", "stride": "stride"})],
            "pad",
            doc="shortcut option A: subsample with the stride and zero-pad the channels; no parameters",
            example="pad_channels 32, stride 2",
        ),
        LayerKind(
            "pad",
            (Arg("size", "int", 1, doc="zeros added on every side"),),
            (),
            _single("pad", size="size"),
            "pad",
            doc="zero padding of the map on every side (timm's ConstantPad2d, BiT's stem); no parameters",
            example="pad 1",
        ),
        *VALUE_KINDS,
        *ATTENTION_KINDS,
    ]
}

ALIASES = {"bn": "batchnorm", "fc": "linear"}


def gathers(kind: LayerKind) -> bool:
    """A kind whose operands are its `values` argument (flattened), not the previous value."""
    return bool(kind.positional) and kind.positional[-1].type == "values"


def lookup(name: str) -> LayerKind | None:
    return LAYER_KINDS.get(ALIASES.get(name, name))


def _default_text(arg: Arg) -> str:
    return "required" if arg.default is None else getattr(arg.default, "shown", "none")


def markdown_table() -> str:
    """The layer-kind table of docs/language.md (a test keeps the two equal)."""
    lines = ["| layer | arguments | options (default) | what it is |", "|---|---|---|---|"]
    for kind in LAYER_KINDS.values():
        positional = ", ".join(a.name + ("" if a.default is None else f" = {_default_text(a)}") for a in kind.positional) or "—"
        options = ", ".join(f"`{a.name}` ({_default_text(a)})" for a in kind.options) or "—"
        aliases = [alias for alias, name in ALIASES.items() if name == kind.name]
        name = f"`{kind.name}`" + "".join(f", `{a}`" for a in aliases)
        lines.append(f"| {name} | {positional} | {options} | {kind.doc}; e.g. `{kind.example}` |")
    lines.append("| every layer | | `from` | " + FROM.doc + " |")
    return "\n".join(lines) + "\n"
