"""Hover: Markdown for what is under the cursor, and the signature of a definition."""

from __future__ import annotations

from resdsl.frontend import layers
from resdsl.diagnostics import Span
from resdsl.ir.graph import value_node
from resdsl.ir.ops import fmt_shape
from resdsl.frontend.syntax import ast
from resdsl.tools.lsp.spec_text import (
    LOOP_DOC,
    USE_OPTIONS,
    Hit,
    errors_in,
    labelled,
    markdown_text,
    shortcut_kinds,
    show_value,
    text_of,
)


class HoverAnswers:
    """Hover answers, part of `resdsl.tools.lsp.document.Analysis` (its other methods give the facts)."""

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
        if hit.kind == "loop":
            return LOOP_DOC, hit.span
        text = self._statement_md(hit.defn, hit.stmt)
        return (text, hit.stmt.span) if text else None

    def _option_md(self, op: str, name: str) -> str:
        kind = layers.lookup(op)
        arg = kind.arg(name) if kind is not None else None
        if arg is None:
            return f"`{op}` has no option `{name}`"
        default = default_text(arg)
        return f"option `{name}` of `{kind.name}`" + (f" (default {default})" if default else "") + (f": {arg.doc}" if arg.doc else "")

    def _hover_definition(self, defn: ast.Definition) -> str:
        text = self._definition_md(defn)
        if defn.kind == "network":
            net = self.net
            if net is not None and net.graph.graph.get("network") == defn and not errors_in(self.diagnostics):
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
        elif labelled(defn.body, hit.name) is not None:  # a value: a label, maybe a tuple (`parts`, `convs`)
            return f"value of `{' '.join(text_of(labelled(defn.body, hit.name).span, self.lines).split())}`"
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


def _costs_line(shape, cost) -> str:
    return f"output `{fmt_shape(shape)}` · {cost.params:,} params · {cost.macs:,} MACs (conv+fc)"


class _At:
    """A stand-in statement for evaluating an option's default (it only needs a span)."""

    span = Span("<default>", 1, 1, 1, 1)


def default_text(arg: layers.Arg) -> str:
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
            default = default_text(arg)
            lines.append(f"- `{arg.name}`" + (f" (default {default})" if default else "") + (f": {arg.doc}" if arg.doc else ""))
    return "\n".join(lines)
