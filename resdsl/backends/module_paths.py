"""Where each IR node lives in the built module: the attribute a body's unit gets (its label,
or the namespace's rename of it), and the full attribute path of any IR node.

Invariant: `module_path(net, node)` names the module the generated code builds for `node`,
so code that reaches into a built model by IR path (weights, hooks, the interpreter test) goes
through here.
"""

from __future__ import annotations

from resdsl.backends.namespace import Namespace
from resdsl.compiler import Network
from resdsl.frontend.plan import block_uses, is_residual_add, loop_body, plan
from resdsl.frontend.syntax import ast
from resdsl.ir.norm_act_ops import UNIT_OPS


def attribute_names(definition: ast.Definition) -> dict[str, str]:
    """Local node name -> Python attribute, for every module-owning unit of a body. A body
    without a residual add takes no `downsample` argument, so its label `downsample` keeps its
    name (timm's pre-activation RegNet adds its own `downsample` conv)."""
    items = plan(definition).items
    attrs = Namespace(module_attrs=True, free=frozenset() if any(is_residual_add(i) for i in items) else frozenset({"downsample"}))
    out: dict[str, str] = {}
    for item in items:
        if isinstance(item.stmt, ast.BlockUse):
            out[item.names[0]] = attrs.name(item.names[0])
        if isinstance(item.stmt, ast.For):  # a block in a loop: one ModuleList (`paths`)
            out |= {i.names[0]: attrs.name(i.names[0]) for i in block_uses(loop_body(item.stmt, definition))}
        for unit, name in zip(item.units, item.names):
            if UNIT_OPS[unit.op].torch is not None and (not UNIT_OPS[unit.op].shared or item.stmt.guard is not None):
                out[name] = attrs.name(name)  # a guarded unit is its own module (or an identity)
    return out


def module_path(net: Network, node_id: str) -> str:
    """The attribute path in the built module of the IR node or block `node_id`.

    Equal to `node_id` unless a label was renamed by the namespace (`training: conv` is
    `self.training_`); code that reaches into a built model by IR path goes through here.
    """
    g = net.graph
    definition, block, ir, out = g.graph["network"], None, [], []
    stages = g.graph["stage_index"]
    for segment in node_id.split("."):
        ir.append(segment)
        path = ".".join(ir)
        # a segment of a generated shortcut's path (`downsample.0`) keeps its name; a user's own
        # label may spell the same prefix (`downsample: conv ...` is `downsample_`), so the node
        # itself must lie on the shortcut for the segment to be the shortcut's
        on_shortcut = block is not None and any(node_id == n or node_id.startswith(n + ".") for n in block.shortcut_nodes)
        synthetic = on_shortcut and any(n == path or n.startswith(path + ".") for n in block.shortcut_nodes)
        numbered = definition is None or definition.kind in ("sequential", "shortcut")
        out.append(segment if numbered or synthetic else attribute_names(definition).get(segment, segment))
        if path in g.graph["blocks"]:
            block = g.graph["blocks"][path]
            definition = g.graph["definitions"][block.definition]
        elif path in stages:
            definition = None  # the next segment is an index into the nn.Sequential
    return ".".join(out)
