"""Shortcut insertion: realise each block's shortcut policy (the paper's options A, B, C).

For a block whose branch output differs from its input in shape:
- A inserts `pad_shortcut` (subsample with the stride, zero-pad new channels half before,
  half after; no parameters); it cannot reduce channels.
- B and C insert a projection `downsample.0` (1×1 conv, the stride) + `downsample.1` (BN);
  C also projects where shapes agree.
- identity inserts nothing (validate_residuals reports the mismatch);
- none removes the add: the block is plain.
A shape the policy cannot fix is left unfixed, with the reason kept in `BlockInfo.problem`
for validate_residuals to report.
"""

from __future__ import annotations

import networkx as nx

from resdsl.diagnostics import Reporter
from resdsl.ir.graph import BlockInfo, add_node, set_inputs
from resdsl.ops import OPS, fmt_shape

PROJECTION = "1×1 projection inserted by shortcut {policy}"
ZERO_PAD = "zero-padding shortcut inserted by shortcut A"


def branch_stride(g: nx.DiGraph, block: BlockInfo) -> tuple[int, int] | None:
    """The product of the strides along the branch, from the add back to the block input.

    None when the walk does not reach the block input (a structure this pass does not know).
    """
    sh = sw = 1
    node = g.nodes[block.add]["inputs"][0]
    for _ in range(g.number_of_nodes()):
        if node == block.input:
            return sh, sw
        data = g.nodes[node]
        if not data["inputs"]:
            return None
        stride = data["params"].get("stride", (1, 1))  # an (h, w) pair, or an int (pad_shortcut)
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
    for other in g.graph["blocks"].values():  # an enclosing block may end with this one
        if other.output == add:
            other.output = branch
    if g.graph["output"] == add:
        g.graph["output"] = branch
    block.add = None


def _insert(g: nx.DiGraph, block: BlockInfo, x: str, nodes: list[tuple[str, str, dict, str]]) -> None:
    add_data = g.nodes[block.add]
    prev = x
    for name, op, params, origin in nodes:
        prev = add_node(
            g, f"{block.path}.{name}", op, (prev,), params,
            span=add_data["span"], site=add_data["site"], scope=add_data["scope"], origin=origin,
        )
        g.nodes[prev]["shape"] = tuple(OPS[op].infer(params, [g.nodes[g.nodes[prev]["inputs"][0]]["shape"]]))
    set_inputs(g, block.add, (add_data["inputs"][0], prev))
    block.shortcut_nodes = tuple(f"{block.path}.{n[0]}" for n in nodes)


def _projection(g: nx.DiGraph, block: BlockInfo, x: str, out_channels: int, stride: int) -> None:
    conv = {
        "kernel": (1, 1), "stride": (stride, stride), "padding": (0, 0), "dilation": (1, 1),
        "groups": 1, "bias": False, "out_channels": out_channels,
    }
    origin = PROJECTION.format(policy=block.policy)
    _insert(g, block, x, [("downsample.0", "conv", conv, origin), ("downsample.1", "bn", {}, origin)])
    block.shortcut = "projection"


def shortcut_for(g: nx.DiGraph, block: BlockInfo) -> None:
    branch, x = g.nodes[block.add]["inputs"]
    sb, sx = g.nodes[branch]["shape"], g.nodes[x]["shape"]
    block.shortcut = "identity"
    if block.policy == "none":
        _remove_add(g, block)
        block.shortcut = "none"
        return
    if sb is None or sx is None or block.policy == "identity" or (sb == sx and block.policy != "C"):
        return
    stride = _stride(sb, sx, branch_stride(g, block))
    if isinstance(stride, tuple):
        block.problem = stride
        return
    if block.policy == "A":
        extra = sb[0] - sx[0]
        if extra < 0:
            block.problem = ("E0206", f"option A cannot reduce channels ({sx[0]} → {sb[0]}): it only zero-pads")
            return
        params = {"stride": stride, "before": extra // 2, "after": extra - extra // 2}
        _insert(g, block, x, [("downsample", "pad_shortcut", params, ZERO_PAD)])
        block.shortcut = "zero_pad"
    else:
        _projection(g, block, x, sb[0], stride)


def insert_shortcuts(g: nx.DiGraph, reporter: Reporter) -> None:
    for block in list(g.graph["blocks"].values()):
        if block.add is not None:
            shortcut_for(g, block)
