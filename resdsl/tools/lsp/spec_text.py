"""The words, spans and AST walks every answer about a `.res` document uses.

Keyword documentation, the prelude, positions inside spans, the names and expressions a
statement holds, Markdown escaping, and the records answers are made of (`Hit`, `Candidate`,
`Symbol`). Nothing here compiles a document; `resdsl.tools.lsp.document` does.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from resdsl.frontend import layers, resources
from resdsl.compiler import PRELUDE
from resdsl.diagnostics import Diagnostic, Span
from resdsl.frontend.syntax import ast
from resdsl.frontend.syntax.parser import parse


STATEMENT_KEYWORDS = {
    "input": "the network's input, C×H×W: `input 3x224x224`",
    "shortcut": "the network's shortcut policy: `shortcut B`",
    "let": "a named value: `let mid = width * 2`",
    "expect": "a checked expectation: `expect params == 25_557_032`, `expect shape layer3 == 64x8x8`",
}
DEFINITION_KEYWORDS = {
    "network": "network name(param = default, ...) { input CxHxW ... }",
    "block": "block name(param, ...) { ... add ... }",
    "shortcut": "shortcut name(...) { ... }: a shortcut branch a policy can name",
    "sequential": "sequential name(...) { ... }: layers numbered as nn.Sequential numbers them",
}
LOOP_DOC = (
    "`for i in a .. b { ... }`: the body once for each i from a to b - 1, unrolled when compiled; "
    "`convs[i]: conv ...` (or a block, `paths[i]: conv_norm_act(...)`) in it makes the ModuleList entries `convs.0`, `convs.1`, ..., "
    "and a value `let` is re-bound each round"
)
LAYER_REGISTRY = "resdsl/frontend/layers.py"  # the source name of spans into the layer kinds' declarations
USE_OPTIONS = {
    "stride": "the stage's stride, given to its first block",
    "shortcut": "this use's shortcut policy: A, B, C, identity or none",
    "names": "the stage's first block's name, the others counting up from its number: `names b1` (b1, b2, ...)",
    "from": "the value the block reads instead of the previous statement's: `from parts[i]`",
}


def shortcut_kinds() -> dict[str, str]:
    from resdsl.ir.policies import POLICIES

    return {name: p.doc for name, p in POLICIES.items()}


@functools.lru_cache(maxsize=4)
def _prelude_for(text: str) -> ast.Module:
    return parse(text, PRELUDE)


def prelude() -> tuple[ast.Module, str]:
    """The prelude's AST and text, parsed once (again only when the file changed)."""
    text = resources.prelude_path().read_text(encoding="utf-8")
    return _prelude_for(text), text


# --- positions ------------------------------------------------------------------------------------


def contains(span: Span | None, line: int, col: int) -> bool:
    """Whether (line, col) falls in `span`, its end included (a cursor right after a word)."""
    if span is None or line < span.line or line > span.end_line:
        return False
    if line == span.line and col < span.column:
        return False
    return not (line == span.end_line and col > span.end_column)


def _size(span: Span) -> tuple[int, int]:
    return (span.end_line - span.line, span.end_column - span.column)


def text_of(span: Span, lines: list[str]) -> str:
    """The source text a span covers (its lines joined by newlines)."""
    if not 1 <= span.line <= len(lines):
        return ""
    if span.line == span.end_line:
        return lines[span.line - 1][span.column - 1 : span.end_column - 1]
    parts = [lines[span.line - 1][span.column - 1 :]]
    parts += lines[span.line : span.end_line - 1]
    if span.end_line <= len(lines):
        parts.append(lines[span.end_line - 1][: span.end_column - 1])
    return "\n".join(parts)


# --- the AST, walked ------------------------------------------------------------------------------


def names_in(expr) -> list[ast.Name]:
    """Every `Name` in an expression (or a tuple of them), in source order."""
    out: list[ast.Name] = []
    stack = [expr]
    while stack:
        e = stack.pop()
        if e is None:
            continue
        if isinstance(e, tuple):
            stack.extend(reversed(e))
        elif isinstance(e, ast.Name):
            out.append(e)
        elif isinstance(e, ast.BinOp):
            stack += [e.right, e.left]
        elif isinstance(e, ast.UnaryOp):
            stack.append(e.operand)
        elif isinstance(e, ast.IfExp):
            stack += [e.other, e.cond, e.then]
        elif isinstance(e, ast.Call):
            stack.extend(reversed(e.args))
        elif isinstance(e, ast.Dims):
            stack.extend(reversed(e.items))
        elif isinstance(e, ast.Index):  # `parts[i]`
            stack += [e.index, e.base]
    return out


def expressions_of(stmt: ast.Statement) -> list:
    """The expressions a statement is written with (arguments, option values, guards)."""
    if isinstance(stmt, ast.Layer):
        return [*stmt.args, *(o.value for o in stmt.options), stmt.guard]
    if isinstance(stmt, ast.BlockUse):
        return [*stmt.args, *(k.value for k in stmt.kwargs), stmt.repeat, *(o.value for o in stmt.options), stmt.guard]
    if isinstance(stmt, ast.Let):
        return [stmt.value]
    if isinstance(stmt, ast.Input):
        return [stmt.dims]
    if isinstance(stmt, ast.ExpectMetric):
        return [stmt.value, stmt.when]
    if isinstance(stmt, ast.ExpectShape):
        return [stmt.dims, stmt.when]
    return []


def labelled(body, name: str) -> ast.Statement | None:
    """The statement labelled `name` in a body or its `for` loops, or a value `let` in a loop."""
    for stmt in body:
        if getattr(stmt, "label", None) == name:
            return stmt
        if isinstance(stmt, ast.For):
            found = next((s for s in stmt.body if isinstance(s, ast.Let) and s.name == name), None) or labelled(stmt.body, name)
            if found is not None:
                return found
    return None


_LET = re.compile(r"let\s+([A-Za-z_][A-Za-z0-9_]*)")


def let_name_span(stmt: ast.Let, lines: list[str]) -> Span:
    """The span of the name a `let` binds (the AST keeps only the statement's)."""
    line = lines[stmt.span.line - 1] if stmt.span.line <= len(lines) else ""
    match = _LET.match(line, stmt.span.column - 1)
    if match is None:
        return stmt.span
    return Span(stmt.span.source, stmt.span.line, match.start(1) + 1, stmt.span.line, match.end(1) + 1)


def show_value(value, grouped: bool = False) -> str:
    """A value as the language writes it (`true`, `64`, `0.5`); `grouped`: `25,557,032`."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}" if grouped else str(value)
    return f"{value:g}"


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~&$])")


def markdown_text(text: str) -> str:
    """Free text (a doc comment) as Markdown that shows it literally: no markup, no HTML."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def registry_span(name: str) -> Span | None:
    """Where a layer kind is declared in the registry (`resdsl/frontend/layers.py`), or None."""
    text = registry_text()
    found = re.search(r'LayerKind\(\s*"' + re.escape(name) + '"', text)
    if found is None:
        return None
    start = found.end() - len(name) - 1
    line = text.count("\n", 0, start) + 1
    col = start - (text.rfind("\n", 0, start) + 1) + 1
    return Span(LAYER_REGISTRY, line, col, line, col + len(name))


@functools.lru_cache(maxsize=1)
def registry_text() -> str:
    return layers.__spec__.loader.get_source(layers.__name__) or ""


@dataclass
class Hit:
    """What the cursor is on. `kind`: definition | param | block | name | let | path | shortcut |
    layer_kind | option | use_option | statement."""

    kind: str
    span: Span
    defn: ast.Definition | None
    stmt: ast.Statement | None = None
    name: str = ""


@dataclass
class Candidate:
    """A completion item. `kind`: layer | block | option | keyword | shortcut | variable | parameter | value."""

    label: str
    kind: str
    detail: str = ""
    documentation: str = ""
    insert_text: str | None = None
    snippet: str | None = None  # the insert text as an LSP snippet, for clients that take them


@dataclass
class Symbol:
    name: str
    kind: str  # network | block | stage | layer | let
    detail: str
    span: Span
    selection: Span
    children: list["Symbol"] = field(default_factory=list)


@dataclass
class UnitFacts:
    """One instance of a statement in the IR: where, its output shape and its costs."""

    where: str
    shape: tuple | None
    cost: object  # passes.count_costs.Cost
    nodes: list = field(default_factory=list)


def errors_in(diagnostics) -> list[Diagnostic]:
    """The diagnostics that are not warnings."""
    return [d for d in diagnostics if d.severity != "warning"]
