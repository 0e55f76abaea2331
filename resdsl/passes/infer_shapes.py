"""Shape inference: set `shape` on every node from its operands' shapes and its op's rule.

A node whose operand has no shape (an earlier error) is left without one, so one mistake is
reported once, not once per layer after it.
"""

from __future__ import annotations

from dataclasses import replace

import networkx as nx

from resdsl.diagnostics import Diagnostic, Note, Reporter, relocate
from resdsl.ir.graph import topo_order
from resdsl.ir.ops import OPS, ShapeError, fmt_shape

MAX_SIZE = 2**31 - 1  # any one dimension: PyTorch indexes with int32 in places, and no net needs more


def node_location(g: nx.DiGraph, node: str, diag: Diagnostic) -> Diagnostic:
    """Where a pass's finding about `node` is shown: its statement, or the user's use of the
    prelude block it is in. A finding on a line of the user's own block definition also names
    the instance (`layer2.0`), because shapes and guards differ from one use to the next."""
    data = g.nodes[node]
    scope = ".".join(data["scope"])
    block = g.graph["blocks"].get(scope)
    site, main = data["site"], g.graph["main_source"]
    if block and site and diag.span and diag.span.source == main and diag.span.line != site.line:
        diag = replace(diag, notes=diag.notes + (Note(f"in `{scope}`, this use of `{block.definition}`", site),))
        return diag
    return relocate(diag, main, site, scope, block.definition if block else "")


def infer_node(g: nx.DiGraph, node: str, reporter: Reporter) -> None:
    data = g.nodes[node]
    inputs = [g.nodes[i]["shape"] for i in data["inputs"]]
    if any(s is None for s in inputs):
        return
    try:
        shape = tuple(OPS[data["op"]].infer(data["params"], inputs))
        if any(d > MAX_SIZE for d in shape):  # e.g. `padding 2147483647`: no tensor is that large
            raise ShapeError("E0201", f"this layer's output would be {fmt_shape(shape)}, past the largest size {MAX_SIZE:,}", help="check the padding, dilation and input size")
        data["shape"] = shape
    except ShapeError as err:
        notes = _flattened_at(g, node) if err.code == "E0208" else ()
        reporter.report(node_location(g, node, Diagnostic(err.code, err.message, data["span"], help=err.help, notes=notes)))


def _flattened_at(g: nx.DiGraph, node: str) -> tuple[Note, ...]:
    """Where the map became a vector: the nearest node before `node` whose input is C×H×W and
    whose output is not (a `flatten`, a `linear`, whatever op does it), as a note."""
    seen = g.nodes[node]["inputs"][:1]
    while seen:
        data = g.nodes[seen[0]]
        before = [g.nodes[i]["shape"] for i in data["inputs"]]
        if data["shape"] is not None and len(data["shape"]) != 3 and any(s is not None and len(s) == 3 for s in before):
            return (Note(f"the map becomes a vector of {fmt_shape(data['shape'])} here", data["span"]),)
        seen = data["inputs"][:1]
    return ()


def infer_shapes(g: nx.DiGraph, reporter: Reporter) -> None:
    for node in topo_order(g):
        infer_node(g, node, reporter)
