"""Syntax tree -> the IR's checked definitions (`resdsl.ir.definitions`).

Each definition is lowered once, from its plan (`resdsl.frontend.plan`: statements bound,
expanded into units and named), so the names a back end writes are the elaborator's IR node
names. The pass `resdsl.passes.lower_definitions` stores them in the graph for the back ends.

Invariant: whatever a step says about its statement (a residual add, the arguments read as
operands, whether a `let` binds a tensor) is decided here, with the front end's own rules,
and nowhere after.
"""

from __future__ import annotations

import functools

from resdsl.frontend import layers
from resdsl.frontend.loops import is_value_expr
from resdsl.frontend.plan import is_residual_add, loop_body, plan
from resdsl.frontend.syntax import ast
from resdsl.ir.definitions import Definition, Loop, Param, Step


@functools.lru_cache(maxsize=1024)
def lower(definition: ast.Definition, loop_body_of: ast.For | None = None) -> Definition:
    """`definition` lowered: its unique parameters and a step per statement a back end builds
    (inputs, policies and expectations have none). `loop_body_of`: the `for` statement whose body
    `definition` is. Cached per definition, as its plan is."""
    steps, values = [], {"input"}
    for item in plan(definition).items:
        step = _step(item, definition, values, loop_body_of is not None)
        if step is None:
            continue
        steps.append(step)
        if step.label:
            values.add(step.label)
        if step.value_let:
            values.add(step.name)
        if step.loop is not None:
            values |= {s.label for s in step.loop.body.steps if s.label} | {s.name for s in step.loop.body.steps if s.name}
    params = tuple(Param(p.name, p.default) for p in definition.unique_params())
    return Definition(definition.kind, definition.name, definition.span, params, tuple(steps))


def _step(item, definition: ast.Definition, values: set, in_loop: bool) -> Step | None:
    stmt = item.stmt
    if isinstance(stmt, ast.Layer):
        if item.kind is None:  # an unknown op: `check` reported it
            return None
        kind = item.kind
        return Step(
            "layer", item.names, item.units, item.args, stmt.label, stmt.label_index, stmt.guard,
            reads=kind.reads,
            gathers=kind.positional[-1].name if layers.gathers(kind) else None,
            residual_add=is_residual_add(item),
            expressions=stmt.args + tuple(o.value for o in stmt.options),
        )
    if isinstance(stmt, ast.BlockUse):
        return Step(
            "use", item.names, label=stmt.label, label_index=stmt.label_index, guard=stmt.guard, repeat=stmt.repeat,
            source=next((o.value for o in stmt.options if o.name == "from"), None),
            block=stmt.block,
            expressions=tuple(o.value for o in stmt.options),
        )
    if isinstance(stmt, ast.Let):
        # inside a loop every `let` binds a value (a number `let` there is an error at check)
        value_let = in_loop or is_value_expr(stmt.value, values)
        return Step("let", name=stmt.name, value=stmt.value, value_let=value_let, expressions=(stmt.value,))
    if isinstance(stmt, ast.For):
        body = lower(loop_body(stmt, definition), stmt)
        return Step("for", loop=Loop(stmt.var, stmt.start, stmt.stop, body))
    return None  # input, shortcut policy, expect: nothing a back end builds
