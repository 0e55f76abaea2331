"""A `View` as a `graphviz.Digraph`: clusters, styled boxes and arcs, a legend, error notes.

The Digraph's source is the DOT text resdsl writes: statements come out in the view's order
(boxes in topological order, clusters where their first box falls, arcs by head), so the same
spec and options give byte-identical DOT.
"""

from __future__ import annotations

import textwrap

import graphviz
from graphviz.quoting import NoHtml

from resdsl.backends.draw import style
from resdsl.backends.draw.view import Arc, Box, View
from resdsl.ir.ops import fmt_shape


class Diagram(graphviz.Digraph):
    """A `graphviz.Digraph` that renders without a system Graphviz.

    `pipe` (used by Jupyter to show the diagram inline) and `write` go through
    `resdsl.backends.draw.render`: the system `dot` when there is one, else the `graphviz-pure` command.
    """

    def pipe(self, format=None, renderer=None, formatter=None, neato_no_op=None, quiet=False, *, engine=None, encoding=None):
        if renderer or formatter or neato_no_op or (engine not in (None, "dot")):
            return super().pipe(format, renderer, formatter, neato_no_op, quiet, engine=engine, encoding=encoding)
        from resdsl.backends.draw.render import render

        data = render(self.source, format or self.format)
        return data.decode(encoding) if encoding else data

    def write(self, path, format: str | None = None) -> None:
        """Write DOT, SVG or PNG to `path` (format from its suffix unless given), atomically."""
        from resdsl.backends.draw.render import write_drawing

        write_drawing(self.source, path, format)


def text(lines: list[str]) -> str:
    """Label text: each line escaped for DOT (backslashes kept literal), never read as HTML."""
    return NoHtml("\\n".join(line.replace("\\", "\\\\") for line in lines))


def title_pad(title: str) -> str:
    """Graphviz `pad` (inches, "x,y") that leaves the title room in any sans-serif font.

    Graphviz sizes the drawing with Helvetica's metrics; a viewer without Helvetica or a
    metric-compatible font draws the title in its own sans-serif (DejaVu Sans is up to ~15%
    wider), and a title that set the drawing's width would be clipped at both edges.
    """
    estimate = len(title) * float(style.GRAPH["fontsize"]) * style.SANS_EM  # points, Helvetica-like
    side = max(estimate * (style.WIDEST_SANS - 1) / 2, 4.0) / 72
    return f"{side:.2f},0.06"


def to_digraph(view: View, *, rankdir: str = "TB", shapes: bool = True, name: str = "resdsl") -> Diagram:
    graph_attr = dict(style.GRAPH, rankdir=rankdir, label=text([view.title]), pad=title_pad(view.title))
    if any(b.error for b in view.boxes.values()):
        graph_attr["forcelabels"] = "true"
    dot = Diagram(name=name, graph_attr=graph_attr, node_attr=style.NODE, edge_attr=style.EDGE)
    _emit_clusters(dot, view, None)
    for arc in view.arcs:
        _arc(dot, arc, shapes)
    _legend(dot, view)
    if view.notes:
        notes = [line for note in view.notes for line in textwrap.wrap(note, 60)]
        dot.node("resdsl-diagnostics", text(notes), shape="plaintext", style="", **style.ERROR_NOTE)
    return dot


def _emit_clusters(dot: graphviz.Digraph, view: View, parent: str | None) -> None:
    """Boxes of cluster `parent` and its child clusters, in order of their first box."""
    done: set[str] = set()
    for box in view.boxes.values():
        chain = _chain(view, box.cluster)
        if parent is not None and parent not in chain:
            continue
        below = chain[chain.index(parent) + 1 :] if parent is not None else chain
        if not below:
            _box(dot, box)
        elif below[0] not in done:
            done.add(below[0])
            cluster = view.clusters[below[0]]
            with dot.subgraph(name=cluster.id) as sub:
                sub.attr(label=text([cluster.label]), **style.CLUSTERS[cluster.role])
                _emit_clusters(sub, view, cluster.id)


def _chain(view: View, cluster: str | None) -> list[str]:
    """Cluster ids from the outermost down to `cluster`."""
    chain: list[str] = []
    while cluster is not None:
        chain.insert(0, cluster)
        cluster = view.clusters[cluster].parent
    return chain


def _box(dot: graphviz.Digraph, box: Box) -> None:
    attrs = style.node_attrs(box.role, bool(box.error), box.unknown, "\n".join(box.lines))
    if box.role not in style.OFF_MAIN:
        attrs["group"] = "main"  # dot keeps the main path straight; shortcuts curve beside it
    if box.tooltip:
        attrs["tooltip"] = text(box.tooltip.split("\n"))
    if box.error:
        attrs["xlabel"] = text(textwrap.wrap(box.error, 36))
    dot.node(box.id, text(box.lines), **attrs)


def _arc(dot: graphviz.Digraph, arc: Arc, shapes: bool) -> None:
    lines = list(arc.via)
    if shapes and arc.show_shape and arc.shape is not None and arc.kind != "identity":
        lines.append(fmt_shape(arc.shape))
    attrs = style.edge_attrs(arc.kind)
    if lines:
        attrs["label"] = text(lines)
    dot.edge(arc.tail, arc.head, **attrs)


def _legend(dot: graphviz.Digraph, view: View) -> None:
    """One sample arc per shortcut kind present, named as the paper names the options.

    Each sample is an arrow from an invisible point to its name on the same rank, and an
    invisible edge stacks the samples, so the legend reads as a list.
    """
    kinds = view.shortcut_kinds
    if not kinds:
        return
    with dot.subgraph(name="cluster-legend") as legend:  # "-": no IR name has one
        legend.attr(label="shortcuts", **style.CLUSTERS["legend"])
        for kind in kinds:
            with legend.subgraph() as row:
                row.attr(rank="same")
                row.node(f"legend-{kind}", "", **style.LEGEND_POINT)
                row.node(f"legend-{kind}-name", text([style.LEGEND[kind]]), **style.LEGEND_NAME)
            sample = dict(style.edge_attrs(kind), minlen="2")
            sample["class"] = "legend"  # so that counting shortcut arcs by class counts drawn ones
            legend.edge(f"legend-{kind}", f"legend-{kind}-name", **sample)
        for upper, lower in zip(kinds, kinds[1:]):
            legend.edge(f"legend-{upper}", f"legend-{lower}", style="invis")
