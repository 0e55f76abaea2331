"""Block uses in the elaborator: a block's definition, options, arguments and instance.

`BlockUses` is the part of `resdsl.frontend.elaborate.Elaborator` that turns a block use (or a
stage of them) into IR: it finds the definition, reads the use's options (policy, stride,
`from`), binds the arguments, instantiates the body in a new `Frame`, and builds the
shortcut. It relies on the elaborator's reporting and evaluation (`report`, `fail`, `eval`,
`eval_int`) and its `body`, `residual_add` and graph state.

Invariants: a block's nodes are scoped under its path (`layer2.0.conv1`); its `BlockInfo` is
recorded in `g.graph["blocks"]` before its body is elaborated; a mistake inside another file's
definition is located at the user's use (`relocate`), with the definition as a note.
"""

from __future__ import annotations

from dataclasses import dataclass

from resdsl.frontend import layers, stages, wording
from resdsl.ir import layer_values
from resdsl.diagnostics import Limits, Note, Span, did_you_mean
from resdsl.ir.expressions import EvalError, Value, kind_of
from resdsl.ir.graph import BlockInfo, StageInfo, join_path
from resdsl.ir.definitions import SEQUENTIAL_KINDS
from resdsl.frontend.syntax import ast


class Abort(Exception):
    """Stop elaborating the current statement; its diagnostic is already reported."""


@dataclass
class Frame:
    """The block being instantiated: its record, and the values its body has named."""

    info: BlockInfo
    values: dict


class BlockUses:
    """Block uses, stages and shortcuts: the elaborator's methods for instantiating definitions."""

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
                raise Abort
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
            out = self.body(defn, tuple(path.split(".")), env, cursor, Frame(info, {"input": cursor}))
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
        frame = Frame(
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
        except Abort:
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
