"""PyTorch backend: checked IR -> standalone, readable, deterministic Python source.

The output imports only torch. It has one class per block kind, written from the block's
definition (its expressions translated to Python, so the class works for every instance); one
factory function per `sequential` or `shortcut` definition, returning an nn.Sequential; a
network class whose stages are `nn.Sequential`s of concrete block constructions; and a factory
function named after the network.

One emitter (`_BodyEmitter`) writes every body, block class and network class alike: one loop
over the plan's units, one statement per unit, through the op's `OpDef` (constructor and
forward call). A value is carried along a chain in one variable (`out` in a block, `x` in the
network) and gets its own name only where it is read again later, as an SE gate's input or a
pre-activated tensor is.

Invariants:
- attribute paths of the built module equal IR node ids for every node that owns a module
  (`layer2.0.conv1`, `layer2.0.downsample.0`), names coming from `resdsl.frontend.plan` on both sides;
  where `Namespace` had to rename a label (`forward` -> `forward_`), `module_path` maps one
  to the other;
- the same spec gives the same bytes (no dates, no dict-order or hash dependence; each
  generator has its own namespaces, so nothing depends on what was generated before);
- every identifier passes through `Namespace`, every carried text through `doc_text`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import networkx as nx

from resdsl.backends import torch_values
from resdsl.backends.python_lines import INDENT
from resdsl.backends.python_lines import Writer as _Writer
from resdsl.backends.class_head import class_head
from resdsl.backends.module_paths import attribute_names, module_path  # noqa: F401  (module_path: public here too)
from resdsl.backends.namespace import Namespace, class_name, doc_text
from resdsl.compiler import Network
from resdsl.frontend.expressions import EvalError, evaluate, kind_of, literal, static_kind, to_python
from resdsl.ir.graph import BlockInfo, enclosing_block, value_node
from resdsl.ir.ops import GUARDED_OFF, OPS, Dims, fmt_shape
from resdsl.backends.layer_value_source import FACTORY_TYPES, SLOT_OPS, UNIT_OPS, factory_imports, from_op
from resdsl.frontend.plan import Planned, given_arguments, is_residual_add, plan
from resdsl.frontend.syntax import ast



@dataclass
class _DefinitionInfo:
    """What the instances of one definition need from its class or factory."""

    definition: ast.Definition
    instances: list = field(default_factory=list)
    cls: str = ""
    nested: bool = False

    @property
    def sequential(self) -> bool:
        return self.definition.kind in ("sequential", "shortcut")

    @property
    def shortcuts(self) -> set[str]:
        return {b.shortcut for b in self.instances}

    @property
    def has_add(self) -> bool:
        return any(is_residual_add(i) for i in plan(self.definition).items)

    @property
    def emit_add(self) -> bool:
        return self.has_add and self.shortcuts != {"none"}

    @property
    def residual_arg(self) -> bool:
        return self.emit_add and "none" in self.shortcuts

    @property
    def downsample_arg(self) -> bool:
        return self.emit_add and bool(self.shortcuts & {"projection", "zero_pad"})


def _fold(calls: list[str]) -> list[str]:
    """Constructor lines for an nn.Sequential; runs of 3+ identical calls become a generator."""
    out, i = [], 0
    while i < len(calls):
        j = i
        while j < len(calls) and calls[j] == calls[i]:
            j += 1
        if j - i >= 3:
            out.append(f"*({calls[i]} for _ in range({j - i})),")
        else:
            out.extend(f"{c}," for c in calls[i:j])
        i = j
    return out


@dataclass
class _Unit:
    """One statement of a forward method: what it computes, from which values."""

    item: Planned
    op: str  # an OPS key, or "block" for a block use
    name: str  # the local node name (the value it produces is referred to by it)
    operands: list[str]  # value refs: local names or "input"
    guard: str | None = None  # Python condition; where false the unit is nn.Identity()
    ctor: str | None = None  # constructor source for units that own a module
    shortcut_ref: str | None = None  # a residual add: what its shortcut definition reads
    flag: str | None = None  # a guarded unit the forward must skip: the attribute holding its guard


class _BodyEmitter:
    """Writes one body's __init__ statements and forward lines, one statement per unit.

    `args(item, unit, name)` gives a unit's constructor arguments as Python source, `dims(ref)`
    an operand's size; both differ between a block class (symbolic: expressions translated
    from the definition) and the network class (concrete: read from the IR).
    """

    def __init__(
        self,
        gen: "TorchSourceGenerator",
        definition: ast.Definition,
        rename,
        kinds: dict,
        env: dict,
        graph_prefix: str | None,
        instances: list[tuple[str, str]] = (),
        owner: str = "self.",
    ):
        self.gen = gen
        self.instances = instances  # (IR path prefix, IR input node) of each instance (classes)
        self.owner = owner  # how the body reaches a nested block: "self." in a class, "" in a factory
        self.definition = definition
        self.rename = rename
        self.kinds = kinds
        self.env = env
        self.prefix = graph_prefix  # IR path of this body's nodes (network: ""), None for classes
        self.attrs = attribute_names(definition)
        self.units: list[_Unit] = []
        self.channels: dict[str, tuple[str, int]] = {"input": ("in_channels", 3)}  # ref -> (C, rank)
        self.flags = Namespace(reserved=set(self.attrs.values()) | {"downsample", "residual", "out_channels"})

    # --- what each unit is -------------------------------------------------------------------

    def py(self, expr) -> str:
        if isinstance(expr, tuple):
            return tuple(self.py(e) for e in expr)
        return to_python(expr, self.rename, self.env, self.kinds)

    def node(self, name: str) -> dict | None:
        if self.prefix is None:
            return None
        g = self.gen.g
        node_id = f"{self.prefix}.{name}" if self.prefix else name
        return g.nodes[node_id] if node_id in g else None

    def collect(self) -> None:
        items = plan(self.definition).items
        label_value = {item.value_name: item.names[-1] for item in items if item.value_name and item.names}
        value = lambda ref: label_value.get(ref, ref)  # noqa: E731  a label reads its statement's last unit
        prev = "input"
        for item in items:
            stmt = item.stmt
            if isinstance(stmt, ast.BlockUse):
                self.units.append(_Unit(item, "block", item.names[0], [prev]))
                prev = item.names[0]
                continue
            if not isinstance(stmt, ast.Layer) or item.kind is None:
                continue
            args = item.arg
            guard = None if stmt.guard is None or self.prefix is not None else self.py(stmt.guard)
            if is_residual_add(item):
                source = value(args["from"].id) if args.get("from") is not None else "input"
                self.units.append(_Unit(item, "add", item.names[0], [prev, "input"], shortcut_ref=source))
                prev = item.names[0]
                continue
            first = value(args["from"].id) if args.get("from") is not None else prev
            extra = [value(args[r].id) for r in item.kind.reads if args.get(r) is not None]
            for i, (unit, name) in enumerate(zip(item.units, item.names)):
                op = unit.op
                data = self.node(name)
                if data is not None and (unit.op not in SLOT_OPS or data["op"] == GUARDED_OFF):
                    op = data["op"]  # a guard the network resolved: identity
                operands = [first] + (extra if i == 0 else [])
                if op != unit.op:  # resolved to the identity: its first operand only
                    operands = operands[:1]
                self.units.append(_Unit(item, op, name, operands, guard))
                first = name
            prev = item.names[-1]

    # --- sizes -------------------------------------------------------------------------------

    def dims(self, ref: str) -> Dims:
        if self.prefix is not None:
            shape = self.gen.g.nodes[self.gen.value_node(self.prefix, ref)]["shape"]
            return Dims(str(shape[0]), str(math.prod(shape)), len(shape))
        channels, rank = self.channels[ref]
        shapes = self.instance_shapes(ref)
        ranks = {len(s) for s in shapes}
        if len(ranks) == 1:  # the IR knows the rank of every instance's value
            rank = ranks.pop()
        features = channels  # C×1×1 or a vector: its features are its channels
        if any(math.prod(s) != s[0] for s in shapes):  # C×H×W: the definition has no name for C·H·W
            sizes = {math.prod(s) for s in shapes}
            features = str(sizes.pop()) if len(sizes) == 1 else f"{channels} * {shapes[0][1]} * {shapes[0][2]}"
        return Dims(features if rank == 1 else channels, features, rank)

    def instance_shapes(self, ref: str) -> list[tuple]:
        """The IR's shape of value `ref` in each instance of this (class) body."""
        g, out = self.gen.g, []
        for prefix, input_node in self.instances:
            node = input_node if ref == "input" else value_node(g, f"{prefix}.{ref}")
            if node is not None and g.nodes[node]["shape"] is not None:
                out.append(g.nodes[node]["shape"])
        return out

    def track(self, unit: _Unit, args: dict) -> None:
        """Record the symbolic channels of `unit`'s value (block classes)."""
        c, rank = self.channels.get(unit.operands[0], ("in_channels", 3)) if unit.operands else ("in_channels", 3)
        op = OPS.get(unit.op)  # None: a block
        if op is not None and op.channels_param:
            c, rank = args[op.channels_param], 1 if op.flattens_input else rank
        elif unit.op == "block":
            attr = self.attrs[unit.name]
            c = f"{self.owner}{attr}.out_channels" if unit.item.stmt.repeat is None else f"{self.owner}{attr}[-1].out_channels"
        ranks = {len(s) for s in self.instance_shapes(unit.name)}
        if ranks == {1} and rank != 1:  # it flattened its input (per the IR): features, not channels
            c, rank = self.dims(unit.operands[0]).features, 1
        if unit.guard is not None:  # where the guard is false the unit is an identity
            before, before_rank = self.channels.get(unit.operands[0], ("in_channels", 3))
            c = c if c == before else f"({_operand(c)} if {unit.guard} else {before})"
            rank = rank if rank == before_rank else before_rank
        self.channels[unit.name] = (c, rank)

    def unit_args(self, unit: _Unit) -> dict:
        data = self.node(unit.name)
        if data is not None and unit.op in SLOT_OPS:  # a norm or activation: the value it resolved to
            return {"kind": literal(from_op(data["op"], data["params"]))}
        if data is not None:  # concrete: the IR's values
            return {k: tuple(literal(x) for x in v) if isinstance(v, tuple) else literal(v) for k, v in data["params"].items()}
        item_args = unit.item.arg
        return {k: self.py(item_args[a]) for k, a in _unit_params(unit.item, unit.name).items()}

    def constructors(self) -> None:
        """Set `ctor` on every unit that owns a module (a shared ReLU is made once, elsewhere)."""
        for unit in self.units:
            if unit.op == "block":
                self.track(unit, {})
                continue
            op = UNIT_OPS[unit.op]
            args = self.unit_args(unit)
            if op.torch is not None:
                ctor = op.torch(args, [self.dims(r) for r in unit.operands])
                if unit.guard is not None:
                    ctor = f"{ctor} if {unit.guard} else nn.Identity()"
                unit.ctor = ctor
                self.gen.helpers_used.add(unit.op)
            if unit.guard is not None and (op.torch is None or self.flattens_first(unit)):
                # where the guard is false the unit is the identity: no `*`, `+` or flatten either
                unit.flag = self.flags.name(f"{self.attrs.get(unit.name, unit.name)}_on")
            if self.prefix is None:
                self.track(unit, args)

    def flattens_first(self, unit: _Unit) -> bool:
        """A `linear` on a C×H×W value: the forward flattens before calling it."""
        return UNIT_OPS[unit.op].flattens_input and self.dims(unit.operands[0]).rank != 1

    # --- forward -----------------------------------------------------------------------------

    def forward(self, kind: _DefinitionInfo | None) -> tuple[list[str], str]:
        """The forward method's lines (without `return`) and the variable it returns."""
        uses: dict[str, list[int]] = {}
        for i, unit in enumerate(self.units):
            reads = unit.operands + ([unit.shortcut_ref] if unit.shortcut_ref and kind is not None and kind.downsample_arg else [])
            for ref in dict.fromkeys(reads):
                uses.setdefault(ref, []).append(i)
        carry = "x" if uses.get("input", []) in ([], [0]) else "out"
        ns = Namespace(reserved={carry})
        var = {"input": "x"}

        def carried(i: int, ref: str) -> bool:
            return uses.get(ref, []) in ([], [i + 1]) and (i + 1 >= len(self.units) or self.units[i + 1].operands[0] == ref)

        same = _aliases(self.units)
        lines: list[str] = []
        for i, unit in enumerate(self.units):
            xs = [var[r] for r in unit.operands]
            later = lambda ref: any(j > i for r in same.get(ref, (ref,)) for j in uses.get(r, []))  # noqa: E731
            target = carry if carried(i, unit.name) else ns.name(unit.item.value_name or unit.name)
            if unit.op == "block":
                lines.append(f"{target} = self.{self.attrs[unit.name]}({xs[0]})")
            elif UNIT_OPS[unit.op].joins and is_residual_add(unit.item) and kind is not None:
                lines += self._residual(kind, target, xs, var[unit.shortcut_ref])
            else:
                op = UNIT_OPS[unit.op]
                before = xs[0]
                if self.flattens_first(unit):
                    if unit.flag:
                        xs = [f"torch.flatten({xs[0]}, 1)"]
                    else:
                        lines.append(f"{target} = torch.flatten({xs[0]}, 1)")
                        xs = [target]
                if op.shared and unit.name not in self.attrs:
                    module = f"self.{unit.op}"
                    call = f"torch.{unit.op}({xs[0]})" if any(map(later, self._aliases(unit.operands[0]))) else op.forward(module, xs)
                else:
                    call = op.forward(f"self.{self.attrs[unit.name]}" if unit.name in self.attrs else "", xs)
                if unit.flag:
                    call = f"{call} if self.{unit.flag} else {before}"
                lines.append(f"{target} = {call}")
            var[unit.name] = target
        result = var[self.units[-1].name] if self.units else "x"
        return lines, result

    def _aliases(self, ref: str) -> list[str]:
        """`ref` and the values it may be the very tensor of: an in-place op on it changes them
        too. Identities, eval-mode dropouts, views, skipped units and blocks pass a tensor on."""
        producers, out = {u.name: u for u in self.units}, [ref]
        while (u := producers.get(out[-1])) is not None and u.operands and (
            u.op == "block" or u.flag or u.guard or UNIT_OPS[u.op].passthrough or UNIT_OPS[u.op].outputs == 0
        ):
            out.append(u.operands[0])
        return out

    def _residual(self, kind: _DefinitionInfo, target: str, xs: list[str], source: str) -> list[str]:
        branch, identity = xs
        shortcut = identity
        if kind.downsample_arg:
            shortcut = f"({identity} if self.downsample is None else self.downsample({source}))"
        if kind.residual_arg:
            lines = ["if self.residual:", f"{INDENT}{target} = {branch} + {shortcut}"]
            if branch != target:
                lines += ["else:", f"{INDENT}{target} = {branch}"]
            return lines
        if kind.emit_add:
            return [f"{target} = {branch} + {shortcut}"]
        return [f"{target} = {branch}"] if branch != target else []


def _aliases(units: list[_Unit]) -> dict[str, tuple[str, ...]]:
    """The refs naming the same tensor as each ref: a passthrough module (nn.Identity, dropout
    and drop path in eval) returns its input itself, so an in-place op on its output changes it."""
    root: dict[str, str] = {}
    for unit in units:
        if unit.op != "block" and unit.operands and UNIT_OPS[unit.op].passthrough:
            root[unit.name] = root.get(unit.operands[0], unit.operands[0])
    groups: dict[str, list[str]] = {}
    for name, r in root.items():
        groups.setdefault(r, [r]).append(name)
    return {name: tuple(group) for group in groups.values() for name in group}


def _class_name(helper: str) -> str:
    """The name of the class a helper's source defines (`class DropPath(nn.Module):` -> DropPath)."""
    return helper.split("class ", 1)[1].split("(", 1)[0]


def _operand(source: str) -> str:
    """`source` parenthesized where it is a bare conditional (`a if c else b`), so that it can be
    the first operand of another: `(a if c else b) if g else d`, not `a if c else b if g else d`."""
    depth = 0
    for i, ch in enumerate(source):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0 and source.startswith(" if ", i):
            return f"({source})"
    return source


def _instances(kind: _DefinitionInfo) -> list[tuple[str, str]]:
    """(IR path prefix, IR input node) of each instance of a definition."""
    if kind.definition.kind == "shortcut":
        return [(f"{i.path}.downsample", i.shortcut_from) for i in kind.instances if i.shortcut_def == kind.definition.name]
    return [(i.path, i.input) for i in kind.instances]


def _shortcut_reads_a_value(definition: ast.Definition) -> bool:
    return any(is_residual_add(i) and i.arg.get("from") is not None for i in plan(definition).items)


def _unit_params(item: Planned, name: str) -> dict:
    return next(u.params for u, n in zip(item.units, item.names) if n == name)


class TorchSourceGenerator:
    def __init__(self, net: Network):
        self.net = net
        self.g: nx.DiGraph = net.graph
        self.module_ns = Namespace()
        self.kinds: dict[str, _DefinitionInfo] = {}
        self.helpers_used: set[str] = {d["op"] for _, d in net.graph.nodes(data=True)}  # a norm value's op: its factory names the helper
        self.shortcut_defs: dict[str, _DefinitionInfo] = {}
        for info in self.g.graph["blocks"].values():
            kind = self.kinds.setdefault(info.definition, _DefinitionInfo(self.g.graph["definitions"][info.definition]))
            kind.instances.append(info)
            if enclosing_block(self.g, info.path) is not None:
                kind.nested = True
            if info.shortcut_def:
                self.shortcut_defs.setdefault(info.shortcut_def, _DefinitionInfo(self.g.graph["definitions"][info.shortcut_def])).instances.append(info)
        for name, kind in list(self.kinds.items()) + list(self.shortcut_defs.items()):
            kind.cls = self.module_ns.unique(self.module_ns_name(kind))
        name = self.g.graph["name"]  # the network's, or a zoo model's (resdsl.frontend.zoo)
        self.net_cls = self.module_ns.unique(class_name(name))
        self.factory = self.module_ns.name(name)
        self._names: dict[str, Namespace] = {}

    @staticmethod
    def module_ns_name(kind: _DefinitionInfo) -> str:
        return kind.definition.name if kind.sequential else class_name(kind.definition.name)

    def value_node(self, prefix: str, ref: str) -> str:
        """The IR node holding value `ref` of the body at path `prefix` ("" for the network)."""
        if ref == "input":
            return self.g.graph["blocks"][prefix].input if prefix else "input"
        return value_node(self.g, f"{prefix}.{ref}" if prefix else ref)

    def python_names(self, definition: ast.Definition) -> Namespace:
        """The namespace of a definition's parameters and lets; parameters are named first."""
        if definition.name not in self._names:
            attrs = attribute_names(definition)
            children = {attrs[i.names[0]] for i in plan(definition).items if isinstance(i.stmt, ast.BlockUse)}
            ns = Namespace(reserved=children)  # nested blocks arrive as keyword arguments of __init__
            for p in definition.params:
                ns.name(p.name)
            self._names[definition.name] = ns
        return self._names[definition.name]

    def param_kinds(self, kind: _DefinitionInfo) -> dict[str, str]:
        """Each parameter's kind over all instances ("mixed" where int and float mix)."""
        out: dict[str, str] = {}
        shortcut = kind.definition.kind == "shortcut"
        for p in kind.definition.unique_params():
            seen = {kind_of(a[p.name]) for i in kind.instances for a in [i.shortcut_args if shortcut else i.args] if p.name in a}
            out[p.name] = seen.pop() if len(seen) == 1 else "mixed"
        for stmt in kind.definition.body:
            if isinstance(stmt, ast.Let):
                out[stmt.name] = static_kind(stmt.value, out)
        return out

    @property
    def zero_init(self) -> bool:
        """Whether the network class takes `zero_init_residual` (some block ends with a BN)."""
        return bool(self._zero_init_targets())

    # --- the file ----------------------------------------------------------------------------

    def generate(self) -> str:
        sections: list[str] = []
        for kind in self.shortcut_defs.values():
            sections.append(self.sequential_factory(kind))
        for kind in self.kinds.values():
            sections.append(self.sequential_factory(kind) if kind.sequential else self.block_class(kind))
        sections.append(self.network_class())
        sections.append(self.factory_function())
        w = _Writer()
        net = self.net
        params = ", ".join(f"{k}={literal(v)}" for k, v in self.g.graph["params"].items())
        w.line(f'"""Network `{doc_text(net.name)}`, generated by resdsl from {doc_text(net.source)}; do not edit.')
        w.line()
        if params:
            w.line(f"Built with {doc_text(params)}.")
        w.line(f"Input {fmt_shape(net.input_shape)} -> output {fmt_shape(net.output_shape)}.")
        w.line(f"{net.params:,} parameters; {net.macs:,} multiply-adds (conv and fc, batch 1).")
        w.line('"""')
        w.line()
        used = "\n".join(sections)
        if "math." in used:  # a spec's `log2`, `floor`, ... (resdsl.frontend.functions)
            w.line("import math")
        for line in factory_imports(used):  # norm and activation values
            w.line(line)
        if "collections.OrderedDict(" in used:  # a stage whose blocks are named (`names b1`)
            w.line("import collections")
        if "math." in used or factory_imports(used) or "collections.OrderedDict(" in used:
            w.line()
        w.line("import torch")
        w.line("from torch import nn")
        helpers = [
            text
            for op in OPS
            if op in self.helpers_used
            for text in (OPS[op].helper, *OPS[op].helpers)
            if text and any(_class_name(text) + end in used for end in "(,)")  # called, or a factory: `partial(EvoNormS0, 32)`, `norm=FilterResponseNorm)`
        ]
        for text in helpers + sections:
            w.line()
            w.line()
            w.block(text)
        return w.text()

    def _signature(self, kind: _DefinitionInfo, rename) -> tuple[list[str], list[ast.Param]]:
        """`name: type = default` for each parameter; defaults that read others come late."""
        sig, late = [], []
        for p in kind.definition.unique_params():
            if p.default is None:
                sig.append(f"{rename(p.name)}: int")
                continue
            try:
                value = evaluate(p.default, {})
            except EvalError:  # it reads another parameter: filled in by the body
                sig.append(f"{rename(p.name)}: int | None = None")
                late.append(p)
                continue
            annotation = {bool: "bool", float: "float"}.get(type(value), "int")
            annotation = FACTORY_TYPES.get(kind_of(value), annotation)
            sig.append(f"{rename(p.name)}: {annotation} = {literal(value)}")
        return sig, late

    def _docstring(self, kind: _DefinitionInfo, w: _Writer, depth: int, what: str) -> None:
        d = kind.definition
        params = d.unique_params()
        signature = ", ".join(p.name + (f"={to_python(p.default, str)}" if p.default is not None else "") for p in params)
        w.line(f'"""{what.capitalize()} `{doc_text(d.name)}({doc_text(signature)})`.', depth)
        w.line()
        w.line(f"Defined at {doc_text(d.span)}; one {'function' if kind.sequential else 'class'} serves every instance of the {what}.", depth)
        w.line('"""', depth)

    def _lets(self, w: _Writer, kind: _DefinitionInfo, rename, late: list[ast.Param], depth: int) -> None:
        kinds = self.param_kinds(kind)
        for p in late:
            w.line(f"if {rename(p.name)} is None:", depth)
            w.line(f"{rename(p.name)} = {to_python(p.default, rename, kinds=kinds)}", depth + 1)
        for stmt in kind.definition.body:
            if isinstance(stmt, ast.Let):
                w.line(f"{rename(stmt.name)} = {to_python(stmt.value, rename, kinds=kinds)}", depth)

    # --- sequential and shortcut factories ----------------------------------------------------

    def sequential_factory(self, kind: _DefinitionInfo) -> str:
        w = _Writer()
        rename = self.python_names(kind.definition).name
        sig, late = self._signature(kind, rename)
        children = [i for i in plan(kind.definition).items if isinstance(i.stmt, ast.BlockUse)]
        if children:  # nested blocks arrive built, by keyword, as in a block class
            attrs = attribute_names(kind.definition)
            sig += ["*"] + [f"{attrs[child.names[0]]}: nn.Module" for child in children]
        head = f"def {kind.cls}({', '.join(['in_channels: int'] + sig)}) -> nn.Sequential:"
        w.line(head)
        self._docstring(kind, w, 1, kind.definition.kind)
        self._lets(w, kind, rename, late, 1)
        body = _BodyEmitter(self, kind.definition, rename, self.param_kinds(kind), {}, None, _instances(kind), owner="")
        body.collect()
        body.constructors()
        units = body.units
        ctors = [body.attrs[u.name] if u.op == "block" else u.ctor or UNIT_OPS[u.op].torch({}, []) for u in units]
        channels = body.channels[body.units[-1].name][0] if body.units else "in_channels"
        labelled = any(not u.name.isdigit() for u in units)
        if not labelled and not kind.nested:
            w.line(f"return nn.Sequential({', '.join(ctors)})", 1)
            return w.text()
        if labelled:  # children named by their labels (timm's `downsample.conv`)
            w.line("layers = nn.Sequential()", 1)
            for unit, ctor in zip(units, ctors):
                w.line(f'layers.add_module("{unit.name}", {ctor})', 1)
        else:
            w.line(f"layers = nn.Sequential({', '.join(ctors)})", 1)
        if kind.nested:
            w.line(f"layers.out_channels = {channels}", 1)
        w.line("return layers", 1)
        return w.text()

    # --- block classes -------------------------------------------------------------------------

    def block_class(self, kind: _DefinitionInfo) -> str:
        d = kind.definition
        if torch_values.uses_values(d):  # splits, tuples, loops: resdsl.backends.torch_values
            return torch_values.block_class(self, kind, _Writer(), attribute_names(d))
        rename = self.python_names(d).name
        attrs = attribute_names(d)
        w = _Writer()
        late = class_head(self, kind, rename, attrs, w)
        self._lets(w, kind, rename, late, 2)
        body = _BodyEmitter(self, d, rename, self.param_kinds(kind), {}, None, _instances(kind))
        body.collect()
        body.constructors()
        # A shortcut that reads a named value (`add from pre`) is registered first, as
        # pre-activation blocks do it (timm's PreActBottleneck): it fixes the state_dict order.
        first = kind.downsample_arg and _shortcut_reads_a_value(d)
        if first:
            w.line("self.downsample = downsample", 2)
        self._init_lines(w, body, 2)
        if kind.downsample_arg and not first:
            w.line("self.downsample = downsample", 2)
        if kind.residual_arg:
            w.line("self.residual = residual", 2)
        if kind.nested:  # a body without layers passes its input on
            w.line(f"self.out_channels = {body.channels[body.units[-1].name][0] if body.units else 'in_channels'}", 2)
        lines, result = body.forward(kind)
        w.line()
        w.line("def forward(self, x: torch.Tensor) -> torch.Tensor:", 1)
        for line in lines:
            w.line(line, 2)
        w.line(f"return {result}", 2)
        return w.text()

    def _init_lines(self, w: _Writer, body: _BodyEmitter, depth: int) -> None:
        shared_made = set()
        for unit in body.units:
            if unit.op == "block":
                attr = body.attrs[unit.name]
                if body.prefix is None:
                    w.line(f"self.{attr} = {attr}", depth)
                elif unit.item.stmt.repeat is None:
                    w.line(f"self.{attr} = {self.use_call(unit)}", depth)
                else:  # a stage: one construction per line, as a person writes it
                    lines = self.stage_lines(self.g.graph["stage_index"][unit.name])
                    w.line(f"self.{attr} = {lines[0]}", depth)
                    for line in lines[1:-1]:
                        w.line(line, depth + 1)
                    w.line(lines[-1], depth)
                continue
            op = UNIT_OPS[unit.op]
            if op.shared and unit.name not in body.attrs:
                if unit.op not in shared_made:
                    w.line(f"self.{unit.op} = {unit.ctor}", depth)
                    shared_made.add(unit.op)
            elif unit.ctor is not None:
                w.line(f"self.{body.attrs[unit.name]} = {unit.ctor}", depth)
            if unit.flag:
                w.line(f"self.{unit.flag} = {unit.guard}", depth)

    # --- concrete constructions ------------------------------------------------------------------

    def call_args(self, kind: _DefinitionInfo, args: dict, in_channels: int) -> list[str]:
        """Positional and keyword arguments for one instance; defaults equal to the value omitted."""
        d = kind.definition
        rename = self.python_names(d).name
        return [str(in_channels)] + [literal(v) if p.default is None else f"{rename(p.name)}={literal(v)}" for p, v in given_arguments(d, args)]

    def block_call(self, info: BlockInfo) -> str:
        kind = self.kinds[info.definition]
        g = self.g
        parts = self.call_args(kind, info.args, g.nodes[info.input]["shape"][0]) + self.children_args(kind, info)
        if info.shortcut_def:
            sc = self.shortcut_defs[info.shortcut_def]
            parts.append(f"downsample={sc.cls}({', '.join(self.call_args(sc, info.shortcut_args, g.nodes[info.shortcut_from]['shape'][0]))})")
        if kind.residual_arg and info.shortcut == "none":
            parts.append("residual=False")
        return f"{kind.cls}({', '.join(parts)})"

    def children_args(self, kind: _DefinitionInfo, info: BlockInfo) -> list[str]:
        """`name=Child(...)` for each block the instance `info` uses."""
        attrs = attribute_names(kind.definition)
        out = []
        for item in plan(kind.definition).items:
            if isinstance(item.stmt, ast.BlockUse):
                child = _Unit(item, "block", item.names[0], [], None)
                out.append(f"{attrs[item.names[0]]}={self.use_call(child, info.path)}")
        return out

    def use_call(self, unit: _Unit, scope: str = "") -> str:
        path = f"{scope}.{unit.name}" if scope else unit.name
        if unit.item.stmt.repeat is None:
            return self.instance_call(self.g.graph["blocks"][path])
        lines = self.stage_lines(self.g.graph["stage_index"][path])
        return lines[0] + " ".join(lines[1:-1]).rstrip(",") + lines[-1]

    def stage_lines(self, stage) -> list[str]:
        """A stage's nn.Sequential: its opening, a line per block (runs folded), its closing;
        blocks named other than 0, 1, ... (`names b1`) by name, in an OrderedDict."""
        calls = [self.instance_call(self.g.graph["blocks"][b]) for b in stage.blocks]
        names = [b.rsplit(".", 1)[-1] for b in stage.blocks]
        if names == [str(i) for i in range(len(names))]:
            return ["nn.Sequential(", *_fold(calls), ")"]
        return ["nn.Sequential(collections.OrderedDict([", *(f'("{n}", {c}),' for n, c in zip(names, calls)), "]))"]

    def instance_call(self, info: BlockInfo) -> str:
        kind = self.kinds[info.definition]
        if kind.sequential:
            parts = self.call_args(kind, info.args, self.g.nodes[info.input]["shape"][0]) + self.children_args(kind, info)
            return f"{kind.cls}({', '.join(parts)})"
        return self.block_call(info)

    # --- the network class ---------------------------------------------------------------------

    def network_class(self) -> str:
        g = self.g
        d = g.graph["network"]
        zero_bns = self._zero_init_targets()
        w = _Writer()
        w.line(f"class {self.net_cls}(nn.Module):")
        w.line(f'"""Network `{doc_text(d.name)}` ({doc_text(self.net.source)}): {fmt_shape(self.net.input_shape)} -> {fmt_shape(self.net.output_shape)}."""', 1)
        w.line()
        w.line("def __init__(self, zero_init_residual: bool = False) -> None:" if zero_bns else "def __init__(self) -> None:", 1)
        w.line("super().__init__()", 2)
        body = _BodyEmitter(self, d, str, {}, dict(g.graph["params"]), "")
        body.collect()
        body.units = [u for u in body.units if u.op != "block" and u.name in g or u.op == "block" and (u.name in g.graph["blocks"] or u.name in g.graph["stage_index"])]
        body.constructors()
        self._init_lines(w, body, 2)
        w.line()
        w.line("# Initialization as torchvision does it.", 2)
        w.line("for m in self.modules():", 2)
        w.line("if isinstance(m, nn.Conv2d):", 3)
        w.line('nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")', 4)
        w.line("elif isinstance(m, nn.BatchNorm2d):", 3)
        w.line("nn.init.ones_(m.weight)", 4)
        w.line("nn.init.zeros_(m.bias)", 4)
        if zero_bns:
            w.line("if zero_init_residual:", 2)
            w.line("# Zero the last BN of each residual branch: every block starts as the identity.", 3)
            w.line("for m in self.modules():", 3)
            for i, (cls, bn) in enumerate(zero_bns):
                w.line(f"{'if' if i == 0 else 'elif'} isinstance(m, {cls}):", 4)
                w.line(f"nn.init.zeros_(m.{bn}.weight)", 5)
        lines, result = body.forward(None)
        w.line()
        w.line("def forward(self, x: torch.Tensor) -> torch.Tensor:", 1)
        for line in lines:
            w.line(line, 2)
        w.line(f"return {result}", 2)
        return w.text()

    def _zero_init_targets(self) -> list[tuple[str, str]]:
        """(class, bn attribute) for each block kind whose residual branch ends with a batch norm.

        The branch is followed back from the add through ops that are the identity in eval
        (drop path, dropout).
        """
        targets = []
        for kind in self.kinds.values():
            if kind.sequential or not kind.emit_add:
                continue
            units = {name: (unit, item) for item in plan(kind.definition).items for unit, name in zip(item.units, item.names)}
            order = [name for item in plan(kind.definition).items for name in item.names]
            add = next(i.names[0] for i in plan(kind.definition).items if is_residual_add(i))
            ref = order[order.index(add) - 1] if order.index(add) else None
            while ref in units and UNIT_OPS[units[ref][0].op].passthrough and units[ref][1].stmt.guard is None:
                ref = order[order.index(ref) - 1] if order.index(ref) else None
            if ref in units and UNIT_OPS[units[ref][0].op].normalizes and units[ref][1].stmt.guard is None:
                targets.append((kind.cls, attribute_names(kind.definition)[ref]))
        return targets

    def factory_function(self) -> str:
        d = self.g.graph["network"]
        zero = self.zero_init
        w = _Writer()
        sig = "zero_init_residual: bool = False" if zero else ""
        w.line(f"def {self.factory}({sig}) -> {self.net_cls}:")
        w.line(f'"""Build `{doc_text(d.name)}` as specified, initialized as torchvision does."""', 1)
        w.line(f"return {self.net_cls}({'zero_init_residual=zero_init_residual' if zero else ''})", 1)
        return w.text()


def generate_source(net: Network) -> str:
    """The standalone PyTorch source for a checked network."""
    return TorchSourceGenerator(net).generate()
