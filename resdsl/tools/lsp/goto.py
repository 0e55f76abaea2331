"""Go to definition: where a name, a block, a label or a layer kind under the cursor is declared."""

from __future__ import annotations

from resdsl.frontend import layers
from resdsl.diagnostics import Span
from resdsl.frontend.syntax import ast
from resdsl.tools.lsp.spec_text import let_name_span, registry_span


class DefinitionAnswers:
    """Go-to-definition answers, part of `resdsl.tools.lsp.document.Analysis`."""

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
