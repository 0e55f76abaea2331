"""What an editor asks about one `.res` document, answered in resdsl's terms.

`analyze(text, source)` compiles the text once (the compiler caches the prelude's parse) and
returns an `Analysis`; its methods answer hover, go-to-definition, completion and outline
questions at a position given as resdsl spans give them: 1-based line, 1-based column counted
in characters. Nothing here imports an LSP library; `resdsl.tools.lsp.server` converts.

Invariants:
- Diagnostics are exactly what `compile_text(..., keep_going=True)` reports: the CLI's codes,
  messages and spans (plus the errors the CLI's `keep_going=False` run would stop before).
- Costs shown for a stage or block come from `resdsl.analysis.summary_tree` (the rows `resdsl
  summary` prints); a statement that is no row of its own (a layer) sums `node_cost` of its IR
  nodes, which is how the summary's layer rows are made.
- IR nodes are found by their `span` (the statement that wrote them) and `scope` (the block
  instance they sit in); network-level statements are their own `site`.
- Nothing raises for a broken document: every question has an empty answer instead.
- While the text does not parse, hover, go-to-definition and the outline answer from the last
  analysis whose text parsed (`last_good`), for the lines outside the edited region
  (`positions.LineMap`); spans are mapped back to the current text's lines.
- Text from the user that is not code (doc comments) is escaped before it goes into Markdown.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field

from resdsl.frontend import layers, resources
from resdsl.compiler import PRELUDE, Network, compile_text
from resdsl.diagnostics import Diagnostic, ResdslError, Span
from resdsl.frontend.expressions import evaluate
from resdsl.ir.graph import value_node
from resdsl.tools.lsp.positions import LineIndex, LineMap
from resdsl.ir.ops import fmt_shape
from resdsl.frontend.syntax import ast
from resdsl.frontend.syntax.parser import parse
from resdsl.frontend.syntax.reader import parse_bounded

log = logging.getLogger("resdsl.tools.lsp")

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
LAYER_REGISTRY = "resdsl/frontend/layers.py"  # the source name of spans into the layer kinds' declarations
USE_OPTIONS = {
    "stride": "the stage's stride, given to its first block",
    "shortcut": "this use's shortcut policy: A, B, C, identity or none",
    "names": "the stage's first block's name, the others counting up from its number: `names b1` (b1, b2, ...)",
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
    """A completion item. `kind`: layer | block | option | keyword | shortcut | variable | parameter."""

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
class _Unit:
    """One instance of a statement in the IR: where, its output shape and its costs."""

    where: str
    shape: tuple | None
    cost: object  # passes.count_costs.Cost
    nodes: list = field(default_factory=list)


# --- the analysis ---------------------------------------------------------------------------------


class Analysis:
    """One document's compile result and the questions asked about it."""

    def __init__(
        self,
        text: str,
        source: str,
        net: Network | None,
        diagnostics: tuple[Diagnostic, ...],
        *,
        internal_error: str = "",
        library: bool = False,
        previous: "Analysis | None" = None,
    ):
        self.text = text
        self.source = source
        self.net = net
        self.diagnostics = diagnostics
        self.internal_error = internal_error
        self.library = library
        self.lines = text.split("\n")
        # The latest analysis whose text parsed: it answers while this text does not.
        parsed = net is not None or not any(d.code.startswith("E00") or d.code == "E0301" for d in diagnostics)
        self.last_good: Analysis | None = self if parsed else previous.last_good if previous is not None else None

    @functools.cached_property
    def index(self) -> LineIndex:
        return LineIndex(self.text)

    @functools.cached_property
    def _fallback(self) -> "tuple[Analysis, LineMap] | None":
        """The last good analysis and how its lines map to this text's (None when this parses)."""
        good = self.last_good
        if good is None or good is self or self.module is not None:
            return None
        return good, LineMap(good.lines, self.lines)

    def _to_current(self, span: Span, lines: LineMap) -> Span | None:
        """A span of the last good text on this text's lines; None where its start was edited."""
        if span.source != self.source:
            return span
        start, end = lines.to_new(span.line), lines.to_new(span.end_line)
        if start is None:
            return None
        if end is None:  # the end line was edited: the span stops at the end of its start line
            end, end_col = start, len(self.lines[start - 1]) + 1 if start <= len(self.lines) else 1
        else:
            end_col = span.end_column
        return Span(span.source, start, span.column, end, end_col)

    # -- what the document defines -----------------------------------------------------------------

    @functools.cached_property
    def module(self) -> ast.Module | None:
        """This text's AST, or None when it does not parse (parsed on first use, not per keystroke)."""
        try:
            return parse_bounded(self.text, self.source)
        except ResdslError:
            return None
        except Exception:  # noqa: BLE001 - a parser bug must not take the server down
            log.exception("parsing %s failed", self.source)
            return None

    @functools.cached_property
    def known_module(self) -> ast.Module | None:
        """This text's AST, or the last one that parsed (for names while the user types)."""
        if self.module is not None or self.last_good is None or self.last_good is self:
            return self.module
        return self.last_good.module

    @functools.cached_property
    def definitions(self) -> dict[str, ast.Definition]:
        """Usable definitions by name: the prelude's, shadowed by this document's."""
        table: dict[str, ast.Definition] = {}
        if not self.library:
            table.update({d.name: d for d in prelude()[0].blocks()})
        module = self.known_module
        if module is not None:
            own: dict[str, ast.Definition] = {}
            for d in module.blocks():
                own.setdefault(d.name, d)  # the first definition wins, as in the compiler
            table.update(own)
        return table

    def network_def(self) -> ast.Definition | None:
        module = self.module
        networks = module.networks() if module is not None else ()
        return networks[0] if networks else None

    def lines_of(self, source: str) -> list[str]:
        if source == self.source:
            return self.lines
        if source == PRELUDE:
            return prelude()[1].split("\n")
        if source == LAYER_REGISTRY:
            return registry_text().split("\n")
        return []

    def index_of(self, source: str) -> LineIndex | None:
        """The line index of a text spans may point into (this document, the prelude, the registry)."""
        if source == self.source:
            return self.index
        if source == PRELUDE:
            return _index(prelude()[1])
        if source == LAYER_REGISTRY:
            return _index(registry_text())
        return None

    # -- finding what is under the cursor --------------------------------------------------------------

    def find(self, line: int, col: int) -> Hit | None:
        module = self.module
        if module is None:
            return None
        for defn in module.definitions:
            if not contains(defn.span, line, col):
                continue
            if contains(defn.name_span, line, col):
                return Hit("definition", defn.name_span, defn, name=defn.name)
            for p in defn.params:
                if contains(p.span, line, col):
                    return Hit("param", p.span, defn, name=p.name)
                for name in names_in(p.default):
                    if contains(name.span, line, col):
                        return Hit("name", name.span, defn, name=name.id)
            for stmt in defn.body:
                if contains(stmt.span, line, col):
                    return self._in_statement(defn, stmt, line, col)
            return None
        return None

    def _in_statement(self, defn: ast.Definition, stmt: ast.Statement, line: int, col: int) -> Hit:
        if isinstance(stmt, ast.Let):
            span = let_name_span(stmt, self.lines)
            if contains(span, line, col):
                return Hit("let", span, defn, stmt, stmt.name)
        if isinstance(stmt, ast.BlockUse) and contains(stmt.block_span, line, col):
            return Hit("block", stmt.block_span, defn, stmt, stmt.block)
        if isinstance(stmt, ast.ShortcutPolicy) and contains(stmt.kind_span, line, col):
            return Hit("shortcut", stmt.kind_span, defn, stmt, stmt.kind)
        if isinstance(stmt, ast.ExpectShape) and contains(stmt.path_span, line, col):
            return Hit("path", stmt.path_span, defn, stmt, stmt.path)
        if isinstance(stmt, ast.Layer) and contains(stmt.op_span, line, col):
            return Hit("layer_kind", stmt.op_span, defn, stmt, stmt.op)
        for opt in getattr(stmt, "options", ()):
            if opt.name == "shortcut" and isinstance(opt.value, ast.Name) and contains(opt.value.span, line, col):
                return Hit("shortcut", opt.value.span, defn, stmt, opt.value.id)
            if contains(opt.name_span, line, col):
                return Hit("option" if isinstance(stmt, ast.Layer) else "use_option", opt.name_span, defn, stmt, opt.name)
        for expr in expressions_of(stmt):
            for name in names_in(expr):
                if contains(name.span, line, col):
                    return Hit("name", name.span, defn, stmt, name.id)
        return Hit("statement", stmt.span, defn, stmt)

    # -- values --------------------------------------------------------------------------------------

    def _env(self, defn: ast.Definition, start: dict) -> dict:
        env = dict(start)
        for stmt in defn.body:
            if isinstance(stmt, ast.Let) and stmt.name not in env:
                try:
                    env[stmt.name] = evaluate(stmt.value, env)
                except Exception:  # noqa: BLE001 - an error the diagnostics already show
                    pass
        return env

    @functools.cached_property
    def network_env(self) -> dict:
        """The network's parameters as bound (defaults, or what the compile used) and its lets."""
        net_def = self.network_def()
        if net_def is None:
            return {}
        if self.net is not None and self.net.graph.graph.get("network") == net_def:
            start = dict(self.net.graph.graph["params"])
        else:
            start = {}
            for p in net_def.params:
                try:
                    start[p.name] = evaluate(p.default, start)
                except Exception:  # noqa: BLE001 - no default, or a bad one: unknown here
                    pass
        return self._env(net_def, start)

    def instances(self, defn: ast.Definition) -> list:
        """The `BlockInfo`s the network instantiated from this (document) definition."""
        if self.net is None or defn.kind == "network":
            return []
        g = self.net.graph
        used = g.graph.get("definitions", {}).get(defn.name)
        if used is None or used.name_span != defn.name_span:
            return []
        return [info for info in g.graph["blocks"].values() if info.definition == defn.name]

    def values_of(self, defn: ast.Definition, name: str) -> list[tuple[object, list[str]]]:
        """(value, where) pairs for a name in a definition: one per distinct value."""
        if defn.kind == "network":
            env = self.network_env
            return [(env[name], [])] if name in env else []
        groups: dict = {}
        for info in self.instances(defn):
            env = self._env(defn, info.args)
            if name in env:
                key = (type(env[name]), env[name])
                groups.setdefault(key, (env[name], []))[1].append(info.path)
        return list(groups.values())

    # -- the IR, indexed -------------------------------------------------------------------------------

    @functools.cached_property
    def _by_span(self) -> dict:
        index: dict = {}
        if self.net is not None:
            g = self.net.graph
            for node, data in g.nodes(data=True):
                index.setdefault(data.get("span"), []).append(node)
            for block in g.graph["blocks"].values():  # an inserted shortcut belongs to its add
                if block.add is not None and block.shortcut_nodes:
                    index.setdefault(g.nodes[block.add]["span"], []).extend(block.shortcut_nodes)
        return index

    @functools.cached_property
    def rows(self) -> dict:
        """Summary rows of stages and (unfolded) blocks by name, as `resdsl summary` makes them."""
        if self.net is None:
            return {}
        try:
            from resdsl.analysis.summary_tree import summarize

            root = summarize(self.net)
        except Exception:  # noqa: BLE001 - a network with errors may have no summary
            log.debug("no summary for %s", self.source, exc_info=True)
            return {}
        out = {}
        stack = [root]
        while stack:
            row = stack.pop()
            if row.kind in ("stage", "block") and row.count == 1:
                out[row.name] = row
            stack.extend(row.children)
        return out

    def _cost_of(self, nodes) -> object:
        from resdsl.passes.count_costs import Cost, node_cost

        total = Cost()
        g = self.net.graph
        for node in nodes:
            try:
                total = total + node_cost(g.nodes[node])
            except KeyError:  # costs not counted: an earlier pass stopped
                pass
        return total

    def _under(self, path: str) -> list[str]:
        parts = tuple(path.split("."))
        return [n for n, d in self.net.graph.nodes(data=True) if tuple(d["scope"][: len(parts)]) == parts]

    def units(self, defn: ast.Definition, stmt: ast.Statement) -> list[_Unit]:
        """Each instance of a statement in the IR, with its output shape and costs."""
        if self.net is None:
            return []
        scopes = [()] if defn.kind == "network" else [tuple(info.path.split(".")) for info in self.instances(defn)]
        g = self.net.graph
        out = []
        for scope in scopes:
            where = ".".join(scope)
            if isinstance(stmt, ast.BlockUse) and stmt.repeat is not None:
                stage = next((s for s in g.graph["stages"] if s.span == stmt.span and tuple(s.scope) == scope), None)
                if stage is None or not stage.blocks:
                    continue
                row = self.rows.get(stage.name)
                last = g.graph["blocks"][stage.blocks[-1]]
                cost = row.cost if row is not None else self._cost_of(self._under(stage.name))
                out.append(_Unit(stage.name, g.nodes[last.output]["shape"], cost))
            elif isinstance(stmt, ast.BlockUse):
                info = next(
                    (b for b in g.graph["blocks"].values() if b.span == stmt.span and tuple(b.path.split("."))[:-1] == scope and b.stage is None),
                    None,
                )
                if info is None:
                    continue
                row = self.rows.get(info.path)
                cost = row.cost if row is not None else self._cost_of(self._under(info.path))
                out.append(_Unit(info.path, g.nodes[info.output]["shape"], cost))
            elif isinstance(stmt, ast.Layer):
                nodes = [n for n in self._by_span.get(stmt.span, ()) if tuple(g.nodes[n]["scope"]) == scope]
                if not nodes:
                    continue
                own = [n for n in nodes if not g.nodes[n]["origin"]] or nodes
                last = max(own, key=lambda n: g.nodes[n]["order"])
                out.append(_Unit(where, g.nodes[last]["shape"], self._cost_of(nodes), nodes))
        return out

    # -- hover -----------------------------------------------------------------------------------------

    def signature(self, defn: ast.Definition) -> str:
        lines = self.lines_of(defn.name_span.source)
        params = []
        for p in defn.params:
            if p.default is None:
                params.append(p.name)
            else:
                params.append(f"{p.name} = {text_of(p.default.span, lines) or '…'}")
        return f"{defn.kind} {defn.name}({', '.join(params)})"

    def _defined_at(self, defn: ast.Definition) -> str:
        span = defn.name_span
        where = f"line {span.line}" if span.source == self.source else f"{span.source}:{span.line}"
        comment = []
        lines = self.lines_of(span.source)
        i = defn.span.line - 2
        while 0 <= i < len(lines) and lines[i].lstrip().startswith("#"):
            comment.insert(0, lines[i].lstrip()[1:].strip())
            i -= 1
        text = f"defined at {where}"
        return text + ("\n\n" + markdown_text(" ".join(comment)) if comment else "")

    def _definition_md(self, defn: ast.Definition) -> str:
        return f"```resdsl\n{self.signature(defn)}\n```\n{self._defined_at(defn)}"

    def hover(self, line: int, col: int) -> tuple[str, Span] | None:
        """Markdown for what is under the cursor, and the span it describes."""
        fallback = self._fallback
        if fallback is not None:
            good, lines = fallback
            old = lines.to_old(line)
            found = good.hover(old, col) if old is not None else None
            span = self._to_current(found[1], lines) if found is not None else None
            return (found[0], span) if span is not None else None
        hit = self.find(line, col)
        if hit is None:
            return None
        if hit.kind == "layer_kind":
            kind = layers.lookup(hit.name)
            info = self._statement_md(hit.defn, hit.stmt)
            head = layer_doc(kind) if kind is not None else f"unknown layer kind `{hit.name}`"
            return head + (f"\n\n---\n\n{info}" if info else ""), hit.span
        if hit.kind == "option":
            return self._option_md(hit.stmt.op, hit.name), hit.span
        if hit.kind == "use_option":
            doc = USE_OPTIONS.get(hit.name)
            return (f"option `{hit.name}`: {doc}" if doc else f"a block use has no option `{hit.name}`"), hit.span
        if hit.kind == "definition":
            return self._hover_definition(hit.defn), hit.span
        if hit.kind == "block":
            defn = self.definitions.get(hit.name)
            head = self._definition_md(defn) if defn else f"unknown block `{hit.name}`"
            info = self._statement_md(hit.defn, hit.stmt)
            return head + (f"\n\n---\n\n{info}" if info else ""), hit.span
        if hit.kind in ("param", "let", "name"):
            return self._value_md(hit), hit.span
        if hit.kind == "shortcut":
            kinds = shortcut_kinds()
            if hit.name in kinds:
                return f"shortcut `{hit.name}`: {kinds[hit.name]}", hit.span
            defn = self.definitions.get(hit.name)
            return (self._definition_md(defn) if defn else f"unknown shortcut kind `{hit.name}`"), hit.span
        if hit.kind == "path":
            return self._path_md(hit.name), hit.span
        text = self._statement_md(hit.defn, hit.stmt)
        return (text, hit.stmt.span) if text else None

    def _option_md(self, op: str, name: str) -> str:
        kind = layers.lookup(op)
        arg = kind.arg(name) if kind is not None else None
        if arg is None:
            return f"`{op}` has no option `{name}`"
        default = _default_text(arg)
        return f"option `{name}` of `{kind.name}`" + (f" (default {default})" if default else "") + (f": {arg.doc}" if arg.doc else "")

    def _hover_definition(self, defn: ast.Definition) -> str:
        text = self._definition_md(defn)
        if defn.kind == "network":
            net = self.net
            if net is not None and net.graph.graph.get("network") == defn and not _errors(self.diagnostics):
                text += f"\n\ninput `{fmt_shape(net.input_shape)}` → output `{fmt_shape(net.output_shape)}` · {net.params:,} params · {net.macs:,} MACs (conv+fc)"
            return text
        used = self.instances(defn)
        if used:
            shown = ", ".join(info.path for info in used[:6]) + (f", … ({len(used)} in all)" if len(used) > 6 else "")
            text += f"\n\nused {len(used)} time{'s' if len(used) != 1 else ''}: {shown}"
        elif self.net is not None:
            text += "\n\nnot used by the network"
        return text

    def _value_md(self, hit: Hit) -> str:
        defn = hit.defn
        param = next((p for p in defn.params if p.name == hit.name), None)
        let = next((s for s in defn.body if isinstance(s, ast.Let) and s.name == hit.name), None)
        if param is not None:
            lines = self.lines_of(defn.name_span.source)
            default = f" = {text_of(param.default.span, lines)}" if param.default is not None else ""
            head = f"parameter `{param.name}{default}` of {defn.kind} `{defn.name}`"
        elif let is not None:
            head = f"`let {let.name} = {text_of(let.value.span, self.lines)}`"
        else:
            return f"unknown name `{hit.name}`"
        values = self.values_of(defn, hit.name)
        if not values:
            return head
        if defn.kind == "network":
            return f"{head}\n\nvalue: `{show_value(values[0][0])}`"
        parts = []
        for value, paths in values[:8]:
            where = ", ".join(paths[:4]) + (f", … ({len(paths)} blocks)" if len(paths) > 4 else "")
            parts.append(f"- `{show_value(value)}` in {where}")
        more = f"\n- … {len(values) - 8} more values" if len(values) > 8 else ""
        return f"{head}\n\nvalues:\n" + "\n".join(parts) + more

    def _path_md(self, path: str) -> str:
        if self.net is None:
            return f"`{path}`"
        g = self.net.graph
        shape = None
        node = value_node(g, path)
        if node is None:
            return f"unknown label `{path}`"
        shape = g.nodes[node]["shape"]
        return f"`{path}`: output `{fmt_shape(shape)}`"

    def _statement_md(self, defn: ast.Definition, stmt: ast.Statement) -> str:
        if isinstance(stmt, ast.Let):
            return self._value_md(Hit("let", stmt.span, defn, stmt, stmt.name))
        if isinstance(stmt, ast.Input):
            shape = self.net.input_shape if self.net is not None else None
            return f"input `{fmt_shape(shape)}`" if shape else "the network's input"
        if isinstance(stmt, ast.ShortcutPolicy):
            return f"shortcut `{stmt.kind}`: {shortcut_kinds().get(stmt.kind, 'unknown kind')}"
        if isinstance(stmt, ast.ExpectMetric):
            return self._expect_md(stmt)
        if isinstance(stmt, ast.ExpectShape):
            return self._path_md(stmt.path)
        if not isinstance(stmt, (ast.Layer, ast.BlockUse)):
            return ""
        title = self._title(defn, stmt)
        if self.net is None:
            return f"{title}\n\nno shapes or costs: the spec does not compile yet"
        units = self.units(defn, stmt)
        if not units:
            if defn.kind != "network" and not self.instances(defn):
                return f"{title}\n\n`{defn.name}` is not used by the network"
            return f"{title}\n\nnot in the network here (a `when` guard is false, or an error stopped it)"
        if defn.kind == "network" or len(units) == 1:
            unit = units[0]
            body = _costs_line(unit.shape, unit.cost)
            if isinstance(stmt, ast.Layer) and unit.nodes:
                g = self.net.graph
                body += "\n\nnodes: " + ", ".join(f"`{n}` ({g.nodes[n]['op']})" for n in unit.nodes)
            if defn.kind != "network":
                body = f"in `{unit.where}`: {body}"
            return f"{title}\n\n{body}"
        groups: dict = {}
        for unit in units:
            groups.setdefault((unit.shape, unit.cost), []).append(unit.where)
        parts = []
        for (shape, cost), paths in list(groups.items())[:8]:
            where = ", ".join(paths[:3]) + (f", … ({len(paths)} blocks)" if len(paths) > 3 else "")
            parts.append(f"- {where}: {_costs_line(shape, cost)}")
        more = f"\n- … {len(groups) - 8} more" if len(groups) > 8 else ""
        return f"{title}\n\nin {len(units)} blocks:\n" + "\n".join(parts) + more

    def _title(self, defn: ast.Definition, stmt) -> str:
        source = " ".join(text_of(stmt.span, self.lines).split())
        if isinstance(stmt, ast.BlockUse) and stmt.repeat is not None:
            what = "stage"
        elif isinstance(stmt, ast.BlockUse):
            what = "block"
        else:
            what = "layer"
        return f"{what} `{source}`"

    def _expect_md(self, stmt: ast.ExpectMetric) -> str:
        if self.net is None:
            return f"expectation on `{stmt.metric}`"
        try:
            from resdsl.passes.check_expectations import METRICS

            metric = METRICS.get(stmt.metric)
            actual = metric(self.net.graph) if metric is not None else None
        except Exception:  # noqa: BLE001 - costs may be missing in a broken network
            actual = None
        if actual is None:
            return f"expectation on `{stmt.metric}`"
        return f"`{stmt.metric}` is `{show_value(actual, grouped=True)}` here"

    # -- go to definition ------------------------------------------------------------------------------

    def definition(self, line: int, col: int) -> list[Span]:
        fallback = self._fallback
        if fallback is not None:
            good, lines = fallback
            old = lines.to_old(line)
            spans = good.definition(old, col) if old is not None else []
            return [m for m in (self._to_current(s, lines) for s in spans) if m is not None]
        hit = self.find(line, col)
        if hit is None:
            return []
        if hit.kind in ("layer_kind", "option"):
            kind = layers.lookup(hit.stmt.op)
            span = registry_span(kind.name) if kind is not None else None
            return [span] if span is not None else []
        if hit.kind == "block":
            defn = self.definitions.get(hit.name)
            return [defn.name_span] if defn is not None else []
        if hit.kind == "shortcut":
            defn = self.definitions.get(hit.name)
            return [defn.name_span] if defn is not None and defn.kind == "shortcut" else []
        if hit.kind == "definition":
            return [hit.span]
        if hit.kind in ("name", "let", "param"):
            span = self._binding(hit.defn, hit.name)
            return [span] if span is not None else []
        if hit.kind == "path":
            return self._label(hit.name, hit.span)
        return []

    def _binding(self, defn: ast.Definition, name: str) -> Span | None:
        for stmt in defn.body:
            if isinstance(stmt, ast.Let) and stmt.name == name:
                return let_name_span(stmt, self.lines_of(stmt.span.source))
        for p in defn.params:
            if p.name == name:
                return p.span
        return None

    def _label(self, path: str, at: Span) -> list[Span]:
        """The statement an `expect shape` path names: `layer2`, `layer2.0.conv1`, `fc`."""
        from resdsl.frontend.plan import plan

        defn = self.network_def()
        parts = [p for p in path.split(".") if not p.isdigit()]
        found: Span | None = None
        while defn is not None and parts:
            name = parts.pop(0)
            try:
                items = plan(defn).items
            except Exception:  # noqa: BLE001 - a body that does not plan: no answer
                return []
            item = next((i for i in items if name in i.names or getattr(i.stmt, "label", None) == name), None)
            if item is None:
                break
            stmt = item.stmt
            if isinstance(stmt, ast.BlockUse) and parts and any(o.name == "names" for o in stmt.options):
                parts.pop(0)  # a named stage's block (`s1.b1`), as a numbered one's index above
            found = stmt.label_span or getattr(stmt, "block_span", None) or getattr(stmt, "op_span", None) or stmt.span
            defn = self.definitions.get(stmt.block) if isinstance(stmt, ast.BlockUse) else None
        return [found] if found is not None else []

    # -- completion --------------------------------------------------------------------------------------

    def completion(self, line: int, col: int) -> list[Candidate]:
        text = self.lines[line - 1] if 1 <= line <= len(self.lines) else ""
        prefix = text[: col - 1]
        code = prefix.split("#", 1)[0]
        if len(code) < len(prefix):
            return []  # in a comment
        depth, enclosing = self._enclosing(line, col)
        if depth == 0:
            return [Candidate(k, "keyword", v) for k, v in DEFINITION_KEYWORDS.items()]
        if re.search(r"(?:^|[\s,])shortcut\s+[A-Za-z_]*$", code):
            kinds = [Candidate(k, "shortcut", v) for k, v in shortcut_kinds().items()]
            own = [Candidate(d.name, "shortcut", self.signature(d)) for d in self.definitions.values() if d.kind == "shortcut"]
            return kinds + own
        call = _open_call(code)
        if call is not None:
            defn = self.definitions.get(call)
            items = self._names(enclosing)
            if defn is not None:
                items = [Candidate(p.name, "parameter", self.signature(defn), insert_text=f"{p.name} = ") for p in defn.params] + items
            return items
        statement = re.match(r"\s*(?:[A-Za-z_][A-Za-z0-9_]*\s*:\s*)?(?P<head>[A-Za-z_][A-Za-z0-9_]*(?P<call>\()?)?", code)
        head = statement["head"] if statement else None
        if head is None or statement.end() == len(code):
            return self._statement_starts(bool(statement and ":" in code))
        if statement["call"]:  # after a block use's `)`: its options
            return [Candidate(k, "option", v, insert_text=f"{k} ") for k, v in USE_OPTIONS.items()] + self._names(enclosing)
        kind = layers.lookup(head)
        option = re.search(r",\s*([A-Za-z_][A-Za-z0-9_]*)\s+[A-Za-z_]*$", code)
        if kind is not None and option and getattr(kind.arg(option[1]), "type", "") == "bool":
            return [Candidate("on", "value"), Candidate("off", "value")]
        if kind is not None and re.search(r",\s*[A-Za-z_]*$", code):
            return [_option_candidate(kind, arg) for arg in kind.options] + self._names(enclosing)
        return self._names(enclosing)

    def _statement_starts(self, labelled: bool) -> list[Candidate]:
        items = [_layer_candidate(kind) for kind in layers.LAYER_KINDS.values()]
        for name, target in layers.ALIASES.items():
            items.append(Candidate(name, "layer", f"same as `{target}`", layer_doc(layers.LAYER_KINDS[target])))
        for defn in self.definitions.values():
            items.append(self._block_candidate(defn))
        if not labelled:
            items += [Candidate(k, "keyword", v) for k, v in STATEMENT_KEYWORDS.items()]
        return items

    def _block_candidate(self, defn: ast.Definition) -> Candidate:
        required = [p.name for p in defn.params if p.default is None]
        snippet = f"{defn.name}(" + ", ".join(f"${{{i}:{name}}}" for i, name in enumerate(required, 1)) + ")$0"
        return Candidate(defn.name, "block", self.signature(defn), self._defined_at(defn), insert_text=f"{defn.name}(", snippet=snippet)

    def _names(self, enclosing: ast.Definition | None) -> list[Candidate]:
        if enclosing is None:
            return []
        items = [Candidate(p.name, "variable", f"parameter of {enclosing.kind} {enclosing.name}") for p in enclosing.params]
        items += [Candidate(s.name, "variable", "let") for s in enclosing.body if isinstance(s, ast.Let)]
        return items

    def _enclosing(self, line: int, col: int) -> tuple[int, ast.Definition | None]:
        """Brace depth at the cursor and the definition around it (from the last AST that parsed)."""
        depth = 0
        header = None
        for i, text in enumerate(self.lines[:line]):
            if i == line - 1:
                text = text[: col - 1]
            text = text.split("#", 1)[0]
            if depth == 0:
                match = re.match(r"\s*(network|block|shortcut|sequential)\s+([A-Za-z_][A-Za-z0-9_]*)", text)
                if match:
                    header = match[2]
            depth = max(0, depth + text.count("{") - text.count("}"))
        module = self.known_module
        enclosing = None
        if module is not None and header is not None:
            enclosing = next((d for d in module.definitions if d.name == header), None)
        return depth, enclosing

    # -- outline -------------------------------------------------------------------------------------

    def symbols(self) -> list[Symbol]:
        fallback = self._fallback
        if fallback is not None:
            good, lines = fallback
            return [m for m in (self._symbol_to_current(sym, lines) for sym in good.symbols()) if m is not None]
        module = self.module
        if module is None:
            return []
        from resdsl.frontend.plan import plan

        out = []
        for defn in module.definitions:
            kind = "network" if defn.kind == "network" else "block"
            symbol = Symbol(defn.name, kind, self.signature(defn), defn.span, defn.name_span)
            try:
                names = [item.names for item in plan(defn).items]  # one item per statement, in order
            except Exception:  # noqa: BLE001 - unplannable body: statements keep their labels
                names = []
            for i, stmt in enumerate(defn.body):
                child = self._statement_symbol(stmt, names[i] if i < len(names) else [])
                if child is not None:
                    symbol.children.append(child)
            out.append(symbol)
        return out

    def _symbol_to_current(self, symbol: Symbol, lines: LineMap) -> Symbol | None:
        """A symbol of the last good text on this text's lines; None where its name was edited."""
        selection = self._to_current(symbol.selection, lines)
        if selection is None:
            return None
        end = symbol.span.end_line
        while end > symbol.span.line and lines.to_new(end) is None:
            end -= 1  # the body's end was edited: the symbol ends at its last line that was not
        span = self._to_current(Span(symbol.span.source, symbol.span.line, symbol.span.column, end, symbol.span.end_column if end == symbol.span.end_line else 10**6), lines)
        if span is None:
            return None
        if span.end_line <= len(self.lines):  # a column past the line's end: its end
            span = Span(span.source, span.line, span.column, span.end_line, min(span.end_column, len(self.lines[span.end_line - 1]) + 1))
        children = [m for m in (self._symbol_to_current(c, lines) for c in symbol.children) if m is not None]
        return Symbol(symbol.name, symbol.kind, symbol.detail, span, selection, children)

    def _statement_symbol(self, stmt: ast.Statement, names: list[str]) -> Symbol | None:
        detail = " ".join(text_of(stmt.span, self.lines).split())
        if isinstance(stmt, ast.Let):
            return Symbol(stmt.name, "let", detail, stmt.span, let_name_span(stmt, self.lines))
        if isinstance(stmt, ast.BlockUse):
            kind = "stage" if stmt.repeat is not None else "block_use"
            name = stmt.label or (names[0] if names else stmt.block)
            return Symbol(name, kind, detail, stmt.span, stmt.label_span or stmt.block_span)
        if isinstance(stmt, ast.Layer):
            name = stmt.label or next((n for n in names if n), stmt.op)
            return Symbol(name, "layer", detail, stmt.span, stmt.label_span or stmt.op_span)
        return None


@functools.lru_cache(maxsize=2)
def _index(text: str) -> LineIndex:
    return LineIndex(text)


def _errors(diagnostics) -> list[Diagnostic]:
    return [d for d in diagnostics if d.severity != "warning"]


def _costs_line(shape, cost) -> str:
    return f"output `{fmt_shape(shape)}` · {cost.params:,} params · {cost.macs:,} MACs (conv+fc)"


def _open_call(code: str) -> str | None:
    """The block whose argument list the cursor is in (`bottleneck(64, gr` -> "bottleneck")."""
    depth = 0
    for i in range(len(code) - 1, -1, -1):
        ch = code[i]
        if ch == ")":
            depth += 1
        elif ch == "(":
            if depth == 0:
                match = re.search(r"([A-Za-z_][A-Za-z0-9_]*)$", code[:i])
                return match[1] if match else None
            depth -= 1
    return None


class _At:
    """A stand-in statement for evaluating an option's default (it only needs a span)."""

    span = Span("<default>", 1, 1, 1, 1)


def _default_text(arg: layers.Arg) -> str:
    if arg.default is None:
        return ""
    try:
        value = arg.default({}, _At())
    except Exception:  # noqa: BLE001 - a default that depends on other arguments
        return "computed"
    if isinstance(value, tuple):
        value = value[0] if value else None
    if isinstance(value, ast.Literal):
        if isinstance(value.value, bool):
            return "on" if value.value else "off"
        return str(value.value)
    return "computed" if value is not None else ""


def layer_doc(kind: layers.LayerKind) -> str:
    """Markdown: what a layer kind does, an example, and its options with defaults."""
    usage = " ".join([kind.name, ", ".join(a.name.upper() for a in kind.positional)]).strip()
    lines = [f"`{usage}`", "", kind.doc]
    if kind.example:
        lines += ["", f"e.g. `{kind.example}`"]
    if kind.options:
        lines += ["", "options:"]
        for arg in kind.options:
            default = _default_text(arg)
            lines.append(f"- `{arg.name}`" + (f" (default {default})" if default else "") + (f": {arg.doc}" if arg.doc else ""))
    return "\n".join(lines)


def _layer_candidate(kind: layers.LayerKind) -> Candidate:
    options = ", ".join(a.name for a in kind.options)
    detail = kind.doc + (f" (options: {options})" if options else "")
    return Candidate(kind.name, "layer", detail, layer_doc(kind), insert_text=f"{kind.name} " if kind.positional else kind.name)


def _option_candidate(kind: layers.LayerKind, arg: layers.Arg) -> Candidate:
    default = _default_text(arg)
    detail = f"{kind.name} option" + (f", default {default}" if default else "")
    return Candidate(arg.name, "option", detail, arg.doc, insert_text=f"{arg.name} ")


# --- entry point ------------------------------------------------------------------------------------


def analyze(text: str, source: str = "<spec>", *, library: bool = False, previous: Analysis | None = None) -> Analysis:
    """Compile `text` (named `source` in spans) and wrap the result; never raises.

    `library`: the text is a file of blocks (the prelude itself), checked for syntax only.
    `previous`: the document's last analysis, whose AST names blocks while the text is broken.
    """
    net = None
    internal = ""
    try:
        if library:
            parse(text, source)
            diagnostics: tuple = ()
        else:
            net = compile_text(text, source, keep_going=True)
            diagnostics = tuple(net.diagnostics)
    except ResdslError as err:
        diagnostics = tuple(err.diagnostics)
    except Exception as err:  # noqa: BLE001 - a compiler bug: report it, keep serving
        log.exception("internal error while checking %s", source)
        diagnostics = ()
        internal = f"{type(err).__name__}: {err}"
    return Analysis(text, source, net, diagnostics, internal_error=internal, library=library, previous=previous)
