"""Lines of generated Python, laid out as black would: a call too long for one line is split one
argument per line, a long conditional expression one clause per line.

Invariant: the layout never changes meaning. A parenthesised expression that is not a call is
never split at its commas (that would make a tuple), and a conditional is split only at its
top-level `if` and `else`.
"""

from __future__ import annotations

INDENT = "    "


def _split_args(args: str) -> list[str]:
    """Top-level comma-separated arguments of a call's argument text."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(args):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(args[start:i].strip())
            start = i + 1
    parts.append(args[start:].strip())
    return [p for p in parts if p]


def _closing(text: str, start: int) -> int:
    """The index of the bracket closing the one at `start` (-1 if none)."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] in "([{":
            depth += 1
        elif text[i] in ")]}":
            depth -= 1
            if depth == 0:
                return i
    return -1


class Writer:
    """Lines of Python; a call too long for one line is split one argument per line."""

    WIDTH = 100

    def __init__(self) -> None:
        self.lines: list[str] = []

    def line(self, text: str = "", depth: int = 0) -> None:
        head, _, rest = text.partition("(")
        long = len(INDENT * depth + text) > self.WIDTH
        if long and " = " in head and " if " in text and _closing(text, len(head)) != len(text) - 1:
            target, _, value = text.partition(" = ")  # `x = A if c else B`, as black writes it
            then, _, other = value.rpartition(" else ")
            then, _, cond = then.rpartition(" if ")
            self.lines.append(INDENT * depth + target + " = (")
            for part in (then, f"if {cond}", f"else {other}"):
                self.line(part, depth + 1)
            self.lines.append(INDENT * depth + ")")
            return
        call = head.rstrip()[-1:].isidentifier() or head.rstrip()[-1:] in ".]"  # `f(`, not `= (`
        if long and (" = " in head or head.startswith("return ")) and _closing(text, len(head)) == len(text) - 1 and not call:
            self.lines.append(INDENT * depth + head + "(")  # a parenthesized expression: no commas
            self.lines.append(INDENT * (depth + 1) + rest[:-1])
            self.lines.append(INDENT * depth + ")")
            return
        if long and (" = " in head or head.startswith("return ")) and _closing(text, len(head)) == len(text) - 1:
            self.lines.append(INDENT * depth + head + "(")
            for arg in _split_args(rest[:-1]):
                self.line(arg + ",", depth + 1)
            self.lines.append(INDENT * depth + ")")
            return
        self.lines.append(INDENT * depth + text if text else "")

    def block(self, text: str) -> None:
        self.lines += text.rstrip().split("\n")

    def text(self) -> str:
        return "\n".join(self.lines).rstrip() + "\n"


def operand(source: str) -> str:
    """`source` parenthesized where it is a bare conditional (`a if c else b`), so that it can be
    the first operand of another: `(a if c else b) if g else d`, not `a if c else b if g else d`."""
    depth = 0
    for i, ch in enumerate(source):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0 and source.startswith(" if ", i):
            return f"({source})"
    return source
