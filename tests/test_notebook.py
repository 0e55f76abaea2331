"""Jupyter: a Network's rich display, the %%resdsl cell magic, and the example notebook run on a
real kernel (nbclient + ipykernel)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import resdsl
from resdsl.tools.notebook import CELL_SOURCE, MagicUsageError, network_html, run_cell

ROOT = Path(__file__).resolve().parent.parent
BROKEN = "network broken {\n    input 3x32x32\n    conv1: conv 3x3, 16\n    layer1: basci(16) x 2\n}\n"
TINY = "network tiny(n = 1, classes = 10) {\n    input 3x32x32\n    conv1: conv 3x3, 16\n    layer1: basic(16) x n\n    avgpool: avgpool\n    fc: linear classes\n}\n"


@pytest.fixture(scope="module")
def resnet18():
    return resdsl.load("resnet18")


def _formats(net) -> dict:
    """What IPython shows for `net` once resdsl's display is attached, as a kernel attaches it."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    resdsl.attach_display(shell)
    return shell.display_formatter.format(net)[0]


def test_a_network_displays_as_diagram_and_stage_summary(resnet18):
    formats = _formats(resnet18)
    page = formats["text/html"]
    assert "<svg" in page and "<?xml" not in page
    assert f"Total params: {resnet18.params:,}" in page
    for stage in ("layer1", "layer2", "layer3", "layer4"):
        assert f"<td>&nbsp;&nbsp;&nbsp;&nbsp;{stage}</td>" in page
    assert "<td>&nbsp;&nbsp;&nbsp;&nbsp;&nbsp;&nbsp;&nbsp;&nbsp;layer1.0" not in page  # stage depth: no block rows
    svg = formats["image/svg+xml"]
    assert svg.startswith("<svg") and svg in page  # rendered once, shared by both


def test_a_network_with_errors_shows_them_under_its_diagram():
    net = resdsl.compile_text(TINY.replace("avgpool: avgpool", "avgpool: avgpool\n    conv 3x3, 8, padding 0"), "t.res", keep_going=True)
    assert net.diagnostics
    page = network_html(net)
    assert "<svg" in page and "Total params" not in page
    assert "t.res:6:5: error[E0204]: conv 3x3 on a 1×1 input" in page


def test_warnings_show_under_the_diagram_and_summary():
    path = ROOT / "tests" / "diagnostics" / "warnings_se_without_gate.res"
    net = resdsl.load(path)
    assert net.diagnostics == () and [d.code for d in net.warnings] == ["W0002", "W0001"]
    page = network_html(net)
    assert "Total params: " in page  # warnings do not stop the summary
    assert page.count("warning[W0002]") == 1 and page.count("warning[W0001]") == 1
    kept = resdsl.compile_text(path.read_text(encoding="utf-8"), "w.res", keep_going=True)  # warnings in both tuples: shown once
    assert network_html(kept).count("warning[W0002]") == 1


def test_a_network_reads_as_one_line_in_a_terminal(resnet18):
    assert repr(resnet18) == (
        "<resdsl.Network resnet18(classes=1000, drop_path_rate=0.0): input 3×224×224 → output 1000, 11,689,512 parameters>"
    )
    warned = resdsl.load(ROOT / "tests" / "diagnostics" / "warnings_se_without_gate.res")
    assert repr(warned) == "<resdsl.Network se_without_gate(): input 3×64×64 → output 256×1×1, 171,872 parameters, 2 warnings>"
    broken = resdsl.compile_text(TINY.replace("avgpool: avgpool", "avgpool: avgpool\n    conv 3x3, 8, padding 0"), "t.res", keep_going=True)
    assert repr(broken) == "<resdsl.Network tiny(n=1, classes=10): 1 error>"


def test_the_magic_renders_diagnostics_instead_of_raising():
    result = run_cell("", BROKEN, {})
    assert not result.ok
    line = BROKEN.split("\n").index("    layer1: basci(16) x 2") + 1
    col = "    layer1: basci(16) x 2".index("basci") + 1
    header = f"{CELL_SOURCE}:{line}:{col}: error[E0101]: unknown block `basci`"
    assert repr(result).startswith(header)
    assert "<pre" in result._repr_html_() and header.replace("<", "&lt;").replace(">", "&gt;") in result._repr_html_()


def test_the_magic_sets_parameters_and_stores_the_network():
    namespace: dict = {}
    result = run_cell("--set n=2 --set classes=3 --net tiny_net --no-diagram", TINY, namespace)
    assert result.ok
    net = namespace["tiny_net"]
    assert net.graph.graph["params"] == {"n": 2, "classes": 3}
    page = result._repr_html_()
    assert "<svg" not in page and f"Total params: {net.params:,}" in page
    assert "stored the checked network as `tiny_net`" in page


def test_bad_magic_arguments_are_usage_errors():
    for line in ("--set n", "--detail nope", "--frobnicate", "--set n=abc", "'unclosed"):
        with pytest.raises(MagicUsageError):
            run_cell(line, TINY, {})


def test_a_spec_with_errors_is_not_built():
    namespace: dict = {}
    result = run_cell("--build model", BROKEN, namespace)
    assert "model" not in namespace and "error[E0101]" in repr(result)


# --- the example notebook, executed ------------------------------------------------------------------


def _texts(cell) -> str:
    out = []
    for output in cell.get("outputs", []):
        out.append(output.get("text", ""))
        for mime in ("text/html", "text/plain", "image/svg+xml"):
            data = output.get("data", {}).get(mime, "")
            out.append("".join(data) if isinstance(data, list) else data)
        if output.get("output_type") == "error":
            out.append("\n".join(output.get("traceback", [])))
    return "\n".join(out)


def test_the_example_notebook_runs_on_a_real_kernel(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    # the kernel is a fresh interpreter: it must import this tree's resdsl
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in [str(ROOT), os.environ.get("PYTHONPATH", "")] if p))
    notebook = nbformat.read(ROOT / "examples" / "notebook.ipynb", as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()

    code = [c for c in notebook.cells if c.cell_type == "code"]
    texts = [_texts(c) for c in code]
    assert not any(o.get("output_type") == "error" for c in code for o in c.get("outputs", [])), "\n".join(texts)

    shown = next(t for c, t in zip(code, texts) if 'resdsl.load("resnet18")' in c.source)
    assert "<svg" in shown
    assert f"{resdsl.load('resnet18').params:,}" in shown  # 11,689,512, as the summary prints it

    magic = next((c, t) for c, t in zip(code, texts) if c.source.startswith("%%resdsl --build model"))
    spec = magic[0].source.split("\n", 1)[1]
    tiny = resdsl.compile_text(spec, "<cell>", classes=10)
    assert "<svg" in magic[1] and f"Total params: {tiny.params:,}" in magic[1]
    assert "built `model`: " in magic[1]
    ran = next(t for c, t in zip(code, texts) if "logits = model(" in c.source)
    assert f"(2, 10) {tiny.params:,} parameters" in ran

    broken = next((c, t) for c, t in zip(code, texts) if "basci" in c.source)
    assert re.search(r":\d+:\d+: error\[E0101\]: unknown block `basci`", broken[1])
    line = broken[0].source.split("\n").index("    layer1: basci(16) x 2")  # the magic line is not the spec's
    assert f"&lt;cell&gt;:{line}:13: error[E0101]" in broken[1]
