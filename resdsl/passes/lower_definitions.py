"""Store the checked definitions the network uses, lowered, as `graph.graph["lowered"]`.

A back end that writes one class per definition reads these (`resdsl.ir.definitions`), not the
syntax tree. Runs after `insert_shortcuts`, which decides the shortcut definitions instances use.
"""

from __future__ import annotations

import networkx as nx

from resdsl.diagnostics import Reporter
from resdsl.frontend.lower import lower
from resdsl.ir.definitions import NETWORK


def lower_definitions(g: nx.DiGraph, reporter: Reporter) -> None:
    definitions = g.graph["definitions"]
    blocks = g.graph["blocks"].values()
    used = {b.definition for b in blocks} | {b.shortcut_def for b in blocks if b.shortcut_def}
    lowered = {name: lower(definitions[name]) for name in sorted(used) if name in definitions}
    lowered[NETWORK] = lower(g.graph["network"])
    g.graph["lowered"] = lowered
