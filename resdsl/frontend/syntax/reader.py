"""How every command reads a spec: bytes -> text (`decode`) and the statement count checked
before parsing (`statement_limit`, then `parse_bounded`).

`resdsl check`, `fmt`, the language server and the API share these, so one input gets the same
located diagnostic from each: a UTF-8 byte-order mark is dropped, invalid UTF-8 and NUL bytes
are E0004 at their byte, and more statements than `Limits.max_statements` is E0301 before the
parser (the slowest step, and the one whose error recovery grows with the input) sees them.
Imports nothing heavy: `fmt` stays fast.
"""

from __future__ import annotations

from resdsl.diagnostics import Diagnostic, Limits, ResdslError, SourceMap, Span


def decode(data: bytes, source: str) -> str:
    """Spec bytes as text; binary or non-UTF-8 input is a located E0004."""
    nul = data.find(b"\0")
    if nul >= 0:  # no excerpt: a binary file's "line" is noise
        raise ResdslError([_byte_diag(data, nul, source, "this looks like a binary file, not a .res spec (it contains a NUL byte)")])
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as err:
        sources = SourceMap()
        sources.add(source, data.decode("utf-8", errors="replace"))
        message = f"invalid UTF-8 (byte 0x{data[err.start]:02x}); specs are UTF-8 text"
        raise ResdslError([_byte_diag(data, err.start, source, message)], sources) from None


def _byte_diag(data: bytes, offset: int, source: str, message: str) -> Diagnostic:
    """E0004 at byte `offset`, its column counted in characters as the rest of resdsl does."""
    line = data.count(b"\n", 0, offset) + 1
    start = data.rfind(b"\n", 0, offset) + 1
    col = len(data[start:offset].decode("utf-8", errors="replace")) + 1
    return Diagnostic("E0004", message, Span(source, line, col, line, col + 1), label="not UTF-8" if data[offset] else "")


def statement_limit(text: str, source: str, limit: int) -> Diagnostic | None:
    """E0301 when `text` holds more than `limit` statements, at the first one past it.

    A statement is a line with code (comments stripped), plus one per `;` on it: an upper bound
    on what the parser would find, counted in one pass without parsing.
    """
    count = 0
    for number, line in enumerate(text.split("\n"), 1):
        code = line.split("#", 1)[0]
        if code.strip():
            count += 1 + code.count(";")
            if count > limit:
                return Diagnostic(
                    "E0301",
                    f"this spec has more than {limit:,} statements",
                    Span(source, number, len(line) - len(line.lstrip()) + 1, number, len(line.rstrip()) + 1),
                    label="the limit is passed here",
                    help="raise the limit with --max-statements (API: limits=Limits(max_statements=...))",
                )
    return None


def parse_bounded(text: str, source: str, limits: Limits | None = None, sources: SourceMap | None = None):
    """`parse`, after the statement limit: E0301 (raised) before any parsing of an oversized spec,
    or at the first token past `Limits.max_tokens` while parsing."""
    from resdsl.frontend.syntax.parser import parse

    too_many = statement_limit(text, source, (limits or Limits()).max_statements)
    if too_many is not None:
        sources = sources if sources is not None else SourceMap()
        sources.add(source, text)
        raise ResdslError([too_many], sources)
    return parse(text, source, sources, (limits or Limits()).max_tokens)
