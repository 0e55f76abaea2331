"""The outline: the document's definitions and their statements as nested symbols."""

from __future__ import annotations

from resdsl.diagnostics import Span
from resdsl.tools.lsp.positions import LineMap
from resdsl.frontend.syntax import ast
from resdsl.tools.lsp.spec_text import Symbol, let_name_span, text_of


class OutlineAnswers:
    """Outline answers, part of `resdsl.tools.lsp.document.Analysis`."""

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
