"""PyTorch backend for the blocks of Language 3: splits, tuples, concat, sum and `for` loops.

A block whose body uses several values at once gets its class from here; every other block
from `resdsl.backends.torch_source`, which calls `block_class` for these. The class is what
an expert writes by hand: `torch.split` into a tuple, one `nn.ModuleList` per indexed label
(`self.convs`, `self.bns`, registered where the loop first makes them, so the state_dict
keys come in the order the spec makes them), a Python `for` over the loop, `torch.cat`.
Modules and values come from the same lowered definitions (`resdsl.ir.definitions`) and the same `OpDef`s
as every other class, so attribute paths equal IR node ids (`layer1.0.convs.2`).

What the forward reads of the block's parameters (a loop's bounds, a `when` of a value
`let`) it reads from attributes that `__init__` stores (`self.scale`).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from resdsl.backends.class_head import class_head
from resdsl.backends.namespace import Namespace
from resdsl.backends.python_lines import operand
from resdsl.ir.definitions import Definition, Step
from resdsl.ir.expr import BinOp, Expr, IfExp, Index, Name
from resdsl.ir.expressions import to_python
from resdsl.ir.norm_act_ops import UNIT_OPS
from resdsl.ir.ops import Dims


def uses_values(definition: Definition) -> bool:
    """Whether a body holds a loop, a tuple-valued or gathering layer, an index or a value `let`."""
    for step in definition.steps:
        if step.what == "for" or step.what == "let" and step.value_let:
            return True
        if step.what == "layer" and (step.gathers or any(UNIT_OPS[u.op].parts for u in step.units)):
            return True
        if step.what == "layer" and any(isinstance(v, Index) for v in step.arg.values()):
            return True
    return False


@dataclass
class _Value:
    """A value of the forward: its Python variable, channels (source), and for a tuple its count."""

    var: str
    channels: str
    count: str | None = None  # a tuple: how many values (Python source); None: one value
    each: str | None = None  # an unpacked tuple (`*parts`): the channels of one of its values


@dataclass
class _Loop:
    var: str
    start: str
    stop: str
    start_expr: Expr
    lists: dict = field(default_factory=dict)  # ModuleList attribute -> constructor source
    blocks: list = field(default_factory=list)  # ModuleLists of blocks, built by the caller


def _read_names(steps) -> set[str]:
    """Every name a body's statements read as a value or index (labels worth a variable)."""
    out: set[str] = set()

    def walk(e) -> None:
        if isinstance(e, tuple):
            for x in e:
                walk(x)
        elif isinstance(e, Name):
            out.add(e.id)
        elif isinstance(e, Index):
            out.add(e.base.id)
            walk(e.index)
        elif isinstance(e, BinOp):
            walk((e.left, e.right))
        elif isinstance(e, IfExp):
            walk((e.cond, e.then, e.other))

    for step in steps:  # a block use's `from` too
        if step.what == "for":
            out |= _read_names(step.loop.body.steps)
        else:
            walk(step.expressions)
    return out


def _bound(var: str, text: str) -> str:
    """The comprehension's variable: the loop's where the constructor reads it, else `_`."""
    return var if re.search(rf"\b{re.escape(var)}\b", text) else "_"


def _shrink(channels: str, parts: str) -> str:
    """`width * scale // scale` is `width`: the channels of one part, written plainly."""
    suffix = f" * {parts}"
    head = channels[: -len(suffix)]
    if channels.endswith(suffix) and not any(op in head for op in (" + ", " - ", " if ", "(")):
        return head
    parts = f"({parts})" if " " in parts else parts  # `in_channels // (2 if split_input else 1)`
    return f"{channels} // {parts}" if " " not in channels else f"({channels}) // {parts}"


class _ValuesClass:
    def __init__(self, gen, kind, attrs: dict):
        self.gen, self.kind = gen, kind
        self.d = kind.definition
        self.rename = gen.python_names(self.d).name
        # the forward's variables: the constructor's keyword names (`paths`) are free here
        self.local = Namespace(reserved={"x", "out"}).name
        self.kinds = gen.param_kinds(kind)
        self.attrs = attrs  # top-level unit name -> attribute (`resdsl.backends.torch_source.attribute_names`)
        self.read = _read_names(self.d.steps)
        self.needed = self.d.needed_lets()  # a `let` only a nested block's call reads has no line here
        self.init: list[tuple[int, str]] = []
        self.fwd: list[tuple[int, str]] = []
        self.stored: dict[str, None] = {}  # parameters the forward reads
        self.loop: _Loop | None = None
        self.values = {"input": _Value("x", "in_channels")}
        self.shared_made: set[str] = set()
        self.aliases = {"x"}  # variables that may be the block input's very tensor

    # --- expressions ---------------------------------------------------------------------------

    def py(self, expr) -> str:
        if isinstance(expr, tuple):
            return tuple(self.py(e) for e in expr)
        loop_var = self.loop.var if self.loop else None
        return to_python(expr, lambda n: n if n == loop_var else self.rename(n), kinds=self.kinds)

    def fwd_py(self, expr) -> str:
        loop_var = self.loop.var if self.loop else None

        def name(n: str) -> str:
            if n == loop_var:
                return n
            self.stored[n] = None
            return f"self.{self.rename(n)}"

        return to_python(expr, name, kinds=self.kinds)

    def value(self, expr, gather: bool = False) -> _Value:
        if isinstance(expr, Index):
            whole = self.values[expr.base.id]
            this_round = self.loop is not None and isinstance(expr.index, Name) and expr.index.id == self.loop.var
            if this_round and whole.count == "":  # an entry this loop collects, read in its own round
                return _Value(f"{whole.var}_{self.loop.var}", whole.channels)
            return _Value(f"{whole.var}[{self.fwd_py(expr.index)}]", whole.channels)
        if isinstance(expr, Name):
            return self.values[expr.id]
        if isinstance(expr, IfExp):
            then, other = self.value(expr.then), self.value(expr.other)
            return _Value(f"{operand(then.var)} if {self.fwd_py(expr.cond)} else {other.var}", then.channels)
        left, right = self.value(expr.left), self.value(expr.right)  # `+`
        return _Value(f"{left.var} + {right.var}", left.channels or right.channels)

    # --- statements ----------------------------------------------------------------------------

    def depth(self) -> int:
        return 2 + (self.loop is not None)

    def body(self, steps: tuple[Step, ...], cursor: _Value) -> _Value:
        for step in steps:
            if step.what == "let" and step.value_let:
                v = self.value(step.value)
                self.fwd.append((self.depth(), f"{self.local(step.name)} = {v.var}"))
                self.values[step.name] = _Value(self.local(step.name), v.channels)
            elif step.what == "let" and step.name in self.needed:
                self.init.append((2, f"{self.rename(step.name)} = {to_python(step.value, self.rename, kinds=self.kinds)}"))
            elif step.what == "for":
                cursor = self.for_loop(step, cursor)
            elif step.what == "layer":
                cursor = self.layer(step, cursor)
            elif step.what == "use":  # built by the caller, passed by keyword
                cursor = self.block_use(step, step.names[0], cursor)
        return cursor

    def block_use(self, stmt: Step, name: str, cursor: _Value) -> _Value:
        """A nested block (an `nn.ModuleList` of them where a loop's indexed label makes one per round)."""
        attr = self.gen_attr(name)
        self.init.append((2, f"self.{attr} = {attr}"))
        source = self.value(stmt.source) if stmt.source is not None else cursor
        if stmt.label_index is not None and self.loop is not None:
            target = f"{self.local(stmt.label)}_{self.loop.var}"
            self.loop.blocks.append(attr)
            self.fwd.append((self.depth(), f"{target} = {self.entry(attr)}({source.var})"))
            self.fwd.append((self.depth(), f"{self.local(stmt.label)}.append({target})"))
            self.values[stmt.label].channels = f"self.{attr}[-1].out_channels"
            return _Value(target, self.values[stmt.label].channels)
        target = self.local(stmt.label) if stmt.label in self.read else "out"
        self.fwd.append((self.depth(), f"{target} = self.{attr}({source.var})"))
        cursor = _Value(target, f"self.{attr}.out_channels" if stmt.repeat is None else f"self.{attr}[-1].out_channels")
        if stmt.label:
            self.values[stmt.label] = cursor
        return cursor

    def for_loop(self, step: Step, cursor: _Value) -> _Value:
        stmt, body = step.loop, step.loop.body
        self.loop = _Loop(stmt.var, self.py(stmt.start), self.py(stmt.stop), stmt.start)
        at_init, at_fwd = len(self.init), len(self.fwd)
        collected = [s.label for s in body.steps if s.label_index is not None]
        for label in dict.fromkeys(collected):
            self.values[label] = _Value(self.local(label), "", count="")
        for s in body.steps:  # a value the loop re-binds reads the previous round's before its `let`
            if s.what == "let" and s.name not in self.values:
                self.values[s.name] = _Value(self.local(s.name), "")
        cursor = self.body(body.steps, cursor)
        loop, self.loop = self.loop, None
        rng = f"range({loop.stop})" if loop.start == "0" else f"range({loop.start}, {loop.stop})"
        lists = [(2, f"self.{a} = nn.ModuleList([{c} for {_bound(loop.var, c)} in {rng}])") for a, c in loop.lists.items()]
        self.init[at_init:at_init] = lists
        count = loop.stop if loop.start == "0" else f"({loop.stop} - {loop.start})"
        for label in dict.fromkeys(collected):
            self.values[label].count = count
        first = next(iter(loop.lists), None) or next(iter(loop.blocks), None)
        fwd_rng = f"range(len(self.{first}))" if first and loop.start == "0" else f"range({self.fwd_py(stmt.start)}, {self.fwd_py(stmt.stop)})"
        head = [(2, f"{self.local(label)} = []") for label in dict.fromkeys(collected)]
        self.fwd[at_fwd:at_fwd] = head + [(2, f"for {loop.var} in {fwd_rng}:")]
        return cursor

    def operands(self, item, cursor: _Value) -> list[_Value]:
        args = item.arg
        if item.gathers:
            return [self.values_of(e) for e in args[item.gathers]]
        first = self.value(args["from"]) if args.get("from") is not None else cursor
        return [first] + [self.value(args[r]) for r in item.reads if args.get(r) is not None]

    def values_of(self, expr) -> _Value:
        v = self.value(expr)
        if v.count is not None and not isinstance(expr, Index):
            count = f"({v.count})" if " " in v.count else v.count
            return _Value(f"*{v.var}", f"{v.channels} * {count}" if v.count != "1" else v.channels, each=v.channels)
        return v

    def layer(self, item, cursor: _Value) -> _Value:
        if item.residual_add:
            source = self.value(item.arg["from"]).var if item.arg.get("from") is not None else "x"
            return self.residual(cursor, source)
        xs = self.operands(item, cursor)
        label = item.label
        indexed = item.label_index is not None
        target = f"{self.local(label)}_{self.loop.var}" if indexed and self.loop else self.local(label) if label in self.read else "out"
        for unit, name in zip(item.units, item.names):
            xs = [self.unit(item, unit, name, xs, target)]
        if indexed and self.loop:
            self.fwd.append((self.depth(), f"{self.local(label)}.append({target})"))
            self.values[label].channels = xs[0].channels
        elif label:
            self.values[label] = xs[0] if xs[0].count is not None else _Value(target, xs[0].channels)
        return xs[0]

    def unit(self, item, unit, name: str, xs: list[_Value], target: str) -> _Value:
        op = UNIT_OPS[unit.op]
        args = {k: self.py(item.arg[a]) for k, a in unit.params.items()}
        channels = xs[0].channels
        guard = item.guard
        if op.convolves:
            channels = args[op.channels_param]
        if op.parts is not None:
            size = f"{self.rename(target)}_size"
            self.init.append((2, f"self.{size} = {_shrink(channels, args['parts'])}"))
            self.fwd.append((self.depth(), f"{target} = torch.split({xs[0].var}, self.{size}, 1)"))
            return _Value(target, _shrink(channels, args["parts"]), count=args["parts"])
        own = op.torch is not None and (not op.shared or guard is not None)  # a guarded ReLU is its own module
        if own:
            ctor = op.torch(args, [Dims(xs[0].channels, xs[0].channels, 3)])
            self.gen.helpers_used.add(unit.op)
            if guard is not None:
                ctor = f"{ctor} if {self.py(guard)} else nn.Identity()"
                channels = channels if channels == xs[0].channels else f"({operand(channels)} if {self.py(guard)} else {xs[0].channels})"
            module = self.module(name, ctor)
        elif op.shared and xs[0].var in self.aliases:  # in place would change the block input or a value read later
            module = ""
        elif op.shared:
            if unit.op not in self.shared_made:
                self.init.append((2, f"self.{unit.op} = {op.torch({}, [])}"))
                self.shared_made.add(unit.op)
            module = f"self.{unit.op}"
        else:
            module = ""
        if op.stacks_channels:
            channels = " + ".join(x.channels for x in xs)
        if op.out_channels is not None:
            channels = op.out_channels(args, [x.channels for x in xs])
        if op.sums:  # values of one shape: one value's channels (an unpacked tuple's one entry)
            channels = xs[0].each or xs[0].channels
        call = op.forward(module, [x.var for x in xs]) if module or not op.shared else f"torch.{unit.op}({xs[0].var})"
        if op.passthrough and xs[0].var in self.aliases:  # an identity of an alias is one too
            self.aliases.add(target)
        if guard is not None and not own:  # where the guard is false: the identity, no `+` or `*`
            call = f"{call} if {self.fwd_py(guard)} else {xs[0].var}"
        self.fwd.append((self.depth(), f"{target} = {call}"))
        return _Value(target, channels)

    def module(self, name: str, ctor: str) -> str:
        if self.loop is None:
            attr = self.gen_attr(name)
            self.init.append((2, f"self.{attr} = {ctor}"))
            return f"self.{attr}"
        attr = self.rename(name.split(".")[0])
        self.loop.lists.setdefault(attr, ctor)
        return self.entry(attr)

    def entry(self, attr: str) -> str:
        """This round's entry of ModuleList `self.attr`: the entries count the rounds from 0."""
        if self.loop.start == "0":
            return f"self.{attr}[{self.loop.var}]"
        return f"self.{attr}[{self.loop.var} - {self.fwd_py(self.loop.start_expr)}]"

    def gen_attr(self, name: str) -> str:
        return self.attrs.get(name, name)

    def residual(self, cursor: _Value, source: str) -> _Value:
        kind = self.kind
        shortcut = "x"
        if kind.downsample_arg:
            shortcut = f"(x if self.downsample is None else self.downsample({source}))"
        if kind.residual_arg:
            self.fwd += [(2, "if self.residual:"), (3, f"out = {cursor.var} + {shortcut}"), (2, "else:"), (3, f"out = {cursor.var}")]
        elif kind.emit_add:
            self.fwd.append((2, f"out = {cursor.var} + {shortcut}"))
        else:
            self.fwd.append((2, f"out = {cursor.var}"))
        return _Value("out", cursor.channels)


def module_list(gen, path: str) -> str:
    """`nn.ModuleList([...])` of the blocks a loop's indexed label made at IR path `path`
    (`layer1.0.conv2.paths`: `.paths.0`, `.paths.1`, ...), each built as any nested block is."""
    blocks = gen.g.graph["blocks"]
    rounds = itertools.takewhile(lambda key: key in blocks, (f"{path}.{k}" for k in itertools.count()))
    entries = [gen.instance_call(blocks[key]) for key in rounds]
    return f"nn.ModuleList([{', '.join(entries)}])"


def block_class(gen, kind, w, attrs: dict) -> str:
    """The class of a block that uses several values at once (see the module docstring)."""
    c = _ValuesClass(gen, kind, attrs)
    d = kind.definition
    late = class_head(gen, kind, c.rename, attrs, w)
    for p in late:
        w.line(f"if {c.rename(p.name)} is None:", 2)
        w.line(f"{c.rename(p.name)} = {to_python(p.default, c.rename, kinds=c.kinds)}", 3)
    result = c.body(d.steps, c.values["input"])
    # a shortcut reading a named value (`add from pre`) is registered first, as pre-activation blocks do
    first = kind.downsample_arg and any(s.residual_add and s.arg.get("from") is not None for s in d.steps)
    if first:
        w.line("self.downsample = downsample", 2)
    for depth, line in c.init:
        w.line(line, depth)
    for name in c.stored:
        w.line(f"self.{c.rename(name)} = {c.rename(name)}", 2)
    if kind.downsample_arg and not first:
        w.line("self.downsample = downsample", 2)
    if kind.residual_arg:
        w.line("self.residual = residual", 2)
    if kind.nested:
        w.line(f"self.out_channels = {result.channels}", 2)
    w.line()
    w.line("def forward(self, x: torch.Tensor) -> torch.Tensor:", 1)
    for depth, line in c.fwd:
        w.line(line, depth)
    w.line(f"return {result.var}", 2)
    return w.text()
