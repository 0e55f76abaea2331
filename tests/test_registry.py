"""The op registry is the one place an op is described: every op, through every consumer.

For each op in `resdsl.ir.ops.OPS` a small spec uses it; the test checks its shape against the
built module, its parameter count against the module's, the generated source, the drawing,
Table 1 and the language reference. A new op without an example here fails the first test.
Also: the expressions of every block instance, as translated to Python, evaluate to the values
the IR holds (the `/` miscompile and its class).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import resdsl
from resdsl.backends.draw import draw
from resdsl.analysis.summary_tree import summarize
from resdsl.analysis.table1 import table1
from resdsl.backends.torch_source import TorchSourceGenerator
from resdsl.ir.expressions import to_python
from resdsl.frontend.layers import LAYER_KINDS, markdown_table
from resdsl.ir.ops import OPS
from resdsl.frontend.resources import bundled_specs
from resdsl.frontend.syntax import ast
from test_shapes import assert_shapes_match_module

ROOT = Path(__file__).resolve().parent.parent

# op -> a network body (after `input 4x8x8`) that uses it
EXAMPLES = {
    "input": "conv 3x3, 4",
    "conv": "conv 3x3, 8, stride 2, groups 2, dilation 2, bias on",
    "linear": "fc: linear 5",
    "bn": "fc: linear 5; batchnorm",
    "bn_act": "conv 3x3, 4, bn off, relu off; batchnorm, relu on",
    "relu": "relu",
    "sigmoid": "b: gate(4)",
    "identity": "avgpool 2x2, stride 2 when false",
    "dropout": "conv 3x3, 4; dropout 0.5",
    "drop_path": "b: gate(4)",
    "maxpool": "maxpool 3x3, stride 2, ceil on",
    "avgpool": "avgpool 3x3, stride 2, ceil on, count_pad off",
    "global_avgpool": "avgpool",
    "flatten": "avgpool; flatten",
    "add": "b: gate(4)",
    "mul": "b: gate(4)",
    "pad_channels": "b: padded(4) x 2, stride 2",
    "split": "b: halves(4)",
    "part": "b: halves(4)",
    "concat": "b: halves(4)",
    "sum": "b: halves(4)",
    # norm and activation values (resdsl.ir.layer_values): in a block class, a factory
    "groupnorm": "b: valued(4, norm = groupnorm(2))",
    "groupnorm_size": "b: valued(4, norm = groupnorm_size(2)); conv 1x1, 6, norm groupnorm_size(3)",
    "relu6": "conv 3x3, 4, act relu6",
    "leaky_relu": "conv 3x3, 4; act leaky_relu",
    "silu": "b: valued(4, act = silu)",
    "gelu": "conv 3x3, 4, norm groupnorm(4), act gelu",
    "hardswish": "conv 3x3, 4, act hardswish",
    "hardsigmoid": "conv 3x3, 4, act hardsigmoid",
    "mish": "conv 3x3, 4, act mish",
    "tanh": "conv 3x3, 4, act tanh",
    "evonorm_s0": "b: valued(4, norm = evonorm_s0(2))",
    "frn": "conv 3x3, 4, norm frn, relu off",
    "channel_conv": "b: eca(4)",
    "blur_pool": "conv 3x3, 4; blur_pool",
    "std_conv": "conv 3x3, 8, stride 2, groups 2, ws 1e-8, bias on",
    "pad": "conv 3x3, 4; pad 1; maxpool 3x3, stride 2, padding 0",
    "softmax": "b: attend(4)",
    "weighted_sum": "b: attend(4)",
}

BLOCKS = """
block gate(w) {
    conv 3x3, w
    avgpool
    g: conv 1x1, w, bias on, bn off, relu off
    sigmoid
    mul from input, g
    drop_path 0.2
    add input
}
block attend(w) {
    conv 3x3, w * 2
    x: relu
    paths: split 2
    sum paths
    avgpool
    fc1: conv 1x1, 8, groups 2, bias on, bn off
    fc2: conv 1x1, w * 2, groups 2, bias on, bn off, relu off
    softmax 2, groups 2
    weighted_sum x, 2
    conv 1x1, w, relu off
    add
}
block halves(w) {
    conv 3x3, w
    parts: split 2
    for i in 0 .. 2 {
        branch[i]: conv 3x3, w // 2, dilation (i + 1), from parts[i]
    }
    sum parts[0], parts[1]
    conv 1x1, w // 2
    concat branch, input
    conv 1x1, w, relu off
    add
}
block valued(w, norm = batchnorm, act = relu) {
    conv 3x3, w, norm norm, act act
    norm norm
    add
    act act
}
block eca(w) {
    conv 3x3, w
    avgpool
    conv: channel_conv 3
    sigmoid
    mul input
    add
}
block padded(w, stride = 1) {
    conv 3x3, w * 2, stride stride
    add
}
"""


def _net(op: str):
    text = BLOCKS + f"network walk {{\n    input 4x8x8\n    shortcut A\n    {EXAMPLES[op]}\n}}\n"
    return resdsl.compile_text(text, "walk.res")


def test_every_op_has_an_example():
    assert set(EXAMPLES) == set(OPS)


@pytest.mark.parametrize("op", sorted(OPS))
def test_every_op_through_every_consumer(op):
    net = _net(op)
    g = net.graph
    assert op in {d["op"] for _, d in g.nodes(data=True)}
    # shapes: static == seen running the module
    assert_shapes_match_module(net)
    # costs: counted parameters == the module's
    with torch.device("meta"):
        model = resdsl.build(net)
    assert net.params == sum(p.numel() for p in model.parameters())
    # codegen: the op's constructor or expression is in the source
    source = resdsl.generate_source(net)
    compile(source, "walk.py", "exec")
    # drawing: every drawn node has a label (no-op ones are not drawn)
    dot = draw(net, detail="layer", fold=False).source
    for node, data in g.nodes(data=True):
        if not OPS[data["op"]].no_op(data["params"]) and data["op"] != "input":
            assert f'"{node}"' in dot or f"\t{node} [" in dot, node
    # Table 1: a phrase for the ops it lists, none for the others
    cells = " ".join(row.cell for row in table1(net, summarize(net)))
    for _, data in g.nodes(data=True):
        words = OPS[data["op"]].phrase
        if words is not None and not data["origin"] and not data["scope"]:
            assert words(data["params"], False) in cells
    # the language reference names every layer kind that makes the op
    reference = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    makers = [k.name for k in LAYER_KINDS.values() if op in {u.op for u in _units_of(k)}]
    assert all(f"`{name}`" in reference for name in makers)


def _units_of(kind):
    """The ops a layer kind can expand into (every structural option tried)."""
    ops = set()
    for bn in (True, False):
        for relu in (True, False):
            for ws in (None, ast.Literal(None, 1e-8)):  # `conv ..., ws EPS`: a std_conv
                args = {"bn": ast.Literal(None, bn), "relu": ast.Literal(None, relu), "kernel": None, "ws": ws}
                try:
                    ops |= {u.op for u in kind.expand(args)}
                except (KeyError, AttributeError, TypeError):
                    continue
    return [type("U", (), {"op": o}) for o in ops]


def test_language_reference_layer_table_is_the_registry():
    text = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    start = text.index("<!-- layers -->\n") + len("<!-- layers -->\n")
    assert text[start : text.index("<!-- /layers -->")] == markdown_table()


# --- expressions: Python == the IR ----------------------------------------------------------------


def assert_translations_hold(net) -> int:
    """Every unit parameter of every block and shortcut instance, evaluated as the generated
    Python computes it, equals the IR's value (value and type). Returns how many were checked."""
    g = net.graph
    gen = TorchSourceGenerator(net)
    checked = 0
    instances = [(info, gen.kinds[info.definition], info.args, info.path) for info in g.graph["blocks"].values()]
    instances += [(info, gen.shortcut_defs[info.shortcut_def], info.shortcut_args, f"{info.path}.downsample")
                  for info in g.graph["blocks"].values() if info.shortcut_def]
    for info, kind, args, prefix in instances:
        d = kind.definition
        rename, kinds = gen.python_names(d).name, gen.param_kinds(kind)
        env = {rename(k): v for k, v in args.items()}
        for let in d.lets():
            env[rename(let.name)] = eval(to_python(let.value, rename, kinds=kinds), {"math": math}, dict(env))  # noqa: S307
        for item in d.steps:
            for unit, name in zip(item.units, item.names):
                node = f"{prefix}.{name}"
                if node not in g or g.nodes[node]["op"] != unit.op:
                    continue  # a guard made it an identity
                for key, arg in unit.params.items():
                    expr = item.arg[arg]
                    exprs = expr if isinstance(expr, tuple) else (expr,)
                    values = tuple(eval(to_python(e, rename, kinds=kinds), {"math": math}, dict(env)) for e in exprs)  # noqa: S307
                    held = g.nodes[node]["params"][key]
                    held = held if isinstance(held, tuple) else (held,)
                    assert values == held and [type(v) for v in values] == [type(h) for h in held], (node, key, values, held)
                    checked += 1
    return checked


@pytest.mark.parametrize("name", sorted(bundled_specs()))
def test_translated_expressions_equal_the_ir_in_every_bundled_spec(name):
    assert assert_translations_hold(resdsl.load(name)) > 0


def test_true_division_is_not_floored_in_the_generated_code():
    """Regression: `/` became `//` everywhere, so w / r with r = 2.0 made 8 channels, not 16."""
    text = """
block b(w, r) {
    conv 3x3, (16 if w / r > 1 else 8)
}
network n(w = 3, r = 2.0) {
    input 3x8x8
    blk: b(w, r)
}
"""
    net = resdsl.compile_text(text, "div.res")
    assert net.graph.nodes["blk.conv1"]["shape"][0] == 16
    assert "w / r > 1" in resdsl.generate_source(net)
    assert resdsl.build(net).blk.conv1.out_channels == 16
    assert assert_translations_hold(net) > 0


def test_language_reference_value_table_is_the_registry():
    from resdsl.ir.layer_values import markdown_table as values_table

    text = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    start = text.index("<!-- values -->\n") + len("<!-- values -->\n")
    assert text[start : text.index("<!-- /values -->")] == values_table()
