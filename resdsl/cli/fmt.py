"""`resdsl fmt SPEC...`: rewrite specs in canonical form (see `resdsl.tools.format`). No torch.

Exit codes: 0 done (or, with --check, nothing would change); 1 a spec has syntax errors (its
diagnostics on stderr; it is left untouched, the others are still formatted) or, with
--check, some file would change; 2 a usage error.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import click

from resdsl.cli import main
from resdsl.cli.common import echo, reports_errors
from resdsl.output import write_atomic  # the one atomic writer: mode kept, temporaries cleaned up on signals
from resdsl.diagnostics import ResdslError


def _expand(paths: tuple[str, ...]) -> list[Path]:
    """Files as given; directories as every `.res` file below them, sorted."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*.res") if p.is_file()))
        else:
            out.append(path)
    return list(dict.fromkeys(out))


def unified_diff(before: str, after: str, name: str) -> str:
    """A unified diff that `git apply` / `patch -p1` accept, `\\ No newline` markers included."""
    lines = []
    for line in difflib.unified_diff(before.splitlines(True), after.splitlines(True), f"a/{name}", f"b/{name}"):
        lines.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(lines)


@main.command(name="fmt")
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@click.option("--check", is_flag=True, help="change nothing; exit 1 and list the files that would change")
@click.option("--diff", "show_diff", is_flag=True, help="change nothing; print a unified diff of what would change")
@reports_errors
def fmt_command(specs, check, show_diff):
    """Rewrite each SPEC (a .res file, a directory of them, or - for stdin) in canonical form.

    Specs with syntax errors are reported and left as they are. Files already in canonical
    form are not touched.
    """
    from resdsl.tools.format import format_text
    from resdsl.frontend.syntax.reader import decode

    if "-" in specs and len(specs) > 1:
        raise click.BadParameter("- (stdin) cannot be combined with files", param_hint="SPEC")
    for raw in specs:
        if raw != "-" and not Path(raw).exists():
            raise click.BadParameter(f"{raw!r} does not exist", param_hint="SPEC")
    failed = would_change = False
    for path in [Path("-")] if specs == ("-",) else _expand(specs):
        name = "<stdin>" if str(path) == "-" else str(path)
        try:
            data = sys.stdin.buffer.read() if name == "<stdin>" else path.read_bytes()
        except OSError as err:
            click.echo(f"Error: cannot read {name}: {err.strerror or err}", err=True)
            failed = True
            continue
        try:
            before = decode(data, name)  # the reader `check` uses: BOM dropped, bad bytes located
            after = format_text(before, name)
        except ResdslError as err:
            click.echo(err.render(), err=True)
            failed = True
            continue
        if name == "<stdin>" and not (check or show_diff):
            echo(after, nl=False)
            continue
        if after == before:
            continue
        would_change = True
        if show_diff:
            echo(unified_diff(before, after, name), nl=False)
        if check:
            (click.echo(f"would reformat {name}", err=True) if show_diff else echo(f"would reformat {name}"))  # stdout stays a patch with --diff
        elif not show_diff:
            write_atomic(path, after)
            echo(f"reformatted {name}")
    if failed or (check and would_change):
        sys.exit(1)
