"""Lowering constraints: what the PyTorch backend needs beyond shapes, checked before any code.

One Python class implements every instance of a block, so its sizes are expressions of the
block's parameters, not of each instance's spatial size. A `linear` inside a block therefore
takes `in_features` from its input's channels: its input must be C×1×1 (a global pool first).
At network level every size is concrete, and a `linear` flattens whatever it gets. For the same
reason a layer that flattens C×H×W inside a block (`flatten`) has one size for all instances: the
class computes C·H·W from its channels and one H×W, so instances of a definition must flatten
the same H×W (E0215), or the generated module would differ from the IR and its interpreter.

Checked here, in a pass, so that `resdsl check` and `resdsl build` give the same verdict on
every spec (E0208).
"""

from __future__ import annotations

import networkx as nx

from resdsl.diagnostics import Diagnostic, Reporter
from resdsl.ir.ops import OPS, fmt_shape
from resdsl.passes.infer_shapes import node_location


def _flattened_sizes(g: nx.DiGraph, reported: set[str]) -> dict[tuple[str, str], dict[tuple, str]]:
    """Per (block definition, node name inside it): the H×W each instance flattens, and where."""
    out: dict[tuple[str, str], dict[tuple, str]] = {}
    for node, data in g.nodes(data=True):
        if not data["scope"] or node in reported or data["shape"] is None or len(data["shape"]) != 1:
            continue
        source = g.nodes[data["inputs"][0]]["shape"] if data["inputs"] else None
        if source is None or len(source) != 3:
            continue
        scope = ".".join(data["scope"])
        key = (g.graph["blocks"][scope].definition, node[len(scope) + 1 :])
        out.setdefault(key, {}).setdefault(source[1:], node)
    return out


def _check_flatten_sizes(g: nx.DiGraph, reporter: Reporter, reported: set[str]) -> None:
    for (definition, _), where in _flattened_sizes(g, reported).items():
        if len(where) < 2:
            continue
        (first, a), (size, node) = list(where.items())[:2]
        diag = Diagnostic(
            "E0215",
            f"instances of `{definition}` flatten different sizes: {first[0]}×{first[1]} in `{a}`, {size[0]}×{size[1]} in `{node}`",
            g.nodes[node]["span"],
            help="one class implements every instance: pool to a fixed size first (a global `avgpool`), or flatten at network level",
        )
        reporter.report(node_location(g, node, diag))


def check_lowering(g: nx.DiGraph, reporter: Reporter) -> None:
    reported: set[str] = set()
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
            reported.add(node)
    _check_flatten_sizes(g, reporter, reported)
