"""How a drawing looks: the paper's Fig. 3 notation, in Graphviz attributes.

Kept apart from what is drawn (`view.py`) so the look can change without touching the logic.
Shortcut arcs follow the paper: identity solid; dimension-changing dotted, in blue for a 1×1
projection (options B and C) and in orange for zero padding (option A), each named in the
legend. Errors are red. Every colour here is fixed, so the same spec gives the same bytes.
"""

from __future__ import annotations

FONT = "Helvetica"
SANS_EM = 0.55  # Helvetica's mean advance per character, in ems (text of names and digits)
WIDEST_SANS = 1.2  # how much wider a viewer's fallback sans-serif may set it (DejaVu Sans: ~1.15)
INK = "#374151"
ERROR = "#c62828"

GRAPH = {
    "fontname": FONT,
    "fontsize": "14",
    "labelloc": "t",
    "nodesep": "0.3",
    "ranksep": "0.28",
    "bgcolor": "white",
}
NODE = {
    "shape": "box",
    "style": "rounded,filled",
    "fontname": FONT,
    "fontsize": "11",
    "color": INK,
    "fillcolor": "white",
    "penwidth": "1",
    "height": "0.3",
    "margin": "0.14,0.05",
}
EDGE = {"fontname": FONT, "fontsize": "9", "fontcolor": "#4b5563", "color": INK, "arrowsize": "0.6"}

ROLES = {
    "input": {"fillcolor": "#f3f4f6"},
    "conv": {"fillcolor": "#dbe8fb"},
    "block": {"fillcolor": "#dbe8fb"},
    "stage": {"fillcolor": "#dbe8fb"},
    "pool": {"fillcolor": "#fdf0d5"},
    "fc": {"fillcolor": "#e3f1dd"},
    "norm": {"fillcolor": "#f3f4f6", "fontsize": "9", "height": "0.22"},
    "add": {"shape": "circle", "fixedsize": "true", "width": "0.3", "fontsize": "12", "margin": "0"},
    "projection": {"style": "rounded,filled,dashed", "fillcolor": "white", "color": "#1d4ed8"},
    "zero_pad": {"style": "rounded,filled,dashed", "fillcolor": "white", "color": "#c2410c"},
}
OFF_MAIN = ("projection", "zero_pad")  # roles of boxes on a shortcut path

SHORTCUTS = {
    "identity": {"color": INK, "penwidth": "1.3"},
    "projection": {"style": "dotted", "color": "#1d4ed8", "penwidth": "2"},
    "zero_pad": {"style": "dotted", "color": "#c2410c", "penwidth": "2"},
}
LEGEND_POINT = {"shape": "point", "width": "0.01", "color": "white"}
LEGEND_NAME = {"shape": "plaintext", "style": "", "fontsize": "10"}
LEGEND = {
    "identity": "identity",
    "projection": "1×1 projection (B/C)",
    "zero_pad": "zero-padding (A)",
}

CLUSTERS = {
    "stage": {"style": "rounded,filled", "fillcolor": "#f8fafc", "color": "#cbd5e1", "fontsize": "12", "fontname": FONT},
    "fold": {"style": "rounded,dashed", "color": "#64748b", "fontsize": "11", "fontname": FONT, "margin": "14"},
    "legend": {"style": "rounded", "color": "#cbd5e1", "fontsize": "11", "fontname": FONT},
}

ERROR_BOX = {"color": ERROR, "fillcolor": "#fdecea", "penwidth": "2", "fontcolor": ERROR}
UNKNOWN_BOX = {"color": "#9ca3af", "fillcolor": "#f9fafb", "fontcolor": "#6b7280"}
ERROR_NOTE = {"fontcolor": ERROR, "fontsize": "10"}


def node_attrs(role: str, error: bool, unknown: bool = False, label: str = "") -> dict[str, str]:
    attrs = dict(ROLES.get(role, {}))
    if attrs.get("fixedsize") == "true" and len(label) > 1:
        # a join's circle fits "+"; a longer label ("Σ w·x /2") gets an ellipse that holds it
        attrs.update(shape="ellipse", fixedsize="false", margin="0.06,0.02", height="0.3")
    if error:
        attrs.update(ERROR_BOX)
    elif unknown:  # after an error: its shape could not be inferred
        attrs.update(UNKNOWN_BOX)
    return attrs


def edge_attrs(kind: str) -> dict[str, str]:
    attrs = dict(SHORTCUTS.get(kind, {}))
    if kind != "data":
        # weight 0: a shortcut never pulls the main column askew (dot keeps `group` edges straight)
        attrs.update({"class": f"shortcut {kind}", "weight": "0"})
    return attrs
