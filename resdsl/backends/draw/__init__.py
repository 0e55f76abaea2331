"""Architecture diagrams in the notation of the paper's Fig. 3, drawn from the checked IR.

    from resdsl.backends.draw import draw
    diagram = draw("resnet34", detail="unit", fold=False)   # a graphviz.Digraph
    diagram                                                  # shown inline in Jupyter
    diagram.write("resnet34.svg")                            # .dot, .svg or .png

The pipeline: `Structure` (what the IR says: blocks, units, runs of identical blocks,
failures) -> `build_view` (boxes, arcs and clusters at one level of detail) -> `to_digraph`
(Graphviz attributes). A spec with shape errors still draws, with its failures in red; one
that does not parse or elaborate raises `ResdslError`.
"""

from __future__ import annotations

from pathlib import Path

from resdsl.backends.draw.dot import Diagram, to_digraph
from resdsl.backends.draw.structure import Structure
from resdsl.backends.draw.view import DETAILS, View, build_view
from resdsl.compiler import Network, load
from resdsl.diagnostics import Limits

RANKDIRS = ("TB", "LR")


def draw(
    spec: str | Path | Network,
    *,
    detail: str = "block",
    fold: bool = True,
    rankdir: str = "TB",
    shapes: bool = True,
    limits: Limits | None = None,
    **params,
) -> Diagram:
    """The diagram of a spec (a path, a bundled name, or a loaded `Network`).

    `detail`: "layer" (every conv, batch norm, ReLU and add), "unit" (conv + BN + ReLU as one
    box, as the paper draws), "block" (one box per residual branch) or "stage" (one box per
    stage, "×N"). `fold` draws each run of identical blocks once, titled "×N". `rankdir`:
    "TB" (top to bottom) or "LR". `shapes` labels arcs with the tensor shapes they carry
    where the shape changes.
    """
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, not {rankdir!r}")
    net = spec if isinstance(spec, Network) else load(spec, limits=limits, keep_going=True, **params)
    return to_digraph(view_of(net, detail, fold), rankdir=rankdir, shapes=shapes, name=net.name)


def view_of(net: Network, detail: str = "block", fold: bool = True) -> View:
    """The drawing's content before styling (what tests count)."""
    return build_view(Structure(net), detail, fold)


__all__ = ["draw", "view_of", "Diagram", "DETAILS", "RANKDIRS"]
