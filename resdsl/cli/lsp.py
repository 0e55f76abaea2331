"""`resdsl lsp`: the language server, for editors (needs the `lsp` extra: pygls)."""

from __future__ import annotations

import logging
import sys

import click

from resdsl.cli import main


@main.command()
@click.option("--stdio", is_flag=True, help="talk over standard input and output (the default; accepted because clients pass it)")
@click.option("--debounce", type=click.FloatRange(min=0), default=100, show_default=True, help="milliseconds after the last edit before re-checking")
@click.option("--log-file", type=click.Path(dir_okay=False), help="write the server's log here instead of standard error")
@click.option("-v", "--verbose", count=True, help="log more (-v: info, -vv: debug)")
def lsp(stdio, debounce, log_file, verbose):
    """Run the language server (LSP over stdio): diagnostics, hover, completion, formatting."""
    try:
        import pygls  # noqa: F401
    except ImportError:
        click.echo('Error: resdsl lsp needs pygls; install it with: pip install "resdsl[lsp]"', err=True)
        sys.exit(2)
    from resdsl.tools.lsp.server import serve

    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    serve(debounce=debounce / 1000, log_file=log_file, level=level)
