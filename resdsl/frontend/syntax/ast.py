"""The abstract syntax tree: frozen dataclasses, each carrying the `Span` it was parsed from.

Invariants: nodes are immutable and hashable; every node has a `span`; sequences are tuples.
Expressions evaluate to int, bool or float (see `resdsl.ir.expressions.evaluate`).
"""

from __future__ import annotations

from dataclasses import dataclass

from resdsl.diagnostics import Span
from resdsl.ir.expr import BinOp, Call, Dims, Expr, IfExp, Index, Literal, Name, UnaryOp  # noqa: F401  (the expression nodes, re-exported)


# --- statements ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """`stride 2` after a layer or block use: a name and a single value."""

    span: Span

    name: str
    value: Expr
    name_span: Span


@dataclass(frozen=True)
class KeywordArg:
    """`groups = 32` in a block use's argument list."""

    span: Span
    name: str
    value: Expr
    name_span: Span


@dataclass(frozen=True)
class Statement:
    span: Span


@dataclass(frozen=True)
class Layer(Statement):
    """`[label:] op arg, arg, option value, ...` — a built-in op such as conv or maxpool."""

    op: str
    op_span: Span
    args: tuple[Expr, ...]
    options: tuple[Option, ...]
    label: str | None = None
    label_span: Span | None = None
    guard: Expr | None = None  # `when cond`: where false, the statement is an identity
    label_index: Expr | None = None  # `convs[i]:` in a `for` body: the entry convs.i


@dataclass(frozen=True)
class BlockUse(Statement):
    """`[label:] block(args) [x repeat] [, option value ...]` — one block, or a stage of them."""

    block: str
    block_span: Span
    args: tuple[Expr, ...]
    kwargs: tuple[KeywordArg, ...]
    repeat: Expr | None
    options: tuple[Option, ...]
    label: str | None = None
    label_span: Span | None = None
    guard: Expr | None = None  # `when cond`: where false, the block is an identity
    label_index: Expr | None = None  # `paths[i]:` in a `for` body: the ModuleList entry paths.i


@dataclass(frozen=True)
class For(Statement):
    """`for i in start .. stop { ... }`: the body for i = start .. stop - 1, unrolled when compiled."""

    var: str
    var_span: Span
    start: Expr
    stop: Expr
    body: tuple[Statement, ...]


@dataclass(frozen=True)
class Let(Statement):
    name: str
    value: Expr


@dataclass(frozen=True)
class Input(Statement):
    dims: Dims


@dataclass(frozen=True)
class ShortcutPolicy(Statement):
    kind: str
    kind_span: Span


@dataclass(frozen=True)
class ExpectMetric(Statement):
    """`expect params == 25_557_032` or `expect macs ~ 3.8e9 within 2%` [`when n == 3`]."""

    metric: str
    metric_span: Span
    op: str
    value: Expr
    tolerance_percent: float | None
    when: Expr | None = None  # checked only where this condition holds


@dataclass(frozen=True)
class ExpectShape(Statement):
    """`expect shape layer2 == 512x28x28` (a labelled node or block path) [`when ...`]."""

    path: str
    path_span: Span
    dims: Dims
    when: Expr | None = None


@dataclass(frozen=True)
class Param:
    name: str
    default: Expr | None
    span: Span


@dataclass(frozen=True)
class Definition:
    """A `network`, `block`, `shortcut` or `sequential`: name, parameters, body statements.

    A `shortcut` is a branch a shortcut policy can name; a `sequential` (and a `shortcut`)
    numbers its layers as nn.Sequential does and has one path, no named values.
    """

    kind: str  # "network" | "block" | "shortcut" | "sequential"
    name: str
    name_span: Span
    params: tuple[Param, ...]
    body: tuple[Statement, ...]
    span: Span
    close_span: Span | None = None

    def unique_params(self) -> tuple[Param, ...]:
        """The parameters, a repeated name's first declaration only (the elaborator reports it)."""
        seen: dict[str, Param] = {}
        for p in self.params:
            seen.setdefault(p.name, p)
        return tuple(seen.values())


@dataclass(frozen=True)
class Module:
    """One parsed source file."""

    source: str
    definitions: tuple[Definition, ...]

    def blocks(self) -> tuple[Definition, ...]:
        """Every usable definition: blocks, shortcuts and sequentials (not the network)."""
        return tuple(d for d in self.definitions if d.kind != "network")

    def networks(self) -> tuple[Definition, ...]:
        return tuple(d for d in self.definitions if d.kind == "network")
