"""Completion: the keywords, layers, options, blocks and names that may follow the cursor."""

from __future__ import annotations

import re

from resdsl.frontend import layers
from resdsl.frontend.syntax import ast
from resdsl.tools.lsp.spec_text import (
    STATEMENT_KEYWORDS,
    DEFINITION_KEYWORDS,
    USE_OPTIONS,
    shortcut_kinds,
    Candidate,
)
from resdsl.tools.lsp.hover import default_text, layer_doc


class CompletionAnswers:
    """Completion answers, part of `resdsl.tools.lsp.document.Analysis`."""

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
            items = self._names(enclosing, line)
            if defn is not None:
                items = [Candidate(p.name, "parameter", self.signature(defn), insert_text=f"{p.name} = ") for p in defn.params] + items
            return items
        statement = re.match(r"\s*(?:[A-Za-z_][A-Za-z0-9_]*\s*:\s*)?(?P<head>[A-Za-z_][A-Za-z0-9_]*(?P<call>\()?)?", code)
        head = statement["head"] if statement else None
        if head is None or statement.end() == len(code):
            return self._statement_starts(bool(statement and ":" in code))
        if statement["call"]:  # after a block use's `)`: its options
            return [Candidate(k, "option", v, insert_text=f"{k} ") for k, v in USE_OPTIONS.items()] + self._names(enclosing, line)
        kind = layers.lookup(head)
        option = re.search(r",\s*([A-Za-z_][A-Za-z0-9_]*)\s+[A-Za-z_]*$", code)
        if kind is not None and option and getattr(kind.arg(option[1]), "type", "") == "bool":
            return [Candidate("on", "value"), Candidate("off", "value")]
        if kind is not None and re.search(r",\s*[A-Za-z_]*$", code):
            return [_option_candidate(kind, arg) for arg in kind.options] + self._names(enclosing, line)
        return self._names(enclosing, line)

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

    def _names(self, enclosing: ast.Definition | None, line: int) -> list[Candidate]:
        """The names an expression may read at `line`: the parameters, the `let`s, the labels of
        earlier statements (values for `from`, `sum`, `concat`), and inside a `for` body its index
        and its own lets and labels."""
        if enclosing is None:
            return []
        items = [Candidate(p.name, "variable", f"parameter of {enclosing.kind} {enclosing.name}") for p in enclosing.params]
        return items + _body_names(enclosing.body, line)

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


def _body_names(body: tuple, line: int) -> list[Candidate]:
    items, seen = [], set()

    def add(candidate: Candidate) -> None:
        if candidate.label not in seen:  # a name bound twice (`let sp` in a loop) is offered once
            seen.add(candidate.label)
            items.append(candidate)

    for s in body:
        if isinstance(s, ast.Let):
            add(Candidate(s.name, "variable", "let"))
        elif isinstance(s, ast.For) and s.span.line <= line <= s.span.end_line:
            add(Candidate(s.var, "variable", "loop index"))
            for candidate in _body_names(s.body, line):
                add(candidate)
        elif isinstance(s, ast.For) and s.span.end_line < line:
            for candidate in _body_names(s.body, line):  # its indexed labels are tuples after it
                if candidate.kind == "value":
                    add(candidate)
        elif getattr(s, "label", None) and s.span.end_line < line:
            indexed = getattr(s, "label_index", None) is not None
            add(Candidate(s.label, "value", "value (one per loop index)" if indexed else "value"))
    return items


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


def _layer_candidate(kind: layers.LayerKind) -> Candidate:
    options = ", ".join(a.name for a in kind.options)
    detail = kind.doc + (f" (options: {options})" if options else "")
    return Candidate(kind.name, "layer", detail, layer_doc(kind), insert_text=f"{kind.name} " if kind.positional else kind.name)


def _option_candidate(kind: layers.LayerKind, arg: layers.Arg) -> Candidate:
    default = default_text(arg)
    detail = f"{kind.name} option" + (f", default {default}" if default else "")
    return Candidate(arg.name, "option", detail, arg.doc, insert_text=f"{arg.name} ")
