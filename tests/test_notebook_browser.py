"""The notebook display as a browser renders it: headless Chromium, JupyterLab's stylesheet.

Each test puts resdsl's HTML where JupyterLab puts an output (inside `.jp-OutputArea-output
.jp-RenderedHTMLCommon`, under the rules in tests/browser/jupyterlab_output.css), runs a script
that measures the rendered page, and asserts on what it measured: computed styles, and the
positions of characters on the screen. Marked `browser`; skipped where no Chromium is installed
(Debian: `apt-get install chromium`).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import resdsl
from resdsl.tools.notebook import network_html, network_svg, run_cell

HERE = Path(__file__).resolve().parent
JUPYTERLAB_CSS = (HERE / "browser" / "jupyterlab_output.css").read_text(encoding="utf-8")
CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)

pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)")]

BROKEN = "network broken {\n    input 3x32x32\n    conv1: conv 3x3, 16\n    layer1: basci(16) x 2\n}\n"

# Helpers the page scripts share: where a character of a text node is drawn.
_JS_HELPERS = """
function charRect(node, i) { const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + 1); return r.getBoundingClientRect(); }
function lineBoxes(el) { const r = document.createRange(); r.selectNodeContents(el); return new Set(Array.from(r.getClientRects()).map(b => Math.round(b.top))).size; }
"""


def measure(body: str, script: str, tmp_path: Path, width: int = 1000) -> dict:
    """Render `body` as a JupyterLab output in Chromium; `script` computes `result` (JSON)."""
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<style>{JUPYTERLAB_CSS}</style></head><body>"
        f"<div class='jp-ThemedContainer' style='width:{width}px'><div class='jp-OutputArea-output jp-RenderedHTMLCommon jp-RenderedHTML'>{body}</div></div>"
        "<pre id='measured'></pre>"
        f"<script>{_JS_HELPERS}\nlet result = {{}};\ntry {{ {script} }} catch (e) {{ result = {{error: String(e)}}; }}\n"
        "document.getElementById('measured').textContent = JSON.stringify(result);</script>"
        "</body></html>"
    )
    path = tmp_path / "page.html"
    path.write_text(page, encoding="utf-8")
    out = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,900", "--dump-dom", path.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = re.search(r"<pre id=\"measured\">(.*?)</pre>", out.stdout, re.S)
    assert found, out.stderr[-2000:]
    result = json.loads(html.unescape(found.group(1)))
    assert "error" not in result, result["error"]
    return result


def test_diagnostic_carets_stand_under_the_mistake(tmp_path):
    page = run_cell("", BROKEN, {})._repr_html_()
    got = measure(
        page,
        """
        const pre = document.querySelector('pre.resdsl-diagnostics');
        const text = pre.firstChild; const lines = text.data.split('\\n');
        let offset = 0, source = -1, caret = -1;
        for (const line of lines) {
          if (source < 0 && line.includes('basci(16)')) source = offset + line.indexOf('basci');
          else if (source >= 0 && caret < 0 && line.includes('^')) caret = offset + line.indexOf('^');
          offset += line.length + 1;
        }
        const s = getComputedStyle(pre);
        result = {font: s.fontFamily, whiteSpace: s.whiteSpace, mistake: charRect(text, source).left, caret: charRect(text, caret).left,
                  narrow: charRect(text, text.data.indexOf('i')).width, wide: charRect(text, text.data.indexOf('^')).width};
        """,
        tmp_path,
    )
    assert got["whiteSpace"] == "pre"
    assert "monospace" in got["font"]
    assert got["narrow"] == pytest.approx(got["wide"], abs=0.01)  # `i` as wide as `^`: a monospace font
    assert got["caret"] == pytest.approx(got["mistake"], abs=0.5)


def test_the_summary_is_left_aligned_indented_and_unwrapped(tmp_path):
    net = resdsl.load("resnet18")
    got = measure(
        network_html(net, diagram=False),
        """
        const rows = Array.from(document.querySelectorAll('.resdsl-summary tbody tr'));
        function textLeft(td) {  // where the first visible character of a cell is drawn
          const text = td.firstChild; const i = text.data.search(/[^\\u00a0 ]/); return charRect(text, i).left; }
        const byName = {};
        for (const tr of rows) { const name = tr.cells[0].textContent.trim(); byName[name] = tr; }
        result = {
          align: getComputedStyle(rows[1].cells[0]).textAlign,
          opAlign: getComputedStyle(rows[1].cells[1]).textAlign,
          numberAlign: getComputedStyle(rows[1].cells[3]).textAlign,
          opLines: rows.map(tr => [tr.cells[1].textContent, lineBoxes(tr.cells[1])]),
          nameLines: rows.map(tr => lineBoxes(tr.cells[0])),
          rootLeft: textLeft(rows[0].cells[0]), stageLeft: textLeft(byName['layer1'].cells[0]),
          conv1Left: textLeft(byName['conv1'].cells[0]),
        };
        """,
        tmp_path,
        width=700,
    )
    assert (got["align"], got["opAlign"], got["numberAlign"]) == ("left", "left", "right")
    assert [op for op, lines in got["opLines"] if lines != 1] == []
    assert set(got["nameLines"]) == {1}
    assert "7x7 conv, 64, /2" in [op for op, _ in got["opLines"]]
    # the layer tree shows: a stage is indented under the network, as far as the stem's conv
    assert got["stageLeft"] > got["rootLeft"] + 10
    assert got["stageLeft"] == pytest.approx(got["conv1Left"], abs=0.5)
def test_the_diagram_title_fits_in_the_drawing_with_dejavu_sans(tmp_path):
    """Graphviz sizes the drawing for its own font metrics; a machine whose sans-serif is DejaVu
    Sans (wider than Helvetica) must still see the whole title inside the SVG."""
    svg = network_svg(resdsl.load("resnet50"))
    got = measure(
        f"<style>svg text {{ font-family: 'DejaVu Sans' !important; }}</style>{svg}",
        """
        const svg = document.querySelector('svg'); const box = svg.getBoundingClientRect();
        const texts = Array.from(svg.querySelectorAll('text'));
        result = {svg: [box.left, box.right], outside: texts.filter(t => { const b = t.getBoundingClientRect();
          return b.left < box.left - 0.5 || b.right > box.right + 0.5; }).map(t => t.textContent)};
        """,
        tmp_path,
        width=1200,
    )
    assert got["outside"] == []
