"""How compiler messages say numbers and kinds of values: "about 10^40", "3 blocks", "an
integer". Shared wording, so that every message says them alike."""

from __future__ import annotations

from resdsl.diagnostics import short_number
from resdsl.ir import layer_values
from resdsl.ir.expressions import Value, kind_of


def about(n: int) -> str:
    text = short_number(n)  # "12,345" or "about 10^40"
    return text if text.startswith("about") else f"about {text}"


def count(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def show(value: Value) -> str:
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"{kind_of(value)} {value}" if isinstance(value, float) else str(value)


def article(kind: str) -> str:
    return {"int": "an integer", "bool": "`true` or `false`", "number": "a number", **layer_values.WORDS}[kind]
