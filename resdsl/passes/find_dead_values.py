"""Dead values: a node that nothing reads and that is not the network's output (W0003).

Where a statement reads another value with `from` (or a tuple entry goes unused), the value it
skipped is computed for nothing: a branch the spec probably meant to join. One warning per
dead end, at the statement that made it; a `part` of a split is named by its index.
"""

from __future__ import annotations

import networkx as nx

from resdsl.diagnostics import Diagnostic, Reporter
from resdsl.ir.graph import topo_order
from resdsl.ir.ops import OPS
from resdsl.passes.infer_shapes import node_location


def _what(g: nx.DiGraph, node: str) -> str:
    data = g.nodes[node]
    if OPS[data["op"]].picks_part:
        split = data["inputs"][0].rsplit(".", 1)[-1]
        return f"part {data['params']['index']} of `{split}`"
    return "this statement's value"


def find_dead_values(g: nx.DiGraph, reporter: Reporter) -> None:
    for node in topo_order(g):
        data = g.nodes[node]
        if g.out_degree(node) or node == g.graph["output"] or data["origin"]:
            continue
        message = f"{_what(g, node)} is never read"
        diag = Diagnostic("W0003", message, data["span"], severity="warning", help="join it with `add`, `concat` or `sum`, or remove it")
        reporter.report(node_location(g, node, diag))
