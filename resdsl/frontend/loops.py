"""Several values at once in a body: `for` loops, indexed labels, tuples, value `let`s.

The elaborator calls these for the statements of Language 3 (see docs/language.md):

- `for i in a .. b { ... }` runs its body for i = a .. b - 1 at compile time. Every node made
  in an iteration is named with the index: `convs[i]: conv ...` makes `convs.0`, `bns.0`, ...
  (the entries of ModuleLists, numbered by the round from 0: `convs[i]` in a loop from 0);
  any other name `n` of the body becomes `n.r` for round r. Loops do not nest.
- A value is one node id or a tuple of them: `parts: split 4` binds `parts` to its four
  `part` nodes, and an indexed label collects its entries (`convs` reads them in index order).
- `parts[i]` reads one entry of a tuple; `let v = a + b` binds a value (an `add` node), and
  `let v = a if cond else b` chooses one at compile time. A value `let` inside a loop is
  re-bound by each iteration (Res2Net's `sp`).
"""

from __future__ import annotations

from dataclasses import replace

from resdsl.diagnostics import Diagnostic
from resdsl.frontend import layers
from resdsl.frontend.plan import loop_body, plan
from resdsl.frontend.syntax import ast
from resdsl.ir.graph import add_node
from resdsl.ir.ops import OPS


class Entries(dict):
    """An indexed label's entries so far: index -> node id; read whole, in index order."""

    def values_in_order(self) -> tuple[str, ...]:
        return tuple(self[k] for k in sorted(self))


def _names_in(expr) -> set[str]:
    if isinstance(expr, ast.Name):
        return {expr.id}
    if isinstance(expr, ast.Index):
        return {expr.base.id}
    if isinstance(expr, ast.BinOp):
        return _names_in(expr.left) | _names_in(expr.right)
    if isinstance(expr, ast.IfExp):
        return _names_in(expr.then) | _names_in(expr.other)
    return set()


def is_value_expr(expr: ast.Expr, values: dict) -> bool:
    """Whether a `let` binds a value (it reads a label, a tuple entry or `input`), not a number."""
    return isinstance(expr, ast.Index) or bool(_names_in(expr) & set(values))


def _whole(value) -> str | tuple:
    return value.values_in_order() if isinstance(value, Entries) else value


def read(el, expr, values: dict, env: dict, single: bool = True):
    """The value an expression names: a node id, or (with `single` false) a tuple of them."""
    if isinstance(expr, ast.Index):
        whole = _whole(read(el, expr.base, values, env, single=False))
        i = el.eval_int(expr.index, env, "an index", None)
        if isinstance(whole, str):
            el.fail("E0212", f"`{expr.base.id}` is one value; it has no entries to index", expr.span)
        if not 0 <= i < len(whole):
            el.fail("E0212", f"index {i} is out of range: `{expr.base.id}` has {len(whole)} values (0 .. {len(whole) - 1})", expr.index.span)
        return whole[i]
    value = _whole(el.resolve(expr, values))
    if single and isinstance(value, tuple):
        el.fail("E0213", f"`{expr.id}` is {len(value)} values; this reads one", expr.span, help=f"read one of them: `{expr.id}[0]`")
    return value


def gathered(el, kind: layers.LayerKind, args: dict, values: dict, env: dict) -> tuple[str, ...]:
    """The operands of a `concat` or `sum`: its values, each tuple flattened; () for other kinds."""
    if not layers.gathers(kind):
        return ()
    out: list[str] = []
    for expr in args[kind.positional[-1].name]:
        value = read(el, expr, values, env, single=False)
        out.extend(value if isinstance(value, tuple) else (value,))
    return tuple(out)


def make_parts(el, node: str, scope: tuple, frame) -> None:
    """After a tuple-valued node (a `split`): its `part` nodes, `node.0` .. `node.{n-1}`."""
    data = el.g.nodes[node]
    count = OPS[data["op"]].parts
    if count is None:
        return
    n = count(data["params"])
    ids = []
    for i in range(n):
        ids.append(add_node(el.g, f"{node}.{i}", "part", (node,), {"index": i, "parts": n}, span=data["span"], site=el.site, scope=scope))
        if frame:
            frame.info.nodes.append(ids[-1])
    el.tuples[node] = tuple(ids)


def statement_value(el, cursor: str):
    """What a statement's label names: its last node, or the parts of a split."""
    return getattr(el, "tuples", {}).get(cursor, cursor)


def value_let(el, stmt: ast.Let, scope: tuple, env: dict, values: dict, suffix: str) -> None:
    """`let v = <value expression>`: binds `v` (an `add` node where it adds)."""
    values[stmt.name] = _value(el, stmt.value, stmt, scope, env, values, f"{stmt.name}{suffix}")


def _value(el, expr, stmt, scope, env, values, name):
    if isinstance(expr, ast.IfExp):
        return _value(el, expr.then if el.guard(expr.cond, env) else expr.other, stmt, scope, env, values, name)
    if isinstance(expr, ast.BinOp) and expr.op == "+":
        left = _value(el, expr.left, stmt, scope, env, values, name)
        right = _value(el, expr.right, stmt, scope, env, values, name)
        node = ".".join((*scope, name))
        return add_node(el.g, node, "add", (left, right), {}, span=stmt.span, site=el.site, scope=scope)
    if isinstance(expr, (ast.Name, ast.Index)):
        return read(el, expr, values, env, single=False)
    el.fail("E0115", "a value `let` reads values (`v`, `parts[i]`), adds them with `+` and chooses with `if`", expr.span)


def block_input(el, stmt: ast.BlockUse, values: dict, env: dict, cursor: str) -> str:
    """What a block use reads: its `from` value (`from parts[i]`), else the previous statement's."""
    source = next((o.value for o in stmt.options if o.name == "from"), None)
    if source is not None and not isinstance(source, (ast.Name, ast.Index)):
        el.fail("E0115", "`from` takes the name of a value (a label, `input` or `parts[i]`)", source.span, help="choose one with a value `let`: `let v = a if cond else b`")
    return cursor if source is None else read(el, source, values, env)


def _check_use_in_loop(el, use: ast.BlockUse, stmt: ast.For) -> None:
    """A block in a `for` body makes one ModuleList entry per round: `paths[i]: block(...)`."""
    if use.repeat is not None:
        el.fail("E0114", "a stage cannot repeat inside a `for` loop; the loop makes the copies", use.repeat.span,
                help=f"write `{use.label or 'blocks'}[{stmt.var}]: {use.block}(...)` and let the loop run the rounds")
    if use.label_index is None:
        el.fail("E0114", "a block used in a `for` body needs an indexed label: each round makes one ModuleList entry", use.label_span or use.block_span,
                help=f"write `{use.label or 'blocks'}[{stmt.var}]: {use.block}(...)`")


def run_for(el, stmt: ast.For, defn, scope: tuple, env: dict, cursor: str, frame, values: dict) -> str:
    if defn.kind != "block" or frame is None:
        el.fail("E0114", "a `for` loop belongs in a `block`", stmt.span, help="a network or sequential body is one path of layers")
    if stmt.var in env or stmt.var in values:
        el.fail("E0105", f"`{stmt.var}` is already defined", stmt.var_span, help="choose another name for the loop's index")
    start = el.eval_int(stmt.start, env, "a loop bound", None)
    stop = el.eval_int(stmt.stop, env, "a loop bound", None)
    if stop - start > el.limits.max_nodes:
        el.fail("E0301", f"this loop runs {stop - start:,} times, past the limit of {el.limits.max_nodes:,} layers", stmt.stop.span)
    body = plan(loop_body(stmt, defn))
    for problem in body.problems:
        el.report(problem)
    if body.problems:
        return cursor
    el.loops += 1
    try:
        for k in range(start, stop):
            cursor = _iteration(el, body, k, start, stmt, defn, scope, dict(env) | {stmt.var: k}, cursor, frame, values)
    finally:
        el.loops -= 1
    return cursor


def _iteration(el, body, k, start, stmt, defn, scope, env, cursor, frame, values) -> str:
    for item in body.items:
        inner = item.stmt
        if isinstance(inner, ast.Let) and is_value_expr(inner.value, values):
            value_let(el, inner, scope, env, values, f".{k}")
            continue
        if isinstance(inner, ast.Let):
            el.fail("E0114", "a number `let` belongs before the loop; inside it, `let` binds values", inner.span)
        if isinstance(inner, ast.BlockUse):
            _check_use_in_loop(el, inner, stmt)
        if isinstance(inner, ast.For):
            el.fail("E0114", "`for` loops do not nest", inner.span, help="write the inner loop's rounds out, or use a block")
        round_ = k - start
        index = round_ if getattr(inner, "label_index", None) is None else el.eval_int(inner.label_index, env, "an index", 0)
        if index != round_:  # the entries are a ModuleList's, in the order the rounds make them
            el.fail("E0212", f"`{inner.label}[...]` numbers the loop's rounds from 0: this round is {round_}, the index {index}", inner.label_index.span,
                    help=f"write `{inner.label}[{stmt.var}]` for a loop from 0, or `{inner.label}[{stmt.var} - start]`")
        renamed = replace(item, names=tuple(f"{n}.{index}" for n in item.names))
        cursor = el.statement(renamed, defn, scope, env, cursor, frame, values)
        rounds = el.g.graph.setdefault("rounds", {})  # ModuleList path -> its entries, for check_rounds
        for name in item.names:
            node = ".".join((*scope, f"{name}.{index}"))
            if node in el.g:
                rounds.setdefault(".".join((*scope, name)), []).append(node)
        label = getattr(inner, "label", None)
        if label and inner.label_index is not None:
            entries = values.get(label)
            if not isinstance(entries, Entries):
                entries = values[label] = Entries()
            entries[index] = statement_value(el, cursor)
        elif label:
            values[label] = statement_value(el, cursor)
    return cursor
