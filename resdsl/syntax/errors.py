"""Lark's parse failures turned into diagnostics in the user's words.

Lark names expected terminals by grammar name (`RPAR`, `_NL`); users typed `)` or a newline.
An unexpected end of input or `}` is reported at the innermost unclosed opener, which is where
the mistake usually is.
"""

from __future__ import annotations

import re

from lark import Lark
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from resdsl.diagnostics import Diagnostic, Note, Span

# Terminals that are patterns, described in words.
_WORDS = {
    "NAME": "a name",
    "CALL_NAME": "a block call such as `basic(`",
    "INT": "an integer",
    "FLOAT": "a number",
    "NUMBER": "a number",
    "DIMS": "dimensions such as `3x224x224`",
    "CMP_OP": "a comparison such as `==`",
    "ADD_OP": "`+` or `-`",
    "MUL_OP": "`*`, `/`, `//` or `%`",
    "_NL": "a newline",
    "_TIMES": "`x`",
    "_WITHIN": "`within`",
    "$END": "the end of the file",
}

_CLOSERS = {"(": ")", "{": "}"}


def describe_terminal(name: str, parser: Lark) -> str:
    if name in _WORDS:
        return _WORDS[name]
    for term in parser.terminals:
        if term.name == name:
            pattern = term.pattern
            if pattern.type == "str":
                return f"`{pattern.value}`"
            return f"`{name.lower()}`"
    return f"`{name.lower()}`"


def _expected_text(names, parser: Lark) -> str:
    words = sorted({describe_terminal(n, parser) for n in names if n not in ("WS", "COMMENT")})
    if not words:
        return ""
    if len(words) > 6:
        words = words[:6] + ["…"]
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _found_text(token) -> str:
    if token.type == "$END":
        return "the end of the file"
    if token.type == "_NL":
        return "the end of the line"
    return f"`{token}`"


def _unclosed(text: str, upto: int) -> tuple[str, int] | None:
    """The innermost `(` or `{` still open at offset `upto`, ignoring comments."""
    stack: list[tuple[str, int]] = []
    for m in re.finditer(r"#[^\n]*|[(){}]", text[:upto]):
        ch = m.group()
        if ch.startswith("#"):
            continue
        if ch in _CLOSERS:
            stack.append((ch, m.start()))
        elif stack and _CLOSERS[stack[-1][0]] == ch:
            stack.pop()
    return stack[-1] if stack else None


def _span_at(text: str, source: str, offset: int, length: int = 1) -> Span:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return Span(source, line, col, line, col + length)


def syntax_diagnostic(err: UnexpectedInput, text: str, source: str, parser: Lark) -> Diagnostic:
    """One located diagnostic for a parse failure."""
    if isinstance(err, UnexpectedCharacters):
        ch = text[err.pos_in_stream] if err.pos_in_stream < len(text) else ""
        span = _span_at(text, source, err.pos_in_stream)
        expected = _expected_text(err.allowed or (), parser)
        return Diagnostic(
            "E0005",
            f"unexpected character `{ch}`" if ch.isprintable() else f"unexpected character {ch!r}",
            span,
            label="not valid here",
            help=f"expected {expected}" if expected else "",
        )
    token = getattr(err, "token", None)
    at_end = isinstance(err, UnexpectedEOF) or (token is not None and token.type == "$END")
    pos = len(text) if at_end or token is None else token.start_pos
    if at_end or (token is not None and str(token) in ")}"):
        opener = _unclosed(text, pos)
        closing_wrong = token is not None and not at_end and opener and _CLOSERS[opener[0]] != str(token)
        if opener and (at_end or closing_wrong):
            ch, where = opener
            return Diagnostic(
                "E0002",
                f"unclosed `{ch}`",
                _span_at(text, source, where),
                label=f"this `{ch}` is never closed",
                notes=(Note(f"found {_found_text(token) if token else 'the end of the file'} first"),),
                help=f"add `{_CLOSERS[ch]}` where it ends",
            )
    expected = _expected_text(getattr(err, "expected", None) or getattr(err, "accepts", None) or (), parser)
    if at_end:
        lines = text.rstrip("\n").split("\n")
        span = Span(source, len(lines), len(lines[-1]) + 1, len(lines), len(lines[-1]) + 2)
        return Diagnostic("E0003", "unexpected end of file", span, help=f"expected {expected}" if expected else "")
    span = Span(source, token.line, token.column, token.end_line or token.line, token.end_column or token.column + 1)
    if token.type == "_NL":
        span = Span(source, token.line, token.column, token.line, token.column + 1)
    return Diagnostic(
        "E0001",
        f"unexpected {_found_text(token)}",
        span,
        label="not expected here",
        help=f"expected {expected}" if expected else "",
    )
