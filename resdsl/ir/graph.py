"""The IR: one `networkx.DiGraph` per elaborated network.

Node id: a dotted path that is also the PyTorch attribute path of the module that runs the
node (`layer2.0.conv1`, `layer2.0.downsample.0`). Stateless ops (relu, add, input) have ids
unique in the graph that need not be attributes: one shared ReLU module serves each class.

Node attributes (all always present):
    op       str               a key of `resdsl.ir.ops.OPS`
    params   dict              concrete op parameters (pairs as (h, w) tuples)
    inputs   tuple[str, ...]   ordered operands; `add(branch, shortcut)` keeps that order
    shape    tuple | None      output shape, (C, H, W) or (F,); set by passes.infer_shapes
    span     Span | None       the statement that wrote the node (may be in the prelude)
    site     Span | None       the statement in the network body that led to it
    scope    tuple[str, ...]   enclosing block path, e.g. ("layer2", "0"); () at network level
    origin   str               why a synthetic node exists ("" for nodes the user wrote)
    order    int               creation index: ties in the topological order follow it

Edges: u -> v for each operand u of v (the `inputs` tuple is the ordered truth).

Graph attributes (`g.graph`):
    name, params (bound network parameters), names (parameters and the network's lets), input_shape, output (node id),
    policy (network shortcut policy), blocks (dict path -> BlockInfo, in program order),
    stages (list of StageInfo), stage_index (dict name -> StageInfo), expects (list of AST expect statements), sources (SourceMap),
    definitions (dict block name -> ast.Definition used), network (its ast.Definition).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from resdsl.diagnostics import Span


@dataclass
class BlockInfo:
    """One instantiated block (or sequential). `add` is None for blocks without a residual add.

    `shortcut_from` is the value the residual shortcut reads (the block input unless the block
    says `add from v`); `shortcut` is how it is drawn: "projection" (a shortcut definition with
    weights), "zero_pad" (one without), "identity" or "none"; `shortcut_def` names the
    definition insert_shortcuts instantiated (`projection`, `zero_pad`, a user's own); `problem` is a (code,
    reason) pair insert_shortcuts leaves for validate_residuals when no shortcut fits.
    """

    path: str
    definition: str  # the name of the block (or sequential) definition it instantiates
    args: dict
    input: str
    output: str
    stage: str | None
    index: int
    policy: str
    site: Span | None
    span: Span | None
    add: str | None = None
    shortcut_from: str | None = None
    shortcut: str = "none"  # decided by insert_shortcuts: identity | projection | zero_pad | none
    shortcut_def: str = ""  # the `shortcut` definition it instantiated, if any
    shortcut_args: dict = field(default_factory=dict)  # and the values of its parameters
    shortcut_nodes: tuple[str, ...] = ()
    nodes: list = field(default_factory=list)
    problem: tuple[str, str] | None = None
    sequential: bool = False  # a `sequential` definition's instance: numbered layers, one path


@dataclass
class StageInfo:
    """A `block(args) x N` statement: its blocks are `name.0` .. `name.{N-1}`."""

    name: str
    definition: str  # the name of its blocks' definition
    repeat: int
    stride: object
    policy: str
    span: Span | None
    blocks: list = field(default_factory=list)
    scope: tuple = ()


def new_graph(name: str) -> nx.DiGraph:
    g = nx.DiGraph(name=name)
    g.graph.update(blocks={}, stages=[], stage_index={}, expects=[], params={}, policy="B", output=None, counter=0)
    return g


def add_node(
    g: nx.DiGraph,
    node_id: str,
    op: str,
    inputs: tuple[str, ...],
    params: dict | None = None,
    *,
    span: Span | None = None,
    site: Span | None = None,
    scope: tuple[str, ...] = (),
    origin: str = "",
) -> str:
    g.graph["counter"] += 1
    g.add_node(
        node_id,
        op=op,
        params=params or {},
        inputs=tuple(inputs),
        shape=None,
        span=span,
        site=site,
        scope=scope,
        origin=origin,
        order=g.graph["counter"],
    )
    for src in inputs:
        g.add_edge(src, node_id)
    return node_id


def set_inputs(g: nx.DiGraph, node_id: str, inputs: tuple[str, ...]) -> None:
    for src in g.nodes[node_id]["inputs"]:
        if g.has_edge(src, node_id):
            g.remove_edge(src, node_id)
    g.nodes[node_id]["inputs"] = tuple(inputs)
    for src in inputs:
        g.add_edge(src, node_id)


def topo_order(g: nx.DiGraph) -> list[str]:
    """Deterministic topological order; among ready nodes, the earliest created first."""
    order = nx.get_node_attributes(g, "order")
    return list(nx.lexicographical_topological_sort(g, key=order.__getitem__))


def value_node(g: nx.DiGraph, path: str) -> str | None:
    """The node holding the value of `path`: a node, a block (its output), or a stage (its last
    block's output); None for a path that names none, or a stage whose blocks failed."""
    stage = g.graph["stage_index"].get(path)
    if stage is not None:
        if not stage.blocks:
            return None
        path = stage.blocks[-1]
    if path in g.graph["blocks"]:
        return g.graph["blocks"][path].output
    return path if path in g else None


def enclosing_block(g: nx.DiGraph, path: str) -> BlockInfo | None:
    """The innermost block strictly enclosing `path` (a node, block or stage path), or None."""
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        block = g.graph["blocks"].get(".".join(parts[:cut]))
        if block is not None:
            return block
    return None


def outermost_blocks(g: nx.DiGraph) -> list[BlockInfo]:
    """Blocks not nested inside another block, in program order (a stage's blocks, a stem's
    `sequential`; not the blocks inside them)."""
    blocks = g.graph["blocks"]
    return [info for path, info in blocks.items() if enclosing_block(g, path) is None]


def join_path(*parts) -> str:
    """An IR id from its segments, each a string or a tuple of them: ("layer1", "0"), "conv1"
    -> "layer1.0.conv1"."""
    flat: list[str] = []
    for part in parts:
        flat.extend(part if isinstance(part, tuple) else [part])
    return ".".join(flat)
