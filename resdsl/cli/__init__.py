"""The `resdsl` command. Each subcommand lives in its own module and registers itself here."""

from __future__ import annotations

import click

from resdsl import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="resdsl")
def main() -> None:
    """resdsl: residual networks from short, checked specs."""


from resdsl.cli import build, check, compare, draw, list_cmd, summary  # noqa: E402  (subcommands register on `main`)

__all__ = ["main", "build", "check"]
