"""The grammar's Lark parser, its LALR tables kept on disk between processes.

Building the tables from grammars/resdsl.lark is 60–130 ms of CPU in every process that parses:
a sixth of the language server's launch-to-first-diagnostics, and most of a small `resdsl
check`'s own work. Lark saves a built parser and loads it back in about 5 ms, so the first
process builds and saves, and the others load. One file per grammar text, Lark options, Lark
version and Python version: its name is their hash, so checkouts or installations with another
grammar never read or overwrite each other's file. It is written to a temporary file and renamed
into place, so a process never reads a half-written one. The folder:

- `$RESDSL_CACHE_DIR` when that is set (set it empty to turn the cache off);
- else `$XDG_CACHE_HOME/resdsl`, else `~/.cache/resdsl`.

A file that is missing or cannot be loaded is rebuilt and rewritten; a folder that cannot be
written costs the build, nothing else. The parser loaded is the one built (same tables, same
options, and its `.grammar` too, which hypothesis's `from_lark` reads; 105 kB, 6 ms to load):
tests/test_parser_tables.py compares their trees, spans and syntax diagnostics.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sys
import tempfile
from pathlib import Path

import lark
from lark import Lark

log = logging.getLogger("resdsl.frontend")

_FORMAT = "tables+grammar 1"  # what a file holds: change it when `_save` writes something else


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


def _load(path: Path) -> Lark | None:
    try:
        with open(path, "rb") as f:
            parser = Lark.load(f)
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - a damaged or foreign file: rebuild it
        log.debug("cannot load the parser tables in %s; rebuilding them", path, exc_info=True)
        return None
    return parser if isinstance(parser, Lark) and hasattr(parser, "grammar") else None


def _save(parser: Lark, path: Path) -> None:
    if "grammar" not in parser.__serialize_fields__:  # as Lark's `cache_grammar` does: the loaded
        parser.__serialize_fields__ = [*parser.__serialize_fields__, "grammar"]  # parser keeps `.grammar`
    temporary = None
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name + ".", suffix=".tmp", delete=False) as f:
            temporary = f.name
            parser.save(f)
        os.replace(temporary, path)
    except Exception:  # noqa: BLE001 - not saved: the next process builds again, nothing worse
        log.debug("cannot save the parser tables to %s", path, exc_info=True)
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def load_parser(grammar: str, **options) -> Lark:
    """`Lark(grammar, **options)`, loaded from its saved tables when they exist."""
    path = table_path(grammar, options)
    parser = _load(path) if path is not None else None
    if parser is None:
        parser = Lark(grammar, **options)
        if path is not None:
            _save(parser, path)
    return parser
