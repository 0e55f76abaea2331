"""`resdsl summary SPEC`: costs and the paper's Table 1. No torch.

A per-layer cost table (name, op, output shape, params, MACs, shares) at a depth
(network | stage | block | layer), repeated blocks folded as `×N`, the totals with their counting
convention, and Table 1 in the paper's notation. The table options are shared with `compare`.
"""

from __future__ import annotations

import click

from resdsl.cli import main
from resdsl.cli.common import emit, load_spec, output_option, reports_errors, spec_options

# Kept here so that `--help` imports no back end; a test checks they match the back ends'.
DEPTHS = ("network", "stage", "block", "layer")
FORMATS = ("table", "markdown", "csv", "json")
CONVENTIONS = ("conv+fc", "all")  # the first is the default (count_costs.DEFAULT_CONVENTION)


def table_options(func):
    """-o, --format, --flops and --convention: what `summary` and `compare` share."""
    func = output_option("file to write (default: standard output)")(func)
    func = click.option("--convention", type=click.Choice(CONVENTIONS), default=CONVENTIONS[0], show_default=True, help="conv+fc: the paper's; all: also BN, ReLU, add and pooling element ops")(func)
    func = click.option("--flops", is_flag=True, help="show FLOPs (2 per multiply-add) instead of MACs")(func)
    func = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)(func)
    return func


@main.command()
@spec_options
@click.option("--depth", type=click.Choice(DEPTHS), default="block", show_default=True, help="how far to unfold: stages, blocks, or every layer")
@table_options
@reports_errors
def summary(spec, overrides, max_nodes, max_params, depth, fmt, flops, convention, output):
    """Parameters, multiply-adds and shapes of SPEC, per layer, block and stage, and its Table 1."""
    from resdsl.backends.summary_text import Report, render_summary

    net = load_spec(spec, overrides, max_nodes, max_params)
    emit(render_summary(Report.of(net, depth, convention, flops), fmt), output)
