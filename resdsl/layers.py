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

from dataclasses import dataclass, field, replace
from typing import Callable

from resdsl.diagnostics import Diagnostic, Note, did_you_mean
from resdsl.syntax import ast

Exprs = ast.Expr | tuple[ast.Expr, ast.Expr]


@dataclass(frozen=True)
class Arg:
    """One argument or option: `kind` is "int", "pair" (h, w) or "bool"."""

    name: str
    kind: str
    minimum: int | None = None
    default: Callable[[dict, ast.Expr], Exprs] | None = None
    structural: bool = False  # must be a literal: it decides which ops exist
    doc: str = ""


@dataclass(frozen=True)
class Unit:
    """One IR node a statement expands into: op, role in the statement, argument expressions."""

    op: str
    role: str  # "main", "bn" or "relu"
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class LayerKind:
    name: str
    positional: tuple[Arg, ...]
    options: tuple[Arg, ...]
    expand: Callable[[dict], list[Unit]]
    base_name: str  # auto-naming stem for the main node
    numbered: bool = False  # conv1, conv2 even when alone (torchvision's names)
    doc: str = ""
    example: str = ""

    def arg(self, name: str) -> Arg | None:
        return next((a for a in self.positional + self.options if a.name == name), None)


def _lit(value, span) -> ast.Literal:
    return ast.Literal(span, value)


def _const(value):
    return lambda args, at: _lit(value, at.span)


def _same_padding(args: dict, at: ast.Layer) -> Exprs:
    """dilation * (k - 1) // 2 per axis: "same" for odd kernels, for any (symbolic) kernel."""
    kernel, dilation = args["kernel"], args.get("dilation")
    out = []
    for axis in (0, 1):
        k = kernel[axis]
        d = dilation[axis] if dilation else _lit(1, k.span)
        inner = ast.BinOp(k.span, "-", k, _lit(1, k.span))
        out.append(ast.BinOp(k.span, "//", ast.BinOp(k.span, "*", d, inner), _lit(2, k.span)))
    return tuple(out)


def _conv(args: dict) -> list[Unit]:
    units = [
        Unit(
            "conv",
            "main",
            {k: args[k] for k in ("kernel", "stride", "padding", "dilation", "groups", "bias")}
            | {"out_channels": args["filters"]},
        )
    ]
    if args["bn"].value:
        units.append(Unit("bn", "bn"))
    if args["relu"].value:
        units.append(Unit("relu", "relu"))
    return units


def _pool(op: str) -> Callable[[dict], list[Unit]]:
    return lambda args: [Unit(op, "main", {k: args[k] for k in ("kernel", "stride", "padding")})]


def _avgpool(args: dict) -> list[Unit]:
    if args.get("kernel") is None:
        return [Unit("global_avgpool", "main")]
    return _pool("avgpool")(args)


_STRIDE = Arg("stride", "pair", 1, _const(1), doc="step of the window")
_KERNEL = Arg("kernel", "pair", 1, doc="window size, `3x3` or `3`")

LAYER_KINDS: dict[str, LayerKind] = {
    kind.name: kind
    for kind in [
        LayerKind(
            "conv",
            (_KERNEL, Arg("filters", "int", 1, doc="output channels")),
            (
                _STRIDE,
                Arg("padding", "pair", 0, _same_padding, doc='default keeps the size ("same") for odd kernels'),
                Arg("dilation", "pair", 1, _const(1)),
                Arg("groups", "int", 1, _const(1)),
                Arg("bias", "bool", default=_const(False)),
                Arg("bn", "bool", default=_const(True), structural=True, doc="batch norm after the conv"),
                Arg("relu", "bool", default=_const(True), structural=True, doc="ReLU after the batch norm"),
            ),
            _conv,
            "conv",
            numbered=True,
            doc="convolution, then batch norm and ReLU unless switched off",
            example="conv 3x3, 64, stride 2, relu off",
        ),
        LayerKind("batchnorm", (), (), lambda a: [Unit("bn", "main")], "bn", numbered=True, doc="batch norm", example="batchnorm"),
        LayerKind("relu", (), (), lambda a: [Unit("relu", "main")], "relu", doc="ReLU", example="relu"),
        LayerKind(
            "maxpool",
            (_KERNEL,),
            (_STRIDE, Arg("padding", "pair", 0, lambda a, at: _same_padding({"kernel": a["kernel"]}, at))),
            _pool("maxpool"),
            "maxpool",
            doc="max pooling (padding keeps the size for odd kernels)",
            example="maxpool 3x3, stride 2",
        ),
        LayerKind(
            "avgpool",
            (replace(_KERNEL, default=lambda a, at: None),),
            (_STRIDE, Arg("padding", "pair", 0, _const(0))),
            _avgpool,
            "avgpool",
            doc="average pooling; with no kernel, global average pooling to C×1×1",
            example="avgpool",
        ),
        LayerKind(
            "linear",
            (Arg("features", "int", 1, doc="output features"),),
            (Arg("bias", "bool", default=_const(True)),),
            lambda a: [Unit("linear", "main", {"out_features": a["features"], "bias": a["bias"]})],
            "fc",
            doc="flatten, then a fully connected layer",
            example="fc: linear classes",
        ),
        LayerKind("add", (), (), lambda a: [Unit("add", "main")], "add", doc="the residual add: branch + shortcut(block input)", example="add"),
    ]
}

ALIASES = {"bn": "batchnorm", "fc": "linear"}


def lookup(name: str) -> LayerKind | None:
    return LAYER_KINDS.get(ALIASES.get(name, name))


def _as_pair(expr: Exprs) -> Exprs:
    if isinstance(expr, tuple):
        return expr
    if isinstance(expr, ast.Dims):
        if len(expr.items) == 2:
            return expr.items
        if len(expr.items) == 1:
            return (expr.items[0], expr.items[0])
        return expr  # reported by bind
    return (expr, expr)


def _extra_help(kind: LayerKind, extra: ast.Expr) -> str:
    """Why an extra positional argument is probably a misspelt option."""
    if isinstance(extra, ast.Name) and kind.arg(extra.id) in kind.options:
        return f"the option `{extra.id}` needs a value, e.g. `{extra.id} {'off' if kind.arg(extra.id).kind == 'bool' else 2}`"
    if isinstance(extra, ast.BinOp) and isinstance(extra.left, ast.Name) and kind.arg(extra.left.id) in kind.options:
        name = extra.left.id
        return f"this reads as `{name} {extra.op} ...`: an option takes one value, so write `{name} (...)` for an expression"
    return f"write it as {kind.example}" if kind.example else ""


def bind(kind: LayerKind, stmt: ast.Layer) -> tuple[dict, list[Diagnostic]]:
    """Argument expressions by name, defaults filled in, or the diagnostics for a bad call."""
    problems: list[Diagnostic] = []
    args: dict = {}
    for value, arg in zip(stmt.args, kind.positional):
        args[arg.name] = value
    for extra in stmt.args[len(kind.positional) :]:
        problems.append(
            Diagnostic(
                "E0110",
                f"`{kind.name}` takes {len(kind.positional)} positional argument{'s' if len(kind.positional) != 1 else ''}",
                extra.span,
                label="unexpected argument",
                help=_extra_help(kind, extra),
            )
        )
    seen: dict[str, ast.Option] = {}
    for opt in stmt.options:
        arg = kind.arg(opt.name)
        if arg is None or arg in kind.positional and opt.name in args:
            names = [a.name for a in kind.options + kind.positional]
            problems.append(
                Diagnostic(
                    "E0111",
                    f"`{kind.name}` has no option `{opt.name}`",
                    opt.name_span,
                    help=did_you_mean(opt.name, names) or f"its options are {', '.join(a.name for a in kind.options) or 'none'}",
                )
            )
            continue
        if opt.name in seen:
            problems.append(
                Diagnostic("E0105", f"option `{opt.name}` given twice", opt.name_span, notes=(Note("first given here", seen[opt.name].name_span),))
            )
            continue
        seen[opt.name] = opt
        args[arg.name] = opt.value
    for arg in kind.positional:
        if arg.name not in args and arg.default is None:
            problems.append(
                Diagnostic(
                    "E0109",
                    f"`{kind.name}` needs its {arg.name} argument",
                    stmt.op_span,
                    help=f"for example: {kind.example}" if kind.example else "",
                )
            )
    if problems:
        return args, problems
    for arg in kind.positional + kind.options:
        if arg.kind == "pair" and arg.name in args and args[arg.name] is not None:
            args[arg.name] = _as_pair(args[arg.name])
            if isinstance(args[arg.name], ast.Dims):
                problems.append(
                    Diagnostic("E0115", f"`{arg.name}` takes one or two sizes, got {len(args[arg.name].items)}", args[arg.name].span)
                )
    if problems:
        return args, problems  # the defaults below read the pairs
    for arg in kind.positional + kind.options:  # defaults may depend on other arguments
        if arg.name not in args and arg.default is not None:
            args[arg.name] = arg.default(args, stmt)
            if arg.kind == "pair" and args[arg.name] is not None:
                args[arg.name] = _as_pair(args[arg.name])
        if arg.structural and not (isinstance(args[arg.name], ast.Literal) and isinstance(args[arg.name].value, bool)):
            problems.append(
                Diagnostic("E0115", f"`{arg.name}` must be written as `on` or `off`", args[arg.name].span, help="it decides which layers exist, so it cannot be computed")
            )
    return args, problems
