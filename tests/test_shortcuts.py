"""Shortcut policies as the paper defines them: A pads, B projects where dimensions change,
C projects everywhere, none has no add — checked in the IR and in the built module."""

from __future__ import annotations

import torch

import resdsl


def _shortcuts(net):
    return [b.shortcut for b in net.graph.graph["blocks"].values()]


def _ops(net, op):
    return [n for n, d in net.graph.nodes(data=True) if d["op"] == op]


def test_option_a_has_no_shortcut_parameters():
    net = resdsl.load("cifar_resnet", n=3)
    assert _shortcuts(net) == ["identity"] * 3 + ["zero_pad", "identity", "identity"] * 2
    pads = _ops(net, "pad_channels")
    assert pads == ["layer2.0.downsample.0", "layer3.0.downsample.0"]  # the prelude's `zero_pad`
    assert [net.graph.nodes[p]["params"] for p in pads] == [{"channels": 32, "stride": 2}, {"channels": 64, "stride": 2}]
    assert sum(net.graph.nodes[p]["cost_params"] for p in pads) == 0
    model = resdsl.build(net)
    assert not [k for k in model.state_dict() if "downsample" in k]


def test_option_a_pads_half_before_and_half_after():
    model = resdsl.build("cifar_resnet", n=1)
    pad = model.layer2[0].downsample
    x = torch.arange(2 * 16 * 4 * 4, dtype=torch.float32).reshape(2, 16, 4, 4)
    y = pad(x)
    assert y.shape == (2, 32, 2, 2)
    assert torch.equal(y[:, 8:24], x[:, :, ::2, ::2])
    assert torch.count_nonzero(y[:, :8]) == 0 and torch.count_nonzero(y[:, 24:]) == 0


def test_option_b_projects_only_where_dimensions_change():
    net = resdsl.load("resnet34")
    kinds = _shortcuts(net)
    assert kinds.count("projection") == 3 and kinds.count("identity") == 13
    assert [b.path for b in net.graph.graph["blocks"].values() if b.shortcut == "projection"] == [
        "layer2.0", "layer3.0", "layer4.0"]
    # bottlenecks change channels in layer1.0 too (64 -> 256), with stride 1
    net50 = resdsl.load("resnet50")
    projected = [b.path for b in net50.graph.graph["blocks"].values() if b.shortcut == "projection"]
    assert projected == ["layer1.0", "layer2.0", "layer3.0", "layer4.0"]
    assert net50.graph.nodes["layer1.0.downsample.0"]["params"]["stride"] == (1, 1)
    assert net50.graph.nodes["layer2.0.downsample.0"]["params"]["stride"] == (2, 2)


def test_option_c_projects_every_block():
    text = (resdsl.frontend.resources.bundled_specs()["resnet34"]).read_text().replace("shortcut B", "shortcut C")
    text = text.replace("expect params", "# expect params").replace("expect macs", "# expect macs")
    net = resdsl.compile_text(text, "resnet34_c.res")
    assert _shortcuts(net) == ["projection"] * 16
    # 13 extra 1x1 projections with BN, where B had identities
    extra = 3 * (64 * 64 + 128) + 3 * (128 * 128 + 256) + 5 * (256 * 256 + 512) + 2 * (512 * 512 + 1024)
    assert net.params == 21_797_672 + extra
    assert sum(p.numel() for p in resdsl.build(net).parameters()) == net.params


def test_plain_nets_have_no_add():
    for spec in ("plain18", "plain34", "cifar_plain"):
        net = resdsl.load(spec)
        assert _ops(net, "add") == [] and _ops(net, "pad_channels") == []
        assert set(_shortcuts(net)) == {"none"}
    source = resdsl.generate_source("plain34")
    block_forward = source.split("class Basic(")[1].split("def forward")[1].split("\nclass ")[0]
    assert "out = self.relu(out)" in block_forward and " + " not in block_forward


def test_per_stage_policy_overrides_the_network_policy():
    text = """
network mixed {
    input 3x32x32
    shortcut B
    conv1: conv 3x3, 16
    layer1: basic(16) x 2
    layer2: basic(32) x 2, stride 2, shortcut A
    layer3: basic(64) x 2, stride 2, shortcut C
}
"""
    net = resdsl.compile_text(text, "mixed.res")
    assert _shortcuts(net) == ["identity", "identity", "zero_pad", "identity", "projection", "projection"]
