"""The language, construct by construct: each spec is compiled and its IR (or generated code)
checked for the exact values the construct must produce."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import resdsl
from resdsl.backends.torch_source import module_path
from conftest import ROOT
from test_shapes import assert_shapes_match_module


def net_of(body: str, blocks: str = "", header: str = "network t", **params):
    return resdsl.compile_text(f"{blocks}\n{header} {{\n{body}\n}}\n", "t.res", verify_ir=True, **params)


def node(net, name):
    return net.graph.nodes[name]


def test_conv_defaults_same_padding_bn_relu_no_bias():
    net = net_of("input 3x32x32\nconv 5x5, 8")
    assert [n for n in net.graph if n != "input"] == ["conv1", "bn1", "relu"]
    assert node(net, "conv1")["params"] == {
        "kernel": (5, 5), "stride": (1, 1), "padding": (2, 2), "dilation": (1, 1),
        "groups": 1, "bias": False, "out_channels": 8,
    }
    assert node(net, "relu")["shape"] == (8, 32, 32)


def test_conv_options_and_rectangular_kernels():
    net = net_of("input 4x32x32\nc: conv 1x7, 8, stride 2, padding 0, groups 2, bias on, bn off, relu off\nconv 3, 8, dilation 2")
    assert node(net, "c")["params"]["kernel"] == (1, 7) and node(net, "c")["params"]["bias"] is True
    assert node(net, "c")["shape"] == (8, 16, 13)  # (32-1)//2+1, (32-7)//2+1
    assert "c_bn" not in net.graph
    assert node(net, "conv2")["params"]["padding"] == (2, 2) and node(net, "conv2")["shape"] == (8, 16, 13)
    assert net.params == (8 * 2 * 7 + 8) + (8 * 8 * 9 + 2 * 8)


def test_pools_linear_and_labels():
    net = net_of("input 3x32x32\nconv 3x3, 4\nmp: maxpool 3x3, stride 2\navgpool 2x2, stride 2\nhead: linear 10, bias off")
    assert node(net, "mp")["shape"] == (4, 16, 16)
    assert node(net, "avgpool")["shape"] == (4, 8, 8)
    assert node(net, "head")["shape"] == (10,)
    assert node(net, "head")["cost_params"] == 4 * 8 * 8 * 10


def test_global_average_pool_and_fc_flatten_in_generated_code():
    net = net_of("input 3x8x8\nconv 3x3, 4\navgpool\nfc: linear 2")
    assert node(net, "avgpool")["shape"] == (4, 1, 1)
    source = resdsl.generate_source(net)
    assert "        x = self.avgpool(x)\n        x = torch.flatten(x, 1)\n        x = self.fc(x)\n" in source


def test_let_arithmetic_and_conditionals():
    net = net_of(
        "input 3x16x16\nlet w = 6 * 4 // 5 + 10 % 3 - -1\nlet wide = w >= 6 and not false\nconv 3x3, (w * 2 if wide else 1)",
    )
    assert net.graph.graph["params"] == {}
    assert node(net, "conv1")["shape"] == (12, 16, 16)  # w = 4 + 1 + 1 = 6


def test_network_parameters_defaults_overrides_and_dims_from_expressions():
    body = "input 3 x size x size\nconv 3x3, width"
    net = net_of(body, header="network t(width = 8, size = 16)")
    assert net.input_shape == (3, 16, 16) and node(net, "conv1")["shape"] == (8, 16, 16)
    net = net_of(body, header="network t(width = 8, size = 16)", width=4, size=10)
    assert net.input_shape == (3, 10, 10) and node(net, "conv1")["shape"] == (4, 10, 10)


def test_blocks_with_parameters_keyword_arguments_and_repeats():
    blocks = "block b(w, k = 3, stride = 1) {\n conv k x k, w, stride stride\n conv 1x1, w * 2, relu off\n add\n relu\n}"
    net = net_of("input 3x32x32\nshortcut B\nstage: b(4, k = 5) x 3, stride 2", blocks)
    blocks_ = net.graph.graph["blocks"]
    assert list(blocks_) == ["stage.0", "stage.1", "stage.2"]
    assert [b.args for b in blocks_.values()] == [{"w": 4, "k": 5, "stride": 2}, {"w": 4, "k": 5, "stride": 1}, {"w": 4, "k": 5, "stride": 1}]
    assert node(net, "stage.0.conv1")["params"]["kernel"] == (5, 5)
    assert node(net, "stage.2.relu2")["shape"] == (8, 16, 16)
    assert [b.shortcut for b in blocks_.values()] == ["projection", "identity", "identity"]


def test_repeat_count_from_an_expression_and_unicode_times():
    net = net_of("input 3×8×8\nlayer1: basic(4) × n * 2", header="network t(n = 2)")
    assert len(net.graph.graph["stages"][0].blocks) == 4 and net.input_shape == (3, 8, 8)


def test_semicolons_comments_and_unlabelled_stage_names():
    net = net_of("input 3x8x8; conv 3x3, 4  # a comment\n# a line comment\nbasic(4) x 1; basic(8) x 1, stride 2")
    assert [s.name for s in net.graph.graph["stages"]] == ["layer1", "layer2"]


def test_a_stage_option_names_its_blocks_from_a_first_name():
    """`names b1`: timm's RegNet numbering (`s1.b1`, `s1.b2`), in the IR, the module and the source."""
    spec = "network t {\n    input 3x8x8\n    conv 3x3, 4\n    s1: basic(4) x 2, names b1\n    s2: basic(8) x 1, stride 2, names blk7\n}\n"
    net = resdsl.compile_text(spec, "t.res")
    assert [s.blocks for s in net.graph.graph["stages"]] == [["s1.b1", "s1.b2"], ["s2.blk7"]]
    keys = [k for k in resdsl.build(net).state_dict() if k.endswith(".conv1.weight")]
    assert keys == ["s1.b1.conv1.weight", "s1.b2.conv1.weight", "s2.blk7.conv1.weight"]
    source = resdsl.generate_source(net)
    assert source.split("import torch")[0].endswith('"""\n\nimport collections\n\n')
    assert '        self.s1 = nn.Sequential(collections.OrderedDict([\n            ("b1", Basic(4, 4)),\n            ("b2", Basic(4, 4)),\n        ]))\n' in source
    assert module_path(net, "s2.blk7.conv1") == "s2.blk7.conv1"


def test_v1_and_v15_bottlenecks_differ_only_in_stride_placement():
    v15, v1 = resdsl.load("resnet50"), resdsl.load("resnet50_v1")
    assert node(v15, "layer2.0.conv1")["params"]["stride"] == (1, 1)
    assert node(v15, "layer2.0.conv2")["params"]["stride"] == (2, 2)
    assert node(v1, "layer2.0.conv1")["params"]["stride"] == (2, 2)
    assert node(v1, "layer2.0.conv2")["params"]["stride"] == (1, 1)
    assert v15.params == v1.params and v15.macs - v1.macs == 4_089_184_256 - 3_857_973_248


def test_nested_blocks_build_and_match_static_shapes():
    blocks = (
        "block pair(width) {\n conv 3x3, width\n conv 3x3, width, relu off\n add\n relu\n}\n"
        "block double(width, stride = 1) {\n down: conv 1x1, width, stride stride\n inner: pair(width) x 2\n"
        " tail: pair(width)\n conv 1x1, width * 2\n}"
    )
    net = net_of("input 3x32x32\nconv1: conv 3x3, 16\nlayer1: double(16) x 2\nlayer2: double(32), stride 2\navgpool\nfc: linear 10", blocks)
    assert list(net.graph.graph["blocks"])[:4] == ["layer1.0", "layer1.0.inner.0", "layer1.0.inner.1", "layer1.0.tail"]
    assert node(net, "layer2.tail.relu2")["shape"] == (32, 16, 16)
    assert assert_shapes_match_module(net) > 20
    assert net.params == sum(p.numel() for p in resdsl.build(net).parameters())


def test_user_blocks_shadow_the_prelude():
    blocks = "block basic(width, stride = 1) {\n conv 3x3, width, stride stride\n}"
    net = net_of("input 3x8x8\nlayer1: basic(4) x 2", blocks)
    assert [n for n in net.graph if n.startswith("layer1.0.")] == ["layer1.0.conv1", "layer1.0.bn1", "layer1.0.relu"]


def test_example_spec_and_script_run():
    net = resdsl.load(ROOT / "examples" / "tiny_preact.res", classes=7)
    assert net.output_shape == (7,)
    assert assert_shapes_match_module(net) > 10
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "build_custom.py"), "7"], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[:2] == [
        f"tiny_preact: {net.params:,} parameters, {net.macs:,} multiply-adds",
        "input (2, 3, 64, 64) -> output (2, 7)",
    ]
    assert "stage2.0=projection" in out


def test_a_python_keyword_argument_for_a_missing_parameter_is_a_diagnostic():
    with pytest.raises(resdsl.ResdslError, match=r"E0103.*no parameter `depth`"):
        resdsl.load("cifar_resnet", depth=3)
    with pytest.raises(resdsl.ResdslError, match=r"E0115.*parameter `n` takes an integer, got `true`"):
        resdsl.load("cifar_resnet", n=True)
