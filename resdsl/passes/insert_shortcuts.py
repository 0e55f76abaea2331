"""Shortcut insertion: realise each block's shortcut policy with a `shortcut` definition.

Policies name a shortcut definition and where it applies (the paper's options, and any
`shortcut` a spec defines, which applies where dimensions change):
- A: `zero_pad` (prelude) where the branch changes C×H×W: subsample and zero-pad, no parameters;
- B: `projection` (prelude: 1×1 conv with the stride + BN) where C×H×W changes;
- C: `projection` on every block;
- identity: nothing (validate_residuals reports a mismatch); none: the add is removed.

The definition is instantiated with `channels` (the branch's) and `stride` (from the input's
size to the branch's) as nodes `<block>.downsample.0`, `.1`, ... reading the value the add names
(`add from pre`), and the add's shortcut operand, the block input until then, becomes its last
node. A shape no shortcut can
fix is left unfixed, with (code, reason) in `BlockInfo.problem` for validate_residuals.

Warnings: W0001 where the shortcut's stride differs from the block's declared `stride`, W0002
where the branch collapses the spatial size (to 1×1) and the input does not.
"""

from __future__ import annotations

import networkx as nx

from resdsl.diagnostics import Diagnostic, Note, Reporter
from resdsl.ir.graph import BlockInfo, set_inputs
from resdsl.ir.ops import OPS, ShapeError, fmt_shape
from resdsl.ir.policies import policy
from resdsl.passes.infer_shapes import node_location



def branch_stride(g: nx.DiGraph, block: BlockInfo) -> tuple[int, int] | None:
    """The product of the strides along the branch, from the add back to the shortcut's source.

    The walk follows first operands. None when it does not reach the source.
    """
    sh = sw = 1
    node = g.nodes[block.add]["inputs"][0]
    for _ in range(g.number_of_nodes()):
        if node == block.shortcut_from:
            return sh, sw
        data = g.nodes[node]
        if not data["inputs"]:
            return None
        stride = data["params"].get("stride", (1, 1))  # an (h, w) pair, or an int (pad_channels)
        h, w = stride if isinstance(stride, tuple) else (stride, stride)
        sh, sw = sh * h, sw * w
        node = data["inputs"][0]
    return None


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _stride(branch: tuple, x: tuple, walked: tuple[int, int] | None) -> int | tuple[str, str]:
    """The subsampling stride taking x's H×W to the branch's, or (code, reason) why there is none.

    The branch's own strides decide when they explain its size (a 1×1 shortcut with stride s
    gives ceil(size / s)); otherwise a size-derived stride is accepted (e.g. a branch that pools
    globally). A branch that strides by s but rounds down on an odd size is E0207: no shortcut
    with stride s can match it.
    """
    if len(branch) != 3 or len(x) != 3:
        return "E0203", f"a shortcut cannot join a {fmt_shape(x)} input to a {fmt_shape(branch)} output"
    (_, hb, wb), (_, hx, wx) = branch, x
    if hb > hx or wb > wx:
        return "E0203", f"the branch grows the spatial size from {hx}×{wx} to {hb}×{wb}, which a shortcut cannot follow"
    if walked is not None:
        sh, sw = walked
        if (_ceil(hx, sh), _ceil(wx, sw)) == (hb, wb) and sh == sw:
            return sh
        if (sh, sw) != (1, 1) and (_ceil(hx, sh), _ceil(wx, sw)) != (hb, wb) and (hx // sh, wx // sw) == (hb, wb):
            return "E0207", (
                f"the branch's stride {sh} takes {hx}×{wx} down to {hb}×{wb} (rounding down), "
                f"a 1×1 shortcut with stride {sh} to {_ceil(hx, sh)}×{_ceil(wx, sw)} (rounding up)"
            )
    s = _ceil(hx, hb)
    if (_ceil(hx, s) != hb or _ceil(wx, s) != wb) and walked == (1, 1):
        return "E0203", f"the branch shrinks {hx}×{wx} to {hb}×{wb} without a stride (a layer with too little padding?)"
    if _ceil(hx, s) != hb or _ceil(wx, s) != wb:
        return "E0203", (
            f"no stride takes the shortcut from {hx}×{wx} to the branch's {hb}×{wb} "
            f"(stride {s} gives {_ceil(hx, s)}×{_ceil(wx, s)})"
        )
    return s


def _remove_add(g: nx.DiGraph, block: BlockInfo) -> None:
    add = block.add
    branch = g.nodes[add]["inputs"][0]
    for succ in list(g.successors(add)):
        set_inputs(g, succ, tuple(branch if i == add else i for i in g.nodes[succ]["inputs"]))
    g.remove_node(add)
    block.nodes.remove(add)
    if block.output == add:
        block.output = branch
    for other in g.graph["blocks"].values():  # an enclosing block may end with this one, the next read it
        if other.output == add:
            other.output = branch
        if other.input == add:
            other.input = branch
        if other.shortcut_from == add:
            other.shortcut_from = branch
    if g.graph["output"] == add:
        g.graph["output"] = branch
    block.add = None


def _instantiate(g: nx.DiGraph, block: BlockInfo, name: str, channels: int, stride: int, reporter: Reporter) -> bool:
    """Build shortcut `name` for `block` and infer its shapes; False (graph unchanged) if it fails."""
    from resdsl.frontend.elaborate import Elaborator  # the elaborator instantiates definitions

    elaborator = Elaborator(g.graph["definitions"], reporter, g.graph["main_source"], g.graph["limits"])
    elaborator.g = g
    errors = reporter.error_count
    nodes_before, blocks_before = set(g.nodes), set(g.graph["blocks"])
    nodes = elaborator.shortcut(g.graph["definitions"][name], block, channels, stride)
    add_data = g.nodes[block.add]
    try:
        if reporter.error_count > errors:
            raise ShapeError("", "")
        for n in nodes:
            data = g.nodes[n]
            data.update(scope=add_data["scope"], origin=policy(block.policy).origin(name))
            shapes = [g.nodes[i]["shape"] for i in data["inputs"]]
            if any(s is None for s in shapes):  # a mistake in the definition, reported at an earlier instance
                raise ShapeError("", "")
            data["shape"] = tuple(OPS[data["op"]].infer(data["params"], shapes))
    except ShapeError as err:
        # undo all the failed definition made, nested blocks included: no pass may meet a half
        g.remove_nodes_from([n for n in g.nodes if n not in nodes_before])
        for path in [p for p in g.graph["blocks"] if p not in blocks_before]:
            del g.graph["blocks"][path]
            g.graph["stage_index"].pop(path.rsplit(".", 1)[0], None)
        g.graph["stages"] = [st for st in g.graph["stages"] if st.name in g.graph["stage_index"]]
        if err.code:
            block.problem = (err.code, err.message)
        return False
    last = nodes[-1] if nodes else block.shortcut_from
    set_inputs(g, block.add, (add_data["inputs"][0], last))
    block.shortcut_nodes = tuple(nodes)
    block.shortcut_def = name
    # drawn as a projection when it has weights, as zero padding when it only moves data
    block.shortcut = "projection" if any(_params(g, n) for n in nodes) else "zero_pad"
    return True


def _params(g: nx.DiGraph, node: str) -> int:
    data = g.nodes[node]
    return OPS[data["op"]].params(data["params"], [g.nodes[i]["shape"] for i in data["inputs"]], data["shape"])


def _collapse(g: nx.DiGraph, block: BlockInfo) -> str | None:
    """The branch node where the spatial size first becomes 1×1, walking from the source."""
    node, found = g.nodes[block.add]["inputs"][0], None
    for _ in range(g.number_of_nodes()):
        data = g.nodes[node]
        if node == block.shortcut_from or not data["inputs"]:
            return found
        before = g.nodes[data["inputs"][0]]["shape"]
        if data["shape"] and len(data["shape"]) == 3 and data["shape"][1:] == (1, 1) and before and before[1:] != (1, 1):
            found = node
        node = data["inputs"][0]
    return found


def _warn(g: nx.DiGraph, block: BlockInfo, stride: int, sb: tuple, sx: tuple, reporter: Reporter) -> None:
    declared = block.args.get("stride")
    if isinstance(declared, int) and not isinstance(declared, bool) and declared != stride:
        reporter.report(
            Diagnostic(
                "W0001",
                f"the shortcut of block {block.path} needs stride {stride}, but the block's stride is {declared}",
                block.site,
                label=f"in block {block.path}",
                help=f"the branch takes {sx[1]}×{sx[2]} to {sb[1]}×{sb[2]}; check where the branch changes the spatial size",
                severity="warning",
            )
        )
    if len(sb) == 3 and sb[1:] == (1, 1) and sx[1:] != (1, 1):
        node = _collapse(g, block)
        if node is not None:
            data = g.nodes[node]
            diag = Diagnostic(
                "W0002",
                f"the residual branch of block {block.path} collapses {sx[1]}×{sx[2]} to 1×1 here, before its add",
                data["span"],
                help="a global pool inside a branch usually belongs to a gate (`sigmoid` then `mul input`)",
                severity="warning",
            )
            reporter.report(node_location(g, node, diag))


def _is_shortcut(g: nx.DiGraph, block: BlockInfo, name: str, reporter: Reporter) -> bool:
    """Whether `name` (the definition a policy builds) is a `shortcut`; E0105 at the spec's own
    definition of that name otherwise (a `block projection` hides the prelude's shortcut)."""
    defn = g.graph["definitions"][name]
    if defn.kind == "shortcut":
        return True
    if not any(d.code == "E0105" and d.span == defn.name_span for d in reporter.diagnostics):
        reporter.report(
            Diagnostic(
                "E0105",
                f"this {defn.kind} is named `{name}`, the shortcut that `shortcut {block.policy}` builds",
                defn.name_span,
                notes=(Note(f"block {block.path} needs the shortcut here", block.site),),
                help=f"rename the {defn.kind}; a spec may replace `{name}` only with a `shortcut` definition",
            )
        )
    return False


def shortcut_for(g: nx.DiGraph, block: BlockInfo, reporter: Reporter) -> None:
    branch, x = g.nodes[block.add]["inputs"]
    sb, sx = g.nodes[branch]["shape"], g.nodes[x]["shape"]
    block.shortcut = "identity"
    rule = policy(block.policy)
    if not rule.adds:
        _remove_add(g, block)
        block.shortcut = "none"
        return
    if sb is None or sx is None or rule.definition is None or (sb == sx and not rule.everywhere):
        return
    if not _is_shortcut(g, block, rule.definition, reporter):
        return
    sx = g.nodes[block.shortcut_from]["shape"]  # what the shortcut definition reads
    stride = _stride(sb, sx, branch_stride(g, block))
    if isinstance(stride, tuple):
        block.problem = stride
        return
    if _instantiate(g, block, rule.definition, sb[0], stride, reporter):
        _warn(g, block, stride, sb, sx, reporter)


def insert_shortcuts(g: nx.DiGraph, reporter: Reporter) -> None:
    for block in list(g.graph["blocks"].values()):
        if block.add is not None:
            shortcut_for(g, block, reporter)
