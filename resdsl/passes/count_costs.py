"""Cost counting: parameters, multiply-adds, element operations and activation sizes per node.

Conventions (`CONVENTIONS`; the summary and its JSON name the one they use):
- "conv+fc" (the default; the paper's Table 1, and the published counts `tests/test_costs.py`
  holds in `REFERENCE`): multiply-adds of
  convolutions and fully connected layers only; one fused multiply-add = 1; bias additions are
  not counted; batch 1. `torch.utils.flop_counter.FlopCounterMode` counts 2 per multiply-add
  of exactly these ops, which is what the differential tests compare against.
- "all": conv+fc plus the element operations of every other op (`OpDef.element_ops`): batch norm 1
  per element (at inference it is one multiply-add, x * scale + shift), ReLU 1 per element, the
  residual add 1 per output element, max/average pooling kh*kw per output element, global
  average pooling 1 per input element; the option-A zero-pad shortcut only moves data (0).

Parameters are trainable weights and biases (BN's running statistics are buffers, not counted).
Activations are the elements of a node's output, batch 1 (`OpDef.outputs` of them: a fused
BN + ReLU makes two, plus `OpDef.scratch`: a standardised weight); ops that pass their input on in eval (identity, dropout, drop path) make none.

Sets node attributes `cost_params`, `cost_macs` (conv+fc), `cost_element_ops` (what "all" adds)
and `cost_activations`; graph attributes `total_params`, `total_macs` (conv+fc),
`total_element_ops` and `total_activations` (every node's output but the input's). A network
past `Limits.max_params` is refused here, before anything allocates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx

from resdsl.diagnostics import Diagnostic, Reporter
from resdsl.ir.ops import OPS, fmt_shape
from resdsl.passes.infer_shapes import node_location

DEFAULT_CONVENTION = "conv+fc"

CONVENTIONS = {
    "conv+fc": "multiply-adds of conv and fc layers only (1 fused multiply-add = 1 MAC; bias adds not counted)",
    "all": (
        "conv+fc multiply-adds plus element ops: batch norm, ReLU and residual add 1 per element, "
        "max/avg pool kh*kw per output element, global avg pool 1 per input element"
    ),
}


@dataclass(frozen=True)
class Cost:
    """The costs of a set of nodes (a node, a block, a stage, a network)."""

    params: int = 0
    macs: int = 0  # conv+fc
    element_ops: int = 0
    activations: int = 0

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(
            self.params + other.params,
            self.macs + other.macs,
            self.element_ops + other.element_ops,
            self.activations + other.activations,
        )

    def __mul__(self, n: int) -> "Cost":
        return Cost(self.params * n, self.macs * n, self.element_ops * n, self.activations * n)

    def macs_in(self, convention: str) -> int:
        """Multiply-adds counted under `convention` (a key of `CONVENTIONS`)."""
        if convention not in CONVENTIONS:
            raise ValueError(f"unknown counting convention {convention!r}; expected one of {', '.join(CONVENTIONS)}")
        return self.macs + (self.element_ops if convention == "all" else 0)


def node_cost(data: dict) -> Cost:
    """The costs `count_costs` set on one node (its attribute dict)."""
    return Cost(data["cost_params"], data["cost_macs"], data["cost_element_ops"], data["cost_activations"])


def network_cost(g: nx.DiGraph) -> Cost:
    return Cost(g.graph["total_params"], g.graph["total_macs"], g.graph["total_element_ops"], g.graph["total_activations"])


def _node_costs(data: dict, inputs: list) -> tuple[int, int, int, int]:
    op = OPS[data["op"]]
    out = data["shape"]
    activations = 0 if op.is_source or op.passthrough else _outputs(op, data["params"], inputs) * math.prod(out) + op.scratch(data["params"], inputs, out)
    return (
        op.params(data["params"], inputs, out),
        op.macs(data["params"], inputs, out),
        op.element_ops(data["params"], inputs, out),
        activations,
    )


def count_costs(g: nx.DiGraph, reporter: Reporter) -> None:
    total = Cost()
    for node, data in g.nodes(data=True):
        inputs = [g.nodes[i]["shape"] for i in data["inputs"]]
        if data["shape"] is None or any(s is None for s in inputs):
            costs = (0, 0, 0, 0)  # shapes failed: an error is already reported
        else:
            costs = _node_costs(data, inputs)
        data["cost_params"], data["cost_macs"], data["cost_element_ops"], data["cost_activations"] = costs
        total = total + Cost(*costs)
    g.graph.update(
        total_params=total.params,
        total_macs=total.macs,
        total_element_ops=total.element_ops,
        total_activations=total.activations,
    )
    limits = g.graph["limits"]
    elements = math.prod(g.graph["input_shape"])
    if elements > limits.max_activations:
        reporter.report(
            Diagnostic(
                "E0301",
                f"the input {fmt_shape(g.graph['input_shape'])} has {elements:,} elements, past the activation limit of {limits.max_activations:,}",
                g.nodes["input"]["span"],
                help="raise the limit with --max-activations (API: limits=Limits(max_activations=...))",
            )
        )
        return  # every layer after it is too large as well: one report
    _check_limit(g, "cost_params", "parameters", total.params, limits.max_params, "--max-params", "max_params", reporter)
    _check_limit(g, "cost_activations", "activation elements", total.activations, limits.max_activations, "--max-activations", "max_activations", reporter)


def _check_limit(g: nx.DiGraph, attr: str, what: str, total: int, limit: int, flag: str, field: str, reporter: Reporter) -> None:
    """E0301 past a size limit, located at the layer that contributes the most."""
    if total <= limit:
        return
    net = g.graph["network"]
    largest = max(g.nodes, key=lambda n: g.nodes[n][attr])
    data = g.nodes[largest]
    diag = Diagnostic(
        "E0301",
        f"network `{net.name}` has {total:,} {what}, past the limit of {limit:,}",
        data["span"] or net.name_span,
        label=f"the largest: {largest}, {data[attr]:,}",
        help=f"raise the limit with {flag} (API: limits=Limits({field}=...))",
    )
    reporter.report(node_location(g, largest, diag) if data["span"] else diag)


def _outputs(op, params: dict, inputs: list) -> int:
    """How many tensors of the output's size the op writes (a number, or a rule of its params and operands)."""
    return op.outputs(params, inputs) if callable(op.outputs) else op.outputs
