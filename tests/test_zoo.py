"""The model zoo after 2015: timm's and torchvision's names, shapes and numbers, and the papers'.

Ordinary CI has no timm or torchvision (see tests/test_reference_libraries.py for the tier that
loads their weights and compares outputs); it compares resdsl's built models with the manifests
that `scripts/reference_manifests.py` wrote from those libraries (key order, shapes, counts,
conv strides/paddings/dilations, drop-path rates).
"""

from __future__ import annotations

import pytest
import torch

import resdsl
from reference_manifest import manifest, state_dict_layout
from test_shapes import assert_shapes_match_module

# spec (and its parameters) -> the manifest of the library model it mirrors
MIRRORS = {
    ("resnet18d", ()): "timm_resnet18d",
    ("resnet26d", ()): "timm_resnet26d",
    ("resnet50d", ()): "timm_resnet50d",
    ("resnet50d", (("depth", 26),)): "timm_resnet26d",
    ("resnet50d", (("depth", 101),)): "timm_resnet101d",
    ("seresnet50", ()): "timm_seresnet50",
    ("seresnext50_32x4d", ()): "timm_seresnext50_32x4d",
    ("resnetv2_50", ()): "timm_resnetv2_50",
    ("resnet50", ()): "timm_resnet50",
    ("resnet50", (("output_stride", 16),)): "tv_resnet50_os16",
    ("resnet50", (("output_stride", 8),)): "tv_resnet50_os8",
    ("resnet101", (("output_stride", 16),)): "tv_resnet101_os16",
    ("resnet101", (("output_stride", 8),)): "tv_resnet101_os8",
}

# The papers' counts (CIFAR-10), from independent implementations of the authors' code.
PAPERS = {
    ("preact_resnet", (("depth", 110),)): 1_730_522,
    ("preact_resnet", (("depth", 164),)): 1_703_258,
    ("wide_resnet", ()): 36_479_194,  # WRN-28-10; the paper says 36.5M
}


def _meta_model(spec: str, params: tuple):
    with torch.device("meta"):
        return resdsl.build(spec, **dict(params))


def _id(key) -> str:
    spec, params = key
    return spec + "".join(f"-{k}{v}" for k, v in params)


@pytest.mark.parametrize("key", list(MIRRORS), ids=_id)
def test_state_dict_is_the_librarys_in_order_and_shape(key):
    spec, params = key
    expected = manifest(MIRRORS[key])
    net = resdsl.load(spec, **dict(params))
    assert net.params == expected["params"]
    assert state_dict_layout(_meta_model(spec, params)) == expected["state_dict"]


@pytest.mark.parametrize("key", [k for k, m in MIRRORS.items() if "convs" in manifest(m)], ids=_id)
def test_dilated_convs_are_torchvisions(key):
    """replace_stride_with_dilation: every conv's stride, padding and dilation."""
    model = _meta_model(*key)
    convs = [[n, list(c.stride), list(c.padding), list(c.dilation)] for n, c in model.named_modules() if isinstance(c, torch.nn.Conv2d)]
    assert convs == manifest(MIRRORS[key])["convs"]


@pytest.mark.parametrize("key", list(PAPERS), ids=_id)
def test_cifar_follow_ups_have_the_papers_counts(key):
    spec, params = key
    net = resdsl.load(spec, **dict(params))
    assert net.params == PAPERS[key] == sum(p.numel() for p in _meta_model(spec, params).parameters())


@pytest.mark.parametrize(
    "spec, params",
    [("resnet18d", {}), ("resnet50d", {}), ("seresnet50", {}), ("resnetv2_50", {}), ("preact_resnet", {"depth": 164}),
     ("preact_resnet", {"depth": 110}), ("wide_resnet", {"depth": 16, "k": 4}), ("resnet50", {"output_stride": 8})],
)
def test_static_shapes_equal_the_shapes_seen_running(spec, params):
    assert assert_shapes_match_module(resdsl.load(spec, **params)) >= 10


@pytest.mark.parametrize("model", manifest("timm_drop_path_rates")["models"], ids=lambda m: m["name"])
def test_drop_path_rates_are_timms(model):
    """timm: drop_path_rate * block_index / (blocks - 1), the index over the whole network."""
    net = resdsl.load(model["name"], drop_path_rate=model["drop_path_rate"])
    # the residual blocks: not the deep stem's `sequential` (net_index does not count it either)
    blocks = {path: info for path, info in net.graph.graph["blocks"].items() if "drop_path" in info.args}
    assert [[path, info.args["drop_path"]] for path, info in blocks.items()] == model["blocks"]
    built = _meta_model(model["name"], (("drop_path_rate", model["drop_path_rate"]),))
    assert [built.get_submodule(path).drop_path.p for path in blocks] == [rate for _, rate in model["blocks"]]


def _pair(spec: str, **params):
    """The spec built twice with the same weights: as given, and with `params` (rates) set."""
    torch.manual_seed(0)
    plain = resdsl.build(spec, **{k: v for k, v in params.items() if k in ("depth", "k", "n")})
    dropped = resdsl.build(spec, **params)
    dropped.load_state_dict(plain.state_dict())
    return plain, dropped


@pytest.mark.parametrize("spec, params", [("resnet18", {"drop_path_rate": 0.5}), ("wide_resnet", {"depth": 10, "k": 1, "dropout": 0.5})])
def test_dropout_and_drop_path_are_identities_in_eval_and_random_in_training(spec, params):
    plain, dropped = _pair(spec, **params)
    size = 224 if spec == "resnet18" else 32
    x = torch.randn(2, 3, size, size)
    plain.eval(), dropped.eval()
    with torch.no_grad():
        assert torch.equal(plain(x), dropped(x))  # bit-identical
    dropped.train()
    with torch.no_grad():
        torch.manual_seed(1)
        first = dropped(x)
        torch.manual_seed(2)
        second = dropped(x)
    assert not torch.equal(first, second)


def test_wide_resnet_has_dropout_between_its_convs():
    source = resdsl.generate_source("wide_resnet")
    forward = source.split("class WideBasic(")[1].split("def forward")[1].split("\nclass ")[0]
    lines = [line.strip() for line in forward.strip().split("\n")[1:]]
    assert lines[:5] == [
        "pre = self.pre(x)",
        "out = self.conv1(pre)",
        "out = self.bn1(out)",
        "out = self.dropout(out)",
        "out = self.conv2(out)",
    ]
    assert "self.dropout = nn.Dropout(p)" in source


def test_preact_projection_reads_the_pre_activated_input_and_identity_the_raw_one():
    net = resdsl.load("preact_resnet", depth=110)
    blocks = net.graph.graph["blocks"]
    first, later = blocks["layer2.0"], blocks["layer2.1"]
    assert first.shortcut_def == "conv_projection" and first.shortcut_from == "layer2.0.pre"
    assert net.graph.nodes[first.shortcut_nodes[0]]["inputs"] == ("layer2.0.pre",)
    assert later.shortcut == "identity" and net.graph.nodes[later.add]["inputs"][1] == later.input
    assert [net.graph.nodes[n]["op"] for n in first.shortcut_nodes] == ["conv"]  # no batch norm


def test_readme_zoo_table_is_what_compare_prints():
    import json
    import re
    from pathlib import Path

    from click.testing import CliRunner

    from resdsl.cli import main

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    table = text[text.index("<!-- zoo -->") : text.index("<!-- /zoo -->")]
    rows = {m[0]: (int(m[1].replace(",", "")), int(m[2].replace(",", ""))) for m in re.findall(r"^\| `(\w+)` \|.*\| ([\d,]+) \| ([\d,]+) \|$", table, re.M)}
    assert set(rows) == {spec for spec, _ in list(MIRRORS) + list(PAPERS)} - {"resnet50", "resnet101"}
    result = CliRunner().invoke(main, ["compare", *rows, "--format", "json"])
    assert result.exit_code == 0, result.output
    printed = {n["network"]: (n["params"], n["macs"]) for n in json.loads(result.stdout)["networks"]}
    assert printed == rows


def test_the_block_diagram_shows_se_gates_and_pooled_shortcuts():
    from resdsl.backends.draw import draw

    se = draw("seresnet50").source
    assert '"layer1.0" [label="1x1 conv, 64\\n3x3 conv, 64\\n1x1 conv, 256\\navg pool\\n1x1 conv, 16\\n1x1 conv, 256\\nsigmoid\\n×"' in se
    d = draw("resnet50d").source
    assert '"layer1.1.add" -> "layer2.0.add" [label="2x2 avg pool, /2\\n1x1 conv, 512\\n512×28×28" class="shortcut projection"' in d


def test_pre_activation_units_show_their_batch_norm_before_the_conv():
    from resdsl.backends.draw import draw

    dot = draw("preact_resnet", detail="unit", fold=False).source
    assert '"layer2.1.pre" [label="batch norm, relu"' in dot
    assert '"layer2.1.conv2" [label="3x3 conv, 32"' in dot


# ---- timm's ResNet family by name (resdsl.frontend.zoo) against tests/manifests/timm_zoo.json ----------

from resdsl.frontend import zoo  # noqa: E402

TIMM_ZOO = {m["name"]: m for m in manifest("timm_zoo")["models"]}


def _layout_groups():
    import importlib.util

    from reference_manifest import GENERATOR

    spec = importlib.util.spec_from_file_location("reference_manifests", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.layout_groups


LAYOUT_GROUPS = _layout_groups()


def test_the_zoo_table_names_every_timm_model_once():
    by_module = {}
    for m in TIMM_ZOO.values():
        by_module.setdefault(m["module"], []).append(m["name"])
    assert {k: sorted(v) for k, v in by_module.items()} == zoo.names_by_module()
    assert not set(zoo.ZOO) & set(zoo.UNCOVERED)
    assert len(TIMM_ZOO) == 168 and len(zoo.ZOO) == 168
    assert zoo.META_ONLY <= set(zoo.ZOO)


@pytest.mark.parametrize("name", sorted(zoo.ZOO))
def test_zoo_model_has_timms_state_dict_layout(name):
    """The family spec with the table's parameters: timm's keys, order, shapes and count."""
    entry, expected = zoo.ZOO[name], TIMM_ZOO[name]
    with torch.device("meta"):
        model = resdsl.build(entry.spec, **entry.params)
    layout = state_dict_layout(model)
    assert sum(p.numel() for p in model.parameters()) == expected["params"]
    assert len(layout) == expected["state_dict_entries"]
    assert LAYOUT_GROUPS(layout) == expected["groups"]


@pytest.mark.parametrize("name", ["resnet101d", "seresnext26d_32x4d", "resnet10t", "resnetrs50", "resnet50", "legacy_seresnet18", "regnety_032"])
def test_a_timm_name_resolves_wherever_a_spec_is_named(name):
    from click.testing import CliRunner

    from resdsl.cli import main

    net = resdsl.load(name)
    assert net.name == name and net.params == TIMM_ZOO[name]["params"]
    result = CliRunner().invoke(main, ["check", name])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{name}: input 3×224×224, output 1000, {TIMM_ZOO[name]['params']:,} parameters\n"
    assert f"\ndef {name}(" in resdsl.generate_source(name)


def test_a_zoo_names_parameters_can_be_overridden():
    assert resdsl.load("resnet101d", classes=10).output_shape == (10,)
    assert resdsl.load("resnet101d", n3=6).params == TIMM_ZOO["resnet50d"]["params"]


def test_an_unknown_name_suggests_zoo_names():
    with pytest.raises(resdsl.ResdslError, match=r"^error\[E0501\]: no bundled spec named `resnest101`\n  = help: did you mean `resnest101e`"):
        resdsl.load("resnest101")


def test_docs_zoo_md_is_what_the_table_generates():
    from pathlib import Path

    from resdsl.frontend.resources import bundled_specs

    path = Path(__file__).resolve().parent.parent / "docs" / "zoo.md"
    assert path.read_text(encoding="utf-8") == zoo.zoo_markdown(set(bundled_specs())), (
        "docs/zoo.md is stale: regenerate it with `python -m resdsl.frontend.zoo > docs/zoo.md`"
    )


def test_the_family_specs_share_their_block_definitions():
    """The timm_resnet* and timm_senet specs carry the same blocks, and so do the timm_res2net* and
    the timm_sknet* ones (no import between specs)."""
    from resdsl.frontend.resources import bundled_specs

    def tail(name):
        text = bundled_specs()[name].read_text(encoding="utf-8")
        return text[text.index("# timm's BasicBlock and Bottleneck") :]

    assert tail("timm_resnet") == tail("timm_resnet_c") == tail("timm_resnet_d") == tail("timm_senet")
    v2 = [bundled_specs()[n].read_text(encoding="utf-8") for n in ("timm_resnetv2", "timm_resnetv2_d")]
    assert v2[0][v2[0].index("# timm's stem:") :] == v2[1][v2[1].index("# timm's stem:") :]
    r2 = [bundled_specs()[n].read_text(encoding="utf-8") for n in ("timm_res2net", "timm_res2net_d")]
    assert r2[0][r2[0].index("# timm's Bottle2neck") :] == r2[1][r2[1].index("# timm's Bottle2neck") :]
    sk = [bundled_specs()[n].read_text(encoding="utf-8") for n in ("timm_sknet", "timm_sknet_bottleneck", "timm_sknet_d")]
    assert sk[0][sk[0].index("# timm's SelectiveKernel (") :] == sk[1][sk[1].index("# timm's SelectiveKernel (") :] == sk[2][sk[2].index("# timm's SelectiveKernel (") :]
    assert sk[1][sk[1].index("# timm's SelectiveKernelBottleneck") :] == sk[2][sk[2].index("# timm's SelectiveKernelBottleneck") :]


def _regnet_stages(w0, wa, wm, depth, group_size, group_min_ratio=0.0, bottle_ratio=1.0, **_):
    """The paper's rule block by block (Radosavovic et al. 2020): widths w0 + wa·j quantised to
    w0·wm^e and to multiples of 8; equal widths form a stage; each bottleneck width (the width
    times bottle_ratio, RegNetZ's 4) then rounded to a multiple of its group size (torchvision's
    rule where group_min_ratio is set), the width following it."""
    import math

    exps = [round(math.log((w0 + wa * j) / w0) / math.log(wm)) for j in range(depth)]
    widths = [round(w0 * wm**e / 8) * 8 for e in exps]
    stages = []
    for w in sorted(set(widths)):
        b = int(w * bottle_ratio)
        g = min(group_size, b)
        if group_min_ratio:
            adjusted = int(b + g / 2) // g * g
            adjusted += g if adjusted < group_min_ratio * b else 0
        else:
            adjusted = round(b / g) * g
        stages.append((widths.count(w), int(adjusted / bottle_ratio), adjusted // g))
    return stages


@pytest.mark.parametrize("name", sorted(n for n, e in zoo.ZOO.items() if e.spec.startswith("timm_regnet")))
def test_regnet_stage_depths_and_widths_follow_the_papers_rule(name):
    """The spec's closed-form stage depths and its lets give what the rule gives block by block."""
    net = resdsl.load(name)
    stages, nodes = net.graph.graph["stages"], net.graph.nodes
    conv = lambda path: nodes[path + ".conv"] if path + ".conv" in nodes else nodes[path]  # noqa: E731  ConvNormAct, or a bare conv (RegNetV)
    built = [(len(s.blocks), conv(f"{s.name}.b1.conv3")["shape"][0], conv(f"{s.name}.b1.conv2")["params"]["groups"]) for s in stages]
    assert [s.name for s in stages] == ["s1", "s2", "s3", "s4"]
    assert built == _regnet_stages(**zoo.ZOO[name].params)
