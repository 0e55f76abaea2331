"""The checked definitions in the IR: each `block`, `sequential`, `shortcut` and the network,
bound, expanded into units and named by the front end, once per definition.

The graph holds every instance's concrete nodes; a back end that writes one class per
definition (the PyTorch source) also needs each definition symbolically: its parameters, its
lets, and per statement the units it expands into with their IR names and the argument
expressions that give their parameters. The front end lowers its syntax tree into these records
(`resdsl.frontend.lower`) and stores them as `graph.graph["lowered"]` (definition name ->
`Definition`, the network under `NETWORK`); a back end reads them and the graph, never the
syntax tree, so it cannot re-derive what a statement means.

Invariants: records are frozen; a step's `names` are the IR node names of its `units` (a use's
single name is its block's path segment); `args` are the bound arguments, each an expression of
`resdsl.ir.expr` (or a tuple of them), with defaults filled in; a step that `check` rejected is
never lowered, since lowering runs on checked definitions only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from resdsl.diagnostics import Span
from resdsl.ir.expr import Expr
from resdsl.ir.expressions import evaluate, names_in

NETWORK = "<network>"  # the key of the network's own definition in graph.graph["lowered"]
SEQUENTIAL_KINDS = ("sequential", "shortcut")


@dataclass(frozen=True)
class Unit:
    """One IR node a statement expands into.

    `params` maps each IR parameter of the op to the argument that gives it (`out_channels` is
    given by the conv's `filters`), so the elaborator and the code generator read the same
    argument expression for it.
    """

    op: str
    role: str  # "main", "bn" or "relu"
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Param:
    name: str
    default: Expr | None


@dataclass(frozen=True)
class Loop:
    """`for var in start .. stop { body }`: the body is a definition of its own (named and bound alone)."""

    var: str
    start: Expr
    stop: Expr
    body: "Definition"


@dataclass(frozen=True)
class Step:
    """One statement of a definition.

    `what`: "layer" (a built-in op: `units`, `names`, `args`), "use" (a block or a stage of
    `repeat` blocks: `block`, `names[0]`, `source`), "let" (`name` = `value`; `value_let` where it
    binds a tensor, not a number) or "for" (`loop`).
    """

    what: str
    names: tuple[str, ...] = ()
    units: tuple[Unit, ...] = ()
    args: tuple[tuple[str, object], ...] = ()
    label: str | None = None
    label_index: Expr | None = None  # `paths[i]:` in a loop body: one ModuleList entry per round
    guard: Expr | None = None  # `when cond`: where false the statement is the identity
    repeat: Expr | None = None  # a use: a stage of this many blocks
    source: Expr | None = None  # a use's `from`: the value it reads instead of the previous one
    block: str | None = None  # a use: the definition it instantiates
    reads: tuple[str, ...] = ()  # a layer: the arguments naming further operands (`mul other`)
    gathers: str | None = None  # a layer: the argument whose values are its operands (`concat`)
    residual_add: bool = False  # the block's residual `add` (no `other`)
    name: str | None = None  # a let
    value: Expr | None = None  # a let
    value_let: bool = False  # a let that binds a tensor (it reads a label, an entry or `input`)
    loop: Loop | None = None
    expressions: tuple = ()  # every expression the statement reads (arguments, options, value)

    @property
    def arg(self) -> dict:
        return dict(self.args)

    @property
    def value_name(self) -> str | None:
        """The name the statement's value is read by: its label (the value is its last unit)."""
        return self.label


@dataclass(frozen=True)
class Definition:
    kind: str  # "network" | "block" | "shortcut" | "sequential"; a loop body is a "block"
    name: str
    span: Span
    params: tuple[Param, ...]  # unique: a repeated name's first declaration only
    steps: tuple[Step, ...]

    @property
    def sequential(self) -> bool:
        return self.kind in SEQUENTIAL_KINDS

    def unique_params(self) -> tuple[Param, ...]:
        return self.params

    def lets(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.what == "let")

    def needed_lets(self) -> set[str]:
        """The number `let`s the body's own statements read, directly or through other lets.

        A block use's arguments are not among them: an instance's call is written with the
        values the IR holds, so a `let` only a nested block reads has no line in the class.
        """
        def read(steps) -> set[str]:
            out: set[str] = set()
            for s in steps:
                if s.what == "for":
                    out |= names_in((s.loop.start, s.loop.stop)) | read(s.loop.body.steps)
                elif s.what != "let" or s.value_let:
                    out |= names_in(s.expressions) | names_in(tuple(e for e in (s.guard, s.label_index) if e is not None))
            return out

        values = {s.name: s.value for s in self.lets() if not s.value_let}
        needed, todo = set(), read(self.steps) & set(values)
        while todo:
            name = todo.pop()
            needed.add(name)
            todo |= (names_in(values[name]) & set(values)) - needed
        return needed

    def has_residual_add(self) -> bool:
        return any(s.residual_add for s in self.steps)

    def block_uses(self) -> list[Step]:
        """The block uses of the body in order, those of its loops included (an indexed label's
        use is one ModuleList: its first statement stands for all its rounds)."""
        out: list[Step] = []
        for step in self.steps:
            if step.what == "use":
                out.append(step)
            elif step.what == "for":
                out += [s for s in step.loop.body.steps if s.what == "use"]
        return out


def given_arguments(definition, args: dict) -> list:
    """The arguments an instance must state: every parameter without a default, and those whose
    value differs (in value or kind) from the default evaluated for this instance.

    The one rule for writing an instance as a call: the generated code's constructors and the
    summary's `bottleneck(128, stride=2)` both follow it. `definition` is a syntax tree's or a
    lowered one (both have `unique_params()` of parameters with `name` and `default`).
    """
    out, env = [], {}
    for p in definition.unique_params():
        value = args[p.name]
        if p.default is None:
            out.append((p, value))
        else:
            default = evaluate(p.default, env)
            if default != value or type(default) is not type(value):
                out.append((p, value))
        env[p.name] = value
    return out
