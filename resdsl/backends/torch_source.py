"""PyTorch backend: checked IR -> standalone, readable, deterministic Python source.

The output imports only torch. It has one class per block kind, written from the block's
definition (its expressions translated to Python, so the class works for every instance);
a network class whose stages are `nn.Sequential`s of concrete block constructions; and a
factory function named after the network.

Invariants:
- attribute paths of the built module equal IR node ids for every node that owns a module
  (`layer2.0.conv1`, `layer2.0.downsample.0`), names coming from `resdsl.plan` on both sides;
  where `Namespace` had to rename a label (`forward` -> `forward_`), `module_path` maps one
  to the other;
- the same spec gives the same bytes (no dates, no dict-order or hash dependence);
- every identifier passes through `Namespace`, every carried text through `doc_text`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import networkx as nx

from resdsl.backends.namespace import Namespace, class_name, doc_text
from resdsl.compiler import Network
from resdsl.diagnostics import Diagnostic, ResdslError
from resdsl.expressions import evaluate, literal, to_python
from resdsl.ir.graph import BlockInfo
from resdsl.ops import OPS, fmt_shape
from resdsl.plan import plan
from resdsl.syntax import ast

INDENT = "    "

PROJECTION_HELPER = '''def projection(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """Shortcut options B and C: a 1x1 convolution with the block's stride, then batch norm."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
        nn.BatchNorm2d(out_channels),
    )
'''

ZERO_PAD_HELPER = '''class ZeroPadShortcut(nn.Module):
    """Shortcut option A: subsample with the stride, zero-pad the new channels; no parameters."""

    def __init__(self, stride: int, before: int, after: int) -> None:
        super().__init__()
        self.stride, self.before, self.after = stride, before, after

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return nn.functional.pad(x, (0, 0, 0, 0, self.before, self.after))
'''


@dataclass
class _KindInfo:
    """What the instances of one block kind need from its class."""

    definition: ast.Definition
    instances: list = field(default_factory=list)
    cls: str = ""
    nested: bool = False

    @property
    def shortcuts(self) -> set[str]:
        return {b.shortcut for b in self.instances}

    @property
    def has_add(self) -> bool:
        return any(isinstance(i.stmt, ast.Layer) and i.stmt.op == "add" for i in plan(self.definition).items)

    @property
    def emit_add(self) -> bool:
        return self.has_add and self.shortcuts != {"none"}

    @property
    def residual_arg(self) -> bool:
        return self.emit_add and "none" in self.shortcuts

    @property
    def downsample_arg(self) -> bool:
        return self.emit_add and bool(self.shortcuts & {"projection", "zero_pad"})


def _split_args(args: str) -> list[str]:
    """Top-level comma-separated arguments of a call's argument text."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(args):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(args[start:i].strip())
            start = i + 1
    parts.append(args[start:].strip())
    return [p for p in parts if p]


class _Writer:
    """Lines of Python; a call too long for one line is split one argument per line."""

    WIDTH = 100

    def __init__(self) -> None:
        self.lines: list[str] = []

    def line(self, text: str = "", depth: int = 0) -> None:
        head, _, rest = text.partition("(")
        if len(INDENT * depth + text) > self.WIDTH and " = " in head and text.endswith(")"):
            self.lines.append(INDENT * depth + head + "(")
            for arg in _split_args(rest[:-1]):
                self.line(arg + ",", depth + 1)
            self.lines.append(INDENT * depth + ")")
            return
        self.lines.append(INDENT * depth + text if text else "")

    def text(self) -> str:
        return "\n".join(self.lines).rstrip() + "\n"


def attribute_names(definition: ast.Definition) -> dict[str, str]:
    """Local node name -> Python attribute, for every module-owning statement of a body."""
    attrs = Namespace(module_attrs=True)
    out: dict[str, str] = {}
    for item in plan(definition).items:
        if isinstance(item.stmt, ast.BlockUse):
            out[item.names[0]] = attrs.name(item.names[0])
        for unit, name in zip(item.units, item.names):
            if unit.op not in ("relu", "add"):
                out[name] = attrs.name(name)
    return out


def module_path(net: Network, node_id: str) -> str:
    """The attribute path in the built module of the IR node or block `node_id`.

    Equal to `node_id` unless a label was renamed by the namespace (`training: conv` is
    `self.training_`); code that reaches into a built model by IR path goes through here.
    """
    g = net.graph
    definition, block, ir, out = g.graph["network"], None, [], []
    for segment in node_id.split("."):
        ir.append(segment)
        path = ".".join(ir)
        synthetic = block is not None and any(n == path or n.startswith(path + ".") for n in block.shortcut_nodes)
        out.append(segment if definition is None or synthetic else attribute_names(definition).get(segment, segment))
        if path in g.graph["blocks"]:
            block = g.graph["blocks"][path]
            definition = g.graph["definitions"][block.kind]
        elif any(s.name == path for s in g.graph["stages"]):
            definition = None  # the next segment is an index into the nn.Sequential
    return ".".join(out)


@functools.lru_cache(maxsize=None)
def python_names(definition: ast.Definition) -> Namespace:
    """The namespace of a block's parameters and lets; parameters are named first, in order."""
    attrs = attribute_names(definition)
    children = {attrs[i.names[0]] for i in plan(definition).items if isinstance(i.stmt, ast.BlockUse)}
    ns = Namespace(reserved=children)  # nested blocks arrive as keyword arguments of __init__
    for p in definition.params:
        ns.name(p.name)
    return ns


def _unit_ctor(op: str, args: dict) -> str:
    return OPS[op].torch(args)


def _py_pair(value) -> tuple[str, str] | str:
    return tuple(literal(v) for v in value) if isinstance(value, tuple) else literal(value)


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


class TorchSourceGenerator:
    def __init__(self, net: Network):
        self.net = net
        self.g: nx.DiGraph = net.graph
        self.module_ns = Namespace()
        self.kinds: dict[str, _KindInfo] = {}
        self.uses_projection = False
        self.uses_zero_pad = False
        for info in self.g.graph["blocks"].values():
            kind = self.kinds.setdefault(info.kind, _KindInfo(self.g.graph["definitions"][info.kind]))
            kind.instances.append(info)
            self.uses_projection |= info.shortcut == "projection"
            self.uses_zero_pad |= info.shortcut == "zero_pad"
            if self._parent_block(info.path) is not None:
                kind.nested = True
        for name, kind in self.kinds.items():  # `basic` and `Basic` both make `Basic`: unique()
            kind.cls = self.module_ns.unique(class_name(name))
        net_def = self.g.graph["network"]
        self.net_cls = self.module_ns.unique(class_name(net_def.name))
        self.factory = self.module_ns.name(net_def.name)

    def _parent_block(self, path: str) -> BlockInfo | None:
        parts = path.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            parent = self.g.graph["blocks"].get(".".join(parts[:cut]))
            if parent is not None:
                return parent
        return None

    # --- the file ----------------------------------------------------------------------------

    def generate(self) -> str:
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
        w.line("import torch")
        w.line("from torch import nn")
        if self.uses_projection:
            w.line()
            w.line()
            w.lines += PROJECTION_HELPER.rstrip().split("\n")
        if self.uses_zero_pad:
            w.line()
            w.line()
            w.lines += ZERO_PAD_HELPER.rstrip().split("\n")
        for kind in self.kinds.values():
            w.line()
            w.line()
            self.block_class(w, kind)
        w.line()
        w.line()
        self.network_class(w)
        w.line()
        w.line()
        self.factory_function(w)
        return w.text()

    # --- block classes -------------------------------------------------------------------------

    def block_class(self, w: _Writer, kind: _KindInfo) -> None:
        d = kind.definition
        rename = python_names(d).name
        attrs = attribute_names(d)
        params = [p for i, p in enumerate(d.params) if p.name not in {q.name for q in d.params[:i]}]
        sig = ["self", "in_channels: int"]
        late_defaults = []
        for p in params:
            annotation = "int"
            if p.default is None:
                sig.append(f"{rename(p.name)}: {annotation}")
                continue
            try:
                value = evaluate(p.default, {})
            except Exception:
                sig.append(f"{rename(p.name)}: int | None = None")
                late_defaults.append(p)
                continue
            annotation = {bool: "bool", float: "float"}.get(type(value), "int")
            sig.append(f"{rename(p.name)}: {annotation} = {literal(value)}")
        body_plan = plan(d)
        children = [i for i in body_plan.items if isinstance(i.stmt, ast.BlockUse)]
        if children:
            sig.append("*")  # nested blocks arrive built, by keyword: they may follow defaults
        for child in children:
            sig.append(f"{attrs[child.names[0]]}: nn.Module")
        if kind.downsample_arg:
            sig.append("downsample: nn.Module | None = None")
        if kind.residual_arg:
            sig.append("residual: bool = True")
        w.line(f"class {kind.cls}(nn.Module):")
        where = d.span
        signature = ", ".join(p.name + (f"={to_python(p.default, str)}" if p.default is not None else "") for p in params)
        w.line(f'"""Block `{doc_text(d.name)}({doc_text(signature)})`.', 1)
        w.line()
        w.line(f"Defined at {doc_text(where)}; one class serves every instance of the block.", 1)
        w.line('"""', 1)
        w.line()
        head = f"def __init__({', '.join(sig)}) -> None:"
        if len(head) + 4 <= 100:
            w.line(head, 1)
        else:
            w.line("def __init__(", 1)
            for s in sig:
                w.line(f"{s},", 2)
            w.line(") -> None:", 1)
        w.line("super().__init__()", 2)
        for p in late_defaults:
            w.line(f"if {rename(p.name)} is None:", 2)
            w.line(f"{rename(p.name)} = {to_python(p.default, rename)}", 3)
        forward: list[str] = []
        var, channels, flat, relu_made = "x", "in_channels", False, False
        uses_x_later = kind.emit_add
        for item in body_plan.items:
            stmt = item.stmt
            if isinstance(stmt, ast.Let):
                w.line(f"{rename(stmt.name)} = {to_python(stmt.value, rename)}", 2)
                continue
            if isinstance(stmt, ast.BlockUse):
                attr = attrs[item.names[0]]
                w.line(f"self.{attr} = {attr}", 2)
                forward.append(f"out = self.{attr}({var})")
                var = "out"
                channels = f"self.{attr}.out_channels" if stmt.repeat is None else f"self.{attr}[-1].out_channels"
                continue
            if not isinstance(stmt, ast.Layer):
                continue
            for unit, name in zip(item.units, item.names):
                if unit.op == "add":
                    shortcut = "x"
                    if kind.downsample_arg:
                        shortcut = "(x if self.downsample is None else self.downsample(x))"
                    if kind.residual_arg:
                        forward.append("if self.residual:")
                        forward.append(f"{INDENT}out = {var} + {shortcut}")
                        if var != "out":
                            forward.append("else:")
                            forward.append(f"{INDENT}out = {var}")
                    elif kind.emit_add:
                        forward.append(f"out = {var} + {shortcut}")
                    var, uses_x_later = "out", False
                    continue
                if unit.op == "relu":
                    if not relu_made:
                        w.line("self.relu = nn.ReLU(inplace=True)", 2)
                        relu_made = True
                    call = "torch.relu(x)" if var == "x" and uses_x_later else f"self.relu({var})"
                    forward.append(f"out = {call}")
                    var = "out"
                    continue
                attr = attrs[name]
                args = {k: (tuple(to_python(e, rename) for e in v) if isinstance(v, tuple) else to_python(v, rename)) for k, v in unit.params.items()}
                if unit.op == "conv":
                    args["in_channels"] = channels
                    channels = args["out_channels"]
                elif unit.op == "bn":
                    args["channels"] = channels
                elif unit.op == "linear":
                    args["in_features"] = channels
                    args["out_features"] = to_python(unit.params["out_features"], rename)
                    self._check_flat_linear(kind, name)
                    if not flat:
                        forward.append(f"out = torch.flatten({var}, 1)")
                        var = "out"
                    channels, flat = args["out_features"], True
                w.line(f"self.{attr} = {_unit_ctor(unit.op, args)}", 2)
                forward.append(f"out = self.{attr}({var})")
                var = "out"
        if kind.downsample_arg:
            w.line("self.downsample = downsample", 2)
        if kind.residual_arg:
            w.line("self.residual = residual", 2)
        if kind.nested:
            w.line(f"self.out_channels = {channels}", 2)
        w.line()
        w.line("def forward(self, x: torch.Tensor) -> torch.Tensor:", 1)
        for line in forward:
            w.line(line, 2)
        w.line(f"return {var}", 2)

    def _check_flat_linear(self, kind: _KindInfo, name: str) -> None:
        for info in kind.instances:
            node = f"{info.path}.{name}"
            if node in self.g:
                src = self.g.nodes[self.g.nodes[node]["inputs"][0]]["shape"]
                if len(src) == 3 and src[1:] != (1, 1):
                    raise ResdslError(
                        [
                            Diagnostic(
                                "E0208",
                                f"the PyTorch backend needs a 1×1 input for `linear` inside a block; `{node}` gets {fmt_shape(src)}",
                                self.g.nodes[node]["site"],
                                help="put a global `avgpool` before it",
                            )
                        ],
                        self.net.sources,
                    )

    # --- concrete constructions ------------------------------------------------------------------

    def block_call(self, info: BlockInfo) -> str:
        kind = self.kinds[info.kind]
        d = kind.definition
        g = self.g
        parts = [str(g.nodes[info.input]["shape"][0])]
        env: dict = {}
        seen = set()
        for p in d.params:
            if p.name in seen:
                continue
            seen.add(p.name)
            value = info.args[p.name]
            if p.default is None:
                parts.append(literal(value))
            elif evaluate(p.default, env) != value or type(evaluate(p.default, env)) is not type(value):
                parts.append(f"{python_names(d).name(p.name)}={literal(value)}")
            env[p.name] = value
        attrs = attribute_names(d)
        for item in plan(d).items:
            if isinstance(item.stmt, ast.BlockUse):
                child_path = f"{info.path}.{item.names[0]}"
                parts.append(f"{attrs[item.names[0]]}={self.use_call(child_path, item.stmt)}")
        if info.shortcut == "projection":
            conv = g.nodes[info.shortcut_nodes[0]]
            stride = conv["params"]["stride"][0]
            out = conv["shape"][0]
            in_ch = g.nodes[info.input]["shape"][0]
            parts.append(f"downsample=projection({in_ch}, {out}" + (f", stride={stride})" if stride != 1 else ")"))
        elif info.shortcut == "zero_pad":
            p = g.nodes[info.shortcut_nodes[0]]["params"]
            parts.append(f"downsample={_unit_ctor('pad_shortcut', {k: str(v) for k, v in p.items()})}")
        if kind.residual_arg and info.shortcut == "none":
            parts.append("residual=False")
        return f"{kind.cls}({', '.join(parts)})"

    def use_call(self, path: str, stmt: ast.BlockUse) -> str:
        if stmt.repeat is None:
            return self.block_call(self.g.graph["blocks"][path])
        stage = next(s for s in self.g.graph["stages"] if s.name == path)
        calls = [self.block_call(self.g.graph["blocks"][b]) for b in stage.blocks]
        return "nn.Sequential(" + " ".join(_fold(calls)).rstrip(",") + ")"

    # --- the network class ---------------------------------------------------------------------

    def network_class(self, w: _Writer) -> None:
        g = self.g
        d = g.graph["network"]
        attrs = attribute_names(d)
        zero_bns = self._zero_init_targets()
        w.line(f"class {self.net_cls}(nn.Module):")
        w.line(f'"""Network `{doc_text(d.name)}` ({doc_text(self.net.source)}): {fmt_shape(self.net.input_shape)} -> {fmt_shape(self.net.output_shape)}."""', 1)
        w.line()
        w.line("def __init__(self, zero_init_residual: bool = False) -> None:" if zero_bns else "def __init__(self) -> None:", 1)
        w.line("super().__init__()", 2)
        forward: list[str] = []
        relu_made = False
        for item in plan(d).items:
            stmt = item.stmt
            if isinstance(stmt, ast.BlockUse):
                name = item.names[0]
                if name not in g.graph["blocks"] and not any(s.name == name for s in g.graph["stages"]):
                    continue
                attr = attrs[name]
                self._stage_lines(w, attr, name, stmt)
                forward.append(f"x = self.{attr}(x)")
                continue
            if not isinstance(stmt, ast.Layer):
                continue
            for unit, name in zip(item.units, item.names):
                if name not in g:
                    continue
                node = g.nodes[name]
                in_shape = g.nodes[node["inputs"][0]]["shape"]
                if unit.op == "relu":
                    if not relu_made:
                        w.line("self.relu = nn.ReLU(inplace=True)", 2)
                        relu_made = True
                    forward.append("x = self.relu(x)")
                    continue
                args = {k: _py_pair(v) for k, v in node["params"].items()}
                if unit.op == "conv":
                    args["in_channels"] = str(in_shape[0])
                    args["out_channels"] = str(node["shape"][0])
                elif unit.op == "bn":
                    args["channels"] = str(in_shape[0])
                elif unit.op == "linear":
                    args["in_features"] = str(math.prod(in_shape))
                    if len(in_shape) != 1:
                        forward.append("x = torch.flatten(x, 1)")
                attr = attrs[name]
                w.line(f"self.{attr} = {_unit_ctor(unit.op, args)}", 2)
                forward.append(f"x = self.{attr}(x)")
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
            first = True
            for cls, bn in zero_bns:
                w.line(f"{'if' if first else 'elif'} isinstance(m, {cls}):", 4)
                w.line(f"nn.init.zeros_(m.{bn}.weight)", 5)
                first = False
        w.line()
        w.line("def forward(self, x: torch.Tensor) -> torch.Tensor:", 1)
        for line in forward:
            w.line(line, 2)
        w.line("return x", 2)

    def _stage_lines(self, w: _Writer, attr: str, name: str, stmt: ast.BlockUse) -> None:
        if stmt.repeat is None:
            w.line(f"self.{attr} = {self.block_call(self.g.graph['blocks'][name])}", 2)
            return
        stage = next(s for s in self.g.graph["stages"] if s.name == name)
        calls = [self.block_call(self.g.graph["blocks"][b]) for b in stage.blocks]
        w.line(f"self.{attr} = nn.Sequential(", 2)
        for line in _fold(calls):
            w.line(line, 3)
        w.line(")", 2)

    def _zero_init_targets(self) -> list[tuple[str, str]]:
        """(class, bn attribute) for each kind whose add's branch operand is a batch norm."""
        targets = []
        for kind in self.kinds.values():
            if not kind.emit_add:
                continue
            last = None
            for item in plan(kind.definition).items:
                for unit, name in zip(item.units, item.names):
                    if unit.op == "add":
                        if last is not None:
                            targets.append((kind.cls, attribute_names(kind.definition)[last]))
                        break
                    last = name if unit.op == "bn" else None
                if isinstance(item.stmt, ast.BlockUse):
                    last = None
        return targets

    def factory_function(self, w: _Writer) -> None:
        d = self.g.graph["network"]
        zero = bool(self._zero_init_targets())
        sig = "zero_init_residual: bool = False" if zero else ""
        w.line(f"def {self.factory}({sig}) -> {self.net_cls}:")
        w.line(f'"""Build `{doc_text(d.name)}` as specified, initialized as torchvision does."""', 1)
        w.line(f"return {self.net_cls}({'zero_init_residual=zero_init_residual' if zero else ''})", 1)


def generate_source(net: Network) -> str:
    """The standalone PyTorch source for a checked network."""
    return TorchSourceGenerator(net).generate()
