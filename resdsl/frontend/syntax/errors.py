"""Lark's parse failures turned into diagnostics in the user's words, and the parse-tree guards.

Lark names expected terminals by grammar name (`RPAR`, `_NL`); users typed `)` or a newline.
The expected set is summarised the way a person would say it: "a value" for the dozen tokens
that can start an expression, "an operator" for the ones that can continue it, "the end of
the line" for a newline or `;`.

Brackets: an unexpected end of input, end of line or closer is reported at the innermost
unclosed opener (E0002), which is where the mistake usually is. Parentheses never span lines
in resdsl, so a `(` still open at a newline is unclosed.

Guards (`check_depth`): the parser is iterative but everything after it (the transformer, the
evaluator, the code generator) recurses over the tree, so a tree deeper than `MAX_DEPTH` is
refused with E0006 before any of them runs. That keeps `((((...))))`, `- - - - x` and
`1 + 1 + ... + 1` inputs from ever reaching a RecursionError.
"""

from __future__ import annotations

import re

from lark import Lark, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

from resdsl.diagnostics import Diagnostic, Note, Span

MAX_DEPTH = 100  # parse-tree levels; real specs use about 15
MAX_ERRORS = 20  # syntax errors reported in one run, as the reporter's cap for the others

# Terminals that are patterns, described in words.
_WORDS = {
    "NAME": "a name",
    "CALL_NAME": "a block use such as `basic(64)`",
    "FUNC_CALL": "a function call such as `log2(c)`",
    "VALUE_CALL": "a norm such as `groupnorm(32)`",
    "INT": "an integer",
    "FLOAT": "a number",
    "NUMBER": "a number",
    "DIMS": "dimensions such as `3x224x224`",
    "_TIMES": "`x`",
    "_WITHIN": "`within`",
    "_WHEN": "`when`",
    "$END": "the end of the file",
}
# Tokens that start an expression, and tokens that continue one: each group is one phrase.
_VALUE_START = {"LPAR", "MINUS", "NAME", "FUNC_CALL", "VALUE_CALL", "INT", "FLOAT", "NUMBER", "TRUE", "FALSE", "ON", "OFF", "NOT", "DIMS"}
_OPERATORS = {"ADD_OP", "MUL_OP", "CMP_OP", "AND", "OR", "IF"}
_OPERATOR_TEXTS = {"=="}  # anonymous terminals (Lark names them __ANON_n): found by their text
_LINE_END = {"_NL", "SEMICOLON"}
_IGNORED = {"WS", "COMMENT"}
# Order of mention: what closes, what separates, then the rest alphabetically.
_FIRST = {"RPAR": 0, "RBRACE": 1, "COMMA": 2}

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


def expected_text(names, parser: Lark) -> str:
    """`{'RPAR', 'COMMA', 'ADD_OP', '_NL'}` -> "`)`, `,`, an operator or the end of the line"."""
    names = set(names) - _IGNORED
    phrases: list[str] = []
    for name in sorted(names & set(_FIRST), key=_FIRST.get):
        phrases.append(describe_terminal(name, parser))
    rest = names - set(_FIRST)
    value = {"NAME", "INT"} <= rest
    operators = _OPERATORS | {t.name for t in parser.terminals if t.pattern.type == "str" and t.pattern.value in _OPERATOR_TEXTS}
    operator = bool(rest & operators)
    line_end = bool(rest & _LINE_END)
    rest -= operators | _LINE_END | (_VALUE_START if value else set())
    phrases += sorted({describe_terminal(n, parser) for n in rest})
    if value:
        phrases.append("a value")
    if operator:
        phrases.append("an operator")
    if line_end:
        phrases.append("the end of the line")
    if not phrases:
        return ""
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + " or " + phrases[-1]


def _found_text(token) -> str:
    if token is None or token.type == "$END":
        return "end of file"
    if token.type == "_NL":
        return "end of line"
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


def _help(expected: str) -> str:
    return f"expected {expected}" if expected else ""


def _bad_character(err: UnexpectedCharacters, text: str, source: str, parser: Lark) -> Diagnostic:
    ch = text[err.pos_in_stream] if err.pos_in_stream < len(text) else ""
    shown = f"`{ch}`" if ch.isprintable() and ch != "`" else repr(ch)
    help = _help(expected_text(err.allowed or (), parser))
    if ch.isalnum() and not ch.isascii():
        help = "names use ASCII letters, digits and `_` only"
    elif ch in "\"'":
        help = "resdsl has no strings: write names and numbers without quotes"
    return Diagnostic("E0005", f"unexpected character {shown}", _span_at(text, source, err.pos_in_stream), label="not valid here", help=help)


def _unclosed_diagnostic(opener: tuple[str, int], found: str, text: str, source: str) -> Diagnostic:
    ch, where = opener
    place = "before the end of the line" if ch == "(" else "where it ends"
    return Diagnostic(
        "E0002",
        f"unclosed `{ch}`",
        _span_at(text, source, where),
        label=f"this `{ch}` is never closed",
        notes=(Note(f"found {found} first"),),
        help=f"add `{_CLOSERS[ch]}` {place}",
    )


def syntax_diagnostic(err: UnexpectedInput, text: str, source: str, parser: Lark) -> Diagnostic:
    """One located diagnostic for a parse failure."""
    if isinstance(err, UnexpectedCharacters):
        return _bad_character(err, text, source, parser)
    token = getattr(err, "token", None)
    at_end = isinstance(err, UnexpectedEOF) or token is None or token.type == "$END"
    pos = len(text) if at_end else token.start_pos
    opener = _unclosed(text, pos)
    found = _found_text(None if at_end else token)
    if opener and opener[0] == "(" and (at_end or token.type == "_NL" or str(token) == "}"):
        return _unclosed_diagnostic(opener, found, text, source)  # parentheses never span lines
    if opener and at_end:
        return _unclosed_diagnostic(opener, found, text, source)
    # `accepts` replays the parser, so it is exact; `expected` is the LALR state's wider set.
    accepted = set(getattr(err, "accepts", None) or getattr(err, "expected", None) or ())
    if at_end:
        lines = text.rstrip("\r\n").split("\n")
        span = Span(source, len(lines), len(lines[-1]) + 1, len(lines), len(lines[-1]) + 2)
        return Diagnostic("E0003", "unexpected end of file", span, help=_help(expected_text(accepted, parser)))
    return _unexpected_token(token, accepted, opener, text, source, parser)


def _unexpected_token(token, accepted: set, opener, text: str, source: str, parser: Lark) -> Diagnostic:
    """E0001 for a token the grammar does not allow here (an unmatched closer included)."""
    found = _found_text(token)
    span = Span(source, token.line, token.column, token.end_line or token.line, token.end_column or token.column + 1)
    if token.type == "_NL" or token.end_line != token.line:
        column = token.column - (token.type == "_NL" and text[token.start_pos - 1 : token.start_pos] == "\r")  # CRLF
        span = Span(source, token.line, column, token.line, column + 1)
    if str(token) in ")}" and (opener is None or _CLOSERS[opener[0]] != str(token)):
        opening = "(" if str(token) == ")" else "{"
        return Diagnostic("E0001", f"unmatched `{token}`", span, label=f"no `{opening}` is open here", help=f"remove it, or add the `{opening}` it closes")
    help = _help(expected_text(accepted, parser))
    if token.type == "NAME" and re.fullmatch(r"[x×][0-9]+", str(token)) and "_TIMES" in accepted:
        help = f"write `{str(token)[0]} {str(token)[1:]}` with a space: `{token}` reads as a name"
    notes = ()
    if opener and opener[0] == "(" and "RPAR" in accepted:
        notes = (Note("the `(` opened here is still open", _span_at(text, source, opener[1])),)
    return Diagnostic("E0001", f"unexpected {found}", span, label="not expected here", notes=notes, help=help)


def syntax_diagnostics(err: UnexpectedInput, text: str, source: str, parser: Lark, limit: int = 20) -> list[Diagnostic]:
    """The first parse failure and the independent ones after it, up to `limit`.

    Recovery is by lines, which suits a language whose statements never span lines: the line
    of a statement-local error (a bad token or character, a `(` left open) is blanked and the
    text parsed again. Errors that involve `{`/`}` or the end of the file stop the search,
    since what follows them would be reported out of context.
    """
    found = [syntax_diagnostic(err, text, source, parser)]
    while len(found) < limit and _line_local(found[-1], text):
        line = found[-1].span.line
        text = _blank_line(text, line)
        try:
            parser.parse(text)
            break
        except UnexpectedInput as again:
            diagnostic = syntax_diagnostic(again, text, source, parser)
        if diagnostic.span is None or diagnostic.span.line <= line:
            break  # no progress: the blanked line was not the whole story
        found.append(diagnostic)
    return found


def _line_local(diagnostic: Diagnostic, text: str) -> bool:
    if diagnostic.span is None or diagnostic.code not in ("E0001", "E0002", "E0005"):
        return False
    if diagnostic.code == "E0002" and diagnostic.message != "unclosed `(`":
        return False
    line = text.split("\n")[diagnostic.span.line - 1]
    return not re.search(r"[{}]", line.split("#", 1)[0])


def _blank_line(text: str, line: int) -> str:
    lines = text.split("\n")
    lines[line - 1] = " " * len(lines[line - 1].rstrip("\r")) + ("\r" if lines[line - 1].endswith("\r") else "")
    return "\n".join(lines)


def check_depth(tree: Tree, source: str) -> Diagnostic | None:
    """E0006 at the outermost subtree that goes past `MAX_DEPTH` levels, or None.

    Iterative on purpose: this runs before anything that recurses over the tree.
    """
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return _too_deep(node, source)
        stack.extend((c, depth + 1) for c in node.children if isinstance(c, Tree))
    return None


def check_parentheses(text: str, source: str) -> Diagnostic | None:
    """E0006 where parentheses nest past `MAX_DEPTH`, found before parsing.

    Bare parentheses make no tree node of their own, so `check_depth` cannot see them, and a
    million of them would keep the parser busy for seconds.
    """
    code = re.sub(r"#[^\n]*", "", text)  # comments end at their line: positions before them stay
    depth = 0
    for match in re.finditer(r"[()]", code):
        depth = depth + 1 if match.group() == "(" else max(0, depth - 1)
        if depth > MAX_DEPTH:
            line = code.count("\n", 0, match.start()) + 1
            column = match.start() - (code.rfind("\n", 0, match.start()) + 1) + 1
            return Diagnostic(
                "E0006",
                f"this is nested more than {MAX_DEPTH} levels deep",
                Span(source, line, column, line, column + 1),
                label="from here on",
                help="simplify the expression, or split it into `let` steps",
            )
    return None


def _too_deep(node: Tree, source: str) -> Diagnostic:
    meta = node.meta
    line, column = getattr(meta, "line", 1), getattr(meta, "column", 1)
    end_line, end_column = getattr(meta, "end_line", line), getattr(meta, "end_column", column + 1)
    return Diagnostic(
        "E0006",
        f"this is nested more than {MAX_DEPTH} levels deep",
        Span(source, line, column, end_line, end_column),
        label="from here on",
        help="simplify the expression, or split it into `let` steps",
    )


MAX_DIGITS = 30  # no size, count or expectation in a spec needs more; Python refuses ~4300


class LiteralError(Exception):
    """A literal the transformer cannot accept; carries its diagnostic out of Lark's visitor."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def number(text: str, span: Span) -> int | float:
    """The value of an INT, FLOAT or NUMBER token (`_` separators allowed); E0201 when too long."""
    digits = text.replace("_", "")
    if len(digits) > MAX_DIGITS:
        raise LiteralError(Diagnostic("E0201", f"this number has {len(digits)} characters; a spec may write at most {MAX_DIGITS}", span))
    if digits.isascii() and digits.isdigit():  # an integer, the common case
        return int(digits)
    value = float(digits) if any(c in digits for c in ".eE") else int(digits)
    if value == float("inf"):  # `1e400`: no size, count or percentage is past a float's range
        raise LiteralError(Diagnostic("E0201", "this number is too large", span, help="a number must be below 1.8e308"))
    return value
