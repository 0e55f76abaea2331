"""Diagnostics: the one type every user-facing error is made of, and the one renderer.

Invariants:
- A `Diagnostic` always names a stable `code` (see `CODES`) and, when the fault lies in a spec,
  a `Span` into a source registered in a `SourceMap`.
- Passes and the elaborator *report* diagnostics (append to a `Reporter`); only compiler bugs
  raise ordinary Python exceptions.
- `ResdslError` is the only exception type the public API lets out for bad input.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Iterable


@dataclass(frozen=True)
class Span:
    """A region of a source: 1-based line and column, end exclusive, plus character offsets."""

    source: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Note:
    message: str
    span: Span | None = None


@dataclass(frozen=True)
class Diagnostic:
    """One finding: `severity` is "error" or "warning"; `help` is a suggested fix."""

    code: str
    message: str
    span: Span | None = None
    label: str = ""
    notes: tuple[Note, ...] = ()
    help: str = ""
    severity: str = "error"


class ResdslError(Exception):
    """Raised by the API when a spec (or a request about one) is wrong; carries diagnostics."""

    def __init__(self, diagnostics: Iterable[Diagnostic], sources: "SourceMap | None" = None):
        self.diagnostics = tuple(diagnostics)
        self.sources = sources if sources is not None else SourceMap()
        super().__init__(self.render())

    def render(self) -> str:
        return render_all(self.diagnostics, self.sources)


class SourceMap:
    """Texts of the sources that spans point into, by the name spans use."""

    def __init__(self) -> None:
        self._texts: dict[str, list[str]] = {}

    def add(self, name: str, text: str) -> None:
        self._texts[name] = text.splitlines()

    def line(self, name: str, line: int) -> str | None:
        lines = self._texts.get(name)
        if lines is None or not 1 <= line <= len(lines):
            return None
        return lines[line - 1]


class Reporter:
    """Collects diagnostics; `check()` raises once errors were reported, capped at `limit`."""

    def __init__(self, sources: SourceMap, limit: int = 20):
        self.sources = sources
        self.limit = limit
        self.diagnostics: list[Diagnostic] = []

    def report(self, diagnostic: Diagnostic) -> None:
        if diagnostic not in self.diagnostics:
            self.diagnostics.append(diagnostic)
        if self.error_count >= self.limit:
            self.raise_now()

    def error(self, code: str, message: str, span: Span | None = None, **kw) -> None:
        self.report(Diagnostic(code, message, span, **kw))

    @property
    def error_count(self) -> int:
        return sum(d.severity == "error" for d in self.diagnostics)

    def raise_now(self) -> None:
        raise ResdslError(self.diagnostics, self.sources)

    def check(self) -> None:
        if self.error_count:
            self.raise_now()


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _printable(text: str) -> str:
    """Source text as it can be shown on one terminal line (tabs and control chars made visible)."""
    out = []
    for ch in text:
        if ch == "\t":
            out.append("    ")
        elif unicodedata.category(ch).startswith("C"):
            out.append("\N{REPLACEMENT CHARACTER}")
        else:
            out.append(ch)
    return "".join(out)


def _excerpt(span: Span, label: str, sources: SourceMap) -> list[str]:
    text = sources.line(span.source, span.line)
    if text is None:
        return []
    gutter = " " * len(str(span.line))
    prefix = _printable(text[: span.column - 1])
    if span.end_line == span.line:
        marked = text[span.column - 1 : max(span.end_column - 1, span.column)]
    else:
        marked = text[span.column - 1 :]
    width = max(1, _display_width(_printable(marked.rstrip()) or " "))
    caret = " " * _display_width(prefix) + "^" * width + (f" {label}" if label else "")
    return [f"{gutter} |", f"{span.line} | {_printable(text)}".rstrip(), f"{gutter} | {caret}"]


def render(diagnostic: Diagnostic, sources: SourceMap) -> str:
    """rustc/clang style: `file:line:col: error[CODE]: message`, the line, a caret, notes, help."""
    where = f"{diagnostic.span}: " if diagnostic.span else ""
    lines = [f"{where}{diagnostic.severity}[{diagnostic.code}]: {diagnostic.message}"]
    if diagnostic.span:
        lines += _excerpt(diagnostic.span, diagnostic.label, sources)
    for note in diagnostic.notes:
        if note.span:
            lines.append(f"   = note: {note.span}: {note.message}")
            lines += ["  " + line for line in _excerpt(note.span, "", sources)]
        else:
            lines.append(f"   = note: {note.message}")
    if diagnostic.help:
        lines.append(f"   = help: {diagnostic.help}")
    return "\n".join(lines)


def render_all(diagnostics: Iterable[Diagnostic], sources: SourceMap) -> str:
    diagnostics = list(diagnostics)
    parts = [render(d, sources) for d in diagnostics]
    errors = sum(d.severity == "error" for d in diagnostics)
    if errors > 1:
        parts.append(f"{errors} errors")
    return "\n\n".join(parts)


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A "did you mean" help text for an unknown name, or "" when nothing is close."""
    import difflib

    close = difflib.get_close_matches(name, sorted(set(candidates)), n=3, cutoff=0.6)
    if not close:
        return ""
    return "did you mean " + " or ".join(f"`{c}`" for c in close) + "?"


@dataclass
class Limits:
    """Expansion limits checked before anything is allocated; raise them explicitly."""

    max_nodes: int = 200_000
    max_params: int = 2_000_000_000
    extra: dict = field(default_factory=dict)


def relocate(diag: Diagnostic, main_source: str, site: Span | None, where: str) -> Diagnostic:
    """Point a diagnostic whose span lies outside the user's file at the user's statement.

    A mistake that shows up inside a prelude block is the user's call's fault; the definition
    line becomes a note.
    """
    if diag.span is None or diag.span.source == main_source or site is None:
        return diag
    return Diagnostic(
        diag.code,
        diag.message,
        site,
        label=f"in {where}",
        notes=(Note("inside this definition", diag.span),) + diag.notes,
        help=diag.help,
        severity=diag.severity,
    )
