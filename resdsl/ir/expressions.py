"""Expressions: evaluation to values, and translation to Python source for the code generator.

Values are int, bool or float. Integer `/` must divide exactly (a channel count of 21.33 is a
mistake, not something to round) and gives an int; `/` with a float operand is true division;
`//` floors. Every computed integer is bounded (`MAX_INT_DIGITS`), as literals are, so no spec
can make the compiler compute with numbers of millions of digits. Both functions walk the
same AST, so the generated code computes what the compiler computed: `to_python` writes `//`
for `/` exactly where both operands are integers (`static_kind`).
"""

from __future__ import annotations

import math
from typing import Callable, Mapping

from resdsl.diagnostics import Span, did_you_mean, short_number
from resdsl.ir.functions import FUNCTIONS
from resdsl.ir.layer_values import VALUE_KINDS, LayerValue, python_call, python_source
from resdsl.ir import expr as ast

Value = int | float | bool


class EvalError(Exception):
    """A user mistake in an expression; `name` is the unknown name of an E0107."""

    def __init__(self, code: str, message: str, span: Span, help: str = "", name: str = ""):
        super().__init__(message)
        self.code, self.message, self.span, self.help, self.name = code, message, span, help, name


def kind_of(value: Value) -> str:
    if isinstance(value, LayerValue):
        return value.category
    if isinstance(value, bool):
        return "bool"
    return "int" if isinstance(value, int) else "number"


def _number(value: Value, expr: ast.Expr, what: str) -> int | float:
    if isinstance(value, bool):
        raise EvalError("E0115", f"{what} needs a number, got the bool `{str(value).lower()}`", expr.span)
    return value


def _bool(value: Value, expr: ast.Expr, what: str) -> bool:
    if not isinstance(value, bool):
        raise EvalError("E0115", f"{what} needs `true` or `false`, got {value}", expr.span)
    return value


def _finite(value: Value, expr: ast.Expr) -> Value:
    """Refuse a float that overflowed to infinity (or became NaN): no size is that large."""
    if isinstance(value, float) and not math.isfinite(value):
        raise EvalError("E0201", "this number is too large", expr.span)
    return value


MAX_INT_DIGITS = 30  # as for literals (resdsl.frontend.syntax.errors.MAX_DIGITS): no size needs more


def _bounded(value: Value, expr: ast.Expr) -> Value:
    """Refuse an integer result past `MAX_INT_DIGITS` digits, at the expression that made it."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**MAX_INT_DIGITS:
        raise EvalError(
            "E0201",
            f"this computes {short_number(value)}, past the limit of {MAX_INT_DIGITS} digits",
            expr.span,
            help="no size, count or expectation needs a number this large",
        )
    return value


def _arith(op: str, a, b, expr: ast.BinOp) -> Value:
    a = _number(a, expr.left, f"`{op}`")
    b = _number(b, expr.right, f"`{op}`")
    try:
        return _bounded(_finite(_apply(op, a, b, expr), expr), expr)
    except OverflowError:  # an integer too large to mix with a float
        raise EvalError("E0201", "this number is too large", expr.span) from None


def _apply(op: str, a, b, expr: ast.BinOp) -> Value:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        raise EvalError("E0209", f"division by zero in `{op}`", expr.span)
    if op == "/":
        if isinstance(a, int) and isinstance(b, int):
            if a % b:
                raise EvalError(
                    "E0202",
                    f"{short_number(a)} / {short_number(b)}{_ratio(a, b)} is not an integer",
                    expr.span,
                    help="use `//` to round down, or choose values that divide exactly",
                )
            return a // b
        return a / b
    if op == "//":
        return a // b
    return a % b


def _ratio(a: int, b: int) -> str:
    """` = 21.33`: `a / b` to four significant digits, or "" when too large for a float."""
    try:
        return f" = {a / b:.4g}"
    except OverflowError:
        return ""


COMPARE: dict[str, Callable[[Value, Value], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def evaluate(expr: ast.Expr, env: Mapping[str, Value]) -> Value:
    """The value of `expr` with names bound in `env`; raises `EvalError` for a user mistake."""
    if isinstance(expr, ast.Literal):
        return _finite(expr.value, expr)
    if isinstance(expr, ast.Name):
        if expr.id not in env and expr.id in VALUE_KINDS:
            return _layer_value(expr, [])
        if expr.id not in env:
            known = [k for k in env if k.isidentifier()]
            raise EvalError("E0107", f"unknown name `{expr.id}`", expr.span, did_you_mean(expr.id, known), name=expr.id)
        return env[expr.id]
    if isinstance(expr, ast.UnaryOp):
        value = evaluate(expr.operand, env)
        if expr.op == "-":
            return -_number(value, expr.operand, "`-`")
        return not _bool(value, expr.operand, "`not`")
    if isinstance(expr, ast.IfExp):
        cond = _bool(evaluate(expr.cond, env), expr.cond, "`if`")
        return evaluate(expr.then if cond else expr.other, env)
    if isinstance(expr, ast.BinOp):
        if expr.op in ("and", "or"):
            left = _bool(evaluate(expr.left, env), expr.left, f"`{expr.op}`")
            if (expr.op == "and") != left:
                return left
            return _bool(evaluate(expr.right, env), expr.right, f"`{expr.op}`")
        a, b = evaluate(expr.left, env), evaluate(expr.right, env)
        if expr.op in COMPARE:
            if expr.op not in ("==", "!="):
                _number(a, expr.left, f"`{expr.op}`"), _number(b, expr.right, f"`{expr.op}`")
            return COMPARE[expr.op](a, b)
        if expr.op == "~":
            raise EvalError("E0001", "`~` compares only in `expect ... within N%`", expr.span)
        return _arith(expr.op, a, b, expr)
    if isinstance(expr, ast.Call) and expr.func in VALUE_KINDS:
        return _layer_value(expr, [evaluate(arg, env) for arg in expr.args])
    if isinstance(expr, ast.Call):
        return _call(expr, [evaluate(arg, env) for arg in expr.args])
    if isinstance(expr, ast.Dims):
        raise EvalError("E0115", "dimensions are not a single value here", expr.span)
    raise TypeError(f"cannot evaluate {type(expr).__name__}")  # compiler bug


def _layer_value(expr: ast.Name | ast.Call, values: list[Value]) -> LayerValue:
    """`silu`, `groupnorm(32)`: a norm or activation value, its arguments checked."""
    kind = VALUE_KINDS[expr.id if isinstance(expr, ast.Name) else expr.func]
    want = len(kind.params)
    if len(values) != want:
        example = f"`{kind.name}(32)`" if want else f"`{kind.name}`"
        raise EvalError("E0109" if len(values) < want else "E0110", f"`{kind.name}` takes {_count(want, want)}, got {len(values)}", expr.span, help=f"for example {example}")
    for value, arg, name in zip(values, getattr(expr, "args", ()), kind.params):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise EvalError("E0115", f"`{kind.name}`'s {name} must be a positive integer, got {_show_value(value)}", arg.span)
    return LayerValue(kind.name, tuple(values))


def _show_value(value: Value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def function_of(expr: ast.Call):
    """The `Function` a call names, with its argument count checked; EvalError otherwise."""
    fn = FUNCTIONS.get(expr.func)
    if fn is None:
        raise EvalError("E0107", f"unknown function `{expr.func}`", expr.func_span, did_you_mean(expr.func, FUNCTIONS), name=expr.func)
    least, most = fn.arity
    n = len(expr.args)
    if n < least:
        raise EvalError("E0109", f"`{fn.name}` takes {_count(least, most)}, got {n}", expr.span, help=f"for example `{fn.example}`")
    if most is not None and n > most:
        raise EvalError("E0110", f"`{fn.name}` takes {_count(least, most)}, got {n}", expr.args[most].span, help=f"for example `{fn.example}`")
    return fn


def _count(least: int, most: int | None) -> str:
    if most is None:
        return f"at least {least} arguments"
    if least == most:
        return f"{least} argument" + ("s" if least != 1 else "")
    return f"{least} to {most} arguments"


def _call(expr: ast.Call, values: list[Value]) -> Value:
    fn = function_of(expr)
    numbers = [_number(v, arg, f"`{fn.name}`") for v, arg in zip(values, expr.args)]
    try:
        value = fn.compute(*numbers)
    except ValueError as e:
        raise EvalError("E0201", str(e), expr.span) from None
    except TypeError as e:
        raise EvalError("E0115", str(e), expr.span) from None
    except OverflowError:
        raise EvalError("E0201", "this number is too large", expr.span) from None
    return _bounded(_finite(value, expr), expr)


# --- Python source ------------------------------------------------------------------------------

_PRECEDENCE = {"if": 1, "or": 2, "and": 3, "not": 4, "cmp": 5, "+": 6, "-": 6, "*": 7, "/": 7, "//": 7, "%": 7, "neg": 8}


def _free_names(expr: ast.Expr) -> bool:
    if isinstance(expr, ast.Name):
        return True
    return any(_free_names(child) for child in _children(expr))


def names_in(expr) -> set[str]:
    """Every name an expression (or a tuple of them) reads."""
    if isinstance(expr, tuple):
        return set().union(*(names_in(e) for e in expr))
    if isinstance(expr, ast.Name):
        return {expr.id}
    if isinstance(expr, ast.Index):
        return {expr.base.id} | names_in(expr.index)
    if isinstance(expr, ast.Dims):
        return names_in(expr.items)
    if not isinstance(expr, ast.Expr):
        return set()
    return set().union(*(names_in(child) for child in _children(expr)))


def _children(expr: ast.Expr) -> tuple[ast.Expr, ...]:
    if isinstance(expr, ast.BinOp):
        return (expr.left, expr.right)
    if isinstance(expr, ast.UnaryOp):
        return (expr.operand,)
    if isinstance(expr, ast.IfExp):
        return (expr.cond, expr.then, expr.other)
    if isinstance(expr, ast.Call):
        return expr.args
    return ()


def literal(value: Value) -> str:
    if isinstance(value, LayerValue):
        return python_source(value)
    return repr(value)


def static_kind(expr: ast.Expr, kinds: Mapping[str, str]) -> str:
    """"int", "number", "bool" or "mixed": what `expr` evaluates to, given the kinds of its names.

    A name of unknown kind counts as "number", so its `/` stays a true division. "mixed" is an
    int or a float depending on values known only when the code runs (`4 if c else 2.0`, a
    parameter given ints and floats): its `/` is decided then (see `_to_python`).
    """
    if isinstance(expr, ast.Literal):
        return kind_of(expr.value)
    if isinstance(expr, ast.Name):
        return kinds.get(expr.id, "number")
    if isinstance(expr, ast.UnaryOp):
        return "bool" if expr.op == "not" else static_kind(expr.operand, kinds)
    if isinstance(expr, ast.IfExp):
        then, other = static_kind(expr.then, kinds), static_kind(expr.other, kinds)
        return then if then == other else "mixed"
    if isinstance(expr, ast.BinOp):
        if expr.op in COMPARE or expr.op in ("and", "or"):
            return "bool"
        sides = {static_kind(expr.left, kinds), static_kind(expr.right, kinds)}
        if sides == {"int"}:
            return "int"
        return "number" if "number" in sides or "bool" in sides else "mixed"
    if isinstance(expr, ast.Call) and expr.func in FUNCTIONS:
        return FUNCTIONS[expr.func].kind([static_kind(arg, kinds) for arg in expr.args])
    return "number"


def to_python(
    expr: ast.Expr,
    rename: Callable[[str], str],
    env: Mapping[str, Value] | None = None,
    kinds: Mapping[str, str] | None = None,
) -> str:
    """Python source computing `expr`; constant subexpressions are folded to literals.

    `rename` maps a spec name to its (sanitized) Python identifier; `kinds` gives each free
    name's kind. `/` becomes `//` where both operands are integers (the compiler has checked
    that it divides exactly) and stays `/` where either may be a float.
    """
    env = env or {}
    kinds = {**{k: kind_of(v) for k, v in env.items()}, **(kinds or {})}
    return _to_python(expr, rename, env, kinds)[0]


def _to_python(expr: ast.Expr, rename, env, kinds) -> tuple[str, int]:
    if not _free_names(expr):
        try:
            value = evaluate(expr, env)
        except EvalError:  # a branch no value of the parameters took (`w if c else 1 / 0`): written out
            value = None
        if value is not None:
            return literal(value), 9 if not (isinstance(value, (int, float)) and value < 0) else _PRECEDENCE["neg"]
    if isinstance(expr, ast.Name) and expr.id not in kinds and expr.id in VALUE_KINDS:
        return literal(LayerValue(expr.id)), 9
    if isinstance(expr, ast.Name):
        return rename(expr.id), 9
    if isinstance(expr, ast.Call) and expr.func in VALUE_KINDS:
        return python_call(expr.func, [_to_python(arg, rename, env, kinds)[0] for arg in expr.args]), 9
    if isinstance(expr, ast.UnaryOp):
        prec = _PRECEDENCE["neg" if expr.op == "-" else "not"]
        text, p = _to_python(expr.operand, rename, env, kinds)
        text = text if p >= prec else f"({text})"
        return (f"-{text}" if expr.op == "-" else f"not {text}"), prec
    if isinstance(expr, ast.IfExp):
        prec = _PRECEDENCE["if"]
        then, tp = _to_python(expr.then, rename, env, kinds)
        cond, cp = _to_python(expr.cond, rename, env, kinds)
        other, op_ = _to_python(expr.other, rename, env, kinds)
        then = then if tp > prec else f"({then})"
        cond = cond if cp > prec else f"({cond})"
        return f"{then} if {cond} else {other}", prec
    if isinstance(expr, ast.Call):
        return function_of(expr).python([_to_python(arg, rename, env, kinds)[0] for arg in expr.args]), 9
    assert isinstance(expr, ast.BinOp)
    op = expr.op
    sides = {static_kind(expr.left, kinds), static_kind(expr.right, kinds)}
    if op == "/" and sides == {"int"}:
        op = "//"
    if op == "/" and "mixed" in sides and "number" not in sides:  # the language's `/`, decided at run time
        (left, lp), (right, rp) = _to_python(expr.left, rename, env, kinds), _to_python(expr.right, rename, env, kinds)
        left, right = (text if p == 9 else f"({text})" for text, p in ((left, lp), (right, rp)))
        return f"({left} // {right} if isinstance({left}, int) and isinstance({right}, int) else {left} / {right})", 9
    prec = _PRECEDENCE["cmp"] if expr.op in COMPARE else _PRECEDENCE[expr.op]
    left, lp = _to_python(expr.left, rename, env, kinds)
    right, rp = _to_python(expr.right, rename, env, kinds)
    # Python chains comparisons (`a == b == c` is `a == b and b == c`), so a comparison never
    # takes a bare comparison as its operand, on either side.
    left = left if lp > prec or (lp == prec and expr.op not in COMPARE) else f"({left})"
    right = right if rp > prec else f"({right})"
    return f"{left} {op} {right}", prec
