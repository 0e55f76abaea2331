"""What a drawing needs to know about a checked IR, at every level of detail.

`Structure(net)` reads the graph once and answers:
- `top_block(n)`: the top-level block a node belongs to (a block of a top-level stage, or a
  lone block such as `context: dilated(64)`), by the node's `scope`; None for stem and head;
- `group(n)`: the cluster it is drawn in: a top-level stage name, a lone block's path, or None;
- `unit(n)`: the paper's unit it folds into: a conv, linear or standalone batch norm with the
  batch norm and ReLU that follow it alone, and an add with the ReLU after it (Fig. 3 draws
  "3x3 conv, 64" for conv + BN + ReLU). A unit is named by its first node, the `head`;
- `runs`: the runs of consecutive identical blocks in each stage, and `rep(n)`, which maps a
  node of a folded block to the same node of the run's first block. Blocks are identical when
  their nodes agree in relative id, op, params, shape and operands, and their inputs in shape,
  so a folded drawing never hides a difference (a failing block never folds with good ones);
- `failures`: node -> error message, for the nodes whose diagnostics a drawing shows in red.

Invariants: every answer is a function of the graph alone; iteration follows `topo_order`,
so drawings are deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from resdsl.compiler import Network
from resdsl.diagnostics import Diagnostic
from resdsl.ir.graph import BlockInfo, outermost_blocks, topo_order
from resdsl.ir.ops import OPS



@dataclass(frozen=True)
class Run:
    """Consecutive identical blocks of one stage, drawn once as `blocks[0]` with "×len"."""

    stage: str
    blocks: tuple[BlockInfo, ...]

    @property
    def first(self) -> BlockInfo:
        return self.blocks[0]

    @property
    def folded(self) -> bool:
        return len(self.blocks) > 1


class Structure:
    """The IR seen by a drawing (see the module docstring)."""

    def __init__(self, net: Network):
        self.net = net
        self.g: nx.DiGraph = net.graph
        self.order = topo_order(self.g)
        self.index = {n: i for i, n in enumerate(self.order)}
        self.stages = [s for s in self.g.graph["stages"] if not s.scope]
        self.blocks = self._top_blocks()
        self._block_of = {n: self._find_block(n) for n in self.order}
        self._members: dict[str, list[str]] = {}
        for n in self.order:
            if self._block_of[n] is not None:
                self._members.setdefault(self._block_of[n].path, []).append(n)
        self.shortcut_nodes = {n: b for b in self.g.graph["blocks"].values() for n in b.shortcut_nodes}
        self.adds = {b.add: b for b in self.g.graph["blocks"].values() if b.add is not None}
        self.heads = self._units()
        self.runs = {s.name: self._runs(s) for s in self.stages}
        self.reps = self._reps()
        self.failures = failures(net, self.order)

    # --- blocks and groups ---------------------------------------------------------------

    def _top_blocks(self) -> dict[tuple[str, ...], BlockInfo]:
        """Blocks not nested in another block, by their path split into scope parts."""
        return {tuple(block.path.split(".")): block for block in outermost_blocks(self.g)}

    def _find_block(self, n: str) -> BlockInfo | None:
        scope = self.g.nodes[n]["scope"]
        for k in range(1, len(scope) + 1):
            block = self.blocks.get(tuple(scope[:k]))
            if block is not None:
                return block
        return None

    def top_block(self, n: str) -> BlockInfo | None:
        return self._block_of[n]

    def group(self, n: str) -> str | None:
        block = self._block_of[n]
        if block is None:
            return None
        return block.stage if block.stage in self.runs else block.path

    def nodes_of(self, block: BlockInfo) -> list[str]:
        """All nodes of a top-level block (nested blocks and shortcut nodes included), in order."""
        return self._members.get(block.path, [])

    def branch(self, block: BlockInfo) -> set[str]:
        """Nodes of the residual branch: those before the block's add, shortcut nodes excluded."""
        nodes = set(self.nodes_of(block))
        if block.add is None:
            return nodes
        before, todo = set(), [block.add]
        while todo:  # ancestors of the add inside the block (nx.ancestors would walk to the input)
            for p in self.g.predecessors(todo.pop()):
                if p in nodes and p not in before:
                    before.add(p)
                    todo.append(p)
        return before - set(block.shortcut_nodes)

    def shortcut_kind(self, n: str, port: int) -> str | None:
        """The shortcut kind of the edge into operand `port` of `n`, or None for a data edge."""
        if n in self.shortcut_nodes:
            return self.shortcut_nodes[n].shortcut
        if n in self.adds and port == 1:
            return self.adds[n].shortcut
        return None

    # --- units -----------------------------------------------------------------------------

    def _units(self) -> dict[str, str]:
        """node -> head of the unit it belongs to."""
        heads: dict[str, str] = {}
        tail_op: dict[str, str] = {}  # head -> op of the unit's last node so far
        for n in self.order:
            data = self.g.nodes[n]
            head = self._absorber(n, heads, tail_op)
            heads[n] = head or n
            tail_op[heads[n]] = data["op"]
        return heads

    def _absorber(self, n: str, heads: dict, tail_op: dict) -> str | None:
        data = self.g.nodes[n]
        if len(data["inputs"]) != 1:
            return None
        (p,) = data["inputs"]
        pdata = self.g.nodes[p]
        if self.g.out_degree(p) != 1 or pdata["scope"] != data["scope"]:
            return None
        if (p in self.shortcut_nodes) != (n in self.shortcut_nodes):
            return None
        if (pdata["shape"] is None) != (data["shape"] is None):  # keep a failure's first node visible
            return None
        head = heads[p]
        return head if data["op"] in OPS[tail_op[head]].absorbs else None

    def unit(self, n: str) -> str:
        return self.heads[n]

    # --- folding ---------------------------------------------------------------------------

    def _signature(self, block: BlockInfo) -> tuple:
        prefix = block.path + "."
        g = self.g

        def rel(node: str) -> str:
            if node == block.input:
                return "<input>"
            return node[len(prefix):] if node.startswith(prefix) else node

        nodes = tuple(
            (rel(n), g.nodes[n]["op"], repr(g.nodes[n]["params"]), g.nodes[n]["shape"], tuple(map(rel, g.nodes[n]["inputs"])))
            for n in self.nodes_of(block)
        )
        return (block.definition, block.shortcut, g.nodes[block.input]["shape"], nodes)

    def _runs(self, stage) -> list[Run]:
        runs: list[list[BlockInfo]] = []
        last = None
        for path in stage.blocks:
            block = self.g.graph["blocks"][path]
            sig = self._signature(block)
            if runs and sig == last:
                runs[-1].append(block)
            else:
                runs.append([block])
            last = sig
        return [Run(stage.name, tuple(r)) for r in runs]

    def _reps(self) -> dict[str, str]:
        reps: dict[str, str] = {}
        for runs in self.runs.values():
            for run in runs:
                for block in run.blocks[1:]:
                    for n in self.nodes_of(block):
                        reps[n] = run.first.path + n[len(block.path):]
        return reps

    def run_of(self, block: BlockInfo) -> Run | None:
        for run in self.runs.get(block.stage or "", ()):
            if block in run.blocks:
                return run
        return None


def failures(net: Network, order: list[str]) -> dict[str, str]:
    """Nodes where an error shows: a failed add, or the first node whose shape is unknown.

    Each is paired with the diagnostic that reports it (by the block label the residual pass
    writes, or by the span the shape pass reports at), else with a generic message.
    """
    g = net.graph
    out: dict[str, str] = {}
    for n in order:
        data = g.nodes[n]
        shapes = [g.nodes[i]["shape"] for i in data["inputs"]]
        if any(s is None for s in shapes):
            continue
        if data["shape"] is None:
            out[n] = _message(net.diagnostics, lambda d: _at_node(d, data)) or "shape unknown"
        elif OPS[data["op"]].joins and len(set(shapes)) > 1:
            label = "in block " + ".".join(data["scope"])
            out[n] = _message(net.diagnostics, lambda d: d.label == label) or "operand shapes differ"
    return out


def _at_node(d: Diagnostic, data: dict) -> bool:
    if d.span is not None and d.span == data["span"]:
        return True
    return d.span is not None and d.span == data["site"] and bool(d.notes) and d.notes[0].span == data["span"]


def _message(diagnostics, match) -> str:
    found = next((d for d in diagnostics if match(d)), None)
    return f"error[{found.code}]: {found.message}" if found else ""


def unattached(net: Network, shown: dict[str, str]) -> list[str]:
    """Error messages of diagnostics no node shows (expectations, limits): for a footnote."""
    shown_texts = set(shown.values())
    return [
        f"error[{d.code}]: {d.message}"
        for d in net.diagnostics
        if d.severity == "error" and f"error[{d.code}]: {d.message}" not in shown_texts
    ]
