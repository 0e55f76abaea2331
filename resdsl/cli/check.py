"""`resdsl check SPEC`: validate a spec and print one line about it. No torch."""

from __future__ import annotations

from resdsl.cli import main
from resdsl.cli.common import echo, load_spec, reports_errors, spec_options
from resdsl.ir.ops import fmt_shape


@main.command()
@spec_options
@reports_errors
def check(spec, overrides, max_nodes, max_params):
    """Validate SPEC; print its name, input, output and parameter count."""
    net = load_spec(spec, overrides, max_nodes, max_params)
    echo(f"{net.name}: input {fmt_shape(net.input_shape)}, output {fmt_shape(net.output_shape)}, {net.params:,} parameters")
