"""The body emitter of the PyTorch backend: one statement per unit, for a block class and the network class alike.

`BodyEmitter` writes one body's `__init__` statements and forward lines through each unit's
`OpDef` (constructor and forward call); `DefinitionInfo` is what the instances of one
definition need from its class or factory. Used by `resdsl.backends.torch_source`, which
writes the file around them.

Invariants: a value is carried along a chain in one variable (`out` in a block, `x` in the
network) and gets its own name only where it is read again later; a guarded-off unit is
`nn.Identity()` and, where its forward must be skipped, a flag attribute holds its guard.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from resdsl.backends.python_lines import INDENT, operand
from resdsl.backends.module_paths import attribute_names
from resdsl.backends.namespace import Namespace
from resdsl.ir.definitions import Definition, Step
from resdsl.ir.expressions import literal, to_python
from resdsl.ir.graph import value_node
from resdsl.ir.ops import GUARDED_OFF, OPS, Dims
from resdsl.backends.layer_value_source import SLOT_OPS, UNIT_OPS, from_op


@dataclass
class DefinitionInfo:
    """What the instances of one definition need from its class or factory."""

    definition: Definition
    instances: list = field(default_factory=list)
    cls: str = ""
    nested: bool = False

    @property
    def sequential(self) -> bool:
        return self.definition.sequential

    @property
    def shortcuts(self) -> set[str]:
        return {b.shortcut for b in self.instances}

    @property
    def has_add(self) -> bool:
        return self.definition.has_residual_add()

    @property
    def emit_add(self) -> bool:
        return self.has_add and self.shortcuts != {"none"}

    @property
    def residual_arg(self) -> bool:
        return self.emit_add and "none" in self.shortcuts

    @property
    def downsample_arg(self) -> bool:
        return self.emit_add and bool(self.shortcuts & {"projection", "zero_pad"})


def fold_calls(calls: list[str]) -> list[str]:
    """Constructor lines for an nn.Sequential; runs of 3+ identical calls become a generator."""
    out, i = [], 0
    while i < len(calls):
        j = i
        while j < len(calls) and calls[j] == calls[i]:
            j += 1
        if j - i >= 3:
            out.append(f"*({calls[i]} for _ in range({j - i})),")
        else:
            out.extend(f"{c}," for c in calls[i:j])
        i = j
    return out


@dataclass
class Unit:
    """One statement of a forward method: what it computes, from which values."""

    item: Step
    op: str  # an OPS key, or "block" for a block use
    name: str  # the local node name (the value it produces is referred to by it)
    operands: list[str]  # value refs: local names or "input"
    guard: str | None = None  # Python condition; where false the unit is nn.Identity()
    ctor: str | None = None  # constructor source for units that own a module
    shortcut_ref: str | None = None  # a residual add: what its shortcut definition reads
    flag: str | None = None  # a guarded unit the forward must skip: the attribute holding its guard


class BodyEmitter:
    """Writes one body's __init__ statements and forward lines, one statement per unit.

    `args(item, unit, name)` gives a unit's constructor arguments as Python source, `dims(ref)`
    an operand's size; both differ between a block class (symbolic: expressions translated
    from the definition) and the network class (concrete: read from the IR).
    """

    def __init__(
        self,
        gen: "TorchSourceGenerator",
        definition: Definition,
        rename,
        kinds: dict,
        env: dict,
        graph_prefix: str | None,
        instances: list[tuple[str, str]] = (),
        owner: str = "self.",
    ):
        self.gen = gen
        self.instances = instances  # (IR path prefix, IR input node) of each instance (classes)
        self.owner = owner  # how the body reaches a nested block: "self." in a class, "" in a factory
        self.definition = definition
        self.rename = rename
        self.kinds = kinds
        self.env = env
        self.prefix = graph_prefix  # IR path of this body's nodes (network: ""), None for classes
        self.attrs = attribute_names(definition)
        self.units: list[Unit] = []
        self.channels: dict[str, tuple[str, int]] = {"input": ("in_channels", 3)}  # ref -> (C, rank)
        self.flags = Namespace(reserved=set(self.attrs.values()) | {"downsample", "residual", "out_channels"})

    # --- what each unit is -------------------------------------------------------------------

    def py(self, expr) -> str:
        if isinstance(expr, tuple):
            return tuple(self.py(e) for e in expr)
        return to_python(expr, self.rename, self.env, self.kinds)

    def node(self, name: str) -> dict | None:
        if self.prefix is None:
            return None
        g = self.gen.g
        node_id = f"{self.prefix}.{name}" if self.prefix else name
        return g.nodes[node_id] if node_id in g else None

    def collect(self) -> None:
        items = self.definition.steps
        label_value = {item.value_name: item.names[-1] for item in items if item.value_name and item.names}
        value = lambda ref: label_value.get(ref, ref)  # noqa: E731  a label reads its statement's last unit
        prev = "input"
        for item in items:
            if item.what == "use":
                self.units.append(Unit(item, "block", item.names[0], [value(item.source.id) if item.source is not None else prev]))
                prev = item.names[0]
                continue
            if item.what != "layer":
                continue
            args = item.arg
            guard = None if item.guard is None or self.prefix is not None else self.py(item.guard)
            if item.residual_add:
                source = value(args["from"].id) if args.get("from") is not None else "input"
                self.units.append(Unit(item, "add", item.names[0], [prev, "input"], shortcut_ref=source))
                prev = item.names[0]
                continue
            first = value(args["from"].id) if args.get("from") is not None else prev
            extra = [value(args[r].id) for r in item.reads if args.get(r) is not None]
            for i, (unit, name) in enumerate(zip(item.units, item.names)):
                op = unit.op
                data = self.node(name)
                if data is not None and (unit.op not in SLOT_OPS or data["op"] == GUARDED_OFF):
                    op = data["op"]  # a guard the network resolved: identity
                operands = [first] + (extra if i == 0 else [])
                if op != unit.op:  # resolved to the identity: its first operand only
                    operands = operands[:1]
                self.units.append(Unit(item, op, name, operands, guard))
                first = name
            prev = item.names[-1]

    # --- sizes -------------------------------------------------------------------------------

    def dims(self, ref: str) -> Dims:
        if self.prefix is not None:
            shape = self.gen.g.nodes[self.gen.value_node(self.prefix, ref)]["shape"]
            return Dims(str(shape[0]), str(math.prod(shape)), len(shape))
        channels, rank = self.channels[ref]
        shapes = self.instance_shapes(ref)
        ranks = {len(s) for s in shapes}
        if len(ranks) == 1:  # the IR knows the rank of every instance's value
            rank = ranks.pop()
        features = channels  # C×1×1 or a vector: its features are its channels
        if any(math.prod(s) != s[0] for s in shapes):  # C×H×W: the definition has no name for C·H·W
            sizes = {math.prod(s) for s in shapes}
            features = str(sizes.pop()) if len(sizes) == 1 else f"{channels} * {shapes[0][1]} * {shapes[0][2]}"
        return Dims(features if rank == 1 else channels, features, rank)

    def instance_shapes(self, ref: str) -> list[tuple]:
        """The IR's shape of value `ref` in each instance of this (class) body."""
        g, out = self.gen.g, []
        for prefix, input_node in self.instances:
            node = input_node if ref == "input" else value_node(g, f"{prefix}.{ref}")
            if node is not None and g.nodes[node]["shape"] is not None:
                out.append(g.nodes[node]["shape"])
        return out

    def track(self, unit: Unit, args: dict) -> None:
        """Record the symbolic channels of `unit`'s value (block classes)."""
        c, rank = self.channels.get(unit.operands[0], ("in_channels", 3)) if unit.operands else ("in_channels", 3)
        op = OPS.get(unit.op)  # None: a block
        if op is not None and op.channels_param:
            c, rank = args[op.channels_param], 1 if op.flattens_input else rank
        elif unit.op == "block":
            attr = self.attrs[unit.name]
            c = f"{self.owner}{attr}.out_channels" if unit.item.repeat is None else f"{self.owner}{attr}[-1].out_channels"
        ranks = {len(s) for s in self.instance_shapes(unit.name)}
        if ranks == {1} and rank != 1:  # it flattened its input (per the IR): features, not channels
            c, rank = self.dims(unit.operands[0]).features, 1
        if unit.guard is not None:  # where the guard is false the unit is an identity
            before, before_rank = self.channels.get(unit.operands[0], ("in_channels", 3))
            c = c if c == before else f"({operand(c)} if {unit.guard} else {before})"
            rank = rank if rank == before_rank else before_rank
        self.channels[unit.name] = (c, rank)

    def unit_args(self, unit: Unit) -> dict:
        data = self.node(unit.name)
        if data is not None and unit.op in SLOT_OPS:  # a norm or activation: the value it resolved to
            return {"kind": literal(from_op(data["op"], data["params"]))}
        if data is not None:  # concrete: the IR's values
            return {k: tuple(literal(x) for x in v) if isinstance(v, tuple) else literal(v) for k, v in data["params"].items()}
        item_args = unit.item.arg
        return {k: self.py(item_args[a]) for k, a in _unit_params(unit.item, unit.name).items()}

    def constructors(self) -> None:
        """Set `ctor` on every unit that owns a module (a shared ReLU is made once, elsewhere)."""
        for unit in self.units:
            if unit.op == "block":
                self.track(unit, {})
                continue
            op = UNIT_OPS[unit.op]
            args = self.unit_args(unit)
            if op.torch is not None:
                ctor = op.torch(args, [self.dims(r) for r in unit.operands])
                if unit.guard is not None:
                    ctor = f"{ctor} if {unit.guard} else nn.Identity()"
                unit.ctor = ctor
                self.gen.helpers_used.add(unit.op)
            if unit.guard is not None and (op.torch is None or self.flattens_first(unit)):
                # where the guard is false the unit is the identity: no `*`, `+` or flatten either
                unit.flag = self.flags.name(f"{self.attrs.get(unit.name, unit.name)}_on")
            if self.prefix is None:
                self.track(unit, args)

    def flattens_first(self, unit: Unit) -> bool:
        """A `linear` on a C×H×W value: the forward flattens before calling it."""
        return UNIT_OPS[unit.op].flattens_input and self.dims(unit.operands[0]).rank != 1

    # --- forward -----------------------------------------------------------------------------

    def forward(self, kind: DefinitionInfo | None) -> tuple[list[str], str]:
        """The forward method's lines (without `return`) and the variable it returns."""
        uses: dict[str, list[int]] = {}
        for i, unit in enumerate(self.units):
            reads = unit.operands + ([unit.shortcut_ref] if unit.shortcut_ref and kind is not None and kind.downsample_arg else [])
            for ref in dict.fromkeys(reads):
                uses.setdefault(ref, []).append(i)
        carry = "x" if uses.get("input", []) in ([], [0]) else "out"
        ns = Namespace(reserved={carry})
        var = {"input": "x"}

        def carried(i: int, ref: str) -> bool:
            return uses.get(ref, []) in ([], [i + 1]) and (i + 1 >= len(self.units) or self.units[i + 1].operands[0] == ref)

        same = _aliases(self.units)
        lines: list[str] = []
        for i, unit in enumerate(self.units):
            xs = [var[r] for r in unit.operands]
            later = lambda ref: any(j > i for r in same.get(ref, (ref,)) for j in uses.get(r, []))  # noqa: E731
            target = carry if carried(i, unit.name) else ns.name(unit.item.value_name or unit.name)
            if unit.op == "block":
                lines.append(f"{target} = self.{self.attrs[unit.name]}({xs[0]})")
            elif UNIT_OPS[unit.op].joins and unit.item.residual_add and kind is not None:
                lines += self._residual(kind, target, xs, var[unit.shortcut_ref])
            else:
                op = UNIT_OPS[unit.op]
                before = xs[0]
                if self.flattens_first(unit):
                    if unit.flag:
                        xs = [f"torch.flatten({xs[0]}, 1)"]
                    else:
                        lines.append(f"{target} = torch.flatten({xs[0]}, 1)")
                        xs = [target]
                if op.shared and unit.name not in self.attrs:
                    module = f"self.{unit.op}"
                    call = f"torch.{unit.op}({xs[0]})" if any(map(later, self._aliases(unit.operands[0]))) else op.forward(module, xs)
                else:
                    call = op.forward(f"self.{self.attrs[unit.name]}" if unit.name in self.attrs else "", xs)
                if unit.flag:
                    call = f"{call} if self.{unit.flag} else {before}"
                lines.append(f"{target} = {call}")
            var[unit.name] = target
        result = var[self.units[-1].name] if self.units else "x"
        return lines, result

    def _aliases(self, ref: str) -> list[str]:
        """`ref` and the values it may be the very tensor of: an in-place op on it changes them
        too. Identities, eval-mode dropouts, views, skipped units and blocks pass a tensor on."""
        producers, out = {u.name: u for u in self.units}, [ref]
        while (u := producers.get(out[-1])) is not None and u.operands and (
            u.op == "block" or u.flag or u.guard or UNIT_OPS[u.op].passthrough or UNIT_OPS[u.op].outputs == 0
        ):
            out.append(u.operands[0])
        return out

    def _residual(self, kind: DefinitionInfo, target: str, xs: list[str], source: str) -> list[str]:
        branch, identity = xs
        shortcut = identity
        if kind.downsample_arg:
            shortcut = f"({identity} if self.downsample is None else self.downsample({source}))"
        if kind.residual_arg:
            lines = ["if self.residual:", f"{INDENT}{target} = {branch} + {shortcut}"]
            if branch != target:
                lines += ["else:", f"{INDENT}{target} = {branch}"]
            return lines
        if kind.emit_add:
            return [f"{target} = {branch} + {shortcut}"]
        return [f"{target} = {branch}"] if branch != target else []


def _aliases(units: list[Unit]) -> dict[str, tuple[str, ...]]:
    """The refs naming the same tensor as each ref: a passthrough module (nn.Identity, dropout
    and drop path in eval) returns its input itself, so an in-place op on its output changes it."""
    root: dict[str, str] = {}
    for unit in units:
        if unit.op != "block" and unit.operands and UNIT_OPS[unit.op].passthrough:
            root[unit.name] = root.get(unit.operands[0], unit.operands[0])
    groups: dict[str, list[str]] = {}
    for name, r in root.items():
        groups.setdefault(r, [r]).append(name)
    return {name: tuple(group) for group in groups.values() for name in group}


def helper_class(helper: str) -> str:
    """The name of the class a helper's source defines (`class DropPath(nn.Module):` -> DropPath)."""
    return helper.split("class ", 1)[1].split("(", 1)[0]


def definition_instances(kind: DefinitionInfo) -> list[tuple[str, str]]:
    """(IR path prefix, IR input node) of each instance of a definition."""
    if kind.definition.kind == "shortcut":
        return [(f"{i.path}.downsample", i.shortcut_from) for i in kind.instances if i.shortcut_def == kind.definition.name]
    return [(i.path, i.input) for i in kind.instances]


def shortcut_reads_a_value(definition: Definition) -> bool:
    return any(s.residual_add and s.arg.get("from") is not None for s in definition.steps)


def _unit_params(item: Step, name: str) -> dict:
    return next(u.params for u, n in zip(item.units, item.names) if n == name)
