"""`resdsl check SPEC` and `resdsl list`: validate a spec; name the bundled ones. No torch."""

from __future__ import annotations

import click

from resdsl.cli import main
from resdsl.cli.common import load_spec, reports_errors, spec_options
from resdsl.ops import fmt_shape


@main.command()
@spec_options
@reports_errors
def check(spec, overrides, max_nodes, max_params):
    """Validate SPEC; print its name, input, output and parameter count."""
    net = load_spec(spec, overrides, max_nodes, max_params)
    click.echo(f"{net.name}: input {fmt_shape(net.input_shape)}, output {fmt_shape(net.output_shape)}, {net.params:,} parameters")


@main.command(name="list")
def list_specs():
    """Name the bundled specs, with the first line of each one's description."""
    from resdsl.resources import bundled_specs

    specs = bundled_specs()
    width = max(map(len, specs))
    for name, path in specs.items():
        first = next((ln[1:].strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.startswith("#")), "")
        click.echo(f"{name:<{width}}  {first}")
