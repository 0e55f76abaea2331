"""The `resdsl` command. Each subcommand lives in its own module and registers itself here.

A subcommand's module is imported when the command runs (or `--help` lists it), not before:
`resdsl lsp` never loads the back ends `resdsl build` and `resdsl draw` need. `COMMANDS` says
which module holds each command; `commands()` loads them all.

`main` is a click group whose standalone run goes through `resdsl.cli.guard`: Ctrl-C exits
130 and a closed or full standard output exits 1, never with a traceback, from the first
import on (the guard is imported before anything heavy, and `import resdsl` is light).
"""

from __future__ import annotations

from resdsl.cli import guard  # standard library only: first, so that it covers the imports below

with guard.startup():  # Ctrl-C while importing: exit 130, quietly
    import importlib

    import click

    from resdsl._version import __version__
    from resdsl.cli.common import shorten_message

    COMMANDS = {
        "build": "build", "check": "check", "compare": "compare", "draw": "draw",
        "fmt": "fmt", "list": "list_cmd", "lsp": "lsp", "summary": "summary",
    }  # command -> the module of resdsl.cli that registers it on `main`

    class Group(click.Group):
        """A click group whose standalone run (a command line, a CliRunner) is guarded, and
        whose subcommands are imported on first use."""

        def list_commands(self, ctx) -> list[str]:
            return sorted(set(self.commands) | set(COMMANDS))

        def get_command(self, ctx, name: str):
            if name not in self.commands and name in COMMANDS:
                importlib.import_module(f"resdsl.cli.{COMMANDS[name]}")  # registers itself on `main`
            return super().get_command(ctx, name)

        def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
            if not standalone_mode:  # the caller handles click's exceptions itself
                return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)

            def run_click() -> int:
                try:
                    status = super(Group, self).main(args, prog_name, complete_var, standalone_mode=False, **extra)
                except click.ClickException as err:
                    err.message = shorten_message(err.message)
                    err.show()
                    return err.exit_code
                except click.Abort as err:  # EOF at a prompt; an interrupt is the guard's
                    if isinstance(err.__context__, KeyboardInterrupt):
                        raise guard.Interrupted() from None
                    click.echo("Aborted!", err=True)
                    return 1
                return status if isinstance(status, int) else 0  # an int: ctx.exit(n), --help, --version

            guard.run(run_click, whole_process=args is None)

    @click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, prog_name="resdsl")
    def main() -> None:
        """resdsl: residual networks from short, checked specs."""


def commands() -> dict[str, click.Command]:
    """Every subcommand, by name (importing each one's module)."""
    return {name: main.get_command(None, name) for name in main.list_commands(None)}


__all__ = ["COMMANDS", "commands", "main"]
