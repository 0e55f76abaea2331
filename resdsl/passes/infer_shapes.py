"""Shape inference: set `shape` on every node from its operands' shapes and its op's rule.

A node whose operand has no shape (an earlier error) is left without one, so one mistake is
reported once, not once per layer after it.
"""

from __future__ import annotations

import networkx as nx

from resdsl.diagnostics import Diagnostic, Reporter, relocate
from resdsl.ir.graph import topo_order
from resdsl.ops import OPS, ShapeError


def node_location(g: nx.DiGraph, node: str, diag: Diagnostic) -> Diagnostic:
    data = g.nodes[node]
    scope = ".".join(data["scope"])
    return relocate(diag, g.graph["main_source"], data["site"], f"block {scope}" if scope else node)


def infer_node(g: nx.DiGraph, node: str, reporter: Reporter) -> None:
    data = g.nodes[node]
    inputs = [g.nodes[i]["shape"] for i in data["inputs"]]
    if any(s is None for s in inputs):
        return
    try:
        data["shape"] = tuple(OPS[data["op"]].infer(data["params"], inputs))
    except ShapeError as err:
        reporter.report(node_location(g, node, Diagnostic(err.code, err.message, data["span"], help=err.help)))


def infer_shapes(g: nx.DiGraph, reporter: Reporter) -> None:
    for node in topo_order(g):
        infer_node(g, node, reporter)
