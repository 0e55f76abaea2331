"""One level of detail of a drawing, before any styling: boxes, arcs and clusters.

Every level is a quotient of the IR: each drawn node is assigned a box, and an IR edge u -> v
becomes an arc box(u) -> box(v) unless both lie in one box. Levels differ only in the
assignment:
- layer: one box per IR node (conv, batch norm, relu, add, shortcut nodes);
- unit:  one box per unit (conv + BN + ReLU is "3x3 conv, 64", as the paper's Fig. 3 draws);
- block: one box per residual branch, listing its units; the add (with its ReLU) stays a
         circle; shortcut nodes fold into the arc, which is labelled with them;
- stage: one box per stage, "×N", listing the units of one block.
Stem and head nodes are units at every level. With `fold`, each run of identical blocks is
drawn once (its first block, in a cluster titled "×N"); nodes of the other blocks of the run
map to the same node of the first, so the arcs around the run stay right.

Invariants: box ids are IR ids (a node, a block path or a stage name); arcs are unique per
(tail, head), except that each part of a split that reaches a box is its own arc (`sum` of two
parts of one split draws two arcs from the split), and listed in topological order of their heads; an arc's kind is "data" or the
shortcut kind of the path it draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from resdsl.backends.draw.structure import Run, Structure, unattached
from resdsl.ir.ops import OPS, fmt_shape

DETAILS = ("layer", "unit", "block", "stage")
SHORTCUT_KINDS = ("identity", "projection", "zero_pad")
_PASS = ""  # box id of a node drawn as part of an arc (a shortcut node at block level)


@dataclass
class Box:
    """A drawn node. `role` picks its style: input conv pool fc norm add block stage, or the
    shortcut kind (projection, zero_pad) for a node on a shortcut path."""

    id: str
    role: str
    lines: list[str]
    nodes: list[str]
    cluster: str | None
    error: str = ""
    tooltip: str = ""
    unknown: bool = False  # its output shape is unknown (downstream of an error)


@dataclass
class Arc:
    tail: str
    head: str
    kind: str  # "data" or one of SHORTCUT_KINDS
    shape: tuple | None
    show_shape: bool  # the tensor differs from the one entering the tail box
    via: list[str] = field(default_factory=list)  # labels of shortcut units folded into the arc


@dataclass
class Cluster:
    id: str
    label: str
    role: str  # "stage" or "fold"
    parent: str | None


@dataclass
class View:
    title: str
    detail: str
    boxes: dict[str, Box]
    arcs: list[Arc]
    clusters: dict[str, Cluster]
    notes: list[str]  # errors no box shows

    @property
    def shortcut_kinds(self) -> list[str]:
        present = {a.kind for a in self.arcs}
        return [k for k in SHORTCUT_KINDS if k in present]

    @property
    def has_errors(self) -> bool:
        return bool(self.notes) or any(b.error for b in self.boxes.values())


def build_view(s: Structure, detail: str, fold: bool) -> View:
    """The boxes, arcs and clusters of `detail` (one of DETAILS)."""
    if detail not in DETAILS:
        raise ValueError(f"detail must be one of {', '.join(DETAILS)}, not {detail!r}")
    builder = _Builder(s, detail, fold and detail != "stage")
    return builder.build()


class _Builder:
    def __init__(self, s: Structure, detail: str, fold: bool):
        self.s, self.detail, self.fold = s, detail, fold
        self.g = s.g
        self._branches = {b.path: s.branch(b) for b in s.blocks.values()} if detail == "block" else {}
        self.members: dict[str, list[str]] = {}
        for n in s.order:
            self.members.setdefault(s.unit(n), []).append(n)

    def build(self) -> View:
        drawn = [n for n in self.s.order if not self.hidden(n)]
        box_of = {n: self.box_id(n) for n in drawn}
        boxes: dict[str, Box] = {}
        for n in drawn:
            if box_of[n] != _PASS:
                boxes.setdefault(box_of[n], Box(box_of[n], "", [], [], None)).nodes.append(n)
        clusters: dict[str, Cluster] = {}
        for box in boxes.values():
            self.describe(box)
            box.cluster = self.cluster_of(box.nodes[0], clusters)
        arcs = self.arcs(drawn, box_of, boxes)
        return View(self.title(), self.detail, boxes, arcs, clusters, unattached(self.s.net, self.s.failures))

    # --- assignment --------------------------------------------------------------------

    def hidden(self, n: str) -> bool:
        return self.fold and n in self.s.reps

    def shown(self, n: str) -> str:
        return self.s.reps.get(n, n) if self.fold else n

    def box_id(self, n: str) -> str:
        s = self.s
        data = self.g.nodes[n]
        if data["inputs"] and _no_op(data):
            return _PASS  # an identity, or a drop path of rate 0: nothing to see
        if self.detail == "layer":
            return n
        if self.detail == "stage":
            return s.group(n) or s.unit(n)
        block = s.top_block(n)
        if self.detail == "block" and block is not None:
            if n in block.shortcut_nodes:
                return _PASS
            if n in self._branches[block.path]:
                return block.path
        return s.unit(n)

    # --- contents ----------------------------------------------------------------------

    def unit_label(self, head: str) -> str:
        data = self.g.nodes[head]
        if OPS[data["op"]].role == "norm":  # a unit that starts with BN or ReLU lists them all
            return ", ".join(OPS[self.g.nodes[n]["op"]].label(self.g.nodes[n]["params"]) for n in self.members[head])
        return _layer_label(data)

    def unit_lines(self, nodes: list[str]) -> list[str]:
        """Labels of the units among `nodes`, adds left out (a branch box lists its layers)."""
        heads = dict.fromkeys(self.s.unit(n) for n in nodes if not _no_op(self.g.nodes[n]))
        return [self.unit_label(h) for h in heads if not OPS[self.g.nodes[h]["op"]].joins]

    def describe(self, box: Box) -> None:
        s, first = self.s, box.nodes[0]
        box.error = next((s.failures[n] for n in box.nodes if n in s.failures), "")
        box.unknown = not box.error and self.g.nodes[box.nodes[-1]]["shape"] is None
        if self.detail == "stage" and box.id in s.runs:
            self.describe_stage(box)
        elif box.id in s.g.graph["blocks"] and self.detail in ("block", "stage"):
            block = s.g.graph["blocks"][box.id]
            branch = sorted(s.branch(block), key=s.index.__getitem__)
            box.role, box.lines = "block", self.unit_lines(branch) or [block.definition]
            box.tooltip = f"{block.path}: {block.definition}{_args(block.args)}"
        else:
            shortcut = s.shortcut_nodes.get(first)
            box.role = shortcut.shortcut if shortcut is not None else OPS[self.g.nodes[first]["op"]].role
            box.lines = [self.unit_label(first)] if self.detail != "layer" else [_layer_label(self.g.nodes[first])]
            box.tooltip = self.node_tooltip(box.nodes)

    def describe_stage(self, box: Box) -> None:
        stage = self.g.graph["stage_index"][box.id]
        blocks = [b for run in self.s.runs[stage.name] for b in run.blocks]
        stride = f", /{stage.stride}" if isinstance(stage.stride, int) and stage.stride > 1 else ""
        last = blocks[-1]
        box.role = "stage"
        box.lines = [f"{stage.name}: {stage.definition} ×{len(blocks)}{stride}", *self.unit_lines(sorted(self.s.branch(last), key=self.s.index.__getitem__))]
        kinds = [b.shortcut for b in blocks]
        counts = ", ".join(f"{k} {kinds.count(k)}" for k in dict.fromkeys(kinds))
        box.tooltip = f"{blocks[0].path} to {last.path}; shortcuts: {counts}"

    def node_tooltip(self, nodes: list[str]) -> str:
        data = self.g.nodes[nodes[0]]
        lines = [" + ".join(nodes), f"output {fmt_shape(self.g.nodes[nodes[-1]]['shape'])}"]
        if data["origin"]:
            lines.append(data["origin"])
        return "\n".join(lines)

    def cluster_of(self, n: str, clusters: dict[str, Cluster]) -> str | None:
        if self.detail == "stage":
            return None
        group = self.s.group(n)
        if group is None:
            return None
        gid = "cluster_" + group
        if gid not in clusters:
            clusters[gid] = Cluster(gid, f"{group} · {fmt_shape(self.group_output(group))}", "stage", None)
        run = self.run_of(n)
        if run is None:
            return gid
        rid = "cluster_" + run.first.path
        if rid not in clusters:
            label = f"×{len(run.blocks)}: {run.first.path} to {run.blocks[-1].path}"
            clusters[rid] = Cluster(rid, label, "fold", gid)
        return rid

    def run_of(self, n: str) -> Run | None:
        block = self.s.top_block(n)
        run = self.s.run_of(block) if (self.fold and block is not None) else None
        return run if run is not None and run.folded else None

    def group_output(self, group: str) -> tuple | None:
        blocks = self.g.graph["blocks"]
        if group in blocks:
            return self.g.nodes[blocks[group].output]["shape"]
        last = self.s.runs[group][-1].blocks[-1]
        return self.g.nodes[last.output]["shape"]

    def title(self) -> str:
        net = self.s.net
        layers = sum(
            1 for n in self.s.order if OPS[self.g.nodes[n]["op"]].weighted and n not in self.s.shortcut_nodes
        )
        title = f"{net.name}: {layers} weighted layers"
        errors = sum(d.severity == "error" for d in net.diagnostics)
        if errors:
            return title + f" ({errors} error{'s' if errors > 1 else ''}, in red)"
        return title + f", {net.params:,} parameters"

    # --- arcs --------------------------------------------------------------------------

    def arcs(self, drawn: list[str], box_of: dict[str, str], boxes: dict[str, Box]) -> list[Arc]:
        arcs: dict[tuple[str, str, str], Arc] = {}
        for v in drawn:
            head = box_of[v]
            if head == _PASS:
                continue
            for port, u in enumerate(self.g.nodes[v]["inputs"]):
                arc = self.arc(u, v, port, head, box_of)
                if arc is None:
                    continue
                source = self.g.nodes[v]["inputs"][port]
                key = (arc.tail, arc.head, source if OPS[self.g.nodes[source]["op"]].picks_part else "")
                if key in arcs:
                    if arc.kind == "data":  # a stage box joins its main path and shortcuts
                        arcs[key].kind = "data"
                    continue
                arc.show_shape = arc.shape != self.entering(boxes[arc.tail])
                arcs[key] = arc
        return list(arcs.values())

    def arc(self, u: str, v: str, port: int, head: str, box_of: dict[str, str]) -> Arc | None:
        kind = self.s.shortcut_kind(v, port)
        arriving, via = u, []
        while box_of[self.shown(u)] == _PASS:
            via.insert(0, u)
            kind = kind or self.s.shortcut_kind(u, 0)
            u = self.g.nodes[u]["inputs"][0]
        tail = box_of[self.shown(u)]
        if tail == head:
            return None
        shown = [n for n in via if not _no_op(self.g.nodes[n])]
        labels = [self.unit_label(h) for h in dict.fromkeys(self.s.unit(n) for n in shown)]
        return Arc(tail, head, kind or "data", self.g.nodes[arriving]["shape"], False, labels)

    def entering(self, box: Box) -> tuple | None:
        inputs = self.g.nodes[box.nodes[0]]["inputs"]
        return self.g.nodes[inputs[0]]["shape"] if inputs else None


def _no_op(data: dict) -> bool:
    """An identity, or a dropout or drop path of rate 0: not drawn."""
    return OPS[data["op"]].no_op(data["params"])


def _layer_label(data: dict) -> str:
    """The op's paper-style label; a dilated conv also says so (the paper has none)."""
    label = OPS[data["op"]].label(data["params"])  # an add's is "+"
    dilation = data["params"].get("dilation", (1, 1))  # a conv's (no other op has one)
    if dilation != (1, 1):
        label += f", dilation {dilation[0]}" if dilation[0] == dilation[1] else f", dilation {dilation[0]}x{dilation[1]}"
    return label


def _args(args: dict) -> str:
    return "(" + ", ".join(f"{k}={v}" for k, v in args.items()) + ")"
