"""IR invariants. `verify` raises `IRInvariantError` (a compiler bug, never a user error).

Run by the compiler after every pass (`resdsl.passes.PASSES`): a pass that leaves the graph
inconsistent fails at once, at the pass that broke it, not three back ends later. Beyond the
schema of `resdsl.ir.graph`, it checks the facts (`FACTS`) that the passes run so far have
established and later readers rely on.
"""

from __future__ import annotations

import networkx as nx

from resdsl.ir.definitions import NETWORK, Definition
from resdsl.ir.ops import OPS

_ATTRS = ("op", "params", "inputs", "shape", "span", "site", "scope", "origin", "order")


class IRInvariantError(AssertionError):
    pass


FACTS = {
    "shapes": "every node has an inferred shape of positive ints",
    "shortcuts": "every block's shortcut is decided: an add has a shortcut kind and its nodes exist",
    "costs": "every node has its costs and the graph's totals are their sums",
    "lowered": "the network and every definition a block instance or its shortcut uses are lowered (`resdsl.ir.definitions`)",
}


def verify(g: nx.DiGraph, *, facts: tuple[str, ...] = ()) -> None:
    """Check the schema of `resdsl.ir.graph` and the `facts` (keys of `FACTS`) on `g`."""
    unknown = set(facts) - set(FACTS)
    if unknown:
        raise ValueError(f"unknown IR facts {sorted(unknown)}")
    shapes = "shapes" in facts
    problems: list[str] = []
    inputs = [n for n, d in g.nodes(data=True) if _is_source(d.get("op"))]
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
        if len(data["inputs"]) != op.arity and not (op.arity < 0 and data["inputs"]):  # -1: one or more
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
    if "shortcuts" in facts:
        problems += _shortcut_problems(g)
    if "costs" in facts:
        problems += _cost_problems(g)
    if "lowered" in facts:
        problems += _lowering_problems(g)
    if problems:
        raise IRInvariantError("IR invariants violated:\n  " + "\n  ".join(problems[:20]))


def _is_source(op: object) -> bool:
    """`op` names the network's input (any value may sit in a node that fails the schema)."""
    return isinstance(op, str) and op in OPS and OPS[op].is_source


def _shortcut_problems(g: nx.DiGraph) -> list[str]:
    problems = []
    for path, block in g.graph["blocks"].items():
        if block.add is None:
            continue
        if block.shortcut not in ("identity", "projection", "zero_pad"):
            problems.append(f"block {path}: add without a decided shortcut ({block.shortcut!r})")
        missing = [n for n in block.shortcut_nodes if n not in g]
        if missing:
            problems.append(f"block {path}: shortcut nodes {missing} are not in the graph")
    return problems


def _lowering_problems(g: nx.DiGraph) -> list[str]:
    lowered = g.graph.get("lowered", {})
    wanted = {NETWORK} | {b.definition for b in g.graph["blocks"].values()} | {b.shortcut_def for b in g.graph["blocks"].values() if b.shortcut_def}
    return [f"definition {name!r} is not lowered" for name in sorted(wanted) if not isinstance(lowered.get(name), Definition)]


def _cost_problems(g: nx.DiGraph) -> list[str]:
    keys = ("cost_params", "cost_macs", "cost_element_ops", "cost_activations")
    problems = [f"{n}: costs not counted" for n, data in g.nodes(data=True) if any(k not in data for k in keys)]
    if problems:
        return problems
    total = sum(data["cost_params"] for _, data in g.nodes(data=True))
    if g.graph.get("total_params") != total:
        problems.append(f"total_params {g.graph.get('total_params')} is not the nodes' sum {total}")
    return problems
