"""The functions an expression may call: one table, read by the evaluator, the code generator,
the language server and docs/language.md.

A `Function` says how many arguments it takes, computes its value at compile time (`compute`,
raising `ValueError` with a user-facing message for an argument outside its domain, `TypeError`
for one of the wrong kind), writes the
same computation as Python (`python`, from argument source strings; the generated file imports
`math`), and says the kind of its result from the kinds of its arguments (`kind`).

Invariant: `compute` and the Python that `python` writes agree for every argument the compiler
accepts (tests/test_language.py checks each function both ways), so a generated module computes
the widths the compiler computed. `round` rounds half to even, as Python and NumPy do (RegNet's
width rule depends on it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Function:
    name: str
    arity: tuple[int, int | None]  # least and most arguments (None: any number)
    compute: Callable[..., int | float]
    python: Callable[[list[str]], str]
    kind: Callable[[list[str]], str]
    doc: str
    example: str


def _positive(what: str) -> Callable[[float], float]:
    def check(x):
        if x <= 0:
            raise ValueError(f"`{what}` needs a positive number, got {x:g}")
        return x

    return check


def _log(x, base=None):
    _positive("log")(x)
    if base is None:
        return math.log(x)
    if base <= 0 or base == 1:
        raise ValueError(f"`log`'s base must be positive and not 1, got {base:g}")
    return math.log(x) / math.log(base)


def _pow(a, b):
    if a == 0 and b < 0:
        raise ValueError("`pow(0, b)` with a negative `b` divides by zero")
    if a < 0 and isinstance(b, float) and not b.is_integer():
        raise ValueError(f"`pow` of the negative {a:g} to the fraction {b:g} is not a real number")
    if abs(a) > 1 and b > 0 and b * math.log10(abs(a)) > 30:  # as MAX_INT_DIGITS: no size needs more
        raise ValueError(f"`pow({a:g}, {b:g})` is past the limit of 30 digits")
    return a**b


def _pick(i, *values):
    """The value at index i (from 0) of `values`: a per-block width from a stage's `index`."""
    if isinstance(i, float):
        raise TypeError(f"`pick`'s index must be an integer, got {i:g}")
    if not 0 <= i < len(values):
        raise ValueError(f"`pick`'s index {i} is outside 0 .. {len(values) - 1}: it picks from {len(values)} values")
    return values[i]


def _numeric(kinds: list[str]) -> str:
    """int if every argument is an int, a number if any is, else decided when the code runs."""
    if all(k == "int" for k in kinds):
        return "int"
    return "number" if "number" in kinds else "mixed"


def _call(name: str) -> Callable[[list[str]], str]:
    return lambda args: f"{name}({', '.join(args)})"


def _int(kinds):
    return "int"


def _float(kinds):
    return "number"


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in [
        Function("log", (1, 2), _log, _call("math.log"), _float, "natural logarithm; `log(x, b)` to base b", "log(wm)"),
        Function("log2", (1, 1), lambda x: math.log2(_positive("log2")(x)), _call("math.log2"), _float, "logarithm to base 2", "log2(channels)"),
        Function("pow", (2, 2), _pow, _call("pow"), lambda k: "int" if k == ["int", "int"] else "number", "a to the power b", "pow(wm, 2)"),
        Function("sqrt", (1, 1), lambda x: math.sqrt(x) if x >= 0 else _positive("sqrt")(x), _call("math.sqrt"), _float, "square root", "sqrt(c)"),
        Function("floor", (1, 1), math.floor, _call("math.floor"), _int, "the largest integer not above x", "floor(c / 3.0)"),
        Function("ceil", (1, 1), math.ceil, _call("math.ceil"), _int, "the smallest integer not below x", "ceil(c / 3.0)"),
        Function("round", (1, 1), round, _call("round"), _int, "the nearest integer, halves to even (as Python and NumPy)", "round(w / 8.0) * 8"),
        Function("int", (1, 1), int, _call("int"), _int, "x truncated toward zero", "int(log2(c))"),
        Function("abs", (1, 1), abs, _call("abs"), lambda k: _numeric(k), "absolute value", "abs(x - 1)"),
        Function("min", (2, None), min, _call("min"), _numeric, "the least of its arguments", "min(w, 64)"),
        Function("max", (2, None), max, _call("max"), _numeric, "the greatest of its arguments", "max(w, 8)"),
        Function(
            "pick",
            (2, None),
            _pick,
            lambda args: f"({', '.join(args[1:])}{',' if len(args) == 2 else ''})[{args[0]}]",
            lambda kinds: _numeric(kinds[1:]),
            "the value at index i (from 0) of the values after it: a width per block of a stage (pruned nets)",
            "pick(index, 47, 52, 64)",
        ),
    ]
}


def markdown_table() -> str:
    """The function table of docs/language.md (a test keeps the two equal)."""
    lines = ["| function | arguments | what it computes |", "|---|---|---|"]
    for fn in FUNCTIONS.values():
        least, most = fn.arity
        count = f"{least}" if least == most else f"{least}–{most}" if most else f"{least} or more"
        lines.append(f"| `{fn.name}` | {count} | {fn.doc}; e.g. `{fn.example}` |")
    return "\n".join(lines) + "\n"
