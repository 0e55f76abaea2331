"""What every command shares: the SPEC argument, `--set`, `-o`, limits, writing, exit codes.

Exit codes: 0 success, 1 a spec error (diagnostics on stderr), 2 a usage error (click's, and
outputs resdsl refuses to write), 3 an internal error (a compiler bug; a one-line report,
never a traceback). Signals and broken standard streams: see `resdsl.cli.guard`.

Writing: commands write standard output with `echo` and files or standard output with
`emit`; every file goes through `resdsl.output.write_atomic`, which refuses to overwrite a
file the command read. `load_spec` notes those files (the spec and the prelude) and
`reports_errors` scopes them to one command.

Messages quote what users typed, which can be huge: `shorten` and `shorten_message` cut long
names (to NAME_LIMIT characters) and any other long word (to PATH_LIMIT) with an ellipsis.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import sys

import click

from resdsl import output
from resdsl.cli.guard import StdoutFailed
from resdsl.diagnostics import Limits, ResdslError, render_all
from resdsl.frontend.syntax.parser import parse_literal

NAME_LIMIT = 60  # a name, a value, a quoted word
PATH_LIMIT = 200  # any other unbroken run of characters: a path, mostly


def shorten(text: str, limit: int = NAME_LIMIT) -> str:
    """`text`, or its head and tail around an ellipsis, `limit` characters in all."""
    if len(text) <= limit:
        return text
    tail = limit // 3
    return text[: limit - tail - 1] + "…" + text[len(text) - tail :]


_QUOTED_NAME = re.compile(r"(`|')([^\s`']{%d,})\1" % (NAME_LIMIT + 1))
_LONG_WORD = re.compile(r"\S{%d,}" % (PATH_LIMIT + 1))


def shorten_message(message: str) -> str:
    """`message` with each quoted name (`x` or 'x') longer than NAME_LIMIT, and each other word
    longer than PATH_LIMIT, shortened."""
    message = _QUOTED_NAME.sub(lambda m: m[1] + shorten(m[2]) + m[1], message)
    return _LONG_WORD.sub(lambda m: shorten(m[0], PATH_LIMIT), message)


def parse_value(text: str):
    """A `--set` value: an integer, a number, or true/false (the language's literals)."""
    value = parse_literal(text)
    if value is None:
        raise click.BadParameter(f"{shorten(repr(text))} is not an integer, a number, true or false")
    return value


def parse_assignments(items, what: str) -> dict:
    """NAME=VALUE items as a dict; a malformed item or a name given twice is a BadParameter."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise click.BadParameter(f"expected NAME=VALUE, got {shorten(repr(item))}")
        if name in out:
            raise click.BadParameter(f"{what} `{shorten(name)}` is set twice; give it once")
        out[name] = parse_value(value.strip())
    return out


def _remember(ctx, param, value) -> None:
    """Options every spec command takes but passes on only to `load_spec` (through the context)."""
    ctx.meta[f"resdsl.{param.name}"] = value


def parse_sets(ctx, param, values) -> dict:
    """The `--set` callback: the overrides as a dict."""
    return parse_assignments(values, "parameter")


def _spec_name(ctx, param, value):
    """The SPEC argument(s) callback: an empty name is a usage error, not the current folder."""
    for name in value if isinstance(value, tuple) else (value,):
        if name == "":
            raise click.BadParameter("empty spec name: give a .res file or a bundled spec (`resdsl list`)")
    return value


def spec_argument(name: str = "spec", **kwargs):
    """A SPEC argument (`nargs=-1` for several) that refuses empty names."""
    return click.argument(name, callback=_spec_name, **kwargs)


def spec_options(func):
    """SPEC argument plus --set, the size limits (--max-nodes, --max-params, --max-activations,
    --max-statements, --max-tokens) and --werror."""
    func = click.option("--werror", is_flag=True, expose_value=False, callback=_remember, help="treat warnings as errors (exit 1)")(func)
    func = click.option("--max-tokens", type=click.IntRange(min=1), default=Limits.max_tokens, show_default=True, expose_value=False, callback=_remember, help="refuse spec files with more names, numbers and symbols")(func)
    func = click.option("--max-statements", type=click.IntRange(min=1), default=Limits.max_statements, show_default=True, expose_value=False, callback=_remember, help="refuse spec files with more statements")(func)
    func = click.option("--max-activations", type=click.IntRange(min=1), default=Limits.max_activations, show_default=True, expose_value=False, callback=_remember, help="refuse networks whose layer outputs hold more elements (batch 1)")(func)
    func = click.option("--max-params", type=click.IntRange(min=1), default=Limits.max_params, show_default=True, help="refuse networks with more parameters")(func)
    func = click.option("--max-nodes", type=click.IntRange(min=1), default=Limits.max_nodes, show_default=True, help="refuse specs that expand to more layers")(func)
    func = click.option("--set", "overrides", multiple=True, callback=parse_sets, metavar="NAME=VALUE", help="override a network parameter (repeatable)")(func)
    func = spec_argument()(func)
    return func


class OutputPath(click.ParamType):
    """`-o FILE`: `-` is standard output (None); an empty name or a folder is a usage error."""

    name = "file"

    def convert(self, value, param, ctx):
        if value == "-" or value is None:
            return None
        if value == "":
            self.fail("empty output path (use -o - for standard output, or leave -o out)", param, ctx)
        return value


def output_option(help: str):
    """The `-o/--output` option every writing command takes."""
    return click.option("-o", "--output", type=OutputPath(), help=help + "; - is standard output")


def load_spec(spec: str, overrides: dict, max_nodes: int, max_params: int, *, keep_going: bool = False):
    """Compile `spec`, noting the files it reads, which no output of this command may replace.

    Its warnings go to stderr; with --werror they are errors (exit 1).
    """
    from resdsl.compiler import load, resolve_spec
    from resdsl.frontend.resources import prelude_path

    resolved = resolve_spec(spec)
    output.note_input(resolved[0], "the spec")
    output.note_input(prelude_path(), "the prelude")
    meta = click.get_current_context().meta
    limits = Limits(
        max_nodes=max_nodes,
        max_params=max_params,
        max_activations=meta.get("resdsl.max_activations", Limits.max_activations),
        max_statements=meta.get("resdsl.max_statements", Limits.max_statements),
        max_tokens=meta.get("resdsl.max_tokens", Limits.max_tokens),
    )
    net = load(spec, resolved=resolved, limits=limits, keep_going=keep_going, **overrides)
    if net.warnings and meta.get("resdsl.werror"):
        raise ResdslError([dataclasses.replace(d, severity="error") for d in net.warnings], net.sources)
    if net.warnings:
        click.echo(render_diagnostics(net.warnings, net.sources), err=True)
    return net


def echo(text: str = "", nl: bool = True) -> None:
    """Write standard output; a failure (closed, full) is `StdoutFailed`, for the guard."""
    try:
        click.echo(text, nl=nl)
    except OSError as err:
        raise StdoutFailed(err.errno) from None


def emit(data: str, path: str | None) -> None:
    """`data` into the file `path` (atomically, never over an input), or on standard output."""
    if path is None:
        echo(data, nl=False)
    else:
        output.write_atomic(path, data)


def render_diagnostics(diagnostics, sources, limit: int | None = None) -> str:
    """Diagnostics as the CLI shows them: rendered, their long names shortened."""

    def short(d):
        notes = tuple(dataclasses.replace(n, message=shorten_message(n.message)) for n in d.notes)
        return dataclasses.replace(d, message=shorten_message(d.message), label=shorten_message(d.label), help=shorten_message(d.help), notes=notes)

    return render_all([short(d) for d in diagnostics], sources, limit)


def reports_errors(func):
    """One command's run: spec errors -> diagnostics and exit 1; refused or failed outputs ->
    one line and exit 2; bugs -> one line and exit 3. Files read are protected meanwhile."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            with output.reading_inputs():
                return func(*args, **kwargs)
        except ResdslError as err:
            click.echo(render_diagnostics(err.diagnostics, err.sources, err.limit), err=True)
            sys.exit(1)
        except click.exceptions.ClickException:
            raise
        except output.OutputError as err:
            if err.refused:
                other = f" {shorten(err.other, PATH_LIMIT)}" if err.other else ""
                click.echo(f"Error: refusing to write {shorten(err.path, PATH_LIMIT)}: {err.reason}{other}", err=True)
            else:
                click.echo(f"Error: cannot write the output: {err.reason}", err=True)
            sys.exit(2)
        except OSError as err:  # a path the user named that the system refused
            where = f" ({shorten(str(err.filename), PATH_LIMIT)})" if err.filename else ""
            click.echo(f"Error: {err.strerror or err}{where}", err=True)
            sys.exit(2)
        except Exception as err:  # noqa: BLE001 - the promise is: never a traceback
            click.echo(f"resdsl: internal error: {type(err).__name__}: {shorten_message(str(err))} (please report this with the spec)", err=True)
            sys.exit(3)

    return wrapper
