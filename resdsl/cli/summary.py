"""`resdsl summary SPEC` and `resdsl compare SPEC SPEC...`: costs and the paper's Table 1. No torch.

summary: a per-layer cost table (name, op, output shape, params, MACs, shares) at a depth
(network | stage | block | layer), repeated blocks folded as `×N`, the totals with their counting
convention, and Table 1 in the paper's notation. compare: Table 1 side by side and the totals.
A spec argument of `compare` may carry its own parameters: `cifar_resnet:n=9,classes=100`.
"""

from __future__ import annotations

import re

import click

from resdsl.cli import main
from resdsl.cli.common import _parse_sets, load_spec, parse_value, reports_errors, spec_options
from resdsl.diagnostics import Limits
from resdsl.output import write_atomic

# Kept here so that `--help` imports no back end; a test checks they match the back ends'.
DEPTHS = ("network", "stage", "block", "layer")
FORMATS = ("table", "markdown", "csv", "json")
CONVENTIONS = ("conv+fc", "all")


def _output_options(func):
    func = click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="file to write (default: standard output)")(func)
    func = click.option("--convention", type=click.Choice(CONVENTIONS), default="conv+fc", show_default=True, help="conv+fc: the paper's; all: also BN, ReLU, add and pooling element ops")(func)
    func = click.option("--flops", is_flag=True, help="show FLOPs (2 per multiply-add) instead of MACs")(func)
    func = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)(func)
    return func


def _emit(text: str, output: str | None) -> None:
    if output:
        write_atomic(output, text)
    else:
        click.echo(text, nl=False)


@main.command()
@spec_options
@click.option("--depth", type=click.Choice(DEPTHS), default="block", show_default=True, help="how far to unfold: stages, blocks, or every layer")
@_output_options
@reports_errors
def summary(spec, overrides, max_nodes, max_params, depth, fmt, flops, convention, output):
    """Parameters, multiply-adds and shapes of SPEC, per layer, block and stage, and its Table 1."""
    from resdsl.backends.tables import Report, render_summary

    net = load_spec(spec, overrides, max_nodes, max_params)
    _emit(render_summary(Report.of(net, depth, convention, flops), fmt), output)


_SPEC_ARGS = re.compile(r"^(?P<spec>.+):(?P<args>[A-Za-z_][A-Za-z0-9_]*=[^,]+(?:,[A-Za-z_][A-Za-z0-9_]*=[^,]+)*)$")


def split_spec(text: str) -> tuple[str, dict]:
    """`cifar_resnet:n=9,classes=100` -> ("cifar_resnet", {"n": 9, "classes": 100})."""
    match = _SPEC_ARGS.match(text)
    if not match:
        return text, {}
    args = {}
    for item in match["args"].split(","):
        name, _, value = item.partition("=")
        try:
            args[name] = parse_value(value.strip())
        except click.BadParameter as err:
            raise click.BadParameter(f"in {text!r}: {err.message}", param_hint="SPECS") from None
    return match["spec"], args


@main.command()
@click.argument("specs", nargs=-1, required=True)
@click.option("--set", "overrides", multiple=True, callback=_parse_sets, metavar="NAME=VALUE", help="override a parameter of every spec (repeatable)")
@click.option("--max-nodes", type=click.IntRange(min=1), default=Limits.max_nodes, show_default=True, help="refuse specs that expand to more layers")
@click.option("--max-params", type=click.IntRange(min=1), default=Limits.max_params, show_default=True, help="refuse networks with more parameters")
@_output_options
@reports_errors
def compare(specs, overrides, max_nodes, max_params, fmt, flops, convention, output):
    """Two or more specs side by side: Table 1 and totals (SPEC or SPEC:NAME=VALUE,...)."""
    from resdsl.backends.tables import Report, render_compare

    if len(specs) < 2:
        raise click.UsageError("compare needs two or more specs; for one, use `resdsl summary`")
    reports = []
    for text in specs:
        spec, own = split_spec(text)
        net = load_spec(spec, {**overrides, **own}, max_nodes, max_params)
        shown = ", ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in own.items())
        label = net.name + (f"({shown})" if own else "")
        reports.append(Report.of(net, "stage", convention, flops, label))
    _emit(render_compare(reports, fmt), output)
