"""Cost counting: parameters and multiply-adds per node, and network totals.

Convention (the paper's and `reference/numbers.md`'s): multiply-adds of convolutions and
fully connected layers only, one fused multiply-add = 1, batch 1; parameters are trainable
weights (BN's running statistics are buffers and not counted).

Sets node attributes `cost_params`, `cost_macs` and graph attributes `total_params`,
`total_macs`. A network past `Limits.max_params` is refused here, before anything allocates.
"""

from __future__ import annotations

import networkx as nx

from resdsl.diagnostics import Diagnostic, Reporter
from resdsl.ops import OPS


def count_costs(g: nx.DiGraph, reporter: Reporter) -> None:
    total_params = total_macs = 0
    for node, data in g.nodes(data=True):
        inputs = [g.nodes[i]["shape"] for i in data["inputs"]]
        if data["shape"] is None or any(s is None for s in inputs):
            data["cost_params"] = data["cost_macs"] = 0
            continue
        op = OPS[data["op"]]
        data["cost_params"] = op.params(data["params"], inputs, data["shape"])
        data["cost_macs"] = op.macs(data["params"], inputs, data["shape"])
        total_params += data["cost_params"]
        total_macs += data["cost_macs"]
    g.graph["total_params"] = total_params
    g.graph["total_macs"] = total_macs
    limit = g.graph["limits"].max_params
    if total_params > limit:
        net = g.graph["network"]
        reporter.report(
            Diagnostic(
                "E0301",
                f"network `{net.name}` has {total_params:,} parameters, past the limit of {limit:,}",
                net.name_span,
                help="raise the limit with --max-params (API: limits=Limits(max_params=...))",
            )
        )
