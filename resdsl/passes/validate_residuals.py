"""Validation: every residual add receives two operands of equal shape.

Reported at the user's statement that made the block, naming the block path and both shapes,
with a help line that names a shortcut policy that would fix it.
"""

from __future__ import annotations

import networkx as nx

from resdsl.diagnostics import Diagnostic, Note, Reporter
from resdsl.ir.ops import fmt_shape
from resdsl.ir.policies import policy

_HELP_BY_CODE = {
    "E0207": "use an even size before this block, or let the strided layer round up (a 3×3 conv with `padding 1`)",
}


def validate_residuals(g: nx.DiGraph, reporter: Reporter) -> None:
    for block in g.graph["blocks"].values():
        if block.add is None:
            continue
        data = g.nodes[block.add]
        a, b = (g.nodes[i]["shape"] for i in data["inputs"])
        if a is None or b is None or a == b:
            continue
        code, reason = block.problem or ("E0203", "")
        notes = (Note(reason),) if reason else ()
        if data["span"] and data["span"].source != g.graph["main_source"]:
            notes += (Note(f"the add of block `{block.definition}` is here", data["span"]),)
        reporter.report(
            Diagnostic(
                code,
                f"residual add receives {fmt_shape(a)} and {fmt_shape(b)}",
                data["site"] or data["span"],
                label=f"in block {block.path}",
                notes=notes,
                help=_HELP_BY_CODE.get(code) or policy(block.policy).help or "make the branch keep the spatial size, or change where the stride is applied",
            )
        )
