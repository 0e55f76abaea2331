"""What every command shares: `--set name=value`, limits, and turning errors into exit codes.

Exit codes: 0 success, 1 a spec error (diagnostics on stderr), 2 a usage error (click's),
3 an internal error (a compiler bug; a one-line report, never a traceback).
"""

from __future__ import annotations

import functools
import sys

import click

from resdsl.diagnostics import Limits, ResdslError
from resdsl.syntax import ast


def parse_value(text: str):
    """A `--set` value: an integer, a number, or true/false (the language's literals)."""
    from resdsl.syntax.parser import parse

    try:
        module = parse(f"network _(v = {text}) {{}}", "<--set>")
        default = module.definitions[0].params[0].default
    except ResdslError:
        default = None
    if isinstance(default, ast.Literal):
        return default.value
    if isinstance(default, ast.UnaryOp) and default.op == "-" and isinstance(default.operand, ast.Literal):
        return -default.operand.value
    raise click.BadParameter(f"{text!r} is not an integer, a number, true or false")


def parse_sets(ctx, param, values) -> dict:
    out = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", ctx=ctx, param=param)
        out[name.strip()] = parse_value(value.strip())
    return out


def spec_options(func):
    """SPEC argument plus --set, --max-nodes and --max-params."""
    func = click.option("--max-params", type=click.IntRange(min=1), default=Limits.max_params, show_default=True, help="refuse networks with more parameters")(func)
    func = click.option("--max-nodes", type=click.IntRange(min=1), default=Limits.max_nodes, show_default=True, help="refuse specs that expand to more layers")(func)
    func = click.option("--set", "overrides", multiple=True, callback=parse_sets, metavar="NAME=VALUE", help="override a network parameter (repeatable)")(func)
    func = click.argument("spec")(func)
    return func


def load_spec(spec: str, overrides: dict, max_nodes: int, max_params: int):
    from resdsl.compiler import load

    return load(spec, limits=Limits(max_nodes=max_nodes, max_params=max_params), **overrides)


def reports_errors(func):
    """Spec errors -> rendered diagnostics and exit 1; bugs -> one line and exit 3."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ResdslError as err:
            click.echo(err.render(), err=True)
            sys.exit(1)
        except click.exceptions.ClickException:
            raise
        except OSError as err:  # an output path that cannot be written: a usage error, not a bug
            click.echo(f"Error: cannot write the output: {err.strerror or err}", err=True)
            sys.exit(2)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as err:  # noqa: BLE001 - the promise is: never a traceback
            click.echo(f"resdsl: internal error: {type(err).__name__}: {err} (please report this with the spec)", err=True)
            sys.exit(3)

    return wrapper
