"""Diagnostics: the one type every user-facing error is made of, and the one renderer.

Invariants:
- A `Diagnostic` always names a stable, registered `code` (`codes.CODES`, checked when it is built) and, when the fault lies in a spec,
  a `Span` into a source registered in a `SourceMap`.
- Passes and the elaborator *report* diagnostics (append to a `Reporter`); only compiler bugs
  raise ordinary Python exceptions.
- `ResdslError` is the only exception type the public API lets out for bad input.
"""

from __future__ import annotations

import contextlib
import contextvars

import math
import unicodedata
from dataclasses import dataclass
from typing import Iterable

from resdsl.diagnostics.codes import CODES


@dataclass(frozen=True)
class Span:
    """A region of a source: 1-based line and column (in characters), end exclusive."""

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

    def __post_init__(self) -> None:
        # A code not in the registry is a compiler bug: the docs, the corpus and `--werror`
        # all read the registry, so an unregistered or mis-sorted code would escape them.
        if self.code not in CODES:
            raise ValueError(f"diagnostic code {self.code!r} is not registered in resdsl/diagnostics/codes.py")
        if self.severity == "warning" and not self.code.startswith("W"):  # --werror may promote a W code
            raise ValueError(f"diagnostic {self.code} has severity 'warning'; only W codes are warnings")


class ResdslError(Exception):
    """Raised by the API when a spec (or a request about one) is wrong; carries diagnostics."""

    def __init__(self, diagnostics: Iterable[Diagnostic], sources: "SourceMap | None" = None, limit: int | None = None):
        self.diagnostics = tuple(diagnostics)
        self.sources = sources if sources is not None else SourceMap()
        self.limit = limit  # set when the reporter stopped at its cap: more errors may follow
        super().__init__(self.render())

    def render(self) -> str:
        return render_all(self.diagnostics, self.sources, self.limit)


class SourceMap:
    """Texts of the sources that spans point into, by the name spans use."""

    def __init__(self) -> None:
        self._texts: dict[str, list[str]] = {}

    def add(self, name: str, text: str) -> None:
        # Only "\n" ends a line, as in the lexer: `str.splitlines` would also split at form
        # feeds and U+2028, and the line numbers in spans would then point at the wrong line.
        self._texts[name] = text.split("\n")

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
        # one finding per place: the same code, message and span from another instance of a
        # block (whose note names that instance) is the same mistake, reported once
        key = (diagnostic.code, diagnostic.message, diagnostic.span, diagnostic.severity)
        if all((d.code, d.message, d.span, d.severity) != key for d in self.diagnostics):
            self.diagnostics.append(diagnostic)
        if self.error_count >= self.limit:
            self.raise_now()

    def error(self, code: str, message: str, span: Span | None = None, **kw) -> None:
        self.report(Diagnostic(code, message, span, **kw))

    @property
    def error_count(self) -> int:
        return sum(d.severity == "error" for d in self.diagnostics)

    def raise_now(self) -> None:
        capped = self.limit if self.error_count >= self.limit else None
        raise ResdslError(in_source_order(self.diagnostics), self.sources, capped)

    def check(self) -> None:
        if self.error_count:
            self.raise_now()


def in_source_order(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sorted by position, so a file's errors read top to bottom whatever pass found them.

    Unlocated diagnostics come first; sources keep the order in which they first appear.
    """
    diagnostics = list(diagnostics)
    rank: dict[str, int] = {}
    for d in diagnostics:
        if d.span is not None:
            rank.setdefault(d.span.source, len(rank))

    def key(d: Diagnostic):
        return (0, 0, 0, 0) if d.span is None else (1, rank[d.span.source], d.span.line, d.span.column)

    return sorted(diagnostics, key=key)


def _cells(text: str) -> list[tuple[str, int]]:
    """Each source character as (what a terminal shows, its width in columns).

    Tabs become four spaces and control characters a replacement mark, so a caret computed
    from the same cells lines up under the character it points at; East Asian wide
    characters take two columns.
    """
    cells = []
    for ch in text:
        if ch == "\t":
            cells.append(("    ", 4))
        elif unicodedata.category(ch).startswith("C"):
            cells.append(("\N{REPLACEMENT CHARACTER}", 1))
        elif unicodedata.combining(ch):
            cells.append((ch, 0))
        else:
            cells.append((ch, 2 if unicodedata.east_asian_width(ch) in "WF" else 1))
    return cells


MAX_WIDTH = 100  # columns of source shown; longer lines are cut around the span, marked with …


def _window(cells: list[tuple[str, int]], start: int, end: int) -> tuple[int, int]:
    """The cell range [lo, hi) to show: all of it when short, else a window around [start, end)."""
    total = sum(w for _, w in cells)
    if total <= MAX_WIDTH:
        return 0, len(cells)
    lo = start
    shown = 0
    while lo > 0 and shown < MAX_WIDTH // 3:  # some context before the span
        lo -= 1
        shown += cells[lo][1]
    hi, width = lo, 0
    while hi < len(cells) and width + cells[hi][1] <= MAX_WIDTH:
        width += cells[hi][1]
        hi += 1
    return lo, hi


def _excerpt(span: Span, label: str, sources: SourceMap, gutter: int) -> list[str]:
    """The `N | source` line and the caret line under `span` (nothing when the text is unknown)."""
    text = sources.line(span.source, span.line)
    if text is None:
        return []
    text = text.rstrip("\r\n")
    start = min(span.column - 1, len(text))
    end = span.end_column - 1 if span.end_line == span.line else len(text)
    if len(text) > 4 * MAX_WIDTH:  # a huge line: only the part around the span can be shown
        cut = max(0, start - 2 * MAX_WIDTH)
        text = ("…" if cut else "") + text[cut : start + 2 * MAX_WIDTH]
        start, end = start - cut + (1 if cut else 0), min(end, start + 2 * MAX_WIDTH) - cut + (1 if cut else 0)
    cells = _cells(text)
    start = min(start, len(cells))
    while end > start + 1 and end <= len(cells) and cells[end - 1][0].isspace():
        end -= 1  # a statement's span may include trailing blanks: mark the text only
    end = max(start + 1, min(end, len(cells)))
    lo, hi = _window(cells, start, end)
    before = "…" if lo > 0 else ""
    after = "…" if hi < len(cells) else ""
    shown = before + "".join(c for c, _ in cells[lo:hi]) + after
    pad = len(before) + sum(w for _, w in cells[lo:start])
    marks = max(1, sum(w for _, w in cells[start:min(end, hi)]))
    caret = " " * pad + "^" * marks + (f" {label}" if label else "")
    bar = " " * gutter + " |"
    return [bar, f"{span.line:>{gutter}} | {shown}".rstrip(), f"{bar} {caret}"]


def render(diagnostic: Diagnostic, sources: SourceMap) -> str:
    """rustc/clang style: `file:line:col: error[CODE]: message`, the line, a caret, notes, help.

    Layout (the gutter is as wide as the main line number):

        spec.res:14:5: error[E0203]: residual add receives 128×28×28 and 64×56×56
           |
        14 |     layer2: basic(128) x 4, stride 2
           |     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ in block layer2.0
           = note: a note without a location
           = help: the suggested fix
        prelude.res:11:5: note: a note with a location, with its own excerpt
           |
        11 |     add
           |     ^^^
    """
    d = diagnostic
    gutter = len(str(d.span.line)) if d.span else 1
    where = f"{d.span}: " if d.span else ""
    lines = [f"{where}{d.severity}[{d.code}]: {d.message}"]
    if d.span:
        lines += _excerpt(d.span, d.label, sources, gutter)
    lines += [f"{' ' * gutter} = note: {n.message}" for n in d.notes if n.span is None]
    if d.help:
        lines.append(f"{' ' * gutter} = help: {d.help}")
    for note in d.notes:
        if note.span is not None:
            lines.append(f"{note.span}: note: {note.message}")
            lines += _excerpt(note.span, "", sources, len(str(note.span.line)))
    return "\n".join(lines)


def render_all(diagnostics: Iterable[Diagnostic], sources: SourceMap, limit: int | None = None) -> str:
    """Every diagnostic, a blank line between them, then a count when there are several errors.

    A run stopped at the reporter's cap says so, so users know more may follow a fix.
    """
    diagnostics = list(diagnostics)
    parts = [render(d, sources) for d in diagnostics]
    errors = sum(d.severity == "error" for d in diagnostics)
    if limit is not None and errors >= limit:
        parts.append(f"stopped after {errors} errors")
    elif errors > 1:
        parts.append(f"{errors} errors")
    return "\n\n".join(parts)


def short_number(n: int) -> str:
    """`12,345`; an integer too long to read as digits as its order of magnitude, `about 10^40`."""
    if abs(n) < 10**15:
        return f"{n:,}"
    digits = len(str(abs(n))) if abs(n).bit_length() < 10_000 else int(abs(n).bit_length() * math.log10(2)) + 1
    return f"{'-' if n < 0 else ''}about 10^{digits - 1}"


# Comparisons (one candidate name each, ~25 µs) that the did-you-mean searches of one compile
# may make in all: a spec with a thousand misspelt names among a thousand known ones would
# otherwise spend half a minute on suggestions. `resdsl check` stops at 20 errors, well inside.
SUGGESTION_BUDGET = 50_000
_budget: contextvars.ContextVar[list | None] = contextvars.ContextVar("resdsl_suggestion_budget", default=None)


@contextlib.contextmanager
def suggestion_budget(comparisons: int = SUGGESTION_BUDGET):
    """Within this block, did-you-mean searches stop (and suggest nothing) after `comparisons`."""
    token = _budget.set([comparisons, {}])
    try:
        yield
    finally:
        _budget.reset(token)


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A "did you mean" help text for an unknown name, or "" when nothing is close (or when
    the compile's `suggestion_budget` is spent)."""
    names = sorted(set(candidates))
    state = _budget.get()
    if state is not None:  # [comparisons left, {(name, candidates): answer}]
        key = (name, tuple(names))
        if key in state[1]:  # the same lookup again (a value is evaluated by several passes)
            return state[1][key]
        if state[0] < len(names):
            return ""
        state[0] -= len(names)
        state[1][key] = _did_you_mean(name, names)
        return state[1][key]
    return _did_you_mean(name, names)


def _did_you_mean(name: str, names: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    if not close:
        return ""
    return "did you mean " + " or ".join(f"`{c}`" for c in close) + "?"


@dataclass
class Limits:
    """Size limits, checked before the work they bound (parsing, expanding, allocating).

    With them every input up to 1 MB is answered within a few seconds (benchmarks/
    bench_large_inputs.py); raise them explicitly for larger networks.
    """

    max_statements: int = 5_000  # in the spec file, counted before it is parsed
    max_tokens: int = 250_000  # names, numbers and symbols of the spec file, counted as it is parsed
    max_nodes: int = 50_000
    max_params: int = 2_000_000_000
    max_activations: int = 10_000_000_000  # elements of all layer outputs, batch 1
    max_depth: int = 50  # blocks within blocks; the elaborator recurses once per level


def relocate(diag: Diagnostic, main_source: str, site: Span | None, block: str, definition: str) -> Diagnostic:
    """Point a diagnostic whose span lies outside the user's file at the user's statement.

    A mistake that shows up inside a prelude definition is the user's call's fault: the
    diagnostic moves to `site` (labelled "in block BLOCK"), and the definition's line becomes
    a note ("in the definition of `DEFINITION`"). The one relocation the elaborator and the
    passes share.
    """
    if diag.span is None or diag.span.source == main_source or site is None:
        return diag
    return Diagnostic(
        diag.code,
        diag.message,
        site,
        label=f"in block {block}" if block else "",
        notes=(Note(f"in the definition of `{definition}`" if definition else "in the definition", diag.span),) + diag.notes,
        help=diag.help,
        severity=diag.severity,
    )
