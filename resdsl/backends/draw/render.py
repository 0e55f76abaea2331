"""Turning DOT text into SVG or PNG, with whatever Graphviz this machine has.

The drawing formats and the file suffixes that name them are the table `SUFFIXES` here;
`FORMATS`, `format_of` and the `resdsl draw` command all derive from it.

Renderer discovery, in order: the system `dot` on PATH; the `graphviz-pure` command (a PyPI
dependency of resdsl, so SVG and PNG work right after `pip install`), on PATH or beside the
running Python (a virtual environment that is not activated). `.dot` output needs no renderer.
When none is found, or one fails, the error is a `ResdslError` that says what to install.

Invariants: the renderer reads DOT on stdin and writes the image on stdout; an output file is
written only after the renderer succeeded, and atomically (`resdsl.output.write_atomic`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from resdsl.diagnostics import Diagnostic, ResdslError
from resdsl.output import write_atomic

SUFFIXES = {".dot": "dot", ".gv": "dot", ".svg": "svg", ".png": "png"}  # the one table of drawing formats
FORMATS = tuple(dict.fromkeys(SUFFIXES.values()))  # ("dot", "svg", "png")
RENDERERS = ("dot", "graphviz-pure")

_INSTALL = (
    "install one: `pip install graphviz-pure` (pure Python wheel, no system packages), "
    "or Graphviz itself (`apt-get install graphviz`, `brew install graphviz`); "
    "or write `.dot` text and render it elsewhere"
)


def find_renderer() -> str:
    """The path of the command that renders DOT here (see the module docstring)."""
    for name in RENDERERS:
        found = shutil.which(name)
        if found:
            return found
    beside = Path(sys.executable).parent / ("graphviz-pure.exe" if sys.platform == "win32" else "graphviz-pure")
    if beside.is_file():
        return str(beside)
    raise ResdslError([Diagnostic("E0601", "no Graphviz renderer found: neither `dot` nor `graphviz-pure` is installed", help=_INSTALL)])


def render(source: str, fmt: str, renderer: str | None = None) -> bytes:
    """DOT `source` rendered as `fmt` ("dot" returns the source itself)."""
    if fmt not in FORMATS:
        raise ResdslError([Diagnostic("E0602", f"cannot draw in format `{fmt}`", help="use one of: " + ", ".join(FORMATS))])
    if fmt == "dot":
        return source.encode("utf-8")
    program = renderer or find_renderer()
    try:
        done = subprocess.run([program, f"-T{fmt}"], input=source.encode("utf-8"), capture_output=True, check=False)
    except OSError as err:
        raise ResdslError([Diagnostic("E0603", f"cannot run the renderer {program}: {err.strerror}", help=_INSTALL)]) from None
    if done.returncode != 0 or not done.stdout:
        errors = [ln for ln in done.stderr.decode("utf-8", "replace").splitlines() if not ln.startswith("Warning")]
        detail = "; ".join(errors[:3]) or f"exit status {done.returncode}"
        raise ResdslError([Diagnostic("E0603", f"the renderer {Path(program).name} failed: {detail}", help=_INSTALL)])
    return done.stdout


def suffix_format(path: str | Path) -> str | None:
    """The format `path`'s suffix names ("x.SVG" -> "svg"), or None for an unknown suffix."""
    return SUFFIXES.get(Path(path).suffix.lower())


def format_of(path: str | Path, fmt: str | None = None) -> str:
    """The output format: `fmt` when given, else from the file's suffix."""
    if fmt is not None:
        return fmt
    found = suffix_format(path)
    if found is None:
        raise ResdslError(
            [Diagnostic("E0602", f"cannot tell the drawing format from `{Path(path).name}`", help="name the file .dot, .svg or .png, or pass --format")]
        )
    return found


def write_drawing(source: str, path: str | Path, fmt: str | None = None, renderer: str | None = None) -> None:
    """Render DOT `source` into `path`; nothing is written unless rendering succeeded."""
    write_atomic(path, render(source, format_of(path, fmt), renderer))
