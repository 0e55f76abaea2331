"""`resdsl list`: the bundled specs, each with the first line of its description.

(Named `list_cmd` so that importing it does not shadow the builtin `list` in `resdsl.cli`.)
"""

from __future__ import annotations

from resdsl.cli import main
from resdsl.cli.common import echo, reports_errors


@main.command(name="list")
@reports_errors
def list_specs():
    """Name the bundled specs, with the first line of each one's description."""
    from resdsl.frontend.resources import bundled_specs

    specs = bundled_specs()
    width = max(map(len, specs))
    for name, path in specs.items():
        first = next((ln[1:].strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.startswith("#")), "")
        echo(f"{name:<{width}}  {first}")
