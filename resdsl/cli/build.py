"""`resdsl build SPEC -o model.py`: write standalone PyTorch source."""

from __future__ import annotations

import click

from resdsl.cli import main
from resdsl.cli.common import load_spec, reports_errors, spec_options
from resdsl.output import write_atomic


@main.command()
@spec_options
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="file to write (default: standard output)")
@reports_errors
def build(spec, overrides, max_nodes, max_params, output):
    """Compile SPEC to a standalone PyTorch module (imports only torch)."""
    from resdsl.backends.torch_source import generate_source

    source = generate_source(load_spec(spec, overrides, max_nodes, max_params))
    if output:
        write_atomic(output, source)
    else:
        click.echo(source, nl=False)
