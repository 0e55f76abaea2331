"""`resdsl lsp` over stdio, driven by a real LSP client (pygls's LanguageClient).

One server process serves the whole module (starting one costs seconds); each test opens its
own document URIs. Expected values come from the compiler's Python API, never hard-coded.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pygls")

from lsprotocol import types as lsp  # noqa: E402

import resdsl  # noqa: E402
from resdsl.frontend import resources  # noqa: E402
from resdsl.backends.summary_text import Report, summary_json  # noqa: E402
from resdsl.ir.ops import fmt_shape  # noqa: E402
from lsp_session import ROOT, Session  # noqa: E402

SPECS = ROOT / "specs"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    session = Session(tmp_path_factory.mktemp("lsp") / "server.log", debounce_ms=20)
    yield session
    session.stop()


def _uri(tmp_path: Path, name: str) -> str:
    return (tmp_path / name).as_uri()


def _where(text: str, needle: str, nth: int = 0) -> tuple[int, int]:
    """0-based (line, character) of the nth occurrence of `needle` (ASCII text)."""
    lines = text.split("\n")
    hits = [(i, line.index(needle)) for i, line in enumerate(lines) if needle in line]
    return hits[nth]


def _range(r: lsp.Range) -> tuple[int, int, int, int]:
    return (r.start.line, r.start.character, r.end.line, r.end.character)


TYPO = """\
network typo(classes = 10) {
    input 3x32x32
    conv1: conv 3x3, 16
    layer1: basci(16) x 2
    avgpool: avgpool
    fc: linear classes
}
"""


# --- diagnostics ------------------------------------------------------------------------------------


def test_an_unknown_block_is_e0101_at_its_name(server, tmp_path):
    uri = _uri(tmp_path, "typo.res")
    server.open(uri, TYPO)
    (d,) = server.wait_diagnostics(uri, version=1)
    line, col = _where(TYPO, "basci")
    assert d.code == "E0101"
    assert d.source == "resdsl"
    assert d.severity == lsp.DiagnosticSeverity.Error
    assert _range(d.range) == (line, col, line, col + len("basci"))
    assert d.message == "unknown block `basci`\nhelp: did you mean `basic`?"


def test_fixing_the_typo_clears_the_diagnostics(server, tmp_path):
    uri = _uri(tmp_path, "fixed.res")
    server.open(uri, TYPO)
    assert [d.code for d in server.wait_diagnostics(uri, version=1)] == ["E0101"]
    server.change(uri, TYPO.replace("basci", "basic"), version=2)
    assert server.wait_diagnostics(uri, version=2) == []


SEVERAL = """\
network several {
    input 3x32x32
    conv1: conv 3x3, 16
    layer1: basci(16) x 2
    pool: maxpol 2x2
    layer2: basic(16, 1, 0.0, 2)
    layer3: basic(0)
    fc: linear 10
}
"""

_HEADER = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+): (?P<severity>error|warning)\[(?P<code>\w+)\]: (?P<message>.*)$")


def test_diagnostics_are_the_clis(server, tmp_path):
    """Same codes, messages and positions as `resdsl check` prints for the file."""
    path = tmp_path / "several.res"
    path.write_text(SEVERAL, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "resdsl", "check", str(path)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 1
    cli = [m.groupdict() for m in map(_HEADER.match, done.stderr.splitlines()) if m and m["file"] == str(path)]
    assert {c["code"] for c in cli} >= {"E0101", "E0102", "E0110", "E0201"}

    server.open(path.as_uri(), SEVERAL)
    got = server.wait_diagnostics(path.as_uri(), version=1)
    assert [(d.range.start.line + 1, d.range.start.character + 1, d.code, d.message.split("\n")[0]) for d in got] == [
        (int(c["line"]), int(c["col"]), c["code"], c["message"]) for c in cli
    ]


def test_notes_in_the_prelude_point_into_the_prelude_file(server, tmp_path):
    uri = _uri(tmp_path, "notes.res")
    server.open(uri, SEVERAL)
    by_code = {d.code: d for d in server.wait_diagnostics(uri, version=1)}
    prelude_uri = resources.prelude_path().as_uri()
    prelude = resources.prelude_path().read_text(encoding="utf-8")

    too_many = by_code["E0110"]  # `basic(16, 1, 0.0, 2)`: the third argument, and where basic is defined
    line, col = _where(SEVERAL, "basic(16, 1, 0.0, 2)")
    assert _range(too_many.range) == (line, col + len("basic(16, 1, 0.0, "), line, col + len("basic(16, 1, 0.0, 2"))
    (note,) = too_many.related_information
    assert note.location.uri == prelude_uri
    pline, pcol = _where(prelude, "block basic")
    assert _range(note.location.range) == (pline, pcol + len("block "), pline, pcol + len("block basic"))

    inside = by_code["E0201"]  # a zero width fails inside the prelude's block: shown at the use
    line, col = _where(SEVERAL, "layer3: basic(0)")
    assert (inside.range.start.line, inside.range.start.character) == (line, col)
    assert [r.location.uri for r in inside.related_information] == [prelude_uri]


# --- hover ------------------------------------------------------------------------------------------


def _resnet50():
    text = (SPECS / "resnet50.res").read_text(encoding="utf-8")
    return text, (SPECS / "resnet50.res").as_uri()


def test_hover_on_a_stage_shows_what_the_summary_reports(server):
    text, uri = _resnet50()
    server.open(uri, text)
    server.wait_diagnostics(uri, version=1)
    rows = {r["name"]: r for r in summary_json(Report.of(resdsl.load("resnet50"), "stage"))["rows"]}
    for stage in ("layer1", "layer2", "layer4"):
        line, col = _where(text, f"{stage}:")
        hover = server.hover(uri, line, col + 2)
        value = hover.contents.value
        row = rows[stage]
        assert row["kind"] == "stage"
        assert f"output `{fmt_shape(tuple(row['output']))}`" in value
        assert f"{row['params']:,} params" in value
        assert f"{row['macs']:,} MACs" in value
        assert hover.range.start.line == line


def test_hover_on_a_layer_a_block_name_and_a_parameter(server):
    text, uri = _resnet50()
    server.open(uri, text)
    net = resdsl.load("resnet50")

    line, col = _where(text, "conv1:")
    conv1 = server.hover(uri, line, col + 9).contents.value  # on `conv`
    conv = net.graph.nodes["conv1"]
    assert f"output `{fmt_shape(net.graph.nodes['relu']['shape'])}`" in conv1
    assert f"{conv['cost_params'] + net.graph.nodes['bn1']['cost_params']:,} params" in conv1

    line, col = _where(text, "bottleneck(128")
    block = server.hover(uri, line, col + 3).contents.value
    assert "block bottleneck(width, stride = 1, groups = 1, base_width = 64, v1 = false, dilation = 1, drop_path = 0.0)" in block
    prelude_line = _where(resources.prelude_path().read_text(encoding="utf-8"), "block bottleneck")[0] + 1
    assert f"defined at prelude.res:{prelude_line}" in block

    line, col = _where(text, "linear classes")
    param = server.hover(uri, line, col + len("linear c")).contents.value
    assert "parameter `classes = 1000`" in param and "value: `1000`" in param


# --- go to definition -----------------------------------------------------------------------------


def test_definition_of_a_prelude_block_is_in_the_prelude(server):
    text, uri = _resnet50()
    server.open(uri, text)
    line, col = _where(text, "bottleneck(64")
    (loc,) = server.definition(uri, line, col + 1)
    prelude = resources.prelude_path().read_text(encoding="utf-8")
    pline, pcol = _where(prelude, "block bottleneck")
    assert loc.uri == resources.prelude_path().as_uri()
    assert _range(loc.range) == (pline, pcol + len("block "), pline, pcol + len("block bottleneck"))


OWN = """\
block pair(width) {
    let half = width // 2
    conv 3x3, half
    conv 3x3, width, relu off
    add
    relu
}

network own(classes = 10) {
    input 3x32x32
    stem: conv 3x3, 16
    body: pair(16) x 2
    fc: linear classes
    expect shape body == 16x32x32
}
"""


def test_definitions_of_own_blocks_values_and_labels(server, tmp_path):
    uri = _uri(tmp_path, "own.res")
    server.open(uri, OWN)
    assert server.wait_diagnostics(uri, version=1) == []

    def target(needle, offset, nth=0):
        line, col = _where(OWN, needle, nth)
        return [(loc.uri, _range(loc.range)) for loc in server.definition(uri, line, col + offset)]

    pair_line, pair_col = _where(OWN, "block pair")
    assert target("pair(16)", 1) == [(uri, (pair_line, pair_col + 6, pair_line, pair_col + 10))]
    let_line, let_col = _where(OWN, "let half")
    assert target("conv 3x3, half", len("conv 3x3, h")) == [(uri, (let_line, let_col + 4, let_line, let_col + 8))]
    width_line, width_col = _where(OWN, "pair(width)")
    assert target("width // 2", 1) == [(uri, (width_line, width_col + 5, width_line, width_col + 10))]
    label_line, label_col = _where(OWN, "body: pair")
    assert target("expect shape body", len("expect shape b")) == [(uri, (label_line, label_col, label_line, label_col + 4))]
    classes_line, classes_col = _where(OWN, "own(classes")
    assert target("linear classes", len("linear c")) == [(uri, (classes_line, classes_col + 4, classes_line, classes_col + 11))]


NAMED = """\
network named {
    input 3x32x32
    conv 3x3, 16
    s1: basic(16) x 2, names b1
    expect shape s1.b2.conv2 == 16x32x32
}
"""


def test_an_expect_path_through_a_named_stage_reaches_the_blocks_layer(server, tmp_path):
    """`s1.b2.conv2`: the stage `s1`, its block `b2` (`names b1`), then the block's conv2 (the prelude's `basic`)."""
    uri = _uri(tmp_path, "named.res")
    server.open(uri, NAMED)
    assert server.wait_diagnostics(uri, version=1) == []
    line, col = _where(NAMED, "s1.b2.conv2")
    [loc] = server.definition(uri, line, col + len("s1.b2.c"))
    assert loc.uri == resources.prelude_path().as_uri()
    pline, pcol = _where(resources.prelude_path().read_text(encoding="utf-8"), "conv 3x3, width, relu off  #")
    assert _range(loc.range)[:2] == (pline, pcol)
    line, _ = _where(NAMED, "s1: basic")
    options = {i.label: i for i in server.completion(uri, line, len("    s1: basic(16) x 2, ")).items}
    assert {"stride", "shortcut", "names"} <= set(options) and "b1, b2" in options["names"].detail


# --- completion, symbols, formatting ----------------------------------------------------------------


def test_completion_offers_layers_blocks_and_options(server, tmp_path):
    uri = _uri(tmp_path, "complete.res")
    text = "network c {\n    input 3x32x32\n    \n    conv 3x3, 16, \n    shortcut \n}\n"
    server.open(uri, text)
    items = {i.label: i for i in server.completion(uri, 2, 4).items}
    assert {"conv", "maxpool", "avgpool", "linear", "add", "basic", "bottleneck"} <= set(items)
    # a client without snippets (eglot shows `insertText` in its list): labels only; what is
    # inserted beyond the label comes as a textEdit over the word typed so far
    assert all(i.insert_text is None and i.insert_text_format is None for i in items.values())
    edit = items["bottleneck"].text_edit
    assert edit.new_text == "bottleneck(" and _range(edit.range) == (2, 4, 2, 4)
    assert items["conv"].text_edit.new_text == "conv " and items["relu"].text_edit is None
    typed = {i.label: i for i in server.completion(uri, 3, len("    con")).items}
    assert _range(typed["conv"].text_edit.range) == (3, 4, 3, 7)
    assert "block bottleneck(width" in items["bottleneck"].detail
    assert "stride" in items["conv"].documentation.value

    options = {i.label for i in server.completion(uri, 3, len("    conv 3x3, 16, ")).items}
    assert {"stride", "padding", "groups", "bias", "bn", "relu"} <= options

    kinds = {i.label for i in server.completion(uri, 4, len("    shortcut ")).items}
    assert {"A", "B", "C", "identity", "none"} <= kinds


def test_completion_offers_a_blocks_parameters_inside_its_call(server, tmp_path):
    uri = _uri(tmp_path, "call.res")
    text = "network c {\n    input 3x32x32\n    layer1: bottleneck(16, \n}\n"
    server.open(uri, text)
    labels = {i.label for i in server.completion(uri, 2, len("    layer1: bottleneck(16, ")).items}
    assert {"width", "stride", "groups", "base_width", "v1"} <= labels


def test_document_symbols(server, tmp_path):
    uri = _uri(tmp_path, "symbols.res")
    server.open(uri, OWN)
    symbols = server.symbols(uri)
    assert [(s.name, s.kind) for s in symbols] == [("pair", lsp.SymbolKind.Function), ("own", lsp.SymbolKind.Class)]
    own = symbols[1]
    assert [(c.name, c.kind) for c in own.children] == [
        ("stem", lsp.SymbolKind.Field),
        ("body", lsp.SymbolKind.Module),
        ("fc", lsp.SymbolKind.Field),
    ]
    layers = [c.name for c in symbols[0].children if c.kind == lsp.SymbolKind.Field]
    assert [c.name for c in symbols[0].children][:1] == ["half"] and len(layers) == 4
    graph = resdsl.compile_text(OWN, "own.res").graph
    assert all(f"body.0.{name}" in graph for name in layers)  # the IR's (and PyTorch's) names


def test_formatting_is_one_whole_document_edit(server, tmp_path):
    fmt = pytest.importorskip("resdsl.tools.format")
    uri = _uri(tmp_path, "messy.res")
    messy = "network   messy(classes=10){\n  input 3x32x32\n        fc:linear classes\n}"
    server.open(uri, messy)
    expected = fmt.format_text(messy, "messy.res")
    edits = server.formatting(uri)
    if expected == messy:
        assert edits == []
    else:
        (edit,) = edits
        assert edit.new_text == expected
        assert _range(edit.range) == (0, 0, 3, 1)

    broken = _uri(tmp_path, "broken.res")
    server.open(broken, "network broken {\n  input 3x32x32\n  conv 3x3,, 16\n")
    assert list(server.formatting(broken)) == []


# --- robustness ---------------------------------------------------------------------------------------

FUZZ_BASE = """\
block pair(width, stride = 1) {
    conv 3x3, width, stride stride
    conv 3x3, width, relu off
    add
    relu
}

network fuzz(n = 2, classes = 10) {
    input 3x32x32
    shortcut A
    let w = 16
    conv1: conv 3x3, w
    layer1: pair(w) x n
    layer2: basic(w * 2) x n, stride 2
    avgpool: avgpool
    fc: linear classes
    expect shape layer2 == 32x16x16
}
"""

_PIECES = [
    "{", "}", "(", ")", ",", ":", "=", " ", "\n", "\t", "x", "#", "é", "\U0001F600", "×", ";",
    "conv", "basic(", "pair(", "bottleneck(", "64", "0", "-1", "3x3", "stride", "let", "add", "expect",
    "when", "network", "block", "shortcut", "input", "relu off", "x 100000", "99999999999999999999",
    "(((((((", "1e999", "true", "labels:",
]


def _edit(rng: random.Random, text: str) -> str:
    choice = rng.random()
    if choice < 0.05 or not text:
        return FUZZ_BASE
    at = rng.randrange(len(text) + 1)
    if choice < 0.35:
        return text[:at] + text[at + rng.randint(1, 8) :]
    if choice < 0.75:
        return text[:at] + rng.choice(_PIECES) + text[at:]
    lines = text.split("\n")
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    if choice < 0.9:
        lines.insert(j, lines[i])  # duplicate a line
    else:
        lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


def test_random_edits_never_kill_the_server(server, tmp_path):
    rng = random.Random(20240601)
    uri = _uri(tmp_path, "fuzz.res")
    text = FUZZ_BASE
    server.open(uri, text)
    for version in range(2, 202):
        text = _edit(rng, text)
        server.change(uri, text, version)
        lines = text.split("\n")
        line = rng.randrange(len(lines) + 1)
        character = rng.randrange(len(lines[line]) + 3) if line < len(lines) else 0
        server.hover(uri, line, character, timeout=20)  # None or a Hover: an answer either way
        completion = server.completion(uri, line, character, timeout=20)
        assert isinstance(completion, lsp.CompletionList)
        if version % 25 == 0:
            server.definition(uri, line, character)
            server.symbols(uri)
    assert server.alive
    final = server.wait_diagnostics(uri, version=201)
    assert all(d.source == "resdsl" for d in final)
    log = server.server_log()
    assert "Traceback" not in log, log


def test_the_command_explains_a_missing_pygls():
    code = "import sys; sys.modules['pygls'] = None\nfrom resdsl.cli import main\nmain(['lsp'], prog_name='resdsl')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2
    assert done.stderr.strip() == 'Error: resdsl lsp needs pygls; install it with: pip install "resdsl[lsp]"'


def test_a_request_with_invalid_params_gets_an_error_reply(server, tmp_path):
    from pygls.exceptions import JsonRpcException

    uri = _uri(tmp_path, "invalid.res")
    server.open(uri, TYPO)
    server.wait_diagnostics(uri)
    position = lsp.Position(line=0, character=0)
    object.__setattr__(position, "line", -1)  # past lsprotocol's validators: sent as `"line": -1`
    params = lsp.HoverParams(lsp.TextDocumentIdentifier(uri=uri), position)
    with pytest.raises(JsonRpcException) as caught:
        server.request("text_document_hover_async", params, timeout=10)
    assert caught.value.code == -32602  # InvalidParams: an answer, not silence
    assert server.hover(uri, 0, 9) is not None  # and the server goes on serving


def test_hover_survives_a_syntax_error_through_the_protocol(server, tmp_path):
    uri = _uri(tmp_path, "typing.res")
    text = (SPECS / "resnet50.res").read_text(encoding="utf-8")
    server.open(uri, text)
    server.wait_diagnostics(uri, 1)
    line, character = _where(text, "bottleneck(")
    broken = text.replace("    fc: linear classes", "    fc: linear classes x")
    assert broken != text
    server.change(uri, broken, 2)
    assert server.wait_diagnostics(uri, 2)[0].code == "E0001"
    hover = server.hover(uri, line, character + 2)
    assert hover is not None and "block bottleneck(width" in hover.contents.value
    assert len(server.symbols(uri)) == 1 and len(server.symbols(uri)[0].children) > 3
