"""The grammar's Lark parser, its LALR tables kept on disk between processes.

Building the tables from grammars/resdsl.lark is 60–130 ms of CPU in every process that parses:
a sixth of the language server's launch-to-first-diagnostics, and most of a small `resdsl
check`'s own work. Lark saves a built parser and loads it back in about 5 ms, so the first
process builds and saves, and the others load (Lark's `cache` option). One file per grammar
text, Lark options, Lark version and Python version: its name is their hash, so checkouts or
installations with another grammar never overwrite each other's file. The folder:

- `$RESDSL_CACHE_DIR` when that is set (set it empty to turn the cache off);
- else `$XDG_CACHE_HOME/resdsl`, else `~/.cache/resdsl`.

A file that is missing, stale or cannot be loaded (half-written by a process that died) is
rebuilt and rewritten; a folder that cannot be written costs the build, nothing else. The
parser loaded is the one built (same tables, same options, and its `.grammar` too, which
hypothesis's `from_lark` reads): tests/test_parser_tables.py compares their trees, spans and
syntax diagnostics.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from pathlib import Path

import lark
from lark import Lark

_FORMAT = "lark cache, grammar included"  # what a file holds: part of its name


def cache_dir() -> Path | None:
    """The folder for the tables, or None when `RESDSL_CACHE_DIR` is set empty."""
    chosen = os.environ.get("RESDSL_CACHE_DIR")
    if chosen is not None:
        return Path(chosen) if chosen else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "resdsl"


def table_path(grammar: str, options: dict) -> Path | None:
    """Where the tables of `grammar` built with `options` are kept (None: not kept)."""
    folder = cache_dir()
    if folder is None:
        return None
    key = "\0".join([_FORMAT, grammar, repr(sorted(options.items())), lark.__version__, "%d.%d" % sys.version_info[:2]])
    return folder / f"grammar-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:24]}.lark"


def load_parser(grammar: str, **options) -> Lark:
    """`Lark(grammar, **options)`, its tables loaded from disk when they were saved before.

    Lark's own cache does the work (`cache=PATH`, `cache_grammar=True`): it checks the file's
    hash of the grammar and options, rebuilds and rewrites a file that is damaged or stale, and
    carries on without it where the file cannot be written.
    """
    path = table_path(grammar, options)
    if path is None:
        return Lark(grammar, **options)
    with contextlib.suppress(OSError):  # a folder that cannot be made: Lark's write fails quietly
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return Lark(grammar, cache=str(path), cache_grammar=True, **options)
