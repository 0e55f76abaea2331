"""Binding a layer statement to its kind: positional arguments and options matched to the
kind's `Arg`s, pairs normalised (`3` -> `3x3`), defaults filled in, and every mistake a located
diagnostic (unknown option with the nearest names, a missing argument with an example, a
computed structural option with the statement that does it alone).

Invariant: `bind` returns every argument of the kind (given or defaulted) as an AST expression,
so the elaborator and the code generator read the same expression for each.
"""

from __future__ import annotations

from resdsl.diagnostics import Diagnostic, Note, did_you_mean
from resdsl.ir.functions import FUNCTIONS
from resdsl.frontend.layers import FROM, Exprs, LayerKind, gathers
from resdsl.frontend.syntax import ast


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
        return f"the option `{extra.id}` needs a value, e.g. `{extra.id} {'off' if kind.arg(extra.id).type == 'bool' else 2}`"
    if isinstance(extra, ast.BinOp) and isinstance(extra.left, ast.Name) and kind.arg(extra.left.id) in kind.options:
        name = extra.left.id
        return f"this reads as `{name} {extra.op} ...`: an option takes one value, so write `{name} (...)` for an expression"
    return f"write it as {kind.example}" if kind.example else ""


def bind(kind: LayerKind, stmt: ast.Layer) -> tuple[dict, list[Diagnostic]]:
    """Argument expressions by name, defaults filled in, or the diagnostics for a bad call."""
    args = _bind_positionals(kind, stmt)
    problems = _extra_positionals(kind, stmt)
    problems += _bind_options(kind, stmt, args)
    problems += _missing_positionals(kind, stmt, args)
    if problems:
        return args, problems
    problems = _bind_pairs(kind, args)
    if problems:
        return args, problems  # the defaults below read the pairs
    problems = _fill_defaults(kind, stmt, args)
    return args, problems + _check_value_args(kind, args)


def _bind_positionals(kind: LayerKind, stmt: ast.Layer) -> dict:
    """Positional arguments by name; a gathering last argument takes the rest as a tuple."""
    fixed = len(kind.positional) - gathers(kind)
    args: dict = {arg.name: value for value, arg in zip(stmt.args, kind.positional[:fixed])}
    if gathers(kind) and stmt.args[fixed:]:
        args[kind.positional[-1].name] = tuple(stmt.args[fixed:])
    return args


def _extra_positionals(kind: LayerKind, stmt: ast.Layer) -> list[Diagnostic]:
    return [
        Diagnostic(
            "E0110",
            f"`{kind.name}` takes {len(kind.positional)} positional argument{'s' if len(kind.positional) != 1 else ''}",
            extra.span,
            label="unexpected argument",
            help=_extra_help(kind, extra),
        )
        for extra in (stmt.args[len(kind.positional) :] if not gathers(kind) else ())
    ]


def _bind_options(kind: LayerKind, stmt: ast.Layer, args: dict) -> list[Diagnostic]:
    """Put each option's value in `args`; an unknown or repeated option is a problem."""
    problems: list[Diagnostic] = []
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
                    help=_function_help(opt) or did_you_mean(opt.name, names) or f"its options are {', '.join(a.name for a in kind.options) or 'none'}",
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
    return problems


def _missing_positionals(kind: LayerKind, stmt: ast.Layer, args: dict) -> list[Diagnostic]:
    return [
        Diagnostic(
            "E0109",
            f"`{kind.name}` needs its {arg.name} argument",
            stmt.op_span,
            help=f"for example: {kind.example}" if kind.example else "",
        )
        for arg in kind.positional
        if arg.name not in args and arg.default is None
    ]


def _bind_pairs(kind: LayerKind, args: dict) -> list[Diagnostic]:
    """Pair arguments as (h, w) in `args`; more than two sizes is a problem."""
    problems: list[Diagnostic] = []
    for arg in kind.positional + kind.options:
        if arg.type == "pair" and arg.name in args and args[arg.name] is not None:
            args[arg.name] = _as_pair(args[arg.name])
            if isinstance(args[arg.name], ast.Dims):
                problems.append(
                    Diagnostic("E0115", f"`{arg.name}` takes one or two sizes, got {len(args[arg.name].items)}", args[arg.name].span)
                )
    return problems


def _fill_defaults(kind: LayerKind, stmt: ast.Layer, args: dict) -> list[Diagnostic]:
    """Fill in the defaults (they may read other arguments); a structural one must be on/off."""
    problems: list[Diagnostic] = []
    for arg in kind.positional + kind.options:
        if arg.name not in args and arg.default is not None:
            args[arg.name] = arg.default(args, stmt)
            if arg.type == "pair" and args[arg.name] is not None:
                args[arg.name] = _as_pair(args[arg.name])
        if arg.structural and not (isinstance(args[arg.name], ast.Literal) and isinstance(args[arg.name].value, bool)):
            problems.append(
                Diagnostic("E0115", f"`{arg.name}` must be written as `on` or `off`", args[arg.name].span, help=_structural_help(arg.name))
            )
    return problems


def _check_value_args(kind: LayerKind, args: dict) -> list[Diagnostic]:
    """Arguments that name values (`from`, `mul`'s gate, `concat`'s values) hold names."""
    problems: list[Diagnostic] = []
    for arg in kind.positional + (FROM,):
        value = args.get(arg.name)
        for item in value if arg.type == "values" else ():
            if not isinstance(item, (ast.Name, ast.Index)):
                problems.append(Diagnostic("E0115", f"`{kind.name}` takes names of values (labels, `input`, `parts[i]`)", item.span, help=f"for example: {kind.example}"))
        if arg.type == "value" and value is not None and not isinstance(value, (ast.Name, ast.Index)):
            problems.append(
                Diagnostic("E0115", f"`{arg.name}` takes the name of a value (a label, or `input`)", value.span, help=f"for example: {kind.example}")
            )
    return problems


# The statement that does alone what a structural option adds: `relu off` plus `relu when c`.
_ALONE = {"relu": "relu", "bn": "batchnorm"}


def _structural_help(name: str) -> str:
    text = "it decides which layers exist, so it cannot be computed"
    if name in _ALONE:
        text += f"; for a condition write `{name} off` here and `{_ALONE[name]} when CONDITION` as the next statement"
    return text


def _function_help(opt: ast.Option) -> str:
    """`lg2(c)` reads as the option `lg2` with the value `(c)`: point to the function meant."""
    value = opt.value.span
    # the value's expression starts one column after the name (past the `(`) and the option
    # ends after it (at the `)`): written `lg2(c)`, not `lg2 (c)` or `lg2 c`
    touching = (value.line, value.column) == (opt.name_span.end_line, opt.name_span.end_column + 1) and (
        (opt.span.end_line, opt.span.end_column) > (value.end_line, value.end_column)
    )
    guess = did_you_mean(opt.name, FUNCTIONS) if touching else ""
    return f"`{opt.name}(` is no function; {guess}" if guess else ""
