"""Highlighting: the Pygments lexer (and its plugin registration) and the TextMate grammar."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

pytest.importorskip("pygments")

from pygments.token import Comment, Error, Keyword, Name, Number, Operator, Punctuation  # noqa: E402

from conftest import ROOT  # noqa: E402
from resdsl.tools import highlight
from resdsl.frontend import layers  # noqa: E402
from resdsl.tools.highlight import ResdslLexer, textmate_json  # noqa: E402
from resdsl.frontend.resources import prelude_path  # noqa: E402
from resdsl.frontend.syntax.parser import _parser  # noqa: E402

FILES = {
    str(p.relative_to(ROOT)): p
    for p in [
        *sorted((ROOT / "specs").glob("*.res")),
        prelude_path(),
        *sorted((ROOT / "examples").glob("*.res")),
        ROOT / "tests" / "format" / "identity.res",
    ]
}
TEXTMATE = ROOT / "editors" / "textmate" / "resdsl.tmLanguage.json"


def tokens(text: str) -> list[tuple]:
    """(type, text) pairs, whitespace left out."""
    return [(t, v) for t, v in ResdslLexer().get_tokens(text) if v.strip()]


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_bundled_file_lexes_without_errors(name):
    text = FILES[name].read_text(encoding="utf-8")
    pairs = list(ResdslLexer().get_tokens(text))
    assert [v for t, v in pairs if t in Error] == []
    assert "".join(v for _, v in pairs) == text


def test_token_types_of_a_statement():
    assert tokens("conv1: conv 7x7, 64, stride 2  # c\n") == [
        (Name.Label, "conv1"),
        (Punctuation, ":"),
        (Name.Builtin, "conv"),
        (Number, "7x7"),
        (Punctuation, ","),
        (Number.Integer, "64"),
        (Punctuation, ","),
        (Name, "stride"),
        (Number.Integer, "2"),
        (Comment.Single, "# c"),
    ]


def test_definitions_calls_keywords_and_dims():
    got = dict((v, t) for t, v in tokens("block basic(width, stride = 1) {\n    relu\n}\n"))
    assert got["block"] in Keyword and got["basic"] is Name.Function and got["width"] is Name and got["relu"] is Name.Builtin
    got = dict((v, t) for t, v in tokens("network n {\n    input 3x224x224\n    layer1: basic(64) x 2, stride 2 when n > 1\n    expect macs ~ 1.8e9 within 2%\n}\n"))
    assert got["input"] in Keyword and got["3x224x224"] in Number and got["1.8e9"] in Number
    assert got["basic"] is Name.Function and got["layer1"] is Name.Label and got["x"] in Operator
    assert got["when"] in Keyword and got["within"] in Keyword and got["expect"] in Keyword
    got = dict((v, t) for t, v in tokens("network n {\n    conv 3x3, 64, relu off, bias true\n    shortcut B\n}\n"))
    assert got["relu"] is Name  # an option here, not a layer kind
    assert got["off"] in Keyword.Constant and got["true"] in Keyword.Constant and got["shortcut"] in Keyword
    got = dict((v, t) for t, v in tokens("shortcut proj(w) { conv 1x1, w; relu }\nsequential s { add }"))
    assert got["shortcut"] in Keyword.Declaration and got["proj"] is Name.Function and got["sequential"] in Keyword.Declaration
    assert got["conv"] is Name.Builtin and got["relu"] is Name.Builtin and got["add"] is Name.Builtin


def test_keywords_and_layer_kinds_come_from_the_grammar_and_the_registry():
    literal_words = {t.pattern.value for t in _parser().terminals if re.fullmatch(r"[A-Za-z_]\w*", str(getattr(t.pattern, "value", "")))}
    assert literal_words <= set(highlight.KEYWORDS)
    assert {"network", "block", "shortcut", "sequential", "input", "let", "expect", "when", "within", "if", "else"} <= set(highlight.KEYWORDS)
    assert {"and", "or", "not", "true", "false", "on", "off", "shape"} <= set(highlight.KEYWORDS)
    assert set(layers.LAYER_KINDS) | set(getattr(layers, "ALIASES", {})) <= set(highlight.LAYER_KINDS)
    for kind in layers.LAYER_KINDS:
        assert tokens(f"network n {{\n    {kind}\n}}\n")[3] == (Name.Builtin, kind)


def test_loops_indexed_labels_and_indexes():
    text = "block b() {\n    for i in 0 .. 3 {\n        convs[i]: conv 3x3, 8, from parts[i]\n    }\n}\n"
    got = [(t, v) for t, v in tokens(text) if v.strip()]
    assert got[5:21] == [
        (Keyword, "for"), (Name, "i"), (Keyword, "in"), (Number.Integer, "0"), (Punctuation, "."), (Punctuation, "."),
        (Number.Integer, "3"), (Punctuation, "{"), (Name.Label, "convs"), (Punctuation, "["), (Name, "i"), (Punctuation, "]"),
        (Punctuation, ":"), (Name.Builtin, "conv"), (Number, "3x3"), (Punctuation, ","),
    ]  # fmt: skip
    assert got[-6:-2] == [(Name, "parts"), (Punctuation, "["), (Name, "i"), (Punctuation, "]")]


def test_the_lexer_is_registered_as_a_pygments_plugin():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["entry-points"]["pygments.lexers"] == {"resdsl": "resdsl.tools.highlight:ResdslLexer"}
    assert any(dep.startswith("pygments") for dep in project["optional-dependencies"]["test"])
    assert ResdslLexer.name == "resdsl" and ResdslLexer.aliases == ["resdsl", "res"] and ResdslLexer.filenames == ["*.res"]


_PROBE = """
from pygments.lexers import find_lexer_class_for_filename, get_lexer_by_name
lexer = get_lexer_by_name("res")
print(type(lexer).__module__, type(lexer).__name__, find_lexer_class_for_filename("a.res").__name__)
"""


@pytest.mark.slow
def test_an_installed_wheel_makes_pygmentize_know_resdsl(installed_wheel, tmp_path):
    site = installed_wheel
    (entry_points,) = site.glob("resdsl-*.dist-info/entry_points.txt")
    assert "[pygments.lexers]\nresdsl = resdsl.tools.highlight:ResdslLexer" in entry_points.read_text(encoding="utf-8")
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", _PROBE], cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["resdsl.tools.highlight", "ResdslLexer", "ResdslLexer"]
    spec = tmp_path / "r.res"
    spec.write_text("conv1: conv 7x7, 64  # c\n", encoding="utf-8")
    html = subprocess.run(
        [sys.executable, "-m", "pygments", "-l", "resdsl", "-f", "html", str(spec)], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert '<span class="nl">conv1</span>' in html and '<span class="nb">conv</span>' in html


# --- TextMate ------------------------------------------------------------------------------------


def test_textmate_grammar_is_up_to_date():
    assert TEXTMATE.read_text(encoding="utf-8") == textmate_json(), (
        "editors/textmate/resdsl.tmLanguage.json is stale: python -m resdsl.tools.highlight > editors/textmate/resdsl.tmLanguage.json"
    )


def _patterns(node):
    if isinstance(node, dict):
        for key in ("match", "begin", "end"):
            if key in node:
                yield node[key]
        for value in node.values():
            yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


def test_textmate_grammar_is_valid():
    grammar = json.loads(TEXTMATE.read_text(encoding="utf-8"))
    assert grammar["scopeName"] == "source.resdsl" and grammar["fileTypes"] == ["res"]
    for include in grammar["patterns"]:
        assert include["include"][1:] in grammar["repository"]
    patterns = list(_patterns(grammar))
    assert len(patterns) > 10
    for pattern in patterns:
        re.compile(pattern)  # the constructs used are common to Python's re and Oniguruma


@pytest.mark.parametrize(
    "line, label, kind",
    [
        ("    conv1: conv 7x7, 64, stride 2  # c", "conv1", "conv"),
        ("    relu", None, "relu"),
        ("block tiny(w) { relu }", None, "relu"),
        ("    sigmoid", None, "sigmoid"),  # a kind added later needs no new grammar file
        ("        convs[i]: conv 3x3, width, from sp", "convs", "conv"),  # an indexed label in a `for` body
        ("    parts: split scale", "parts", "split"),
    ],
)
def test_textmate_finds_layer_kinds_by_position(line, label, kind):
    head = json.loads(TEXTMATE.read_text(encoding="utf-8"))["repository"]["statement-head"]["match"]
    found = [m.group(1, 3) for m in re.finditer(head, line, re.M) if m.group(3)]
    assert found[0] == (label, kind)


@pytest.mark.parametrize("line", ["    layer1: basic(64) x 2", "    input 3x224x224", "    let x = 1", "    expect layers == 18"])
def test_textmate_does_not_take_keywords_or_calls_for_layer_kinds(line):
    head = json.loads(TEXTMATE.read_text(encoding="utf-8"))["repository"]["statement-head"]["match"]
    assert [m.group(3) for m in re.finditer(head, line, re.M) if m.group(3)] == []


def test_the_textmate_folder_is_a_vscode_extension():
    folder = TEXTMATE.parent
    manifest = json.loads((folder / "package.json").read_text(encoding="utf-8"))
    (language,) = manifest["contributes"]["languages"]
    (grammar,) = manifest["contributes"]["grammars"]
    assert language["extensions"] == [".res"] and grammar["scopeName"] == "source.resdsl"
    assert (folder / grammar["path"]).resolve() == TEXTMATE.resolve()
    config = json.loads((folder / language["configuration"]).read_text(encoding="utf-8"))
    assert config["comments"]["lineComment"] == "#"
    assert "editors/textmate/resdsl.tmLanguage.json" in (ROOT / "README.md").read_text(encoding="utf-8")
