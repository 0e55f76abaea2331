"""Language 3: several values at once. `split`, `parts[i]`, `concat`, `sum`, `for` loops with
indexed labels, value `let`s, and their diagnostics (located, with both shapes)."""

from __future__ import annotations

import pytest
import torch

import resdsl
from test_interpret import assert_same_network

RES2 = """
block b2(width, scale = 4, first = false, stride = 1) {
    conv1: conv 1x1, width * scale
    parts: split scale
    for i in 0 .. scale - 1 {
        let v = parts[i] if i == 0 or first else sp + parts[i]
        convs[i]: conv 3x3, width, stride stride, from v
        let sp = convs[i]
    }
    pool: avgpool 3x3, stride stride, padding 1, from parts[scale - 1] when first
    concat convs, pool
    conv3: conv 1x1, width * scale, relu off
    add
    relu
}
"""


def _net(body: str, blocks: str = "", **params):
    text = f"{blocks}\nnetwork t(first = false) {{\n    input 3x32x32\n    conv 3x3, 32\n{body}\n}}\n"
    return resdsl.compile_text(text, "t.res", verify_ir=True, **params)


def _block(body: str):
    return _net("    layer1: b()", "block b() {\n" + body + "\n}")


def _error(body: str) -> str:
    with pytest.raises(resdsl.ResdslError) as err:
        _block(body)
    (diag,) = err.value.diagnostics
    return f"{diag.span.line}:{diag.span.column} {diag.code} {diag.message}"


def test_a_loop_unrolls_into_indexed_nodes_and_rebinds_its_value():
    g = _net("    layer1: b2(8)", RES2).graph
    block = [n for n in g if n.startswith("layer1.")]
    assert block == [
        "layer1.conv1", "layer1.bn1", "layer1.relu1", "layer1.parts",
        "layer1.parts.0", "layer1.parts.1", "layer1.parts.2", "layer1.parts.3",
        "layer1.convs.0", "layer1.bns.0", "layer1.relu.0",
        "layer1.v.1", "layer1.convs.1", "layer1.bns.1", "layer1.relu.1",
        "layer1.v.2", "layer1.convs.2", "layer1.bns.2", "layer1.relu.2",
        "layer1.pool", "layer1.concat", "layer1.conv3", "layer1.bn3", "layer1.add", "layer1.relu2",
    ]  # fmt: skip
    assert g.nodes["layer1.v.2"]["inputs"] == ("layer1.relu.1", "layer1.parts.2")  # sp + parts[i]: sp re-bound
    assert g.nodes["layer1.concat"]["inputs"] == ("layer1.relu.0", "layer1.relu.1", "layer1.relu.2", "layer1.pool")
    assert g.nodes["layer1.parts.3"]["shape"] == (8, 32, 32)
    assert g.nodes["layer1.concat"]["shape"] == (32, 32, 32)
    assert g.nodes["layer1.pool"]["op"] == "identity"


def test_the_first_block_pools_the_last_part_and_reads_each_part_alone():
    g = _net("    layer1: b2(8, first = true, stride = 2)", RES2).graph
    assert g.nodes["layer1.convs.1"]["inputs"] == ("layer1.parts.1",)
    assert g.nodes["layer1.pool"]["op"] == "avgpool"
    assert g.nodes["layer1.concat"]["shape"] == (32, 16, 16)


def test_costs_of_split_concat_and_sum():
    net = _net("    layer1: b2(8)", RES2)
    g = net.graph
    assert [g.nodes[n]["cost_params"] for n in ("layer1.parts", "layer1.parts.0", "layer1.concat")] == [0, 0, 0]
    assert g.nodes["layer1.concat"]["cost_activations"] == 32 * 32 * 32
    assert g.nodes["layer1.parts.0"]["cost_activations"] == 0
    # 3x3 conv 32; conv1 1x1 32->32, 3 convs 3x3 8->8, conv3 1x1 32->32, with their batch norms
    assert net.params == (3 * 32 * 9 + 64) + (32 * 32 + 64) + 3 * (8 * 8 * 9 + 16) + (32 * 32 + 64)
    s = _block("    a: conv 1x1, 8\n    b: conv 1x1, 8, from input\n    c: conv 1x1, 8, from input\n    sum a, b, c").graph
    assert s.nodes["layer1.sum"]["cost_element_ops"] == 2 * 8 * 32 * 32


def test_split_that_does_not_divide():
    assert _error("    parts: split 3\n    concat parts") == "2:5 E0210 `split 3` cannot divide 32 channels (32×32×32) into 3 equal parts"


def test_concat_of_different_sizes_names_both():
    body = "    parts: split 4\n    pooled: maxpool 2x2, stride 2, from parts[1]\n    concat parts[0], pooled"
    assert _error(body) == "4:5 E0211 `concat` receives 8×32×32 (value 1) and 8×16×16 (value 2)"


def test_sum_of_different_shapes_names_both():
    body = "    for i in 0 .. 2 {\n        c[i]: conv 3x3, 8\n    }\n    sum c, input"
    assert _error(body) == "5:5 E0211 `sum` receives 8×32×32 (value 1) and 32×32×32 (value 3)"


def test_index_out_of_range_and_tuple_read_as_one():
    assert _error("    parts: split 4\n    conv 3x3, 8, from parts[4]") == "3:29 E0212 index 4 is out of range: `parts` has 4 values (0 .. 3)"
    assert _error("    parts: split 4\n    conv 3x3, 8, from parts") == "3:23 E0213 `parts` is 4 values; this reads one"
    assert _error("    a: conv 3x3, 8\n    conv 3x3, 8, from a[0]") == "3:23 E0212 `a` is one value; it has no entries to index"


def test_indexed_label_outside_a_loop_and_loop_outside_a_block():
    assert _error("    a[0]: conv 3x3, 8") == "2:7 E0114 an indexed label belongs in a `for` loop"
    with pytest.raises(resdsl.ResdslError, match=r"E0114.*a `for` loop belongs in a `block`"):
        _net("    for i in 0 .. 2 {\n        conv 3x3, 8\n    }")


def test_a_value_nothing_reads_is_warned_at_its_statement():
    net = _block("    parts: split 4\n    side: conv 3x3, 8, from parts[1]\n    concat parts[0], parts[2], parts[3], parts[3]")
    assert [(w.code, w.span.line, w.message) for w in net.warnings] == [
        ("W0003", 3, "this statement's value is never read"),
    ]
    net = _block("    parts: split 2\n    concat parts[0], parts[0]")
    assert [(w.code, w.span.line, w.message) for w in net.warnings] == [("W0003", 2, "part 1 of `parts` is never read")]


def test_the_generated_class_splits_loops_over_module_lists_and_concatenates():
    source = resdsl.generate_source(_net("    layer1: b2(8)", RES2))
    init = source[source.index("        self.parts_size") : source.index("        self.conv3")]
    assert init == (
        "        self.parts_size = width\n"
        "        self.convs = nn.ModuleList(\n"
        "            [nn.Conv2d(width, width, kernel_size=3, stride=stride, padding=1, bias=False) for _ in range(scale - 1)],\n"
        "        )\n"
        "        self.bns = nn.ModuleList([nn.BatchNorm2d(width) for _ in range(scale - 1)])\n"
        "        self.pool = (\n"
        "            nn.AvgPool2d(kernel_size=3, stride=stride, padding=1)\n"
        "            if first\n"
        "            else nn.Identity()\n"
        "        )\n"
    )
    forward = source[source.index("        parts = torch.split") : source.index("        out = self.conv3")]
    assert forward == (
        "        parts = torch.split(out, self.parts_size, 1)\n"
        "        convs = []\n"
        "        for i in range(len(self.convs)):\n"
        "            v = parts[i] if i == 0 or self.first else sp + parts[i]\n"
        "            convs_i = self.convs[i](v)\n"
        "            convs_i = self.bns[i](convs_i)\n"
        "            convs_i = self.relu(convs_i)\n"
        "            convs.append(convs_i)\n"
        "            sp = convs_i\n"
        "        pool = self.pool(parts[self.scale - 1])\n"
        "        out = torch.cat([*convs, pool], 1)\n"
    )
    assert "self.conv3 = nn.Conv2d(\n            width * (scale - 1) + width,\n" in source


@pytest.mark.parametrize("first", [False, True])
def test_the_built_module_equals_the_interpreter_and_keys_follow_the_loop(first):
    import torch

    from resdsl.backends.torch_build import weights_from_module
    from resdsl.ir.interpret import interpret

    net = _net(f"    layer1: b2(8, first = {str(first).lower()}, stride = {2 if first else 1})", RES2)
    torch.manual_seed(0)
    model = resdsl.build(net).eval()
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.dtype.is_floating_point:
                t.copy_(torch.rand_like(t) + 0.5 if t.dim() == 1 else torch.randn_like(t) * 0.1)
        x = torch.randn(2, 3, 32, 32)
        torch.testing.assert_close(model(x), interpret(net, x, weights_from_module(net, model)))
    keys = [k.rsplit(".", 1)[0] for k in model.state_dict() if k.startswith("layer1.") and k.endswith("weight") and "downsample" not in k]
    assert keys == ["layer1.conv1", "layer1.bn1", "layer1.convs.0", "layer1.convs.1", "layer1.convs.2",
                    "layer1.bns.0", "layer1.bns.1", "layer1.bns.2", "layer1.conv3", "layer1.bn3"]  # fmt: skip
    # with the stride, the shortcut projects: its module comes last, as torchvision registers it
    assert keys[-2:] == ["layer1.conv3", "layer1.bn3"] and [k for k in model.state_dict() if "downsample" in k][:1] == (
        ["layer1.downsample.0.weight"] if first else []
    )


def test_an_index_label_numbers_the_rounds_from_0_and_loops_do_not_nest():
    body = "    for i in 1 .. 3 {\n        c[i]: conv 3x3, 8\n    }"
    assert _error(body) == "3:11 E0212 `c[...]` numbers the loop's rounds from 0: this round is 0, the index 1"
    body = "    for i in 0 .. 2 {\n        for j in 0 .. 2 {\n            conv 3x3, 8\n        }\n    }"
    assert _error(body) == "3:9 E0114 `for` loops do not nest"
    with pytest.raises(resdsl.ResdslError, match=r"E0214.*round 1 of `c` reads 8 channels, round 0 read 32"):
        _block("    for i in 0 .. 2 {\n        c[i]: conv 3x3, 8\n    }")
    net = _net("    layer1: b(1)", "block b(a) {\n    for i in a .. a + 2 {\n        c[i - a]: conv 3x3, 8, dilation i, from input\n    }\n    concat c\n}")
    assert [n for n in net.graph if n.startswith("layer1.c.")] == ["layer1.c.0", "layer1.c.1"]
    assert net.graph.nodes["layer1.c.1"]["params"]["dilation"] == (2, 2)
    assert_same_network(net)


def test_the_diagram_draws_the_parts_as_branches_joined_at_the_concat():
    from resdsl.backends.draw import draw

    source = draw(_net("    layer1: b2(8)", RES2), detail="unit", fold=False).source
    into = sorted(line.strip() for line in source.split("\n") if '-> "layer1.concat"' in line)
    assert into == [
        '"layer1.convs.0" -> "layer1.concat"', '"layer1.convs.1" -> "layer1.concat"', '"layer1.convs.2" -> "layer1.concat"',
        '"layer1.parts" -> "layer1.concat" [label="8×32×32"]',
    ]  # fmt: skip
    assert '"layer1.concat" [label="‖"' in source and '"layer1.parts" [label="split 4"' in source
    assert '"layer1.convs.0" -> "layer1.v.1"' in source  # each part's result is added to the next part


# --- attention over paths: softmax and weighted_sum (SKNet, ResNeSt) ---------------------------

ATTEND = """    x: conv 3x3, 16
    paths: split 2
    sum paths
    avgpool
    fc: conv 1x1, 16, groups 2, bias on, bn off, relu off
    softmax 2, groups 2
    weighted_sum x, 2
    conv 1x1, 32, relu off
    add"""


def test_softmax_groups_that_do_not_divide_name_the_shape():
    assert _error("    avgpool\n    softmax 3, groups 2") == "3:5 E0216 `softmax 3, groups 2` cannot read 32 channels (32×1×1) as 2 group(s) of 3 paths"


def test_weighted_sum_of_mismatched_shapes_names_both():
    body = "    x: conv 3x3, 16\n    avgpool\n    conv 1x1, 8, bias on, bn off, relu off\n    weighted_sum x, 2"
    assert _error(body) == "5:5 E0217 `weighted_sum` receives weights 8×1×1 for paths 16×32×32"
    assert _error("    avgpool\n    weighted_sum input, 3") == "3:5 E0217 `weighted_sum` cannot read 32×32×32 as 3 paths of equal channels (weights 32×1×1)"


def test_split_attention_equals_timms_layout_by_hand():
    """timm's RadixSoftmax (view (B, g, n, -1), transpose, softmax) and the radix-major weighted sum."""
    net = _block(ATTEND)
    model = resdsl.build(net).eval()
    block = model.layer1
    assert (net.params, type(block.softmax).__name__, block.softmax.paths, block.softmax.groups) == (3 * 9 * 32 + 64 + 32 * 9 * 16 + 32 + 4 * 16 + 16 + 8 * 32 + 64, "RadixSoftmax", 2, 2)
    logits = torch.randn(3, 16, 1, 1)
    want = logits.view(3, 2, 2, -1).transpose(1, 2).softmax(1).reshape(3, -1)  # timm's RadixSoftmax
    assert torch.equal(block.softmax(logits).flatten(1), want)
    x = torch.randn(3, 16, 4, 4)
    weights = block.softmax(logits)
    want = (x.reshape(3, 2, 8, 4, 4) * weights.reshape(3, 2, 8, 1, 1)).sum(1)
    assert torch.equal(block.weighted_sum(weights, x), want)


SK = """
sequential cna(channels, dilation = 1) {
    conv: conv 3x3, channels, dilation dilation, bn off, relu off
    bn: batchnorm, relu on
}
block sk(channels, split = true) {
    parts: split (2 if split else 1)
    for i in 0 .. 2 {
        let src = parts[i] if split else parts[0]
        paths[i]: cna(channels, dilation = i + 1), from src
    }
    stacked: concat paths
    sum paths
    avgpool
    fc: conv 1x1, channels * 2, bn off, relu off
    softmax 2
    weighted_sum stacked, 2
}
"""


@pytest.mark.parametrize("split", [True, False])
def test_a_block_in_a_loop_makes_one_module_list_entry_per_round(split):
    """timm's SelectiveKernel: `paths[i]: cna(...)` is `paths.0.conv`, `paths.0.bn`, `paths.1.conv`, ..."""
    net = _net(f"    layer1: sk(16, split = {str(split).lower()})", SK)
    g = net.graph
    assert sorted(k for k in g.graph["blocks"] if k.startswith("layer1.")) == ["layer1.paths.0", "layer1.paths.1"]
    assert [n for n in g if n.startswith("layer1.paths")] == ["layer1.paths.0.conv", "layer1.paths.0.bn", "layer1.paths.1.conv", "layer1.paths.1.bn"]
    assert g.nodes["layer1.paths.1.conv"]["inputs"] == (("layer1.parts.1",) if split else ("layer1.parts.0",))
    assert g.nodes["layer1.paths.1.conv"]["params"]["dilation"] == (2, 2) and g.nodes["layer1.paths.1.conv"]["params"]["padding"] == (2, 2)
    assert g.nodes["layer1.stacked"]["inputs"] == ("layer1.paths.0.bn", "layer1.paths.1.bn")
    assert g.nodes["layer1.stacked"]["shape"] == (32, 32, 32) and g.nodes["layer1.weighted_sum"]["shape"] == (16, 32, 32)
    # the stem's conv and norm 864 + 64; per path 3·3·C_in·16 + 2·16 (its norm); the attention 16·32
    assert net.params == 928 + 2 * (9 * (16 if split else 32) * 16 + 32) + 512 == (6112 if split else 10720)
    model = resdsl.build(net)
    keys = [k for k in model.state_dict() if k.startswith("layer1.") and k.endswith("weight")]
    assert keys == ["layer1.paths.0.conv.weight", "layer1.paths.0.bn.weight", "layer1.paths.1.conv.weight", "layer1.paths.1.bn.weight", "layer1.fc.weight"]
    assert_same_network(net)


def test_the_generated_class_takes_the_loops_blocks_as_one_module_list():
    source = resdsl.generate_source(_net("    layer1: sk(16)", SK))
    assert "self.layer1 = Sk(32, 16, paths=nn.ModuleList([cna(16, 16), cna(16, 16, dilation=2)]))" in source
    assert "        paths: nn.Module,\n    ) -> None:" in source
    forward = source[source.index("        parts = torch.split") : source.index("        out = sum(")]
    assert forward == (
        "        parts = torch.split(x, self.parts_size, 1)\n"
        "        paths = []\n"
        "        for i in range(len(self.paths)):\n"
        "            src = parts[i] if self.split else parts[0]\n"
        "            paths_i = self.paths[i](src)\n"
        "            paths.append(paths_i)\n"
        "        stacked = torch.cat([*paths], 1)\n"
    )
    assert "        self.parts_size = in_channels // (2 if split else 1)\n" in source


def test_a_block_in_a_loop_needs_an_indexed_label_and_no_repeat():
    blocks = "sequential s(c) {\n    conv 3x3, c\n}\nblock b() {\n"
    cases = {
        "    for i in 0 .. 2 {\n        p: s(8)\n    }": "6:9 E0114 a block used in a `for` body needs an indexed label: each round makes one ModuleList entry",
        "    for i in 0 .. 2 {\n        s(8)\n    }": "6:9 E0114 a block used in a `for` body needs an indexed label: each round makes one ModuleList entry",
        "    for i in 0 .. 2 {\n        p[i]: s(8) x 2\n    }": "6:22 E0114 a stage cannot repeat inside a `for` loop; the loop makes the copies",
        "    p[0]: s(8)": "5:7 E0114 an indexed label belongs in a `for` loop",
        "    parts: split 2\n    for i in 0 .. 2 {\n        p[i]: s(8), from (parts[i] if true else input)\n    }": "7:27 E0115 `from` takes the name of a value (a label, `input` or `parts[i]`)",
        "    for i in 0 .. 2 {\n        p[i]: s(8), from nothing\n    }": "6:26 E0107 unknown value `nothing`",
    }
    for body, expected in cases.items():
        with pytest.raises(resdsl.ResdslError) as err:
            _net("    layer1: b()", blocks + body + "\n}")
        (diag,) = err.value.diagnostics
        assert f"{diag.span.line}:{diag.span.column} {diag.code} {diag.message}" == expected
    with pytest.raises(resdsl.ResdslError, match=r"6:5: error\[E0114\]: a `sequential` definition is one path; it cannot read named values"):
        _net("    layer1: q()", "sequential s(c) {\n    conv 3x3, c\n}\nsequential q() {\n    a: conv 3x3, 8\n    s(8), from a\n}")
