"""The rounds of a `for` loop build one ModuleList each: its entries must take the same input.

One comprehension constructs every entry of `convs` (`nn.ModuleList([nn.Conv2d(width, ...)
for _ in range(n)])`), so each round's layer must read as many channels as the first round's;
a loop whose layer reads the previous round's output with other channels (a chain 32 → 8 → 8)
cannot be written that way (E0214, both channel counts named). Checked after shapes, before any
code, so `check` and `build` agree.
"""

from __future__ import annotations

import networkx as nx

from resdsl.diagnostics import Diagnostic, Reporter
from resdsl.ir.ops import OPS
from resdsl.passes.infer_shapes import node_location


def check_rounds(g: nx.DiGraph, reporter: Reporter) -> None:
    for path, nodes in g.graph.get("rounds", {}).items():
        if OPS[g.nodes[nodes[0]]["op"]].torch is None:
            continue
        channels = [(n, g.nodes[g.nodes[n]["inputs"][0]]["shape"]) for n in nodes if g.nodes[n]["inputs"]]
        first = channels[0][1] if channels else None
        for node, shape in channels[1:]:
            if first is not None and shape is not None and shape[0] != first[0]:
                name = path.rsplit(".", 1)[-1]
                diag = Diagnostic(
                    "E0214",
                    f"round {nodes.index(node)} of `{name}` reads {shape[0]} channels, round 0 read {first[0]}",
                    g.nodes[node]["span"],
                    help="one ModuleList holds the rounds' layers: give each round an input of the same channels (`from` a value)",
                )
                reporter.report(node_location(g, node, diag))
                break
