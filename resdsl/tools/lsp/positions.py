"""Positions in a document, as the compiler counts them and as an editor counts them.

The compiler splits lines at "\\n" only (a lone "\\r" is whitespace inside a line); LSP clients
split at "\\r\\n", "\\r" and "\\n". `LineIndex` converts between the two through character
offsets, so a diagnostic after a lone "\\r" lands on the line the editor shows.

`LineMap` relates the lines of two versions of a document (the last one that parsed and the
current one): lines outside the edited region map one to one, lines inside it map nowhere.
Nothing here imports an LSP library.
"""

from __future__ import annotations

import bisect
import difflib
import re

_BREAK = re.compile(r"\r\n|\r|\n")
_DIFF_LIMIT = 250_000  # at most this many line pairs are compared inside an edited region


class LineIndex:
    """Offsets of a text's line starts: the compiler's and the client's."""

    def __init__(self, text: str):
        self.text = text
        self.starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
        self.client_starts = [0] + [m.end() for m in _BREAK.finditer(text)]

    def offset(self, line: int, col: int) -> int:
        """A compiler position (1-based line and character column) as an offset, clamped."""
        line = min(max(line, 1), len(self.starts))
        start = self.starts[line - 1]
        end = self.starts[line] - 1 if line < len(self.starts) else len(self.text)
        return min(start + max(col - 1, 0), end)

    def to_client(self, line: int, col: int) -> tuple[int, str]:
        """Compiler position -> (client line, 0-based; the text before it on that line)."""
        offset = self.offset(line, col)
        row = bisect.bisect_right(self.client_starts, offset) - 1
        return row, self.text[self.client_starts[row] : offset]

    def client_line(self, row: int) -> str:
        """The text of a client line, its line break excluded ("" past the end)."""
        if row >= len(self.client_starts):
            return ""
        start = self.client_starts[row]
        end = self.client_starts[row + 1] if row + 1 < len(self.client_starts) else len(self.text)
        return self.text[start:end].rstrip("\r\n")

    def from_client(self, row: int, chars: int) -> tuple[int, int]:
        """(client line, characters into it) -> compiler position (1-based line, column)."""
        if row >= len(self.client_starts):
            return len(self.starts) + 1, 1
        offset = self.client_starts[row] + min(chars, len(self.client_line(row)))
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1


class LineMap:
    """Line numbers (1-based) of an old text's lines in a new text, and back."""

    def __init__(self, old: list[str], new: list[str]):
        prefix = 0
        while prefix < min(len(old), len(new)) and old[prefix] == new[prefix]:
            prefix += 1
        suffix = 0
        while suffix < min(len(old), len(new)) - prefix and old[-1 - suffix] == new[-1 - suffix]:
            suffix += 1
        self.old_to_new: dict[int, int] = {}
        old_mid, new_mid = old[prefix : len(old) - suffix], new[prefix : len(new) - suffix]
        if old_mid and new_mid and len(old_mid) * len(new_mid) <= _DIFF_LIMIT:
            matcher = difflib.SequenceMatcher(None, old_mid, new_mid, autojunk=False)
            for a, b, size in matcher.get_matching_blocks():
                for k in range(size):
                    self.old_to_new[prefix + a + k + 1] = prefix + b + k + 1
        self.new_to_old = {v: k for k, v in self.old_to_new.items()}
        self.prefix, self.suffix, self.shift = prefix, suffix, len(new) - len(old)
        self.old_len, self.new_len = len(old), len(new)

    def to_new(self, line: int) -> int | None:
        if line <= self.prefix:
            return line
        if line > self.old_len - self.suffix:
            return line + self.shift
        return self.old_to_new.get(line)

    def to_old(self, line: int) -> int | None:
        if line <= self.prefix:
            return line
        if line > self.new_len - self.suffix:
            return line - self.shift
        return self.new_to_old.get(line)
