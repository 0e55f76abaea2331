"""`resdsl compare SPEC SPEC...`: Table 1 of several specs side by side, and their totals. No torch.

A spec argument may carry its own parameters: `cifar_resnet:n=9,classes=100`.
"""

from __future__ import annotations

import re

import click

from resdsl.cli import main
from resdsl.cli.common import emit, load_spec, parse_assignments, parse_sets, reports_errors, shorten, spec_argument
from resdsl.cli.summary import table_options
from resdsl.diagnostics import Limits

_SPEC_ARGS = re.compile(r"^(?P<spec>.+):(?P<args>[A-Za-z_][A-Za-z0-9_]*=[^,]+(?:,[A-Za-z_][A-Za-z0-9_]*=[^,]+)*)$")


def split_spec(text: str) -> tuple[str, dict]:
    """`cifar_resnet:n=9,classes=100` -> ("cifar_resnet", {"n": 9, "classes": 100})."""
    match = _SPEC_ARGS.match(text)
    if not match:
        return text, {}
    try:
        args = parse_assignments(match["args"].split(","), "parameter")
    except click.BadParameter as err:
        raise click.BadParameter(f"in {shorten(repr(text))}: {err.message}", param_hint="SPECS") from None
    return match["spec"], args


@main.command()
@spec_argument("specs", nargs=-1, required=True)
@click.option("--set", "overrides", multiple=True, callback=parse_sets, metavar="NAME=VALUE", help="override a parameter of every spec (repeatable)")
@click.option("--max-nodes", type=click.IntRange(min=1), default=Limits.max_nodes, show_default=True, help="refuse specs that expand to more layers")
@click.option("--max-params", type=click.IntRange(min=1), default=Limits.max_params, show_default=True, help="refuse networks with more parameters")
@table_options
@reports_errors
def compare(specs, overrides, max_nodes, max_params, fmt, flops, convention, output):
    """Two or more specs side by side: Table 1 and totals (SPEC or SPEC:NAME=VALUE,...)."""
    from resdsl.backends.summary_text import Report, render_compare

    if len(specs) < 2:
        raise click.UsageError("compare needs two or more specs; for one, use `resdsl summary`")
    reports = []
    for text in specs:
        spec, own = split_spec(text)
        net = load_spec(spec, {**overrides, **own}, max_nodes, max_params)
        shown = ", ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in own.items())
        label = net.name + (f"({shown})" if own else "")
        reports.append(Report.of(net, "stage", convention, flops, label))
    emit(render_compare(reports, fmt), output)
