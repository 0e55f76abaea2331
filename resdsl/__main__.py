"""`python -m resdsl` is the `resdsl` command (guarded: see `resdsl.cli.guard`)."""

from resdsl.cli import main

main()
