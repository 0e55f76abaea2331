"""`resdsl summary` / `resdsl compare`: the row tree, Table 1 in the paper's notation, formats, CLI.

Table 1 cells are checked against the paper's Table 1 as printed (He et al. 2015); row costs are
checked against the built module's submodules (parameters) and FlopCounterMode's per-module
counts (multiply-adds); whole outputs are pinned by golden files in tests/golden/summary/.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner
from torch.utils.flop_counter import FlopCounterMode

import resdsl
from resdsl.analysis import summary_tree as summary_backend
from resdsl.backends import summary_text as tables
from resdsl.analysis.summary_tree import summarize, visible_rows
from resdsl.analysis.table1 import table1
from resdsl.cli import main
from resdsl.cli import summary as summary_cli
from resdsl.compiler import compile_text
from resdsl.passes.count_costs import CONVENTIONS, DEFAULT_CONVENTION, network_cost

from conftest import TESTS

GOLDEN = TESTS / "golden" / "summary"


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


# --- Table 1, as the paper prints it ----------------------------------------------------------------

PAPER_HEAD = [("conv1", "112×112", "7×7, 64, stride 2"), ("maxpool", "56×56", "3×3 max pool, stride 2")]
PAPER_TAIL = [("avgpool, fc", "1×1", "average pool, 1000-d fc")]
SIZES = ["56×56", "28×28", "14×14", "7×7"]


def paper_column(blocks, counts):
    stages = [(f"layer{i + 1}", SIZES[i], f"[{blocks(64 * 2**i)}] ×{n}") for i, n in enumerate(counts)]
    return PAPER_HEAD + stages + PAPER_TAIL


BASIC = lambda w: f"3×3, {w}; 3×3, {w}"  # noqa: E731
BOTTLENECK = lambda w: f"1×1, {w}; 3×3, {w}; 1×1, {4 * w}"  # noqa: E731


@pytest.mark.parametrize(
    "name, expected",
    [
        ("resnet18", paper_column(BASIC, [2, 2, 2, 2])),
        ("plain18", paper_column(BASIC, [2, 2, 2, 2])),
        ("resnet34", paper_column(BASIC, [3, 4, 6, 3])),
        ("plain34", paper_column(BASIC, [3, 4, 6, 3])),
        ("resnet50_v1", paper_column(BOTTLENECK, [3, 4, 6, 3])),
        ("resnet50", paper_column(BOTTLENECK, [3, 4, 6, 3])),  # v1.5 differs in stride only
        ("resnet101_v1", paper_column(BOTTLENECK, [3, 4, 23, 3])),
        ("resnet152_v1", paper_column(BOTTLENECK, [3, 8, 36, 3])),
    ],
)
def test_table1_matches_the_papers_table(name, expected):
    net = resdsl.load(name)
    rows = table1(net, summarize(net))
    assert [(r.layer, r.output_size, r.cell) for r in rows] == expected


def test_table1_grouped_and_cifar_notation():
    net = resdsl.load("resnext50_32x4d")
    # ResNeXt's Table 1: conv2 is [1×1, 128; 3×3, 128, C=32; 1×1, 256] ×3.
    assert table1(net, summarize(net))[2].cell == "[1×1, 128; 3×3, 128, C=32; 1×1, 256] ×3"
    net = resdsl.load("cifar_resnet", n=5)
    # Section 4.2: 3×3 conv, then 2n layers at each of 32, 16 and 8 with 16, 32, 64 filters.
    assert [(r.layer, r.output_size, r.cell) for r in table1(net, summarize(net))] == [
        ("conv1", "32×32", "3×3, 16"),
        ("layer1", "32×32", "[3×3, 16; 3×3, 16] ×5"),
        ("layer2", "16×16", "[3×3, 32; 3×3, 32] ×5"),
        ("layer3", "8×8", "[3×3, 64; 3×3, 64] ×5"),
        ("avgpool, fc", "1×1", "average pool, 10-d fc"),
    ]


def test_table1_of_user_blocks_comes_from_their_convs():
    net = resdsl.load(TESTS.parent / "examples" / "tiny_preact.res")
    assert [r.cell for r in table1(net, summarize(net))] == [
        "3×3, 32, stride 2",
        "[3×3, 32; 3×3, 32] ×2",
        "[3×3, 64; 3×3, 64] ×2",
        "[1×1, 32; 3×3, 32, dilation 4; 1×1, 64] ×1",
        "average pool, 10-d fc",
    ]


# --- the row tree ----------------------------------------------------------------------------------


def test_depths_show_exactly_these_rows():
    root = summarize(resdsl.load("resnet50"))
    names = lambda depth: [row.name for _, row in visible_rows(root, depth)]  # noqa: E731
    assert names("network") == ["resnet50"]
    assert names("stage") == ["resnet50", "input", "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"]
    assert names("block")[6:12] == ["layer1", "layer1.0", "layer1.1–2", "layer2", "layer2.0", "layer2.1–3"]
    layer = names("layer")
    assert layer[8:19] == ["layer1.0.conv1", "layer1.0.bn1", "layer1.0.relu1", "layer1.0.conv2", "layer1.0.bn2", "layer1.0.relu2",
                           "layer1.0.conv3", "layer1.0.bn3", "layer1.0.drop_path", "layer1.0.downsample.0", "layer1.0.downsample.1"]
    assert "layer3.1–5.conv2" in layer
    with pytest.raises(ValueError, match="unknown depth 'blocks'"):
        visible_rows(root, "blocks")


def test_layer_depth_row_count():
    root = summarize(resdsl.load("resnet50"))
    rows = visible_rows(root, "layer")
    stage_rows = sum(1 for _, r in rows if r.kind == "stage")
    block_rows = sum(1 for _, r in rows if r.kind == "block")
    assert (stage_rows, block_rows) == (4, 8)  # each stage: its first block, then the folded rest
    # leaves: input, conv1, bn1, relu, maxpool, avgpool, fc; each first block has 13 nodes
    # (3 convs, 3 BNs, 3 ReLUs, the drop path, the add, the projection's conv and BN), a folded run 11.
    assert sum(1 for _, r in rows if r.kind == "layer") == 7 + 4 * 13 + 4 * 11


def test_rows_add_up_and_folded_rows_sum_their_copies():
    for spec in ["resnet152", "cifar_resnet", "plain34"]:
        net = resdsl.load(spec)
        root = summarize(net)
        assert root.cost == network_cost(net.graph)

        def check(row):
            if row.children:
                total = row.children[0].cost
                for child in row.children[1:]:
                    total = total + child.cost
                assert total == row.cost, row.name
                for child in row.children:
                    check(child)

        check(root)
    layer3 = summarize(resdsl.load("resnet50")).children[7]
    folded = layer3.children[1]
    assert (folded.name, folded.op, folded.count) == ("layer3.1–5", "bottleneck(256) ×5", 5)
    # one bottleneck(256) without projection: 1024*256 + 9*256*256 + 256*1024 weights + BNs 2*(256+256+1024)
    assert folded.cost.params == 5 * (1024 * 256 + 9 * 256 * 256 + 256 * 1024 + 2 * (256 + 256 + 1024))


def module_rows(net, depth):
    """(row, [module paths it covers]) for rows that name modules: stages, blocks, folded runs."""
    out = []
    for _, row in visible_rows(summarize(net), depth):
        if row.kind in ("stage", "block"):
            stage, _, index = row.name.rpartition(".")
            if "–" in index:
                first, last = index.split("–")
                out.append((row, [f"{stage}.{i}" for i in range(int(first), int(last) + 1)]))
            else:
                out.append((row, [row.name]))
    return out


@pytest.mark.parametrize("spec, rows", [("resnet50_v1", 12), ("resnext50_32x4d", 12), ("cifar_resnet", 8)])
def test_stage_and_block_rows_equal_the_built_submodules(spec, rows):
    net = resdsl.load(spec)
    model = resdsl.build(net).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.randn(1, *net.input_shape))
    per_module = counter.get_flop_counts()
    prefix = type(model).__name__
    checked = 0
    for row, paths in module_rows(net, "block"):
        params = sum(p.numel() for path in paths for p in model.get_submodule(path).parameters())
        macs = sum(sum(per_module[f"{prefix}.{path}"].values()) for path in paths) // 2
        assert (row.cost.params, row.cost.macs) == (params, macs), row.name
        checked += 1
    assert checked == rows  # stages, first blocks, folded runs (cifar's layer1 folds whole)


# --- formats -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, name",
    [
        (["summary", "resnet34"], "resnet34.txt"),
        (["summary", "resnet50_v1"], "resnet50_v1.txt"),
        (["summary", "resnet50_v1", "--format", "markdown", "--depth", "stage"], "resnet50_v1.md"),
        (["summary", "cifar_resnet", "--depth", "layer", "--format", "csv"], "cifar_resnet_layers.csv"),
        (["summary", "cifar_resnet", "--depth", "stage", "--format", "json", "--convention", "all"], "cifar_resnet_all.json"),
        (["compare", "plain34", "resnet34", "resnet50"], "compare_34_50.txt"),
        (["compare", "cifar_resnet", "cifar_resnet:n=9", "resnet18", "--format", "markdown", "--flops"], "compare_cifar_flops.md"),
    ],
)
def test_outputs_match_golden_files(args, name, golden):
    result = run(*args)
    assert result.exit_code == 0, result.output
    golden(GOLDEN / name, result.output)


def test_json_has_integer_totals_and_names_its_convention():
    for convention in CONVENTIONS:
        doc = json.loads(run("summary", "resnet50_v1", "--format", "json", "--convention", convention).output)
        cost = network_cost(resdsl.load("resnet50_v1").graph)
        assert doc["params"] == 25_557_032 and isinstance(doc["params"], int)
        assert doc["macs"] == (3_857_973_248 if convention == "conv+fc" else 3_857_973_248 + cost.element_ops)
        assert doc["flops"] == 2 * doc["macs"] and doc["convention"] == convention
        assert doc["counting"].startswith(CONVENTIONS[convention])
        assert doc["layers"] == 50 and doc["rows"][0]["params"] == doc["params"]


def test_flops_doubles_every_count():
    macs = list(csv.DictReader(io.StringIO(run("summary", "resnet18", "--format", "csv").output)))
    flops = list(csv.DictReader(io.StringIO(run("summary", "resnet18", "--format", "csv", "--flops").output)))
    assert [2 * int(r["macs"]) for r in macs] == [int(r["flops"]) for r in flops]
    assert macs[0]["macs"] == "1814073344" and macs[0]["counting"] == "conv+fc"


def test_every_text_total_states_its_convention():
    out = run("summary", "cifar_resnet", "--convention", "all").output
    assert f"Counting (all) {CONVENTIONS['all']}; batch 1, input 3×32×32;" in out
    assert f"Counting (conv+fc) {CONVENTIONS['conv+fc']}; batch 1, each network" in run("compare", "resnet18", "resnet34").output


def test_cli_choices_match_the_back_ends():
    assert summary_cli.DEPTHS == summary_backend.DEPTHS
    assert summary_cli.FORMATS == tables.FORMATS
    assert summary_cli.CONVENTIONS == tuple(CONVENTIONS) and summary_cli.CONVENTIONS[0] == DEFAULT_CONVENTION


# --- the command ---------------------------------------------------------------------------------------


def test_summary_writes_the_file_atomically_and_reports_spec_errors(tmp_path):
    out = tmp_path / "s.json"
    assert run("summary", "resnet18", "--format", "json", "-o", str(out)).output == ""
    assert json.loads(out.read_text())["params"] == 11_689_512
    result = CliRunner().invoke(main, ["summary", "cifar_resnet", "--set", "n=0", "-o", str(out)])
    assert result.exit_code == 1 and "error[E0201]" in result.output
    assert json.loads(out.read_text())["params"] == 11_689_512  # untouched


def test_a_violated_expectation_fails_the_summary(tmp_path):
    spec = tmp_path / "t.res"
    spec.write_text("network t {\n  input 3x8x8\n  conv1: conv 3x3, 4\n  expect params == 100\n}\n")
    result = CliRunner().invoke(main, ["summary", str(spec)])
    assert result.exit_code == 1
    assert result.output.startswith(f"{spec}:4:3: error[E0401]: expected params == 100, counted 116 (+16)\n")


def test_usage_errors_exit_2():
    assert CliRunner().invoke(main, ["summary", "resnet18", "--depth", "blocks"]).exit_code == 2
    result = CliRunner().invoke(main, ["compare", "resnet18"])
    assert result.exit_code == 2 and "compare needs two or more specs" in result.output
    result = CliRunner().invoke(main, ["compare", "resnet18", "cifar_resnet:n=x"])
    assert result.exit_code == 2 and "'x' is not an integer, a number, true or false" in result.output


def test_compare_reports_the_failing_spec():
    result = CliRunner().invoke(main, ["compare", "resnet18", "cifar_resnet:n=0"])
    assert result.exit_code == 1 and "cifar_resnet.res:" in result.output and "error[E0201]" in result.output
    result = CliRunner().invoke(main, ["compare", "resnet18", "resnet19"])
    assert result.exit_code == 1 and result.output.startswith("error[E0501]: no bundled spec named `resnet19`")


def test_compare_applies_per_spec_and_shared_parameters():
    doc = json.loads(run("compare", "cifar_resnet", "cifar_resnet:n=9", "--set", "classes=100", "--format", "json").output)
    assert [n["label"] for n in doc["networks"]] == ["cifar_resnet", "cifar_resnet(n=9)"]
    assert [n["arguments"] for n in doc["networks"]] == [{"n": 3, "classes": 100}, {"n": 9, "classes": 100}]
    assert [n["params"] for n in doc["networks"]] == [269_722 + 64 * 90 + 90, 853_018 + 64 * 90 + 90]


def test_summary_does_not_import_torch():
    code = "import sys; from resdsl.cli import main; main(['summary', 'resnet50', '--depth', 'layer'], standalone_mode=False); assert 'torch' not in sys.modules, 'torch'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "resnet50" in result.stdout


def test_nested_blocks_summarize_and_fold_inside_blocks():
    text = (TESTS / "test_costs.py").read_text().split('NESTED = """')[1].split('"""')[0]
    net = compile_text(text, "nested.res")
    rows = [(level, row.name, row.count) for level, row in visible_rows(summarize(net), "layer") if row.kind != "layer"]
    assert rows == [
        (0, "nested", 1), (1, "layer1", 1), (2, "layer1.0", 1), (3, "layer1.0.inner", 1), (4, "layer1.0.inner.0–1", 2),
        (3, "layer1.0.tail", 1), (2, "layer1.1", 1), (3, "layer1.1.inner", 1), (4, "layer1.1.inner.0–1", 2),
        (3, "layer1.1.tail", 1), (1, "layer2", 1), (2, "layer2.inner", 1), (3, "layer2.inner.0–1", 2), (2, "layer2.tail", 1),
    ]
