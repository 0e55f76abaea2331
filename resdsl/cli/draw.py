"""`resdsl draw SPEC -o out.svg`: the network as a diagram in the paper's Fig. 3 notation.

Writes DOT (no renderer needed), SVG or PNG (rendered by the system `dot`, else by the
`graphviz-pure` command). A spec with shape errors still draws, its failures in red; its
diagnostics go to stderr and the exit status is 1, so scripts notice. A spec that does not
parse or elaborate draws nothing and exits 1. Never imports torch.
"""

from __future__ import annotations

import sys

import click

from resdsl.backends.draw.render import FORMATS, SUFFIXES, suffix_format
from resdsl.cli import main
from resdsl.cli.common import echo, load_spec, output_option, render_diagnostics, reports_errors, shorten, spec_options

# Kept here, not imported from the backend's view module; a test checks they match.
DETAILS = ("layer", "unit", "block", "stage")


@main.command()
@spec_options
@output_option("file to write: .dot, .svg or .png (default: DOT on standard output)")
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="output format  [default: from the -o suffix]")
@click.option("--detail", type=click.Choice(DETAILS), default="block", show_default=True, help="one box per layer, per conv unit (as the paper draws), per block, or per stage")
@click.option("--fold/--no-fold", default=True, show_default=True, help="draw each run of identical blocks once, titled ×N")
@click.option("--rankdir", type=click.Choice(["TB", "LR"], case_sensitive=False), default="TB", show_default=True, help="top to bottom, or left to right")
@click.option("--shapes/--no-shapes", default=True, show_default=True, help="label arcs with tensor shapes where they change")
@reports_errors
def draw(spec, overrides, max_nodes, max_params, output, fmt, detail, fold, rankdir, shapes):
    """Draw SPEC as a diagram: stages as clusters, shortcut arcs by kind, shapes on arcs."""
    fmt = fmt or _format_from(output)
    if fmt == "png" and not output:
        raise click.UsageError("PNG is binary: name the file with -o FILE.png")
    from resdsl.backends.draw import draw as draw_diagram
    from resdsl.backends.draw.render import render, write_drawing

    net = load_spec(spec, overrides, max_nodes, max_params, keep_going=True)
    diagram = draw_diagram(net, detail=detail, fold=fold, rankdir=rankdir.upper(), shapes=shapes)
    if output:
        write_drawing(diagram.source, output, fmt)
    else:
        echo(render(diagram.source, fmt).decode("utf-8"), nl=False)
    if net.diagnostics:
        click.echo(render_diagnostics(net.diagnostics, net.sources), err=True)
        click.echo(f"note: the drawing ({output or 'standard output'}) marks these errors in red", err=True)
        sys.exit(1)


def _format_from(output: str | None) -> str:
    if output is None:
        return "dot"
    fmt = suffix_format(output)
    if fmt is None:
        raise click.UsageError(f"cannot tell the format from {shorten(repr(output))}: name it {', '.join(SUFFIXES)}, or pass --format")
    return fmt
