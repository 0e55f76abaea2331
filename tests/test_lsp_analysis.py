"""The language server's answers, in process: `resdsl.tools.lsp.document` and the LSP conversions.

The protocol itself is exercised in test_lsp.py against a real server process; these tests
cover the cases that are awkward to reach through it (warnings, spans left in the prelude,
UTF-16 columns, per-instance values) and run in milliseconds.
"""

from __future__ import annotations

import sys
import types

import pytest

from resdsl.frontend import resources
from resdsl.compiler import PRELUDE
from resdsl.diagnostics import Diagnostic, Note, Span
from resdsl.tools.lsp.document import analyze, contains, text_of

PAIR = """\
block pair(width, stride = 1) {
    let half = width / 2
    conv 3x3, half, stride stride
    conv 3x3, width, relu off
    add
    relu
}

network tiny(classes = 10) {
    input 3x32x32
    shortcut B
    let w = 16
    conv1: conv 3x3, w
    layer1: pair(w) x 2
    layer2: pair(w * 2) x 2, stride 2
    extra: basic(32)
    fc: linear classes
}
"""


def _at(text: str, needle: str, offset: int = 0) -> tuple[int, int]:
    """1-based (line, column) of `needle` plus `offset` characters, as spans count."""
    for i, line in enumerate(text.split("\n"), 1):
        if needle in line:
            return i, line.index(needle) + 1 + offset
    raise AssertionError(needle)


@pytest.fixture(scope="module")
def pair():
    analysis = analyze(PAIR, "pair.res")
    assert analysis.diagnostics == ()
    return analysis


def test_a_name_in_a_block_shows_its_value_in_each_instance(pair):
    text, span = pair.hover(*_at(PAIR, "let half", 5))
    assert span == Span("pair.res", 2, 9, 2, 13)
    assert "`let half = width / 2`" in text
    assert "- `8` in layer1.0, layer1.1" in text
    assert "- `16` in layer2.0, layer2.1" in text
    stride, _ = pair.hover(*_at(PAIR, "stride stride", 8))
    assert "- `2` in layer2.0" in stride and "- `1` in layer1.0, layer1.1, layer2.1" in stride


def test_a_statement_in_a_block_shows_each_kind_of_instance(pair):
    net = pair.net
    text, _ = pair.hover(*_at(PAIR, "add"))
    # layer2.0 projects its shortcut: the `add` statement's nodes include the inserted projection
    projection = sum(net.graph.nodes[n]["cost_params"] for n in ("layer2.0.downsample.0", "layer2.0.downsample.1"))
    assert f"- layer2.0: output `32×16×16` · {projection:,} params" in text
    assert "- layer1.0, layer1.1: output `16×32×32` · 0 params" in text


def test_a_block_definition_says_where_it_is_used(pair):
    text, _ = pair.hover(*_at(PAIR, "block pair", 7))
    assert "block pair(width, stride = 1)" in text and "defined at line 1" in text
    assert "used 4 times: layer1.0, layer1.1, layer2.0, layer2.1" in text


def test_a_network_name_shows_its_totals(pair):
    text, _ = pair.hover(*_at(PAIR, "network tiny", 9))
    assert f"{pair.net.params:,} params" in text and "input `3×32×32` → output `10`" in text


def test_a_broken_spec_still_answers_what_its_ast_knows():
    broken = PAIR.replace("pair(w) x 2", "piar(w) x 2")
    analysis = analyze(broken, "broken.res")
    assert [d.code for d in analysis.diagnostics] == ["E0101"]
    text, _ = analysis.hover(*_at(broken, "pair(w * 2)", 1))
    assert "block pair(width, stride = 1)" in text and "does not compile yet" in text
    assert analysis.definition(*_at(broken, "pair(w * 2)", 1)) == [Span("broken.res", 1, 7, 1, 11)]


def test_completion_remembers_blocks_while_the_text_does_not_parse(pair):
    typing = PAIR.replace("    fc: linear classes", "    fc: linear classes\n    conv 3x3, 16, bn \n    ")
    analysis = analyze(typing, "pair.res", previous=pair)
    assert analysis.module is not None  # `bn` alone parses (as a positional argument)
    line = typing.split("\n").index("    ") + 1
    labels = {c.label for c in analysis.completion(line, 5)}
    assert {"pair", "basic", "bottleneck", "conv"} <= labels
    bn_line, bn_col = _at(typing, "conv 3x3, 16, bn ", len("conv 3x3, 16, bn "))
    assert {c.label for c in analysis.completion(bn_line, bn_col)} == {"on", "off"}

    unparsable = PAIR.replace("network tiny(classes = 10) {", "network tiny(classes = 10) {\n    layer0: (\n")
    analysis = analyze(unparsable, "pair.res", previous=pair)
    assert analysis.module is None
    line = unparsable.split("\n").index("    layer0: (") + 1
    assert {"pair", "basic"} <= {c.label for c in analysis.completion(line, 13)}


def test_the_prelude_itself_is_checked_as_a_library():
    text = resources.prelude_path().read_text(encoding="utf-8")
    analysis = analyze(text, "/somewhere/prelude.res", library=True)
    assert analysis.diagnostics == ()
    line, col = _at(text, "block bottleneck", 7)
    hover, _ = analysis.hover(line, col)
    assert "block bottleneck(width" in hover


def test_a_file_of_blocks_meets_the_size_limits_too():
    """A library file (the prelude, or a copy of it) is parsed with the same limits as a spec."""
    text = "block b(w) {\n    conv 3x3, w\n}\n" * 5_001
    analysis = analyze(text, "/somewhere/prelude.res", library=True)
    assert [(d.code, d.message) for d in analysis.diagnostics] == [("E0301", "this spec has more than 5,000 statements")]


def test_positions_contain_their_end_and_text_of_reads_spans():
    span = Span("s", 2, 3, 2, 6)
    assert contains(span, 2, 3) and contains(span, 2, 6) and not contains(span, 2, 7) and not contains(span, 1, 4)
    assert text_of(span, ["", "abcdefg"]) == "cde"
    assert text_of(Span("s", 1, 2, 2, 3), ["abc", "defg"]) == "bc\nde"


# --- the LSP conversions (no process, no client) -------------------------------------------------

lsp = pytest.importorskip("lsprotocol.types")
pytest.importorskip("pygls")


@pytest.fixture(scope="module")
def server():
    from resdsl.tools.lsp.server import ResdslServer

    return ResdslServer()


def test_warnings_are_warnings_and_help_ends_the_message(server):
    analysis = analyze("network w {\n    input 3x32x32\n}\n", "w.res")
    warning = Diagnostic("W0001", "a warning", Span("w.res", 2, 5, 2, 10), notes=(Note("an unlocated note"),), help="do this", severity="warning")
    got = server.diagnostic(analysis, warning, "file:///w.res")
    assert got.severity == lsp.DiagnosticSeverity.Warning
    assert got.code == "W0001" and got.source == "resdsl"
    assert got.message == "a warning\nnote: an unlocated note\nhelp: do this"
    assert (got.range.start.line, got.range.start.character, got.range.end.line, got.range.end.character) == (1, 4, 1, 9)
    error = server.diagnostic(analysis, Diagnostic("E0101", "an error", Span("w.res", 1, 1, 1, 2)), "file:///w.res")
    assert error.severity == lsp.DiagnosticSeverity.Error and error.related_information is None


def test_a_span_left_in_the_prelude_shows_at_line_one_and_links_there(server):
    analysis = analyze("network w {\n    input 3x32x32\n}\n", "w.res")
    inside = Diagnostic("E0201", "inside the prelude", Span(PRELUDE, 9, 5, 9, 10), label="in block x")
    got = server.diagnostic(analysis, inside, "file:///w.res")
    assert (got.range.start.line, got.range.start.character, got.range.end.line, got.range.end.character) == (0, 0, 0, len("network w {"))
    (related,) = got.related_information
    assert related.location.uri == resources.prelude_path().as_uri()
    assert related.location.range.start == lsp.Position(line=8, character=4)
    unlocated = server.diagnostic(analysis, Diagnostic("E0501", "no location"), "file:///w.res")
    assert unlocated.range.start == lsp.Position(line=0, character=0)


def test_columns_are_utf16_code_units(server):
    text = "# \U0001F600 é\nnetwork u {\n    input 3x32x32\n}\n"
    analysis = analyze(text, "u.res")
    # the emoji is one character but two UTF-16 units
    assert server.position(analysis.index, 1, 4) == lsp.Position(line=0, character=4)
    assert server.position(analysis.index, 1, 6) == lsp.Position(line=0, character=6)
    assert server.cursor(analysis, lsp.Position(line=0, character=4)) == (1, 4)
    assert server.cursor(analysis, lsp.Position(line=0, character=6)) == (1, 6)
    assert server.cursor(analysis, lsp.Position(line=9, character=0)) == (len(analysis.lines) + 1, 1)


def test_document_names_never_collide_with_the_prelude(server):
    assert server.source_name("file:///home/me/specs/resnet50.res") == "resnet50.res"
    assert server.source_name("file:///home/me/prelude.res") == "/home/me/prelude.res"
    assert server.is_prelude(resources.prelude_path().as_uri())
    assert not server.is_prelude("file:///home/me/prelude.res")


def test_formatting_replaces_the_whole_document(monkeypatch):
    from resdsl.diagnostics import ResdslError
    from resdsl.tools.lsp.server import format_edits

    fake = types.ModuleType("resdsl.tools.format")

    def format_text(text, source="<spec>"):
        if "((" in text:
            raise ResdslError([Diagnostic("E0001", "syntax", Span(source, 1, 1, 1, 2))])
        return text.replace("  ", " ")

    fake.format_text = format_text
    monkeypatch.setitem(sys.modules, "resdsl.tools.format", fake)
    (edit,) = format_edits("a  b\r\nc\n\U0001F600", "f.res")
    assert edit.new_text == "a b\r\nc\n\U0001F600"
    assert (edit.range.start.line, edit.range.start.character, edit.range.end.line, edit.range.end.character) == (0, 0, 2, 2)
    assert format_edits("already tidy", "f.res") == []
    assert format_edits("((  broken", "f.res") == []


# --- while the text does not parse: the last good analysis answers -----------------------------


def test_a_syntax_error_keeps_hover_definition_and_outline(pair):
    typing = PAIR.replace("    fc: linear classes", "# a comment added above\n    fc: linear classes x")
    typing = "# and one at the top\n" + typing
    analysis = analyze(typing, "pair.res", previous=pair)
    assert analysis.module is None and analysis.last_good is pair
    line, col = _at(typing, "pair(w * 2)", 1)
    text, span = analysis.hover(line, col)
    assert "block pair(width, stride = 1)" in text
    assert (span.line, span.column, span.end_line, span.end_column) == (line, col - 1, line, col + 3)
    assert analysis.definition(line, col) == [Span("pair.res", 2, 7, 2, 11)]  # the block, one line down
    before = [(s.name, s.selection.line, [c.name for c in s.children]) for s in pair.symbols()]
    after = [(s.name, s.selection.line, [c.name for c in s.children]) for s in analysis.symbols()]
    assert [n for n, _, _ in after] == ["pair", "tiny"]
    assert after[0] == (before[0][0], before[0][1] + 1, before[0][2])  # shifted by the new first line
    assert after[1][2] == [c for c in before[1][2] if c != "fc"]  # the edited line is left out
    assert analysis.hover(*_at(typing, "classes x")) is None  # the edited line itself: nothing stale
    # still broken after another keystroke: the same last good analysis answers
    again = analyze(typing + " ", "pair.res", previous=analysis)
    assert again.last_good is pair and len(again.symbols()) == 2


def test_hover_and_definition_of_layer_kinds_and_options(pair):
    text, span = pair.hover(*_at(PAIR, "conv 3x3, half"))
    assert text.startswith("`conv KERNEL, FILTERS`\n\nconvolution, then batch norm and ReLU unless switched off")
    assert text.endswith("\n\n---\n\nlayer `conv 3x3, half, stride stride`\n\nin 4 blocks:\n- layer1.0, layer1.1: output `8×32×32` · 1,168 params · 1,179,648 MACs (conv+fc)\n- layer2.0: output `16×16×16` · 2,336 params · 589,824 MACs (conv+fc)\n- layer2.1: output `16×16×16` · 4,640 params · 1,179,648 MACs (conv+fc)")
    assert (span.line, span.column, span.end_column) == (3, 5, 9)
    text, span = pair.hover(*_at(PAIR, "stride stride"))
    assert text == "option `stride` of `conv` (default 1): step of the window"
    assert (span.column, span.end_column) == (len("    conv 3x3, half, ") + 1, len("    conv 3x3, half, stride") + 1)
    text, _ = pair.hover(*_at(PAIR, "x 2, stride 2", 5))
    assert text == "option `stride`: the stage's stride, given to its first block"
    (where,) = pair.definition(*_at(PAIR, "conv 3x3, half"))
    from resdsl.tools.lsp.document import LAYER_REGISTRY, registry_text

    assert where.source == LAYER_REGISTRY
    line = registry_text().split("\n")[where.line - 1]
    assert line[where.column - 1 : where.end_column - 1] == "conv" and line[where.column - 2] == '"'
    (alias,) = pair.definition(*_at(PAIR, "linear classes"))
    assert alias.source == LAYER_REGISTRY


def test_doc_comments_are_escaped_in_markdown():
    text = "# Uses <b>bold</b> and *stars* [a](javascript:x)\nblock odd(width) {\n    conv 3x3, width\n}\n\n" + PAIR.split("\n\n", 1)[1].replace("extra: basic(32)", "extra: odd(32)")
    analysis = analyze(text, "odd.res")
    hover, _ = analysis.hover(*_at(text, "odd(32)"))
    assert "Uses \\<b\\>bold\\</b\\> and \\*stars\\* \\[a\\]\\(javascript:x\\)" in hover
    assert "<b>" not in hover


def test_a_lone_carriage_return_ends_a_line_for_the_editor(server):
    text = "network t {\r    input 3x32x32\r    bad: basci(3)\n}\n"
    analysis = analyze(text, "cr.res")
    (d,) = [server.diagnostic(analysis, d, "file:///cr.res") for d in analysis.diagnostics]
    assert d.code == "E0001" and analysis.diagnostics[0].span.line == 1  # `bad` where `}` is expected
    assert (d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character) == (2, 4, 2, 7)
    assert server.position(analysis.index, 1, len("network t {\r    input 3x32x32\r    bad: ") + 1) == lsp.Position(line=2, character=9)
    assert server.cursor(analysis, lsp.Position(line=2, character=9)) == (1, len("network t {\r    input 3x32x32\r    bad: ") + 1)
    assert server.position(analysis.index, 2, 1) == lsp.Position(line=3, character=0)


def test_completion_uses_snippets_only_for_clients_that_take_them(server):
    from resdsl.tools.lsp.document import Candidate

    word = lsp.Range(start=lsp.Position(line=3, character=4), end=lsp.Position(line=3, character=6))
    block = Candidate("basic", "block", "block basic(width)", insert_text="basic(", snippet="basic(${1:width})$0")
    plain = server.completion_item(block, False, word)
    assert plain.insert_text is None and plain.insert_text_format is None
    assert plain.text_edit == lsp.TextEdit(range=word, new_text="basic(")
    snippet = server.completion_item(block, True, word)
    assert snippet.insert_text is None and snippet.insert_text_format == lsp.InsertTextFormat.Snippet
    assert snippet.text_edit == lsp.TextEdit(range=word, new_text="basic(${1:width})$0")
    assert server.completion_item(Candidate("relu", "layer", insert_text="relu"), True, word).text_edit is None


def test_did_you_mean_work_is_bounded_however_many_names_are_misspelt(monkeypatch):
    """1,200 misspelt names among 1,800 known ones took 36 s to check as the editor checks it
    (every error kept); the searches now share one budget per compile, and a name looked up
    again (several passes evaluate a value) is answered from the first search."""
    import difflib

    from resdsl.diagnostics import SUGGESTION_BUDGET

    compared = []
    real = difflib.get_close_matches

    def counting(word, possibilities, *args, **kwargs):
        compared.append(len(possibilities))
        return real(word, possibilities, *args, **kwargs)

    monkeypatch.setattr(difflib, "get_close_matches", counting)
    lines = ["network typos {", "    input 3x32x32"]
    lines += [f"    let value_{j} = {j}" for j in range(600)]
    lines += [f"    let other_{j} = valeu_{j % 600} + 1" for j in range(1200)]
    analysis = analyze("\n".join(lines + ["}"]) + "\n", "typos.res")
    assert [d.code for d in analysis.diagnostics] == ["E0107"] * 1200
    assert sum(compared) <= SUGGESTION_BUDGET
    # the first errors, those `resdsl check` shows (it stops at 20), keep their suggestions
    assert all(d.help.startswith("did you mean `value_") for d in analysis.diagnostics[:20])


def test_an_oversized_document_is_refused_before_parsing_as_check_refuses_it():
    """The outline parsed the whole text with no statement limit: 96 s on a 0.99 MB document."""
    text = "network big {\n    input 3x32x32\n" + "    conv 3x3, 8\n" * 5_001 + "}\n"
    analysis = analyze(text, "big.res")
    assert [d.code for d in analysis.diagnostics] == ["E0301"]
    assert analysis.module is None and analysis.symbols() == [] and analysis.hover(3, 5) is None


RES2 = """\
network n {
    input 3x16x16
    conv 3x3, 16
    layer1: b()
}

block b(scale = 4) {
    parts: split scale
    for i in 0 .. scale - 1 {
        convs[i]: conv 3x3, 4, from parts[i]
    }
    concat convs, parts[scale - 1]
    add
}
"""


def test_hover_on_a_loop_its_statements_and_its_values():
    analysis = analyze(RES2, "res2.res")
    assert analysis.diagnostics == ()
    text, span = analysis.hover(*_at(RES2, "for i"))
    assert text.startswith("`for i in a .. b { ... }`: the body once for each i from a to b - 1") and span == Span("res2.res", 9, 5, 11, 6)
    text, span = analysis.hover(*_at(RES2, "conv 3x3, 4"))
    assert text.startswith("`conv KERNEL, FILTERS`") and "in `layer1`: output `4×16×16` · 456 params · 110,592 MACs" in text
    assert text.endswith("nodes: `layer1.convs.0` (conv), `layer1.bns.0` (bn), `layer1.relu.0` (relu), `layer1.convs.1` (conv), "
                         "`layer1.bns.1` (bn), `layer1.relu.1` (relu), `layer1.convs.2` (conv), `layer1.bns.2` (bn), `layer1.relu.2` (relu)")
    text, span = analysis.hover(*_at(RES2, "parts[i]", 1))
    assert (text, span) == ("value of `parts: split scale`", Span("res2.res", 10, 37, 10, 42))
    text, _ = analysis.hover(*_at(RES2, "concat"))
    assert text.startswith("`concat VALUES`\n\nconcatenates values of equal H×W along the channels")


def test_completion_in_a_loop_body_offers_its_index_lets_and_the_values_before_it():
    text = (resources.bundled_specs()["timm_res2net"]).read_text(encoding="utf-8")
    analysis = analyze(text, "timm_res2net.res")
    line, col = _at(text, "from sp  # convs.i", len("from "))
    names = {(c.label, c.kind) for c in analysis.completion(line, col) if c.kind in ("variable", "value")}
    assert names == {
        ("planes", "variable"), ("stride", "variable"), ("base_width", "variable"), ("scale", "variable"),
        ("cardinality", "variable"), ("first", "variable"), ("width", "variable"),  # parameters and the block's let
        ("conv1", "value"), ("parts", "value"),  # labels above the loop
        ("i", "variable"), ("sp", "variable"),  # the loop's index and its own let
    }
    # after the loop, its indexed label is a value (the tuple `convs`); the index is out of scope
    line, col = _at(text, "concat convs, pool", len("concat "))
    after = {(c.label, c.kind) for c in analysis.completion(line, col) if c.kind in ("variable", "value")}
    assert {("convs", "value"), ("pool", "value"), ("parts", "value")} <= after and ("i", "variable") not in after


def test_hover_on_a_block_in_a_loop_shows_each_rounds_entry():
    from test_values import SK

    text = SK + "\nnetwork t {\n    input 3x32x32\n    conv 3x3, 32\n    layer1: sk(16)\n}\n"
    analysis = analyze(text, "sk.res")
    assert analysis.diagnostics == ()
    hover, span = analysis.hover(*_at(text, "cna(channels, dilation = i"))
    assert span == Span("sk.res", 10, 19, 10, 22)
    assert hover.endswith("in 2 blocks:\n- layer1.paths.0, layer1.paths.1: output `16×32×32` · 2,336 params · 2,359,296 MACs (conv+fc)")
