"""The cost summary of a checked network: a tree of rows, network > stages > blocks > layers.

Invariants:
- Every IR node is counted in exactly one leaf row, so the costs of a row's children add up to
  the row's own, and the network row equals the graph totals of `passes.count_costs`.
- The tree follows the IR's scopes: a node belongs to the innermost block whose path prefixes
  its scope; a block that is part of a stage (`name: block(...) x N`) sits under its stage row.
- Consecutive blocks of a stage that are identical (same kind, arguments, shortcut, shapes and
  per-node costs) fold into one row `layer1.1–2` with `count` 2; a folded row, and every row
  under it, shows the sum over its copies, so shares still add up to 100%.

Imports no torch: `resdsl summary` starts fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from resdsl.compiler import Network
from resdsl.ir.graph import topo_order
from resdsl.ir.ops import OPS
from resdsl.passes.count_costs import Cost, node_cost
from resdsl.ir.definitions import given_arguments

DEPTHS = ("network", "stage", "block", "layer")


@dataclass
class Row:
    """One line of the summary. `kind`: network | stage | block | layer."""

    name: str
    kind: str
    op: str
    shape: tuple | None
    cost: Cost
    count: int = 1
    children: list["Row"] = field(default_factory=list)
    node: str | None = None  # the IR node of a layer row (of the first copy, in a folded row)


def _value(v) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def block_call(net: Network, kind: str, args: dict) -> str:
    """`bottleneck(128, stride=2, v1=true)`: arguments left at their default are left out."""
    definition = net.graph.graph["definitions"][kind]
    parts = [_value(value) if p.default is None else f"{p.name}={_value(value)}" for p, value in given_arguments(definition, args)]
    return f"{kind}({', '.join(parts)})"


def _shortcut_note(info) -> str:
    return {"projection": ", projection", "zero_pad": ", zero-pad"}.get(info.shortcut, "")


class _TreeBuilder:
    """Partitions the topologically ordered nodes by scope into rows (see the module invariants)."""

    def __init__(self, net: Network):
        self.net = net
        self.g = net.graph
        self.blocks = self.g.graph["blocks"]
        self.stages = {s.name: s for s in self.g.graph["stages"]}

    def network(self) -> Row:
        g = self.g
        children = self.items((), topo_order(g))
        out = g.nodes[g.graph["output"]]["shape"]
        return Row(g.graph["name"], "network", "network", out, _sum(children), children=children)

    def _child_key(self, scope: tuple, node_scope: tuple, in_stage: bool) -> tuple[str, str]:
        """The block (or, outside a stage row, the stage) directly inside `scope` holding a node."""
        for i in range(len(scope) + 1, len(node_scope) + 1):
            path = ".".join(node_scope[:i])
            if path in self.blocks:
                stage = self.stages.get(self.blocks[path].stage)
                if not in_stage and stage is not None and stage.scope == scope:
                    return ("stage", stage.name)
                return ("block", path)
        raise AssertionError(f"scope {node_scope} is in no block")  # an IR invariant

    def items(self, scope: tuple, nodes: list[str], in_stage: bool = False) -> list[Row]:
        groups: dict[tuple[str, str], list[str]] = {}
        for v in nodes:
            node_scope = self.g.nodes[v]["scope"]
            key = ("layer", v) if node_scope == scope else self._child_key(scope, node_scope, in_stage)
            groups.setdefault(key, []).append(v)
        return [self._row(kind, name, members) for (kind, name), members in groups.items()]

    def _row(self, kind: str, name: str, members: list[str]) -> Row:
        if kind == "layer":
            data = self.g.nodes[name]
            label = OPS[data["op"]].label(data["params"]) or data["op"]
            return Row(name, "layer", label, data["shape"], node_cost(data), node=name)
        if kind == "block":
            info = self.blocks[name]
            children = self.items(tuple(name.split(".")), members)
            op = block_call(self.net, info.definition, info.args) + _shortcut_note(info)
            return Row(name, "block", op, self.g.nodes[info.output]["shape"], _sum(children), children=children)
        stage = self.stages[name]
        children = fold(self.items(stage.scope, members, in_stage=True))
        last = self.blocks[stage.blocks[-1]]
        return Row(name, "stage", f"{stage.definition} ×{stage.repeat}", self.g.nodes[last.output]["shape"], _sum(children), children=children)


def _sum(rows: list[Row]) -> Cost:
    total = Cost()
    for row in rows:
        total = total + row.cost
    return total


def _signature(row: Row, prefix: str = "") -> tuple:
    """What must match for two blocks to fold: names relative to the block, ops, shapes, costs."""
    prefix = prefix or row.name + "."
    rel = row.name[len(prefix):] if row.name.startswith(prefix) else ""
    return (rel, row.kind, row.op, row.shape, row.cost, tuple(_signature(c, prefix) for c in row.children))


def _renamed(row: Row, old: str, new: str, count: int) -> Row:
    name = new + row.name[len(old):] if row.name.startswith(old) else row.name
    children = [_renamed(c, old, new, count) for c in row.children]
    return replace(row, name=name, cost=row.cost * count, count=row.count * count, children=children)


def fold(rows: list[Row]) -> list[Row]:
    """Consecutive identical block rows -> one row `stage.i–j` summed over its copies."""
    out: list[Row] = []
    run: list[Row] = []
    for row in rows + [None]:
        if run and (row is None or _signature(row) != _signature(run[0])):
            out.append(_fold_run(run))
            run = []
        if row is not None:
            run.append(row)
    return out


def _fold_run(run: list[Row]) -> Row:
    first = run[0]
    if len(run) == 1:
        return first
    stage, _, index = first.name.rpartition(".")
    last_index = run[-1].name.rpartition(".")[2]
    new = f"{stage}.{index}–{last_index}"
    row = _renamed(first, first.name, new, len(run))
    row.op = f"{first.op} ×{len(run)}"
    return row


def summarize(net: Network) -> Row:
    """The row tree of a checked network (the network row at its root)."""
    return _TreeBuilder(net).network()


def visible_rows(root: Row, depth: str) -> list[tuple[int, Row]]:
    """(nesting level, row) pairs shown at `depth` (one of `DEPTHS`), in order."""
    if depth not in DEPTHS:
        raise ValueError(f"unknown depth {depth!r}; expected one of {', '.join(DEPTHS)}")
    limit = DEPTHS.index(depth)
    out: list[tuple[int, Row]] = []

    def walk(row: Row, level: int, inside_block: bool) -> None:
        out.append((level, row))
        rank = {"network": 1, "stage": 2}.get(row.kind, 3)  # the depth that opens this row
        if inside_block or row.kind == "block":
            rank = 3
        if limit >= rank:
            for child in row.children:
                walk(child, level + 1, inside_block or row.kind == "block")

    walk(root, 0, False)
    return out
