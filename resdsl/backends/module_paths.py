"""Where each IR node lives in the built module: the attribute a body's unit gets (its label,
or the namespace's rename of it), and the full attribute path of any IR node.

Invariant: `module_path(net, node)` names the module the generated code builds for `node`,
so code that reaches into a built model by IR path (weights, hooks, the interpreter test) goes
through here.
"""

from __future__ import annotations

from resdsl.backends.namespace import Namespace
from resdsl.compiler import Network
from resdsl.ir.definitions import NETWORK, Definition
from resdsl.ir.norm_act_ops import UNIT_OPS


def attribute_names(definition: Definition) -> dict[str, str]:
    """Local node name -> Python attribute, for every module-owning unit of a body. A body
    without a residual add takes no `downsample` argument, so its label `downsample` keeps its
    name (timm's pre-activation RegNet adds its own `downsample` conv)."""
    attrs = Namespace(module_attrs=True, free=frozenset() if definition.has_residual_add() else frozenset({"downsample"}))
    out: dict[str, str] = {}
    for step in definition.steps:
        if step.what == "use":
            out[step.names[0]] = attrs.name(step.names[0])
        if step.what == "for":  # a block in a loop: one ModuleList (`paths`)
            out |= {s.names[0]: attrs.name(s.names[0]) for s in step.loop.body.block_uses()}
        for unit, name in zip(step.units, step.names):
            if UNIT_OPS[unit.op].torch is not None and (not UNIT_OPS[unit.op].shared or step.guard is not None):
                out[name] = attrs.name(name)  # a guarded unit is its own module (or an identity)
    return out


def module_path(net: Network, node_id: str) -> str:
    """The attribute path in the built module of the IR node or block `node_id`.

    Equal to `node_id` unless a label was renamed by the namespace (`training: conv` is
    `self.training_`); code that reaches into a built model by IR path goes through here.
    """
    g = net.graph
    lowered = g.graph["lowered"]
    definition, block, ir, out = lowered[NETWORK], None, [], []
    stages = g.graph["stage_index"]
    for segment in node_id.split("."):
        ir.append(segment)
        path = ".".join(ir)
        # a segment of a generated shortcut's path (`downsample.0`) keeps its name; a user's own
        # label may spell the same prefix (`downsample: conv ...` is `downsample_`), so the node
        # itself must lie on the shortcut for the segment to be the shortcut's
        on_shortcut = block is not None and any(node_id == n or node_id.startswith(n + ".") for n in block.shortcut_nodes)
        synthetic = on_shortcut and any(n == path or n.startswith(path + ".") for n in block.shortcut_nodes)
        numbered = definition is None or definition.sequential
        out.append(segment if numbered or synthetic else attribute_names(definition).get(segment, segment))
        if path in g.graph["blocks"]:
            block = g.graph["blocks"][path]
            definition = lowered[block.definition]
        elif path in stages:
            definition = None  # the next segment is an index into the nn.Sequential
    return ".".join(out)
