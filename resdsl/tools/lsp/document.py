"""What an editor asks about one `.res` document, answered in resdsl's terms.

`analyze(text, source)` compiles the text once (the compiler caches the prelude's parse) and
returns an `Analysis`; its methods answer hover, go-to-definition, completion and outline
questions at a position given as resdsl spans give them: 1-based line, 1-based column counted
in characters. Nothing here imports an LSP library; `resdsl.tools.lsp.server` converts. The answers live in
one module each (`hover`, `goto`, `completion`, `outline`), mixed into `Analysis`; what they
share is in `spec_text`.

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

from resdsl.compiler import PRELUDE, Network, compile_text
from resdsl.diagnostics import Diagnostic, ResdslError, Span
from resdsl.ir.expressions import evaluate
from resdsl.tools.lsp.positions import LineIndex, LineMap
from resdsl.frontend.syntax import ast
from resdsl.frontend.syntax.reader import parse_bounded
from resdsl.tools.lsp.spec_text import (  # Candidate, Symbol, text_of: the server's and tests' names
    LAYER_REGISTRY,
    Candidate,
    Hit,
    Symbol,
    UnitFacts,
    contains,
    expressions_of,
    let_name_span,
    names_in,
    prelude,
    registry_text,
    text_of,
)
from resdsl.tools.lsp.completion import CompletionAnswers
from resdsl.tools.lsp.goto import DefinitionAnswers
from resdsl.tools.lsp.hover import HoverAnswers
from resdsl.tools.lsp.outline import OutlineAnswers

log = logging.getLogger("resdsl.tools.lsp")


class Analysis(HoverAnswers, DefinitionAnswers, CompletionAnswers, OutlineAnswers):
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
        if isinstance(stmt, ast.For):
            return self._in_loop(defn, stmt, line, col)
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

    def _in_loop(self, defn: ast.Definition, stmt: ast.For, line: int, col: int) -> Hit:
        """A statement of a `for` body, a name in its bounds, or the loop itself."""
        for inner in stmt.body:
            if contains(inner.span, line, col):
                return self._in_statement(defn, inner, line, col)
        for name in names_in((stmt.start, stmt.stop)):
            if contains(name.span, line, col):
                return Hit("name", name.span, defn, stmt, name.id)
        return Hit("loop", stmt.span, defn, stmt, stmt.var)

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

    def units(self, defn: ast.Definition, stmt: ast.Statement) -> list[UnitFacts]:
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
                out.append(UnitFacts(stage.name, g.nodes[last.output]["shape"], cost))
            elif isinstance(stmt, ast.BlockUse):
                depth = 2 if stmt.label_index is not None else 1  # a `for` loop's block: `paths.0`, `paths.1`, ... each
                for info in (b for b in g.graph["blocks"].values() if b.span == stmt.span and tuple(b.path.split("."))[:-depth] == scope and b.stage is None):
                    row = self.rows.get(info.path)
                    cost = row.cost if row is not None else self._cost_of(self._under(info.path))
                    out.append(UnitFacts(info.path, g.nodes[info.output]["shape"], cost))
            elif isinstance(stmt, ast.Layer):
                nodes = [n for n in self._by_span.get(stmt.span, ()) if tuple(g.nodes[n]["scope"]) == scope]
                if not nodes:
                    continue
                own = [n for n in nodes if not g.nodes[n]["origin"]] or nodes
                last = max(own, key=lambda n: g.nodes[n]["order"])
                out.append(UnitFacts(where, g.nodes[last]["shape"], self._cost_of(nodes), nodes))
        return out


@functools.lru_cache(maxsize=2)
def _index(text: str) -> LineIndex:
    return LineIndex(text)


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
            parse_bounded(text, source)  # the size limits hold for a file of blocks too
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
