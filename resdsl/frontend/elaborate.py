"""Elaboration: AST -> IR. Binds parameters, instantiates blocks, expands repeats.

Invariants of the graph it returns (see `resdsl.ir.graph`): nodes are created in program order;
every block with an `add` has its add's operands as (branch, block input); no shapes yet.
User mistakes are reported to the `Reporter` with the location in the user's spec; a mistake
inside a block definition from another file (the prelude) is located at the statement of the
user's spec that used it, with a note pointing into the definition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx

from resdsl.frontend import layer_values, layers, loops, stages, wording
from resdsl.diagnostics import Diagnostic, Limits, Note, Reporter, Span, did_you_mean, relocate, short_number
from resdsl.frontend.expressions import EvalError, Value, evaluate, kind_of
from resdsl.ir.graph import BlockInfo, StageInfo, add_node, join_path, new_graph
from resdsl.ir.ops import GUARDED_OFF
from resdsl.ir.policies import POLICIES
from resdsl.frontend.plan import SEQUENTIAL_KINDS, is_residual_add, plan
from resdsl.frontend.syntax import ast

MAX_INT = 2**31 - 1  # the largest size, stride or channel count a spec may give (PyTorch's int32)

_FAILED = "$failed"  # env key (not a name a spec can write): lets whose value was an error


class _Abort(Exception):
    """Stop elaborating the current statement; its diagnostic is already reported."""


@dataclass
class _Frame:
    """The block being instantiated: its record, and the values its body has named."""

    info: BlockInfo
    values: dict


class Elaborator:
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
        raise _Abort

    def eval(self, expr: ast.Expr, env: dict) -> Value:
        try:
            return evaluate(expr, env)
        except EvalError as err:
            if err.code == "E0107" and err.name in env.get(_FAILED, ()):
                raise _Abort from None  # its `let` failed and was reported: no second error
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
                except _Abort:
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
        except _Abort:
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

    def body(self, defn: ast.Definition, scope: tuple, env: dict, cursor: str, frame: _Frame | None) -> str:
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
            except _Abort:
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
            except _Abort:
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
            raise _Abort
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

    # --- blocks ----------------------------------------------------------------------------

    def block_use(self, stmt: ast.BlockUse, name: str, scope, env, cursor) -> str:
        defn = self.definition_for(stmt)
        policy, stride, options = self.use_options(stmt, defn, env)
        seen: dict[str, ast.KeywordArg] = {}
        for k in stmt.kwargs:
            if k.name in seen:
                self.fail("E0105", f"argument `{k.name}` is given twice", k.name_span, notes=(Note("first given here", seen[k.name].name_span),))
            seen[k.name] = k
        if stride is not None and "stride" in seen:
            self.fail("E0105", "stride given both as an argument and as the stage's stride", seen["stride"].span)
        repeat = None if stmt.repeat is None else self.eval_int(stmt.repeat, env, "a repeat count", 1, maximum=None)
        count = repeat or 1
        if count > self.limits.max_nodes:
            self._too_big(stmt, count, 1)
        path = join_path(scope, name)
        first = self.stage_names(stmt, options, repeat)
        stage = None
        if repeat is not None:
            stage = StageInfo(name=path, definition=defn.name, repeat=repeat, stride=stride, policy=policy, span=stmt.span, scope=scope)
            self.g.graph["stages"].append(stage)
            self.g.graph["stage_index"][path] = stage
        before = self.g.number_of_nodes()
        for i in range(count):
            errors_before = self.reporter.error_count
            try:
                use_env = self.stage_env(env, i, scope)
                pos = [self.eval(a, use_env) for a in stmt.args]
                args = {k.name: (self.eval(k.value, use_env), k) for k in stmt.kwargs}
                if i == 0 and stride is not None:
                    args["stride"] = (stride, options["stride"])
                block_path = join_path(scope, name, f"{first[0]}{first[1] + i}") if repeat is not None else path
                cursor = self.instantiate(defn, stmt, pos, args, block_path, cursor, policy, stage, i)
            finally:
                if not scope and self._residual(stmt):
                    self.net_index += 1
            if self.reporter.error_count > errors_before:
                break  # the other copies would report the same mistake
            if stage is not None:
                stage.blocks.append(block_path)
            if i == 0:
                per_block = max(1, self.g.number_of_nodes() - before)
                if before + per_block * count > self.limits.max_nodes:
                    self._too_big(stmt, count, per_block)
        return cursor

    def stage_names(self, stmt: ast.BlockUse, options: dict, repeat) -> tuple[str, int]:
        try:
            return stages.stage_names(options, repeat)
        except EvalError as err:
            self.fail(err.code, err.message, err.span, help=err.help)

    def stage_env(self, env: dict, index: int, scope: tuple) -> dict:
        """`env` plus the names of `stages.STAGE_NAMES` a block use's arguments may read."""
        names = {"index": index}
        if not scope:  # network level: positions among the network's blocks
            names |= {"net_index": self.net_index, "net_blocks": self.net_blocks}
        return env | {k: v for k, v in names.items() if k not in env}

    def definition_for(self, stmt: ast.BlockUse) -> ast.Definition:
        """The used block's definition; E0101 unknown, E0106 recursive, E0301 nested too deep."""
        defn = self.definitions.get(stmt.block)
        if defn is not None and defn.kind == "network":
            defn = None
        if defn is None:
            help = did_you_mean(stmt.block, self.definitions)
            if layers.lookup(stmt.block):
                help = f"`{stmt.block}` is a layer: write `{stmt.block} ...` without parentheses"
            self.fail("E0101", f"unknown block `{stmt.block}`", stmt.block_span, help=help or f"blocks are {', '.join(sorted(self.definitions))}")
        if stmt.block in self.stack:
            self.fail(
                "E0106",
                f"block `{stmt.block}` uses itself",
                stmt.block_span,
                notes=(Note("through " + " → ".join(self.stack + [stmt.block])),),
                help="a block cannot contain itself, directly or through another block",
            )
        if len(self.stack) >= self.limits.max_depth:  # the elaborator recurses once per level
            chain = self.stack if len(self.stack) <= 6 else self.stack[:3] + ["…"] + self.stack[-2:]
            self.fail(
                "E0301",
                f"blocks nest more than {self.limits.max_depth} deep here",
                stmt.block_span,
                notes=(Note("through " + " → ".join(chain + [stmt.block])),),
                help="flatten the blocks, or raise the limit (API: limits=Limits(max_depth=...))",
            )
        return defn

    def use_options(self, stmt: ast.BlockUse, defn: ast.Definition, env: dict) -> tuple[str, Value | None, dict]:
        """(shortcut policy, stage stride or None, options by name) of a block use."""
        options = {}
        for opt in stmt.options:
            if opt.name not in ("stride", "shortcut", "names", "from"):
                self.fail("E0111", f"a block use has no option `{opt.name}`", opt.name_span, help=did_you_mean(opt.name, ["stride", "shortcut", "names", "from"]) or "its options are stride, shortcut, names and from")
            options[opt.name] = opt
        policy = self.g.graph["policy"]
        if "shortcut" in options:
            value = options["shortcut"].value
            while isinstance(value, ast.IfExp):  # `shortcut (conv3 if deep else B)`: a parameter chooses
                cond = self.eval(value.cond, env)
                if not isinstance(cond, bool):
                    self.fail("E0115", f"`if` needs `true` or `false`, got {cond}", value.cond.span)
                value = value.then if cond else value.other
            if not isinstance(value, ast.Name):
                self.fail("E0112", "write the shortcut kind as a name: A, B, C, identity or none", value.span)
            policy = self.policy(value.id, value.span)
            if policy is None:
                raise _Abort
        stride = None
        if "stride" in options:
            stride = self.eval(options["stride"].value, env)
            if "stride" not in {p.name for p in defn.params}:
                self.fail("E0103", f"block `{defn.name}` has no `stride` parameter for the stage's stride", options["stride"].name_span, notes=(Note(f"`{defn.name}` is defined here", defn.name_span),))
        return policy, stride, options

    def _too_big(self, stmt, count, per_block):
        self.fail(
            "E0301",
            f"this expands to {wording.about(count * per_block)} layers, past the limit of {self.limits.max_nodes:,}",
            stmt.repeat.span if stmt.repeat is not None else stmt.span,
            help="lower the repeat count, or raise the limit with --max-nodes (API: limits=Limits(max_nodes=...))",
        )

    def instantiate(self, defn, stmt, pos, kw, path, cursor, policy, stage, index) -> str:
        env = self.bind_block_args(defn, stmt, pos, kw)
        info = BlockInfo(
            path=path,
            definition=defn.name,
            args=dict(env),
            input=cursor,
            output=cursor,
            stage=stage.name if stage else None,
            index=index,
            policy=policy,
            site=self.site,
            span=stmt.span,
            sequential=defn.kind in SEQUENTIAL_KINDS,
        )
        self.g.graph["blocks"][path] = info
        self.stack.append(defn.name)
        self.paths.append(path)
        try:
            out = self.body(defn, tuple(path.split(".")), env, cursor, _Frame(info, {"input": cursor}))
        finally:
            self.stack.pop()
            self.paths.pop()
        info.output = out
        return out

    def shortcut(self, defn: ast.Definition, block: BlockInfo, channels: int, stride: int) -> list[str]:
        """Instantiate shortcut `defn` for `block` (reading `block.shortcut_from`); its new nodes.

        The nodes are `<block>.downsample.0`, `.1`, ...; a mistake inside the definition is
        reported at the statement that made the block.
        """
        env: dict[str, Value] = {"channels": channels, "stride": stride}
        env.update(layer_values.inherited(self._unique_params(defn), block.args))  # the block's norm
        self.site = block.site
        self.stack.append(defn.name)
        self.paths.append(block.path)
        frame = _Frame(
            BlockInfo(block.path, defn.name, env, block.shortcut_from, block.shortcut_from, None, 0, "", block.site, block.span, sequential=True),
            {"input": block.shortcut_from},
        )
        try:
            for p in self._unique_params(defn):
                if p.name not in env:
                    if p.default is None:
                        self.fail("E0109", f"shortcut `{defn.name}` needs its `{p.name}` argument, and only `channels` and `stride` are given", p.span)
                    env[p.name] = self.eval(p.default, env)
            self.body(defn, (*block.path.split("."), "downsample"), env, block.shortcut_from, frame)
        except _Abort:
            pass
        finally:
            self.stack.pop()
            self.paths.pop()
        block.shortcut_args = env
        return frame.info.nodes

    def bind_block_args(self, defn: ast.Definition, stmt: ast.BlockUse, pos: list, kw: dict) -> dict:
        params = self._unique_params(defn)
        names = [p.name for p in params]
        defined_here = (Note(f"`{defn.name}` is defined here", defn.name_span),)
        if len(pos) > len(params):
            self.fail("E0110", f"block `{defn.name}` takes {wording.count(len(params), 'argument')}, got {len(pos)}", stmt.args[len(params)].span, notes=defined_here)
        bound = dict(zip(names, pos))
        spans = {name: arg.span for name, arg in zip(names, stmt.args)}
        for name, (value, node) in kw.items():
            if name not in names:
                self.fail(
                    "E0103",
                    f"block `{defn.name}` has no parameter `{name}`",
                    node.name_span if isinstance(node, ast.KeywordArg) else node.span,
                    help=did_you_mean(name, names) or f"its parameters are {', '.join(names) or 'none'}",
                )
            if name in bound:
                self.fail("E0105", f"argument `{name}` is given twice", node.span, notes=(Note("first given here", spans[name]),))
            bound[name], spans[name] = value, node.value.span
        env: dict[str, Value] = {}
        for p in params:
            if p.name in bound:
                self._check_kind(defn, p, bound[p.name], spans[p.name], env)
                env[p.name] = bound[p.name]
            elif p.default is not None:
                env[p.name] = self.eval(p.default, env)
            else:
                self.fail("E0109", f"block `{defn.name}` needs its `{p.name}` argument", stmt.block_span, notes=defined_here)
        return env

    def _check_kind(self, defn: ast.Definition, param: ast.Param, value: Value, span: Span, env: dict) -> None:
        """A bool for a parameter whose default is a number, or the reverse, is a mistake.

        The default is evaluated even though the argument replaces it: a default that cannot be
        evaluated is an error in the definition, and the generated class would carry it.

        Ints and floats mix (a float may be compared or scaled), so only bool-ness is checked.
        """
        if param.default is None:
            return
        default = self.eval(param.default, env)  # must hold even when unused: the generated class has it
        if (kind_of(value) == "bool") != (kind_of(default) == "bool"):
            self.fail(
                "E0115",
                f"parameter `{param.name}` of block `{defn.name}` takes {wording.article(kind_of(default))}, got {wording.show(value)}",
                span,
                notes=(Note("declared here", param.span),),
            )
