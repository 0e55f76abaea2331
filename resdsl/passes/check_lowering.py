"""Lowering constraints: what the PyTorch backend needs beyond shapes, checked before any code.

One Python class implements every instance of a block, so its sizes are expressions of the
block's parameters, not of each instance's spatial size. A `linear` inside a block therefore
takes `in_features` from its input's channels: its input must be C×1×1 (a global pool first).
At network level every size is concrete, and a `linear` flattens whatever it gets.

Checked here, in a pass, so that `resdsl check` and `resdsl build` give the same verdict on
every spec (E0208).
"""

from __future__ import annotations

import networkx as nx

from resdsl.diagnostics import Diagnostic, Reporter
from resdsl.ir.ops import OPS, fmt_shape
from resdsl.passes.infer_shapes import node_location


def check_lowering(g: nx.DiGraph, reporter: Reporter) -> None:
    for node, data in g.nodes(data=True):
        if not OPS[data["op"]].flattens_input or not data["scope"]:
            continue
        source = g.nodes[data["inputs"][0]]["shape"]
        if source is not None and len(source) == 3 and source[1:] != (1, 1):
            diag = Diagnostic(
                "E0208",
                f"a `linear` inside a block needs a C×1×1 input; `{node}` gets {fmt_shape(source)}",
                data["span"],
                help="put a global `avgpool` before it, or move the `linear` to the network",
            )
            reporter.report(node_location(g, node, diag))
