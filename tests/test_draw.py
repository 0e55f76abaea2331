"""`resdsl draw`: golden DOT, counts the paper fixes, errors drawn in red, rendering without Graphviz.

Counts come from the DOT text a user gets, parsed here, and are checked against numbers fixed
by the paper, not by this code: ResNet-34 has 16 basic blocks, 3 of them where dimensions
increase (Fig. 3); ResNet-152 has 3, 8, 36, 3 bottlenecks per stage (Table 1).
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET

import graphviz
import pytest
from click.testing import CliRunner
from conftest import ROOT

import resdsl
from resdsl.backends.draw import DETAILS, draw, view_of
from resdsl.backends.draw import render as render_module
from resdsl.cli import main
from resdsl.cli import draw as draw_cli

GOLDEN = ROOT / "tests" / "golden" / "draw"
VARIANTS = {  # golden file suffix -> draw() options
    "layer": dict(detail="layer", fold=False),
    "unit": dict(detail="unit", fold=False),
    "block": dict(detail="block", fold=False),
    "stage": dict(detail="stage", fold=False),
    "folded": dict(),  # the default: blocks, runs of identical blocks folded
}

BAD_ADD = """network bad_add(classes = 10) {
    input 3x32x32
    shortcut identity
    conv1: conv 3x3, 16
    layer1: basic(16) x 2
    layer2: basic(32) x 2, stride 2
    avgpool: avgpool
    fc: linear classes
}
"""

# --- parsing the DOT a user gets ---------------------------------------------------------

_ID = r'"(?:[^"\\]|\\.)*"|[\w.]+'
_EDGE = re.compile(rf"^\t+({_ID}) -> ({_ID})(?: \[(.*)\])?$")
_NODE = re.compile(rf"^\t+({_ID}) \[(.*)\]$")
_ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^\s\]]+)')


def _unquote(text: str) -> str:
    return text[1:-1].replace('\\"', '"') if text.startswith('"') else text


def attrs(text: str | None) -> dict[str, str]:
    return {k: _unquote(v) for k, v in _ATTR.findall(text or "")}


def parse(source: str) -> tuple[dict[str, dict], list[tuple[str, str, dict]]]:
    """Nodes (id -> attributes) and edges (tail, head, attributes) of generated DOT."""
    nodes, edges = {}, []
    for line in source.splitlines():
        if m := _EDGE.match(line):
            edges.append((_unquote(m[1]), _unquote(m[2]), attrs(m[3])))
        elif (m := _NODE.match(line)) and not line.lstrip().startswith(("graph ", "node ", "edge ")):
            nodes[_unquote(m[1])] = attrs(m[2])
    return nodes, edges


def shortcut_arcs(source: str) -> dict[str, int]:
    """Shortcut arcs by kind, counted where they join the main path: edges into `+` nodes."""
    nodes, edges = parse(source)
    counts: dict[str, int] = {}
    for _, head, a in edges:
        if nodes.get(head, {}).get("label") == "+" and a.get("class", "").startswith("shortcut "):
            kind = a["class"].split()[1]
            counts[kind] = counts.get(kind, 0) + 1
    return counts


def fold_counts(source: str) -> list[int]:
    return [int(n) for n in re.findall(r'label="×(\d+): ', source)]


# --- golden files ------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["resnet34", "resnet50", "cifar_resnet"])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_golden_dot(golden, spec, variant):
    golden(GOLDEN / f"{spec}.{variant}.dot", draw(spec, **VARIANTS[variant]).source)


def test_same_spec_same_bytes_across_processes():
    script = "from resdsl.backends.draw import draw; print(draw('resnet50', detail='unit').source, end='')"
    outputs = {
        seed: subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=dict(os.environ, PYTHONHASHSEED=seed)).stdout
        for seed in ("1", "2")
    }
    assert outputs["1"] == outputs["2"] == draw("resnet50", detail="unit").source


# --- counts fixed by the paper -----------------------------------------------------------


@pytest.mark.parametrize("detail", ["layer", "unit", "block"])
def test_resnet34_has_3_dimension_changing_and_13_identity_shortcuts(detail):
    assert shortcut_arcs(draw("resnet34", detail=detail, fold=False).source) == {"identity": 13, "projection": 3}


def test_shortcut_kinds_are_told_apart_by_policy(tmp_path):
    # CIFAR n=3: 9 blocks, option A zero-pads at the 2 stage transitions.
    assert shortcut_arcs(draw("cifar_resnet", detail="unit", fold=False).source) == {"identity": 7, "zero_pad": 2}
    # ResNet-50: layer1.0 also projects (64 -> 256 channels), so 4 of its 16 blocks.
    assert shortcut_arcs(draw("resnet50", detail="block", fold=False).source) == {"identity": 12, "projection": 4}
    # Option C projects every shortcut; plain nets have none, and no adds.
    spec = tmp_path / "resnet34c.res"
    spec.write_text((ROOT / "specs" / "resnet34.res").read_text().replace("shortcut B", "shortcut C"))
    assert shortcut_arcs(draw(spec, detail="unit", fold=False).source) == {"projection": 16}
    plain = draw("plain18", detail="unit", fold=False).source
    assert shortcut_arcs(plain) == {} and 'label="+"' not in plain and "cluster-legend" not in plain


def test_the_legend_names_exactly_the_kinds_drawn():
    def legend(source):
        nodes, _ = parse(source)
        return [a["label"] for n, a in nodes.items() if n.startswith("legend-") and n.endswith("-name")]

    assert legend(draw("resnet34").source) == ["identity", "1×1 projection (B/C)"]
    assert legend(draw("cifar_resnet").source) == ["identity", "zero-padding (A)"]


def test_folded_resnet152_shows_the_stage_repeats():
    # Table 1: 3, 8, 36, 3 blocks. The first block of each stage differs (stride or channels),
    # so the default view draws it and folds the other N-1.
    assert fold_counts(draw("resnet152").source) == [2, 7, 35, 2]
    assert re.findall(r"×(\d+)", "".join(a["label"] for a in parse(draw("resnet152", detail="stage").source)[0].values())) == ["3", "8", "36", "3"]
    # ResNet-34's layer1 keeps its input's shape, so all three of its blocks are identical.
    assert fold_counts(draw("resnet34").source) == [3, 3, 5, 2]


def test_the_expanded_resnet152_has_every_layer():
    nodes, _ = parse(draw("resnet152", detail="layer", fold=False).source)
    convs = [n for n, a in nodes.items() if "conv" in a["label"]]
    # 152 weighted layers = 151 convs + fc, plus the 4 projection convs of option B.
    assert len(convs) == 155
    units, _ = parse(draw("resnet152", detail="unit", fold=False).source)
    assert sum(a["label"].startswith("3x3 conv") for a in units.values()) == 3 + 8 + 36 + 3


def test_paper_labels_and_stage_clusters():
    source = draw("resnet34", detail="unit", fold=False).source
    nodes, _ = parse(source)
    labels = {a["label"] for a in nodes.values()}
    assert {"7x7 conv, 64, /2", "3x3 max pool, /2", "3x3 conv, 128, /2", "3x3 conv, 128", "avg pool", "fc 1000"} <= labels
    assert "1x1 conv, 128, /2" == nodes["layer2.0.downsample.0"]["label"]
    # Table 1's output sizes: 56, 28, 14, 7.
    assert re.findall(r'label="(layer\d · [^"]*)"', source) == [
        "layer1 · 64×56×56", "layer2 · 128×28×28", "layer3 · 256×14×14", "layer4 · 512×7×7"
    ]
    assert 'label="resnet34: 34 weighted layers, 21,797,672 parameters"' in source


def test_box_ids_are_ir_ids():
    net = resdsl.load("resnet50")
    for detail in ("layer", "unit"):
        assert set(view_of(net, detail, fold=False).boxes) <= set(net.graph)
    blocks = view_of(net, "block", fold=True).boxes
    assert [b for b in blocks if b in net.graph.graph["blocks"]] == ["layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0", "layer3.1", "layer4.0", "layer4.1"]
    assert set(view_of(net, "stage", fold=False).boxes) == {"input", "conv1", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"}


def test_user_blocks_lone_blocks_and_nested_blocks(tmp_path):
    source = draw(ROOT / "examples" / "tiny_preact.res").source
    nodes, _ = parse(source)
    # A block used once outside a stage gets its own cluster; a dilated conv says so.
    assert 'label="context · 64×16×16"' in source
    assert nodes["context"]["label"] == "1x1 conv, 32\\n3x3 conv, 32, dilation 4\\n1x1 conv, 64"
    assert nodes["stage1.0"]["label"] == "batch norm, relu\\n3x3 conv, 32\\n3x3 conv, 32"
    spec = tmp_path / "nested.res"
    spec.write_text(
        "block pair(width) {\n conv 3x3, width\n conv 3x3, width, relu off\n add\n relu\n}\n"
        "block double(width, stride = 1) {\n down: conv 1x1, width, stride stride\n inner: pair(width) x 2\n"
        " tail: pair(width)\n conv 1x1, width * 2\n}\n"
        "network nested {\n input 3x32x32\n conv1: conv 3x3, 16\n layer1: double(16) x 2\n layer2: double(32), stride 2\n avgpool\n fc: linear 10\n}\n"
    )
    # Block level: one box per top-level block (nested blocks inside it), none with an add of its own.
    boxes = view_of(resdsl.load(spec), "block", fold=True).boxes
    assert [b for b in boxes if b.startswith("layer")] == ["layer1.0", "layer1.1", "layer2"]
    assert boxes["layer2"].lines == ["1x1 conv, 32, /2"] + ["3x3 conv, 32"] * 6 + ["1x1 conv, 64"]
    # Unit level: the nested adds and their identity shortcuts are all drawn (3 per block).
    assert shortcut_arcs(draw(spec, detail="unit").source) == {"identity": 9}


# --- options -----------------------------------------------------------------------------


def test_shapes_label_the_arcs_where_the_shape_changes():
    _, edges = parse(draw("resnet34", detail="unit", fold=False).source)
    labels = {(t, h): a.get("label") for t, h, a in edges}
    assert labels[("input", "conv1")] == "3×224×224"
    assert labels[("layer2.0.conv1", "layer2.0.conv2")] == "128×28×28"  # the stride-2 conv halved it
    assert labels[("layer2.0.conv2", "layer2.0.add")] is None  # unchanged: no repeat
    assert labels[("layer2.0.downsample.0", "layer2.0.add")] == "128×28×28"
    _, edges = parse(draw("resnet34", detail="unit", fold=False, shapes=False).source)
    assert [a["label"] for _, _, a in edges if "label" in a and not a["label"].isalpha()] == []


def test_block_level_arcs_carry_the_folded_projection():
    _, edges = parse(draw("resnet34").source)
    (arc,) = [a for t, h, a in edges if h == "layer2.0.add" and "class" in a]
    assert arc["label"] == "1x1 conv, 128, /2\\n128×28×28" and arc["style"] == "dotted"


def test_rankdir_and_bad_options():
    assert "rankdir=LR" in draw("resnet18", rankdir="LR").source
    with pytest.raises(ValueError, match="rankdir must be one of TB, LR"):
        draw("resnet18", rankdir="BT")
    with pytest.raises(ValueError, match="detail must be one of layer, unit, block, stage"):
        draw("resnet18", detail="blocks")
    assert draw_cli.DETAILS == DETAILS and draw_cli.FORMATS == render_module.FORMATS and draw_cli.SUFFIXES == render_module.SUFFIXES


def test_the_api_returns_a_graphviz_digraph_that_shows_itself_without_system_graphviz(monkeypatch):
    diagram = draw("cifar_resnet")
    assert isinstance(diagram, graphviz.Digraph)
    _hide_system_dot(monkeypatch)
    bundle = diagram._repr_mimebundle_()
    assert ET.fromstring(bundle["image/svg+xml"].encode()).tag == "{http://www.w3.org/2000/svg}svg"


# --- specs with errors -------------------------------------------------------------------


def test_a_failing_add_is_drawn_in_red_with_its_diagnostic(tmp_path):
    spec = tmp_path / "bad_add.res"
    spec.write_text(BAD_ADD)
    nodes, _ = parse(draw(spec).source)
    red = {n: a for n, a in nodes.items() if a.get("color") == "#c62828"}
    assert list(red) == ["layer2.0.add"]
    assert red["layer2.0.add"]["xlabel"] == "error[E0203]: residual add receives\\n32×16×16 and 16×32×32"
    assert 'label="bad_add: 10 weighted layers (1 error, in red)"' in draw(spec).source


def test_a_shape_error_marks_its_layer_and_greys_what_follows(tmp_path):
    spec = tmp_path / "bad_shape.res"
    spec.write_text("network bad_shape {\n    input 3x8x8\n    conv1: conv 3x3, 16\n    fc: linear 10\n    layer1: basic(16) x 2\n}\n")
    nodes, _ = parse(draw(spec, detail="unit").source)
    assert [n for n, a in nodes.items() if a.get("color") == "#c62828"] == ["layer1.0.conv1"]
    assert nodes["layer1.0.conv1"]["xlabel"] == "error[E0208]: conv needs a C×H×W\\ninput, got 10"
    assert nodes["layer1.0.conv2"]["fontcolor"] == "#6b7280"  # its shape is unknown


def test_errors_no_node_shows_become_a_note(tmp_path):
    spec = tmp_path / "expect.res"
    spec.write_text("network e {\n    input 3x8x8\n    conv1: conv 3x3, 4\n    expect params == 1\n}\n")
    nodes, _ = parse(draw(spec).source)
    assert nodes["resdsl-diagnostics"]["label"].startswith("error[")
    assert nodes["resdsl-diagnostics"]["fontcolor"] == "#c62828"


def test_cli_draws_a_spec_with_errors_and_exits_1(tmp_path):
    spec, out = tmp_path / "bad_add.res", tmp_path / "bad.dot"
    spec.write_text(BAD_ADD)
    result = CliRunner().invoke(main, ["draw", str(spec), "-o", str(out)])
    assert result.exit_code == 1
    assert f"{spec}:6:5: error[E0203]: residual add receives 32×16×16 and 16×32×32" in result.stderr
    assert result.stderr.rstrip().endswith(f"note: the drawing ({out}) marks these errors in red")
    assert out.read_text() == draw(spec).source


def test_cli_a_spec_that_does_not_elaborate_draws_nothing(tmp_path):
    spec, out = tmp_path / "typo.res", tmp_path / "typo.svg"
    spec.write_text("network typo {\n    input 3x8x8\n    layer1: basci(4) x 2\n}\n")
    result = CliRunner().invoke(main, ["draw", str(spec), "-o", str(out)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{spec}:3:13: error[E0101]: unknown block `basci`")
    assert "Traceback" not in result.output and not out.exists()


# --- the CLI and rendering ---------------------------------------------------------------


def _hide_system_dot(monkeypatch):
    """Make this machine look like CI: no system Graphviz, only the graphviz-pure command."""
    real = shutil.which
    monkeypatch.setattr(render_module.shutil, "which", lambda name, *a, **k: None if name == "dot" else real(name, *a, **k))
    assert render_module.find_renderer().endswith("graphviz-pure")


def test_cli_writes_dot_to_stdout_and_files(tmp_path):
    result = CliRunner().invoke(main, ["draw", "resnet18", "--detail", "stage", "--rankdir", "lr", "--no-shapes"])
    assert result.exit_code == 0
    assert result.stdout == draw("resnet18", detail="stage", rankdir="LR", shapes=False).source
    out = tmp_path / "c.gv"
    assert CliRunner().invoke(main, ["draw", "cifar_resnet", "--set", "n=5", "--no-fold", "-o", str(out)]).exit_code == 0
    assert out.read_text() == draw("cifar_resnet", n=5, fold=False).source


def test_svg_and_png_render_without_system_graphviz(monkeypatch, tmp_path):
    _hide_system_dot(monkeypatch)
    svg, png = tmp_path / "r34.svg", tmp_path / "r34.png"
    assert CliRunner().invoke(main, ["draw", "resnet34", "--detail", "unit", "-o", str(svg)]).exit_code == 0
    root = ET.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"7x7 conv, 64, /2", "layer2 · 128×28×28", "fc 1000"} <= texts
    assert CliRunner().invoke(main, ["draw", "cifar_resnet", "-o", str(png)]).exit_code == 0
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert height > width > 100  # a top-to-bottom column


def test_no_renderer_is_a_clear_error_and_writes_nothing(monkeypatch, tmp_path):
    monkeypatch.setattr(render_module.shutil, "which", lambda *a, **k: None)
    monkeypatch.setattr(render_module.sys, "executable", str(tmp_path / "bin" / "python"))
    out = tmp_path / "r.svg"
    result = CliRunner().invoke(main, ["draw", "resnet18", "-o", str(out)])
    assert result.exit_code == 1 and not out.exists()
    assert result.stderr.startswith("error[E0601]: no Graphviz renderer found: neither `dot` nor `graphviz-pure` is installed")
    assert "pip install graphviz-pure" in result.stderr and "apt-get install graphviz" in result.stderr
    # .dot needs no renderer
    assert CliRunner().invoke(main, ["draw", "resnet18", "-o", str(tmp_path / "r.dot")]).exit_code == 0


def test_a_failing_renderer_leaves_the_old_file(tmp_path):
    out = tmp_path / "r.svg"
    out.write_text("old")
    with pytest.raises(resdsl.ResdslError, match=r"E0603.*the renderer graphviz-pure failed: Error: <stdin>: syntax error in line 1"):
        render_module.write_drawing("digraph { a -> }", out, renderer=shutil.which("graphviz-pure"))
    assert out.read_text() == "old"


def test_cli_usage_errors_exit_2(tmp_path):
    for args in (["-o", str(tmp_path / "r.pdf")], ["--format", "png"], ["--detail", "blocks"], ["--rankdir", "BT"]):
        result = CliRunner().invoke(main, ["draw", "resnet18", *args])
        assert result.exit_code == 2, args
    assert "cannot tell the format from" in CliRunner().invoke(main, ["draw", "resnet18", "-o", str(tmp_path / "r.pdf")]).stderr
    assert not (tmp_path / "r.pdf").exists()


def test_drawing_never_imports_torch(tmp_path):
    script = (
        "import sys, resdsl.backends.draw, resdsl.backends.draw.render\n"
        "from resdsl.cli import main\n"
        f"try:\n    main(['draw', 'resnet50', '-o', {str(tmp_path / 'r.svg')!r}], prog_name='resdsl')\n"
        "except SystemExit as e:\n    print(e.code, 'torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["0", "False"]
    assert (tmp_path / "r.svg").read_bytes().startswith(b"<?xml")


# --- the committed images ----------------------------------------------------------------

_LABEL = re.compile(r'\blabel=("(?:[^"\\]|\\.)*"|[^\s\]]+)')


@pytest.mark.parametrize("image, spec, options", [("resnet34.svg", "resnet34", dict(detail="unit", fold=False)), ("resnet152_folded.svg", "resnet152", {})])
def test_committed_images_show_the_current_drawing(image, spec, options):
    """Every text line in the SVG is a label line of today's DOT, and the other way round."""
    svg = ET.parse(ROOT / "docs" / "images" / image).getroot()
    texts = sorted(t.text for t in svg.iter("{http://www.w3.org/2000/svg}text"))
    source = draw(spec, **options).source
    lines = sorted(line for value in _LABEL.findall(source) for line in _unquote(value).split("\\n") if line)
    assert texts == lines, f"docs/images/{image} is stale: regenerate it as docs/drawing.md says"
