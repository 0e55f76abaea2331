"""The reference interpreter of the checked IR: what a network computes, node by node.

As torch.fx's `Interpreter` runs a graph, `interpret` walks the checked graph in `topo_order`
and runs each node's `OpDef.interpret` (torch.nn.functional) on its operands' tensors, in eval
mode: dropout and drop path are the identity, batch norm uses its running statistics. It reads
the IR alone (op, params, inputs, output) and shares no code with the code generator: no
generated source, no AST, no plan. So it is an independent statement of what the IR means,
and the property test holds every generated module to it (tests/test_interpret.py).

Weights come in a flat mapping keyed `<node id>.<tensor>` (`layer1.0.conv1.weight`,
`layer1.0.bn1.running_mean`), as a state_dict keys them where no label was renamed;
`resdsl.backends.torch_build.weights_from_module` reads them from a built module through `module_path`.

Invariants: every tensor a node needs must be present (`MissingWeight` otherwise), so a
module that dropped a layer cannot pass; `used` (when given) collects every key read, so a
caller can also show that a module has no weights the IR does not account for.
"""

from __future__ import annotations

from typing import Mapping

import networkx as nx

from resdsl.ir.graph import topo_order
from resdsl.ir.ops import OPS

# what a node may own, by state_dict name: a conv's or norm's, and any other an op names (EvoNorm's `v`)
TENSORS = tuple(dict.fromkeys(("weight", "bias", "running_mean", "running_var", *(t for op in OPS.values() for t in op.tensors))))


class MissingWeight(KeyError):
    """A node needs a tensor the weights do not hold: the module does not have that layer."""


def _owned(g: nx.DiGraph, node: str, weights: Mapping, used: set | None) -> dict:
    data = g.nodes[node]
    op = data["op"]
    need = list(OPS[op].tensors)
    if data["params"].get("bias"):
        need.append("bias")
    out = {}
    for name in TENSORS:
        key = f"{node}.{name}"
        if key in weights:
            out[name] = weights[key]
            if used is not None:
                used.add(key)
        elif name in need:
            raise MissingWeight(f"node {node} ({op}) needs `{key}`, which the weights do not hold")
    return out


def interpret(net, x, weights: Mapping, *, shapes: dict | None = None, used: set | None = None):
    """The network's output for the batch `x`, computed from the checked IR of `net`.

    `shapes`, when given, receives each node's output shape without the batch dimension;
    `used` receives every weight key read.
    """
    g: nx.DiGraph = net.graph
    values: dict = {}
    for node in topo_order(g):
        data = g.nodes[node]
        opdef = OPS[data["op"]]
        if opdef.interpret is None:
            raise NotImplementedError(f"op `{data['op']}` has no interpretation")  # a registry bug
        operands = [values[i] for i in data["inputs"]] if data["inputs"] else [x]
        out = opdef.interpret(data["params"], operands, _owned(g, node, weights, used))
        values[node] = out
        if shapes is not None:
            shapes[node] = tuple(out.shape[1:])
        for src in data["inputs"]:  # free a value once its last reader has run
            if all(r in values for r in g.successors(src)) and src != g.graph["output"]:
                values[src] = None
    return values[g.graph["output"]]
