"""Elaboration: AST -> IR. Binds parameters, instantiates blocks, expands repeats.

Invariants of the graph it returns (see `resdsl.ir.graph`): nodes are created in program order;
every block with an `add` has its add's operands as (branch, block input); no shapes yet.
User mistakes are reported to the `Reporter` with the location in the user's spec; a mistake
inside a block definition from another file (the prelude) is located at the statement of the
user's spec that used it, with a note pointing into the definition.
"""

from __future__ import annotations

import math

import networkx as nx

from resdsl.frontend import layers, loops, wording
from resdsl.ir import layer_values
from resdsl.diagnostics import Diagnostic, Limits, Note, Reporter, Span, did_you_mean, relocate, short_number
from resdsl.ir.expressions import EvalError, Value, evaluate, kind_of
from resdsl.ir.graph import add_node, join_path, new_graph
from resdsl.ir.ops import GUARDED_OFF
from resdsl.ir.policies import POLICIES
from resdsl.frontend.plan import is_residual_add, plan
from resdsl.frontend.syntax import ast
from resdsl.frontend.block_uses import Abort, BlockUses, Frame

MAX_INT = 2**31 - 1  # the largest size, stride or channel count a spec may give (PyTorch's int32)

_FAILED = "$failed"  # env key (not a name a spec can write): lets whose value was an error


class Elaborator(BlockUses):
    """AST -> IR for one network: binds its parameters, elaborates its body statement by
    statement, and instantiates blocks (`BlockUses`) with a `Frame` per block being built."""

    def __init__(self, definitions: dict[str, ast.Definition], reporter: Reporter, main_source: str, limits: Limits):
        self.definitions = definitions
        self.reporter = reporter
        self.main_source = main_source
        self.limits = limits
        self.g: nx.DiGraph | None = None
        self.stack: list[str] = []  # names of the blocks being instantiated, outermost first
        self.paths: list[str] = []  # and their paths
        self.site: Span | None = None
        self.tuples: dict[str, tuple[str, ...]] = {}  # a tuple-valued node (a split) -> its parts
        self.loops = 0  # `for` loops being unrolled

    # --- reporting -----------------------------------------------------------------------

    def report(self, diag: Diagnostic) -> None:
        """Report, relocating a span outside the user's file to the user's statement."""
        where, definition = (self.paths[-1], self.stack[-1]) if self.stack else ("", "")
        self.reporter.report(relocate(diag, self.main_source, self.site, where, definition))

    def fail(self, code: str, message: str, span: Span | None, **kw) -> None:
        self.report(Diagnostic(code, message, span, **kw))
        raise Abort

    def eval(self, expr: ast.Expr, env: dict) -> Value:
        try:
            return evaluate(expr, env)
        except EvalError as err:
            if err.code == "E0107" and err.name in env.get(_FAILED, ()):
                raise Abort from None  # its `let` failed and was reported: no second error
            self.fail(err.code, err.message, err.span, help=err.help)

    def eval_int(self, expr: ast.Expr, env: dict, what: str, minimum: int | None = None, maximum: int | None = MAX_INT) -> int:
        """An integer in [minimum, maximum]; `maximum` keeps sizes within what PyTorch takes."""
        value = self.eval(expr, env)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail("E0115", f"{what} must be an integer, got {wording.show(value)}", expr.span)
        if minimum is not None and value < minimum:
            adjective = "positive" if minimum == 1 else f"at least {minimum}"
            self.fail("E0201", f"{what} must be {adjective}, got {short_number(value)}", expr.span)
        if maximum is not None and value > maximum:
            self.fail("E0201", f"{what} must be at most {maximum:,}, got {short_number(value)}", expr.span)
        return value

    # --- networks ------------------------------------------------------------------------

    def network(self, net: ast.Definition, overrides: dict[str, Value]) -> nx.DiGraph:
        g = self.g = new_graph(net.name)
        g.graph["network"] = net
        env = self.bind_network_params(net, overrides)
        g.graph["params"] = dict(env)
        inputs = [s for s in net.body if isinstance(s, ast.Input)]
        policies = [s for s in net.body if isinstance(s, ast.ShortcutPolicy)]
        for extra in inputs[1:]:
            self.report(Diagnostic("E0105", "`input` given twice", extra.span, notes=(Note("first given here", inputs[0].span),)))
        for extra in policies[1:]:
            self.report(Diagnostic("E0105", "`shortcut` given twice", extra.span, notes=(Note("first given here", policies[0].span),)))
        if policies:
            g.graph["policy"] = self.policy(policies[0].kind, policies[0].kind_span) or "B"
        if not inputs:
            self.report(
                Diagnostic("E0113", f"network `{net.name}` has no `input`", net.name_span, help="add a line such as `input 3x224x224`")
            )
            self.reporter.check()
        shape = self.input_shape(inputs[0], env)
        g.graph["input_shape"] = shape
        cursor = add_node(g, "input", "input", (), {"shape": shape}, span=inputs[0].span, site=inputs[0].span)
        self.net_blocks = self._count_blocks(net, env)
        self.net_index = 0
        cursor = self.body(net, (), env, cursor, None)
        g.graph["output"] = cursor
        return g

    def _residual(self, stmt: ast.BlockUse) -> bool:
        """Whether a block use counts for `net_index` and `net_blocks`: a block whose body has the
        residual `add` (timm's stochastic-depth rule counts residual blocks, not a deep stem)."""
        defn = self.definitions.get(stmt.block)
        return defn is not None and any(is_residual_add(item) for item in plan(defn).items)

    def _count_blocks(self, net: ast.Definition, env: dict) -> int:
        """The network's top-level residual blocks, for `net_blocks`; a failing count is reported later."""
        env, total = dict(env), 0
        for stmt in net.body:
            try:
                if isinstance(stmt, ast.Let) and stmt.name not in env:
                    env[stmt.name] = evaluate(stmt.value, env)
                elif isinstance(stmt, ast.BlockUse) and self._residual(stmt):
                    repeat = 1 if stmt.repeat is None else evaluate(stmt.repeat, env)
                    total += repeat if isinstance(repeat, int) and not isinstance(repeat, bool) and repeat > 0 else 0
            except EvalError:
                continue
        return total

    def bind_network_params(self, net: ast.Definition, overrides: dict[str, Value]) -> dict:
        env: dict[str, Value] = {}
        declared = {p.name: p for p in net.params}
        for name in overrides:
            if name not in declared:
                self.report(
                    Diagnostic(
                        "E0103",
                        f"network `{net.name}` has no parameter `{name}`",
                        net.name_span,
                        label="set from outside",
                        help=did_you_mean(name, declared) or f"its parameters are {', '.join(declared) or 'none'}",
                    )
                )
        for p in self._unique_params(net):
            default = None
            if p.default is not None:
                try:
                    default = self.eval(p.default, env)
                except Abort:
                    continue
            if p.name in overrides:
                if not self._override_ok(p, overrides[p.name], default):
                    continue
                env[p.name] = overrides[p.name]
            elif default is None:
                self.report(Diagnostic("E0109", f"network parameter `{p.name}` has no default and was not set", p.span, help=f"pass --set {p.name}=VALUE"))
            else:
                env[p.name] = default
        self.reporter.check()
        return env

    def _override_ok(self, p: ast.Param, value, default: Value | None) -> bool:
        """A value set from outside (`--set`, keyword of `load`) must be of its default's kind."""
        problem = ""
        if not isinstance(value, (bool, int, float, layer_values.LayerValue)):
            problem = f"parameter `{p.name}` takes an integer, a number, `true` or `false`, but was set to {type(value).__name__} {value!r}"
        elif isinstance(value, float) and not math.isfinite(value):
            problem = f"parameter `{p.name}` was set to {value}, which is not a finite number"
        elif default is not None and kind_of(value) != kind_of(default) and not (kind_of(default) == "number" and kind_of(value) == "int"):
            problem = f"parameter `{p.name}` takes {wording.article(kind_of(default))}, got {wording.show(value)}"
        if problem:
            self.report(Diagnostic("E0115", problem, p.span, label="declared here"))
        return not problem

    def _unique_params(self, defn: ast.Definition) -> tuple[ast.Param, ...]:
        """`defn.unique_params()`, reporting each repeated name (E0105)."""
        first = {p.name: p for p in reversed(defn.params)}
        for p in defn.params:
            if first[p.name] is not p:
                self.report(Diagnostic("E0105", f"duplicate parameter `{p.name}`", p.span, notes=(Note("first declared here", first[p.name].span),)))
        return defn.unique_params()

    def input_shape(self, stmt: ast.Input, env: dict) -> tuple[int, int, int]:
        try:
            if len(stmt.dims.items) != 3:
                self.fail("E0115", f"`input` takes C×H×W, got {len(stmt.dims.items)} sizes", stmt.dims.span, help="for example: input 3x224x224")
            return tuple(self.eval_int(e, env, "an input size", 1) for e in stmt.dims.items)
        except Abort:
            self.reporter.check()
            raise

    def policy(self, kind: str, span: Span) -> str | None:
        if kind in POLICIES:  # else it must name a `shortcut` definition
            return kind
        defn = self.definitions.get(kind)
        if defn is not None and defn.kind == "shortcut":
            missing = {"channels", "stride"} - {p.name for p in defn.params}
            if not missing:
                return kind
            self.report(
                Diagnostic(
                    "E0109",
                    f"shortcut `{kind}` must take the parameters `channels` and `stride`",
                    span,
                    notes=(Note(f"`{kind}` is defined here", defn.name_span),),
                    help="the compiler passes the channels the branch ends with and the stride between them",
                )
            )
            return None
        shortcuts = [name for name, d in self.definitions.items() if d.kind == "shortcut"]
        self.report(
            Diagnostic(
                "E0112",
                f"unknown shortcut kind `{kind}`",
                span,
                help=did_you_mean(kind, list(POLICIES) + shortcuts)
                or f"shortcut kinds are {', '.join(POLICIES)} and the shortcut definitions ({', '.join(shortcuts) or 'none'})",
            )
        )
        return None

    # --- bodies ----------------------------------------------------------------------------

    def body(self, defn: ast.Definition, scope: tuple, env: dict, cursor: str, frame: Frame | None) -> str:
        body_plan = plan(defn)
        for problem in body_plan.problems:
            self.report(problem)
        env = dict(env)
        values = frame.values if frame is not None else {"input": cursor}
        if frame is None:
            self.g.graph["names"] = env  # the network's parameters and lets, for `expect`
        for item in body_plan.items:
            stmt = item.stmt
            if frame is None:
                self.site = stmt.span
            try:
                cursor = self.statement(item, defn, scope, env, cursor, frame, values)
            except Abort:
                continue
            if item.value_name:
                values[item.value_name] = loops.statement_value(self, cursor)
        return cursor

    def statement(self, item, defn, scope, env, cursor, frame, values) -> str:
        stmt = item.stmt
        if isinstance(stmt, ast.For):
            return loops.run_for(self, stmt, defn, scope, env, cursor, frame, values)
        if getattr(stmt, "label_index", None) is not None and not self.loops:
            self.fail("E0114", "an indexed label belongs in a `for` loop", stmt.label_index.span, help="write `for i in 0 .. n { label[i]: ... }`")
        if isinstance(stmt, ast.Let) and loops.is_value_expr(stmt.value, values):
            loops.value_let(self, stmt, scope, env, values, "")
            return cursor
        if isinstance(stmt, ast.Let):
            if stmt.name in env:
                self.fail("E0105", f"`{stmt.name}` is already defined", stmt.span, help="choose another name")
            try:
                env[stmt.name] = self.eval(stmt.value, env)
            except Abort:
                env.setdefault(_FAILED, set()).add(stmt.name)
                raise
            return cursor
        if isinstance(stmt, (ast.Input, ast.ShortcutPolicy, ast.ExpectMetric, ast.ExpectShape)):
            if frame is not None:
                what = {ast.Input: "input", ast.ShortcutPolicy: "shortcut"}.get(type(stmt), "expect")
                self.fail("E0114", f"`{what}` belongs in a network, not in a block", stmt.span)
            if isinstance(stmt, (ast.ExpectMetric, ast.ExpectShape)):
                self.g.graph["expects"].append(stmt)
            return cursor
        if isinstance(stmt, ast.BlockUse):
            if stmt.guard is not None:
                self.fail("E0114", "a block use cannot have a `when` guard", stmt.guard.span, help="guard the block's layers inside its definition")
            return self.block_use(stmt, item.names[0], scope, env, loops.block_input(self, stmt, values, env, cursor))
        return self.layer(item, scope, env, cursor, frame, values)

    def resolve(self, expr: ast.Name, values: dict) -> str:
        """The node a value name (a label of this body, or `input`) stands for."""
        if expr.id in values:
            return values[expr.id]
        known = sorted(values)
        self.fail(
            "E0107",
            f"unknown value `{expr.id}`",
            expr.span,
            help=did_you_mean(expr.id, known) or f"values are the labels of earlier statements in this body, and `input`; here: {', '.join(known)}",
        )

    def layer(self, item, scope, env, cursor, frame, values) -> str:
        stmt: ast.Layer = item.stmt
        if item.kind is None:
            help = did_you_mean(stmt.op, list(layers.LAYER_KINDS) + list(layers.ALIASES))
            if stmt.op in self.definitions:
                help = f"`{stmt.op}` is a block: write `{stmt.op}(...)` with no space before `(`"
            self.fail("E0102", f"unknown layer kind `{stmt.op}`", stmt.op_span, help=help or f"layer kinds are {', '.join(layers.LAYER_KINDS)}")
        if item.problems:
            raise Abort
        args = item.arg
        guarded_off = stmt.guard is not None and not self.guard(stmt.guard, env)
        residual = is_residual_add(item)
        source = cursor
        if args.get("from") is not None and not residual:
            source = loops.read(self, args["from"], values, env)
        extra = tuple(loops.read(self, args[name], values, env) for name in item.kind.reads if args.get(name) is not None)
        gathered = loops.gathered(self, item.kind, args, values, env)  # concat, sum: their values
        if gathered:
            source, extra = gathered[0], gathered[1:]
        if residual:
            return self.residual_add(stmt, item.names[0], scope, cursor, frame, args, values, guarded_off)
        for i, (unit, name) in enumerate(zip(item.units, item.names)):
            operands = (source,) + (extra if i == 0 else ())
            params = {k: self.arg_value(item.kind, a, args[a], env) for k, a in unit.params.items()}
            op = unit.op
            if op in layer_values.SLOTS:  # the value decides the op
                op, params = layer_values.concrete(params["kind"])
            if guarded_off:
                op, params, operands = GUARDED_OFF, {}, operands[:1]
            source = add_node(self.g, join_path(scope, name), op, operands, params, span=stmt.span, site=self.site, scope=scope)
            if frame:
                frame.info.nodes.append(source)
            loops.make_parts(self, source, scope, frame)
        return source

    def guard(self, expr: ast.Expr, env: dict) -> bool:
        value = self.eval(expr, env)
        if not isinstance(value, bool):
            self.fail("E0115", f"`when` needs a condition (true or false), got {wording.show(value)}", expr.span)
        return value

    def arg_value(self, kind: layers.LayerKind, name: str, expr, env):
        """The concrete value of argument `name` of a layer, checked against its `Arg.type`."""
        arg = kind.arg(name)
        what = f"{kind.name} {arg.name}"
        if arg.type == "pair":
            return tuple(self.eval_int(e, env, what, arg.minimum) for e in expr)
        if arg.type == "bool":
            value = self.eval(expr, env)
            if not isinstance(value, bool):
                self.fail("E0115", f"{what} must be `on` or `off`, got {wording.show(value)}", expr.span)
            return value
        if arg.type in layer_values.SLOTS:
            value = self.eval(expr, env)
            if layer_values.category_of(value) != arg.type:
                self.fail("E0115", f"{what} takes {layer_values.WORDS[arg.type]}, got {layer_values.describe(value)}", expr.span, help=layer_values.choices(arg.type))
            return value
        if arg.type == "float":
            value = self.eval(expr, env)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.fail("E0115", f"{what} must be a number, got {wording.show(value)}", expr.span)
            if not 0 <= value < 1:
                self.fail("E0201", f"{what} must be at least 0 and below 1, got {value:g}", expr.span)
            return float(value)
        return self.eval_int(expr, env, what, arg.minimum)

    def residual_add(self, stmt, name, scope, cursor, frame, args, values, guarded_off) -> str:
        if frame is None:
            self.fail("E0114", "`add` joins a block's branch with its shortcut; it belongs in a block", stmt.span)
        if frame.info.add is not None:
            self.fail("E0114", "a block has at most one residual `add`", stmt.span)
        if guarded_off:
            self.fail("E0114", "a residual `add` cannot have a `when` guard", stmt.guard.span, help="use `shortcut none` for a plain network")
        # An identity shortcut adds the block input; a shortcut definition, where one is
        # inserted, reads the `from` value (a pre-activated input) instead.
        source = self.resolve(args["from"], values) if args.get("from") is not None else frame.info.input
        node = add_node(
            self.g, join_path(scope, name), "add", (cursor, frame.info.input), {"residual": True}, span=stmt.span, site=self.site, scope=scope
        )
        frame.info.add = node
        frame.info.shortcut_from = source
        frame.info.nodes.append(node)
        return node
