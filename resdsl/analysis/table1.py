"""The paper's Table 1 for any spec, derived from the IR's nodes (never from block names).

Notation (He et al. 2015, Table 1; grouped convs as in ResNeXt's Table 1):
- a stage is its blocks' convolutions in brackets, times the block count:
  `[1×1, 64; 3×3, 64; 1×1, 256] ×3`; a conv is `k×k, channels` plus `C=groups` when grouped
  and `dilation d` when dilated. Strides are not written inside brackets (the paper states them
  in the text: "downsampling is performed by conv3_1, conv4_1, and conv5_1 with a stride of 2");
  the output size column shows where the size halves. Projection shortcuts inserted by the
  shortcut policy are not listed (the paper's table does not list them either);
- a statement outside blocks is one row: `7×7, 64, stride 2`, `3×3 max pool, stride 2`;
- the statements after the last stage share one row, as the paper's last row:
  `average pool, 1000-d fc` (softmax belongs to the loss; the network does not contain it);
- batch norm and ReLU are not listed, as in the paper (nor are the ops whose `OpDef.phrase` is
  None: adds, gates, dropout);
- the output size is the spatial size (H×W) a row ends with; a vector output is `N-d`.

Blocks of a stage that differ in their convs (not only in stride) are listed run by run,
joined by ` + `.
"""

from __future__ import annotations

from dataclasses import dataclass

from resdsl.analysis.summary_tree import Row
from resdsl.compiler import Network
from resdsl.ir.ops import OPS

@dataclass(frozen=True)
class Table1Row:
    layer: str
    output_size: str
    cell: str


def output_size(shape: tuple | None) -> str:
    if shape is None:
        return "?"
    return f"{shape[1]}×{shape[2]}" if len(shape) == 3 else f"{shape[0]}-d"


def phrase(data: dict, in_block: bool) -> str:
    """One node in Table 1's notation (the op's `OpDef.phrase`); '' for ops the table leaves out."""
    words = OPS[data["op"]].phrase
    return "" if words is None else words(data["params"], in_block)


def _fallback(data: dict) -> str:
    return OPS[data["op"]].label(data["params"]) or data["op"]


def pre_activation(net: Network) -> bool:
    """Whether some batch norm reads something other than a conv (it comes before a conv)."""
    g = net.graph
    return any(
        OPS[d["op"]].normalizes and not OPS[g.nodes[d["inputs"][0]]["op"]].convolves for _, d in g.nodes(data=True) if not d["origin"]
    )


def _leaves(row: Row) -> list[Row]:
    if row.kind == "layer":
        return [row]
    return [leaf for child in row.children for leaf in _leaves(child)]


def _block_convs(net: Network, block: Row) -> tuple[str, ...]:
    g = net.graph
    nodes = [g.nodes[leaf.node] for leaf in _leaves(block)]
    return tuple(p for p in (phrase(d, True) for d in nodes if not d["origin"]) if p)


def _blocks_cell(net: Network, blocks: list[Row]) -> str:
    """`[3×3, 64; 3×3, 64] ×3`, run by run for blocks whose convs differ."""
    runs: list[list] = []
    for block in blocks:
        convs = _block_convs(net, block)
        if runs and runs[-1][0] == convs:
            runs[-1][1] += block.count
        else:
            runs.append([convs, block.count])
    return " + ".join(f"[{'; '.join(convs)}] ×{count}" for convs, count in runs)


def _statement_cell(net: Network, rows: list[Row]) -> str:
    nodes = [net.graph.nodes[r.node] for r in rows]
    words = [phrase(d, False) for d in nodes]
    return ", ".join(w for w in words if w) or ", ".join(_fallback(d) for d in nodes)


def _last_spatial(rows: list[Row]) -> tuple | None:
    spatial = [r.shape for r in rows if r.shape is not None and len(r.shape) == 3]
    return spatial[-1] if spatial else rows[-1].shape


def _statements(net: Network, rows: list[Row]) -> list[list[Row]]:
    """Consecutive layer rows grouped by the network statement that wrote them."""
    groups: list[list[Row]] = []
    last_site = object()
    for row in rows:
        site = net.graph.nodes[row.node]["site"]
        if groups and site == last_site:
            groups[-1].append(row)
        else:
            groups.append([row])
        last_site = site
    return groups


def table1(net: Network, root: Row) -> list[Table1Row]:
    """Table 1's rows for one network, from its summary tree (`summary_tree.summarize`)."""
    items = [r for r in root.children if not (r.kind == "layer" and OPS[net.graph.nodes[r.node]["op"]].is_source)]
    last_block = max((i for i, r in enumerate(items) if r.kind != "layer"), default=len(items) - 1)
    body, head = items[: last_block + 1], items[last_block + 1 :]
    out: list[Table1Row] = []
    pending: list[Row] = []
    for row in body + [None]:
        if row is not None and row.kind == "layer":
            pending.append(row)
            continue
        for group in _statements(net, pending):
            out.append(Table1Row(group[0].name, output_size(group[-1].shape), _statement_cell(net, group)))
        pending = []
        if row is not None:
            blocks = row.children if row.kind == "stage" else [row]
            out.append(Table1Row(row.name, output_size(row.shape), _blocks_cell(net, blocks)))
    if head:  # the paper's last row: everything after the last stage
        statements = _statements(net, head)
        names = ", ".join(group[0].name for group in statements)
        cells = ", ".join(_statement_cell(net, group) for group in statements)
        out.append(Table1Row(names, output_size(_last_spatial(head)), cells))
    return out
