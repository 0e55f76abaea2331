"""`python -m resdsl` is the `resdsl` command."""

from resdsl.cli import main

main()
