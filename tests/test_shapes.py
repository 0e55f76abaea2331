"""Differential: the statically inferred shape of every node equals the shape seen when the
built module runs (on `meta` tensors: real shapes, no arithmetic)."""

from __future__ import annotations

import pytest
import torch

import resdsl
from resdsl.backends.torch_source import module_path
from resdsl.ir.ops import OPS
from resdsl.frontend.resources import bundled_specs


def observed_shapes(net):
    """Output shape of every named submodule when the built module runs, batch 1, on meta."""
    with torch.device("meta"):
        model = resdsl.build(net).eval()  # eval: a BatchNorm1d in training refuses batch 1
    seen: dict[str, tuple] = {}
    for name, module in model.named_modules():
        if name and not isinstance(module, torch.nn.ReLU):
            module.register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, tuple(o.shape[1:])))
    out = model(torch.empty(1, *net.input_shape, device="meta"))
    return seen, tuple(out.shape[1:])


def _guard_flag(net, path: str) -> bool:
    """Whether the built module holds the guard of `path` as a plain bool (`mul_on`: an op without a module)."""
    with torch.device("meta"):
        model = resdsl.build(net)
    parent, _, attr = path.rpartition(".")
    return isinstance(getattr(model.get_submodule(parent), f"{attr}_on", None), bool)


def assert_shapes_match_module(net):
    g = net.graph
    seen, out = observed_shapes(net)
    assert out == net.output_shape
    checked = 0
    for node, data in g.nodes(data=True):
        node = module_path(net, node)  # a label the namespace renamed (a guarded `relu` is `relu_`)
        if node in seen:  # every node that owns a module: conv, bn, pools, fc, shortcuts
            assert seen[node] == data["shape"], node
            checked += 1
        elif OPS[data["op"]].torch is not None and not OPS[data["op"]].shared:  # ops with no module of their own
            if data["op"] == "identity" and _guard_flag(net, node):
                continue  # a guarded-off op that has no module (`mul ... when se`) keeps its guard as a bool
            pytest.fail(f"{node} ({data['op']}) has no module of the same path")
    for path, block in g.graph["blocks"].items():
        assert seen[path] == g.nodes[block.output]["shape"], path
    for stage in g.graph["stages"]:
        assert seen[stage.name] == g.nodes[g.graph["blocks"][stage.blocks[-1]].output]["shape"]
    return checked


@pytest.mark.parametrize("name", sorted(bundled_specs()))
def test_static_shapes_equal_shapes_seen_running_the_module(name):
    assert assert_shapes_match_module(resdsl.load(name)) >= 10


def test_stage_outputs_follow_the_paper_table1():
    g = resdsl.load("resnet50").graph
    outputs = {s.name: g.nodes[g.graph["blocks"][s.blocks[-1]].output]["shape"] for s in g.graph["stages"]}
    assert outputs == {"layer1": (256, 56, 56), "layer2": (512, 28, 28), "layer3": (1024, 14, 14), "layer4": (2048, 7, 7)}
    assert g.nodes["conv1"]["shape"] == (64, 112, 112) and g.nodes["maxpool"]["shape"] == (64, 56, 56)
