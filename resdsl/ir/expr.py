"""The expression nodes of the language and of the IR: frozen dataclasses, each with its `Span`.

The parser builds them (`resdsl.frontend.syntax`); the IR keeps them where a value is symbolic
(a block's widths as expressions of its parameters, `resdsl.ir.definitions`), and
`resdsl.ir.expressions` evaluates them or writes them as Python.

Invariants: nodes are immutable and hashable; every node has a `span`; sequences are tuples.
"""

from __future__ import annotations

from dataclasses import dataclass

from resdsl.diagnostics import Span



@dataclass(frozen=True)
class Expr:
    span: Span


@dataclass(frozen=True)
class Literal(Expr):
    """An int, float or bool written in the source."""

    value: int | float | bool


@dataclass(frozen=True)
class Name(Expr):
    id: str


@dataclass(frozen=True)
class BinOp(Expr):
    """Arithmetic (+ - * / // %) or comparison (== != < <= > >= ~) or logic (and, or)."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class UnaryOp(Expr):
    """`-x` or `not x`."""

    op: str
    operand: Expr


@dataclass(frozen=True)
class Call(Expr):
    """`log2(c)`: a function of `resdsl.ir.functions.FUNCTIONS` applied to its arguments."""

    func: str
    func_span: Span
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class IfExp(Expr):
    """`then if cond else other`, as in Python."""

    cond: Expr
    then: Expr
    other: Expr


@dataclass(frozen=True)
class Index(Expr):
    """`parts[i]`: one of the values of a tuple (a `split`, or a loop's indexed label)."""

    base: Name
    index: Expr


@dataclass(frozen=True)
class Dims(Expr):
    """`3x224x224`, `7x7` or `c x h x w`: a tuple of integer expressions."""

    items: tuple[Expr, ...]
