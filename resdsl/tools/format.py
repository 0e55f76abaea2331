"""The canonical layout of a `.res` spec: `format_text(text)`, behind `resdsl fmt`.

The formatter works on the grammar's own tokens (Lark's contextual lexer, driven by the
parser so that `x`, `-`, `%` and `(` are told apart as the parser tells them apart) plus the
comments the grammar ignores, recovered from the text between tokens. It knows no keyword or
layer kind by name, so new ones need no change here. What it decides is only whitespace:

* Line breaks stay where they are written (one statement per line, or several joined by `; `),
  except that a body opened with `{` and closed on a later line starts and ends on lines of its
  own, and each top-level definition starts on a line of its own. Separators that separate
  nothing (`relu;` at a line end, `;` between definitions) are dropped.
* Indentation: four spaces per open brace. A comment line is indented as the code around it.
* Within a line: one space between tokens, except none inside parentheses, after a block
  call's `(`, after a unary `-`, around `.` in paths, before `,`, `:`, `;` and the `%` of
  `within 2%`, inside an index's brackets and before its `[` (`parts[i]`), and between a
  definition's name and its parameter list. Tokens are written as
  they are spelled (`3x3`, `3 x 3`, `×`, `1_000` stay as they are).
* Trailing comments: in a run of consecutive code lines, the `#` of every trailing comment
  sits in one column, two spaces past the longest code among them. A blank line or a comment
  line ends the run.
* Blank lines: at most one in a row; none at the start or end of a file, right after a `{`
  or right before a `}`; exactly one between two top-level definitions unless comments stand
  between them (then they keep the blank lines written, at most one in a row). No trailing
  whitespace; the file ends with exactly one newline.

Invariants: the output parses to the same AST (spans aside) as the input, and formatting the
output again changes nothing. Text with syntax errors, or more statements than `check` accepts,
raises `ResdslError` (the diagnostics of `resdsl check`) and is never reformatted.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from lark import Token

from resdsl.frontend.syntax.parser import _parser
from resdsl.frontend.syntax.reader import parse_bounded

__all__ = ["format_text", "INDENT"]

INDENT = "    "
COMMENT_GAP = 2  # spaces between the longest code of a run and its aligned comments

# Token types as Lark names them: anonymous terminals after their text ("(" is LPAR), the
# named ones as the grammar spells them. `MINUS` is only ever the unary minus (binary is ADD_OP),
# `PERCENT` only the `%` of `within 2%` (the operator is MUL_OP).
_NO_SPACE_AFTER = frozenset({"LPAR", "CALL_NAME", "FUNC_CALL", "VALUE_CALL", "DOT", "MINUS", "_LBRACKET"})
_NO_SPACE_BEFORE = frozenset({"RPAR", "COMMA", "COLON", "SEMICOLON", "DOT", "PERCENT", "_LBRACKET", "RSQB"})
_OPEN, _CLOSE, _SEMI, _NEWLINE = "LBRACE", "RBRACE", "SEMICOLON", "_NL"

_COMMENT = re.compile(r"#[^\n]*")


def format_text(text: str, source: str = "<spec>") -> str:
    """`text` in canonical form; raises `ResdslError` (syntax diagnostics) if it does not parse."""
    parse_bounded(text, source)  # refuse what `check` refuses before parsing, with its diagnostics
    tokens = list(_parser().parse_interactive(text).iter_parse())
    lines = _layout(_physical_lines(text, tokens))
    return "".join(line + "\n" for line in _render(lines))


# --- reading: tokens and comments per source line ------------------------------------------------


@dataclass
class _Source:
    tokens: list[Token]  # the line's tokens, newlines excluded
    comment: str | None  # a comment ending the line, trailing whitespace removed


def _physical_lines(text: str, tokens: list[Token]) -> list[_Source]:
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    lines = [_Source([], None) for _ in starts]
    prev_end = 0
    for tok in [*tokens, None]:
        gap_end = len(text) if tok is None else tok.start_pos
        found = _COMMENT.search(text, prev_end, gap_end)
        if found:  # the gap between two tokens holds whitespace and at most one comment
            lines[bisect.bisect_right(starts, found.start()) - 1].comment = found.group().rstrip()
        if tok is None:
            break
        if tok.type != _NEWLINE:
            lines[tok.line - 1].tokens.append(tok)
        prev_end = tok.end_pos
    return lines


# --- layout: lines of output, each with its depth ------------------------------------------------


@dataclass
class _Line:
    kind: str  # "code" | "comment" | "blank"
    depth: int = 0
    tokens: tuple[Token, ...] = ()
    comment: str | None = None

    @property
    def opens(self) -> bool:
        """A code line ending in `{` whose body continues below."""
        return self.kind == "code" and self.tokens[-1].type == _OPEN

    @property
    def closes(self) -> bool:
        return self.kind == "code" and self.tokens[0].type == _CLOSE

    @property
    def starts_definition(self) -> bool:
        return self.kind == "code" and self.depth == 0 and not self.closes


def _layout(source_lines: list[_Source]) -> list[_Line]:
    # Where each brace's partner is: a body that spans lines gets lines of its own.
    line_of: dict[int, int] = {}
    partner: dict[int, int] = {}
    stack: list[Token] = []
    for number, src in enumerate(source_lines):
        for tok in src.tokens:
            line_of[id(tok)] = number
            if tok.type == _OPEN:
                stack.append(tok)
            elif tok.type == _CLOSE:
                opened = stack.pop()
                partner[id(tok)], partner[id(opened)] = id(opened), id(tok)

    out: list[_Line] = []
    depth = 0
    for number, src in enumerate(source_lines):
        segments: list[list[Token]] = [[]]
        d = depth
        kept = _drop_idle_separators(src.tokens, depth)
        for i, tok in enumerate(kept):
            seg = segments[-1]
            if seg and tok.type == _CLOSE and line_of[partner[id(tok)]] != number:
                segments.append([])  # `relu }` closing a body opened on an earlier line
            elif seg and d == 0 and seg[-1].type == _CLOSE:
                segments.append([])  # a second definition after `}` on the same line
            segments[-1].append(tok)
            d += (tok.type == _OPEN) - (tok.type == _CLOSE)
            if tok.type == _OPEN and i + 1 < len(kept) and line_of[partner[id(tok)]] != number:
                segments.append([])  # `{ relu` with the `}` on a later line
        segments = [s for s in segments if s]
        if not segments:
            out.append(_Line("comment", depth, comment=src.comment) if src.comment else _Line("blank"))
            continue
        for seg in segments:
            start = depth - (seg[0].type == _CLOSE)
            out.append(_Line("code", start, tuple(seg)))
            depth += sum((t.type == _OPEN) - (t.type == _CLOSE) for t in seg)
        out[-1].comment = src.comment
    return _blank_lines(out)


def _drop_idle_separators(tokens: list[Token], depth: int) -> list[Token]:
    """The line's tokens without the `;` that separate no two statements on this line."""
    kept: list[Token] = []
    for i, tok in enumerate(tokens):
        if tok.type == _SEMI:
            after = tokens[i + 1] if i + 1 < len(tokens) else None
            if (
                depth > 0
                and kept
                and kept[-1].type not in (_OPEN, _SEMI)
                and after is not None
                and after.type not in (_CLOSE, _SEMI)
            ):
                kept.append(tok)
            continue
        kept.append(tok)
        depth += (tok.type == _OPEN) - (tok.type == _CLOSE)
    return kept


def _blank_lines(lines: list[_Line]) -> list[_Line]:
    out: list[_Line] = []
    for line in lines:
        if line.kind == "blank":
            if out and out[-1].kind != "blank" and not out[-1].opens:
                out.append(line)
            continue
        if line.closes and out and out[-1].kind == "blank":
            out.pop()
        if line.starts_definition:
            previous = next((p for p in reversed(out) if p.kind != "blank"), None)
            if previous is not None and previous.kind == "code" and out[-1].kind != "blank":
                out.append(_Line("blank"))  # one blank line between definitions
        out.append(line)
    while out and out[-1].kind == "blank":
        out.pop()
    return out


# --- writing -------------------------------------------------------------------------------------


def _code(line: _Line) -> str:
    parts = [INDENT * line.depth]
    depth = line.depth
    prev: Token | None = None
    for tok in line.tokens:
        if prev is not None and _space_between(prev, tok, depth):
            parts.append(" ")
        parts.append(str(tok))
        depth += (tok.type == _OPEN) - (tok.type == _CLOSE)
        prev = tok
    return "".join(parts)


def _space_between(prev: Token, tok: Token, depth: int) -> bool:
    if prev.type in _NO_SPACE_AFTER or tok.type in _NO_SPACE_BEFORE:
        return False
    if prev.type == _OPEN and tok.type == _CLOSE:
        return False  # an empty body: `{}`
    if tok.type == "LPAR" and prev.type == "NAME" and depth == 0:
        return False  # a definition's parameter list: `block basic(width)`
    return True


def _render(lines: list[_Line]) -> list[str]:
    texts = [_code(line) if line.kind == "code" else "" for line in lines]
    run: list[int] = []  # indexes of consecutive code lines

    def flush() -> None:
        commented = [i for i in run if lines[i].comment]
        if commented:
            column = max(len(texts[i]) for i in commented) + COMMENT_GAP
            for i in commented:
                texts[i] = texts[i].ljust(column) + lines[i].comment
        run.clear()

    for i, line in enumerate(lines):
        if line.kind == "code":
            run.append(i)
            continue
        flush()
        if line.kind == "comment":
            texts[i] = INDENT * line.depth + line.comment
    flush()
    return texts
