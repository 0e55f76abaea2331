"""PyTorch backend: checked IR -> standalone, readable, deterministic Python source.

The output imports only torch. It has one class per block kind, written from the block's
definition (its expressions translated to Python, so the class works for every instance); one
factory function per `sequential` or `shortcut` definition, returning an nn.Sequential; a
network class whose stages are `nn.Sequential`s of concrete block constructions; and a factory
function named after the network.

One emitter (`BodyEmitter`) writes every body, block class and network class alike: one loop
over the lowered definition's units (`resdsl.ir.definitions`), one statement per unit, through
the op's `OpDef` (constructor and forward call). A value is carried along a chain in one variable (`out` in a block, `x` in the
network) and gets its own name only where it is read again later, as an SE gate's input or a
pre-activated tensor is.

Invariants:
- attribute paths of the built module equal IR node ids for every node that owns a module
  (`layer2.0.conv1`, `layer2.0.downsample.0`): the elaborator's node ids and the lowered
  definitions' step names both come from the front end's plan; where `Namespace` had to rename a label (`forward` -> `forward_`), `module_path` maps one
  to the other;
- the same spec gives the same bytes (no dates, no dict-order or hash dependence; each
  generator has its own namespaces, so nothing depends on what was generated before);
- every identifier passes through `Namespace`, every carried text through `doc_text`.
"""

from __future__ import annotations

import math

import networkx as nx

from resdsl.backends import torch_values
from resdsl.backends.python_lines import Writer as _Writer
from resdsl.backends.class_head import class_head
from resdsl.backends.module_paths import attribute_names, module_path  # noqa: F401  (module_path: public here too)
from resdsl.backends.namespace import Namespace, class_name, doc_text
from resdsl.compiler import Network
from resdsl.ir.definitions import NETWORK, Definition, given_arguments
from resdsl.ir.expressions import EvalError, evaluate, kind_of, literal, static_kind, to_python
from resdsl.ir.graph import BlockInfo, enclosing_block, value_node
from resdsl.ir.ops import OPS, fmt_shape
from resdsl.backends.layer_value_source import FACTORY_TYPES, UNIT_OPS, factory_imports, names_class, value_ops
from resdsl.backends.torch_body import BodyEmitter, DefinitionInfo, Unit, definition_instances, fold_calls, helper_class, shortcut_reads_a_value


class TorchSourceGenerator:
    """Checked IR (and the definitions it was elaborated from) -> the generated file's text."""

    def __init__(self, net: Network):
        self.net = net
        self.g: nx.DiGraph = net.graph
        self.module_ns = Namespace()
        self.kinds: dict[str, DefinitionInfo] = {}
        self.helpers_used: set[str] = set()
        self.shortcut_defs: dict[str, DefinitionInfo] = {}
        for info in self.g.graph["blocks"].values():
            kind = self.kinds.setdefault(info.definition, DefinitionInfo(self.g.graph["lowered"][info.definition]))
            kind.instances.append(info)
            if enclosing_block(self.g, info.path) is not None:
                kind.nested = True
            if info.shortcut_def:
                self.shortcut_defs.setdefault(info.shortcut_def, DefinitionInfo(self.g.graph["lowered"][info.shortcut_def])).instances.append(info)
        for name, kind in list(self.kinds.items()) + list(self.shortcut_defs.items()):
            kind.cls = self.module_ns.unique(self.module_ns_name(kind))
        name = self.g.graph["name"]  # the network's, or a zoo model's (resdsl.frontend.zoo)
        self.net_cls = self.module_ns.unique(class_name(name))
        self.factory = self.module_ns.name(name)
        self._names: dict[str, Namespace] = {}

    @staticmethod
    def module_ns_name(kind: DefinitionInfo) -> str:
        return kind.definition.name if kind.sequential else class_name(kind.definition.name)

    def value_node(self, prefix: str, ref: str) -> str:
        """The IR node holding value `ref` of the body at path `prefix` ("" for the network)."""
        if ref == "input":
            return self.g.graph["blocks"][prefix].input if prefix else "input"
        return value_node(self.g, f"{prefix}.{ref}" if prefix else ref)

    def python_names(self, definition: Definition) -> Namespace:
        """The namespace of a definition's parameters and lets; parameters are named first."""
        if definition.name not in self._names:
            attrs = attribute_names(definition)
            children = {attrs[i.names[0]] for i in definition.block_uses()}
            ns = Namespace(reserved=children)  # nested blocks arrive as keyword arguments of __init__
            for p in definition.params:
                ns.name(p.name)
            self._names[definition.name] = ns
        return self._names[definition.name]

    def param_kinds(self, kind: DefinitionInfo) -> dict[str, str]:
        """Each parameter's kind over all instances ("mixed" where int and float mix)."""
        out: dict[str, str] = {}
        shortcut = kind.definition.kind == "shortcut"
        for p in kind.definition.unique_params():
            seen = {kind_of(a[p.name]) for i in kind.instances for a in [i.shortcut_args if shortcut else i.args] if p.name in a}
            out[p.name] = seen.pop() if len(seen) == 1 else "mixed"
        for let in kind.definition.lets():
            out[let.name] = static_kind(let.value, out)
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
        if "math." in used:  # a spec's `log2`, `floor`, ... (resdsl.ir.functions)
            w.line("import math")
        for line in factory_imports(used):  # norm and activation values
            w.line(line)
        if "collections.OrderedDict(" in used:  # a stage whose blocks are named (`names b1`)
            w.line("import collections")
        if "math." in used or factory_imports(used) or "collections.OrderedDict(" in used:
            w.line()
        w.line("import torch")
        w.line("from torch import nn")
        wanted = self.helpers_used | value_ops(self.g)  # a value's op too: passed on as a factory
        helpers = [
            text
            for op in OPS
            if op in wanted
            for text in (OPS[op].helper, *OPS[op].helpers)
            if text and names_class(helper_class(text), used)
        ]
        for text in helpers + sections:
            w.line()
            w.line()
            w.block(text)
        return w.text()

    def _signature(self, kind: DefinitionInfo, rename) -> tuple[list[str], list]:
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

    def _docstring(self, kind: DefinitionInfo, w: _Writer, depth: int, what: str) -> None:
        d = kind.definition
        params = d.unique_params()
        signature = ", ".join(p.name + (f"={to_python(p.default, str)}" if p.default is not None else "") for p in params)
        w.line(f'"""{what.capitalize()} `{doc_text(d.name)}({doc_text(signature)})`.', depth)
        w.line()
        w.line(f"Defined at {doc_text(d.span)}; one {'function' if kind.sequential else 'class'} serves every instance of the {what}.", depth)
        w.line('"""', depth)

    def _lets(self, w: _Writer, kind: DefinitionInfo, rename, late: list, depth: int) -> None:
        kinds = self.param_kinds(kind)
        for p in late:
            w.line(f"if {rename(p.name)} is None:", depth)
            w.line(f"{rename(p.name)} = {to_python(p.default, rename, kinds=kinds)}", depth + 1)
        needed = kind.definition.needed_lets()
        for let in kind.definition.lets():
            if let.name in needed:
                w.line(f"{rename(let.name)} = {to_python(let.value, rename, kinds=kinds)}", depth)

    # --- sequential and shortcut factories ----------------------------------------------------

    def sequential_factory(self, kind: DefinitionInfo) -> str:
        w = _Writer()
        rename = self.python_names(kind.definition).name
        sig, late = self._signature(kind, rename)
        children = [s for s in kind.definition.steps if s.what == "use"]
        if children:  # nested blocks arrive built, by keyword, as in a block class
            attrs = attribute_names(kind.definition)
            sig += ["*"] + [f"{attrs[child.names[0]]}: nn.Module" for child in children]
        head = f"def {kind.cls}({', '.join(['in_channels: int'] + sig)}) -> nn.Sequential:"
        w.line(head)
        self._docstring(kind, w, 1, kind.definition.kind)
        self._lets(w, kind, rename, late, 1)
        body = BodyEmitter(self, kind.definition, rename, self.param_kinds(kind), {}, None, definition_instances(kind), owner="")
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

    def block_class(self, kind: DefinitionInfo) -> str:
        d = kind.definition
        if torch_values.uses_values(d):  # splits, tuples, loops: resdsl.backends.torch_values
            return torch_values.block_class(self, kind, _Writer(), attribute_names(d))
        rename = self.python_names(d).name
        attrs = attribute_names(d)
        w = _Writer()
        late = class_head(self, kind, rename, attrs, w)
        self._lets(w, kind, rename, late, 2)
        body = BodyEmitter(self, d, rename, self.param_kinds(kind), {}, None, definition_instances(kind))
        body.collect()
        body.constructors()
        # A shortcut that reads a named value (`add from pre`) is registered first, as
        # pre-activation blocks do it (timm's PreActBottleneck): it fixes the state_dict order.
        first = kind.downsample_arg and shortcut_reads_a_value(d)
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

    def _init_lines(self, w: _Writer, body: BodyEmitter, depth: int) -> None:
        shared_made = set()
        for unit in body.units:
            if unit.op == "block":
                attr = body.attrs[unit.name]
                if body.prefix is None:
                    w.line(f"self.{attr} = {attr}", depth)
                elif unit.item.repeat is None:
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

    def call_args(self, kind: DefinitionInfo, args: dict, in_channels: int) -> list[str]:
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

    def children_args(self, kind: DefinitionInfo, info: BlockInfo) -> list[str]:
        """`name=Child(...)` for each block the instance `info` uses."""
        attrs = attribute_names(kind.definition)
        out = []
        for item in kind.definition.block_uses():  # a block of a `for` loop: a ModuleList of its rounds' entries
            built = torch_values.module_list(self, f"{info.path}.{item.names[0]}") if item.label_index is not None else self.use_call(Unit(item, "block", item.names[0], [], None), info.path)
            out.append(f"{attrs[item.names[0]]}={built}")
        return out

    def use_call(self, unit: Unit, scope: str = "") -> str:
        path = f"{scope}.{unit.name}" if scope else unit.name
        if unit.item.repeat is None:
            return self.instance_call(self.g.graph["blocks"][path])
        lines = self.stage_lines(self.g.graph["stage_index"][path])
        return lines[0] + " ".join(lines[1:-1]).rstrip(",") + lines[-1]

    def stage_lines(self, stage) -> list[str]:
        """A stage's nn.Sequential: its opening, a line per block (runs folded), its closing;
        blocks named other than 0, 1, ... (`names b1`) by name, in an OrderedDict."""
        calls = [self.instance_call(self.g.graph["blocks"][b]) for b in stage.blocks]
        names = [b.rsplit(".", 1)[-1] for b in stage.blocks]
        if names == [str(i) for i in range(len(names))]:
            return ["nn.Sequential(", *fold_calls(calls), ")"]
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
        d = g.graph["lowered"][NETWORK]
        zero_bns = self._zero_init_targets()
        w = _Writer()
        w.line(f"class {self.net_cls}(nn.Module):")
        w.line(f'"""Network `{doc_text(d.name)}` ({doc_text(self.net.source)}): {fmt_shape(self.net.input_shape)} -> {fmt_shape(self.net.output_shape)}."""', 1)
        w.line()
        w.line("def __init__(self, zero_init_residual: bool = False) -> None:" if zero_bns else "def __init__(self) -> None:", 1)
        w.line("super().__init__()", 2)
        body = BodyEmitter(self, d, str, {}, dict(g.graph["params"]), "")
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
            steps = kind.definition.steps
            units = {name: (unit, step) for step in steps for unit, name in zip(step.units, step.names)}
            order = [name for step in steps for name in step.names]
            add = next(s.names[0] for s in steps if s.residual_add)
            ref = order[order.index(add) - 1] if order.index(add) else None
            while ref in units and UNIT_OPS[units[ref][0].op].passthrough and units[ref][1].guard is None:
                ref = order[order.index(ref) - 1] if order.index(ref) else None
            if ref in units and UNIT_OPS[units[ref][0].op].normalizes and units[ref][1].guard is None:
                targets.append((kind.cls, attribute_names(kind.definition)[ref]))
        return targets

    def factory_function(self) -> str:
        d = self.g.graph["lowered"][NETWORK]
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
