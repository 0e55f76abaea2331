"""IR invariants. `verify` raises `IRInvariantError` (a compiler bug, never a user error).

Run by the tests after every pass: a pass that leaves the graph inconsistent fails at once,
at the pass that broke it, not three backends later.
"""

from __future__ import annotations

import networkx as nx

from resdsl.ir.ops import OPS

_ATTRS = ("op", "params", "inputs", "shape", "span", "site", "scope", "origin", "order")


class IRInvariantError(AssertionError):
    pass


def verify(g: nx.DiGraph, *, shapes: bool = False) -> None:
    """Check the schema of `resdsl.ir.graph`; with `shapes`, also that every shape is known."""
    problems: list[str] = []
    inputs = [n for n, d in g.nodes(data=True) if d.get("op") == "input"]
    if len(inputs) != 1:
        problems.append(f"expected one input node, found {len(inputs)}")
    if g.graph.get("output") not in g:
        problems.append(f"output {g.graph.get('output')!r} is not a node")
    for n, data in g.nodes(data=True):
        missing = [a for a in _ATTRS if a not in data]
        if missing:
            problems.append(f"{n}: missing attributes {missing}")
            continue
        op = OPS.get(data["op"])
        if op is None:
            problems.append(f"{n}: unknown op {data['op']!r}")
            continue
        if len(data["inputs"]) != op.arity:
            problems.append(f"{n}: {data['op']} takes {op.arity} operands, has {len(data['inputs'])}")
        if set(data["inputs"]) != set(g.predecessors(n)):
            problems.append(f"{n}: operands {data['inputs']} disagree with edges {sorted(g.predecessors(n))}")
        if shapes and not (isinstance(data["shape"], tuple) and all(isinstance(d, int) and d > 0 for d in data["shape"])):
            problems.append(f"{n}: shape {data['shape']!r} is not inferred")
    if not nx.is_directed_acyclic_graph(g):
        problems.append("graph has a cycle")
    for path, block in g.graph.get("blocks", {}).items():
        for attr in ("input", "output"):
            if getattr(block, attr) not in g:
                problems.append(f"block {path}: {attr} {getattr(block, attr)!r} is not a node")
        if block.add is not None and block.add not in g:
            problems.append(f"block {path}: add {block.add!r} is not a node")
    if problems:
        raise IRInvariantError("IR invariants violated:\n  " + "\n  ".join(problems[:20]))
