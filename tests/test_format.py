"""`resdsl fmt` and `resdsl.tools.format.format_text`: canonical form, never a change of meaning.

* Identity: every bundled spec, the prelude, the examples and tests/format/identity.res (one of
  each construct) are already canonical.
* Mangled identity (as sqlglot's identity fixtures): whitespace-mangled versions of those files
  (tokens squeezed together or spread apart, indentation changed, blank lines added, comment
  alignment stripped, CRLF line ends) format back to the originals exactly.
* Meaning: the AST (spans aside) of the output equals the input's, for the files above and for
  generated specs (the generators of tests/test_properties.py); formatting is idempotent.
* Rules, case by case; the CLI's --check, --diff, rewriting in place, and syntax errors.
"""

from __future__ import annotations

import dataclasses
import os
import random
import re
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark

import test_properties as props
from conftest import ROOT
from resdsl.cli import main
from resdsl.diagnostics import ResdslError
from resdsl.tools.format import format_text
from resdsl.frontend.resources import prelude_path
from resdsl.frontend.syntax.parser import _parser, parse

CANONICAL = {
    str(p.relative_to(ROOT)): p
    for p in [
        *sorted((ROOT / "specs").glob("*.res")),
        prelude_path(),
        *sorted((ROOT / "examples").glob("*.res")),
        ROOT / "tests" / "format" / "identity.res",
    ]
}


def strip_spans(node):
    """A node as nested tuples, with every span (any field named `*span`) left out.

    Leaves carry their type, so `Literal(1)` and `Literal(True)` stay different.
    """
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        fields = dataclasses.fields(node)
        return (type(node).__name__, *((f.name, strip_spans(getattr(node, f.name))) for f in fields if not f.name.endswith("span")))
    if isinstance(node, tuple):
        return tuple(strip_spans(item) for item in node)
    return (type(node).__name__, node)


def meaning(text: str):
    return strip_spans(parse(text, "spec.res"))


def test_strip_spans_sees_through_positions_only():
    assert meaning("network n {\n    conv 3x3, 4\n}\n") == meaning("\n\nnetwork   n{conv 3x3 ,4}")
    assert meaning("network n { conv 3x3, 4 }") != meaning("network n { conv 3x3, 5 }")
    assert meaning("network n(k = 1) {}") != meaning("network n(k = true) {}")


# --- identity ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CANONICAL))
def test_bundled_files_are_canonical(name):
    text = CANONICAL[name].read_text(encoding="utf-8")
    assert format_text(text, name) == text, f"{name} is not in canonical form: run `resdsl fmt {name}`"


# --- mangled identity ----------------------------------------------------------------------------

_WORD = re.compile(r"[\w×]")


def _lines(text: str) -> list[tuple[list, str | None]]:
    """Per source line: its tokens (type, text) and its comment, read with the parser's lexer."""
    lines: list[tuple[list, str | None]] = [([], None) for _ in range(text.count("\n") + 1)]
    pos = 0
    for tok in [*_parser().parse_interactive(text).iter_parse(), None]:
        gap = text[pos : len(text) if tok is None else tok.start_pos]
        if "#" in gap:
            line = text.count("\n", 0, pos + gap.index("#"))
            lines[line] = (lines[line][0], gap[gap.index("#") :].rstrip())
        if tok is None:
            break
        if tok.type != "_NL":
            lines[tok.line - 1][0].append((tok.type, str(tok)))
        pos = tok.end_pos
    return lines


def mangle(text: str, *, spacing=None, indent=None, blanks=False, comment_gap=None, seed=0) -> str:
    """`text` rebuilt from its tokens with other whitespace; the tokens and comments stay."""
    rng = random.Random(seed)
    out: list[str] = ["", "  "] if blanks else []
    for tokens, comment in _lines(text):
        if not tokens and comment is None:
            out += [rng.choice(["", " ", "\t"]) for _ in range(rng.randint(1, 3) if blanks else 1)]
            continue
        if tokens and tokens[0][0] == "RBRACE" and blanks:
            out.append("    ")
        pieces = [rng.choice(indent) if indent else ""]
        for i, (kind, value) in enumerate(tokens):
            if i:
                prev = tokens[i - 1][1]
                if spacing == "tight":
                    word_pair = _WORD.match(prev[-1]) and _WORD.match(value[0])
                    pieces.append(" " if word_pair or (kind == "LPAR" and _WORD.match(prev[-1])) else "")
                elif spacing == "loose":
                    pieces.append(rng.choice([" ", "  ", "\t", " \t  "]))
                else:
                    pieces.append(" ")
            pieces.append(value)
        if comment is not None:
            pieces.append((rng.choice(comment_gap) if comment_gap else " ") if tokens else "")
            pieces.append(comment)
        out.append("".join(pieces) + (rng.choice(["", " ", "\t "]) if blanks else ""))
        if tokens and tokens[-1][0] == "LBRACE" and blanks:
            out.append("")
    if blanks:
        out += ["", "\t", ""]
    return "\n".join(out)


MANGLERS = {
    "tight": dict(spacing="tight"),
    "loose": dict(spacing="loose"),
    "indent": dict(indent=["", " ", "\t", "  ", "        ", "\t  "]),
    "blank lines": dict(blanks=True),
    "comment alignment stripped": dict(comment_gap=[" "]),
    "comment alignment scrambled": dict(comment_gap=["", " ", "   ", "\t", "          "]),
    "everything": dict(spacing="loose", indent=["", "\t", "   "], blanks=True, comment_gap=["", " ", "\t"]),
    "everything tight": dict(spacing="tight", indent=["", "\t", "   "], blanks=True, comment_gap=[""]),
}


@pytest.mark.parametrize("how", sorted(MANGLERS))
@pytest.mark.parametrize("name", sorted(CANONICAL))
def test_mangled_files_format_back_to_the_originals(name, how):
    original = CANONICAL[name].read_text(encoding="utf-8")
    for seed in range(3):
        mangled = mangle(original, seed=seed, **MANGLERS[how])
        assert mangled != original
        assert meaning(mangled) == meaning(original), "the mangler changed the meaning (a test bug)"
        assert format_text(mangled, name) == original


@pytest.mark.parametrize("name", sorted(CANONICAL))
def test_crlf_and_a_missing_final_newline_format_back(name):
    original = CANONICAL[name].read_text(encoding="utf-8")
    assert format_text(original.replace("\n", "\r\n"), name) == original
    assert format_text(original.rstrip("\n"), name) == original


# --- meaning, on generated specs -----------------------------------------------------------------


def check_formatting(text: str) -> None:
    """If `text` parses: its canonical form means the same, is a fixed point, and does not depend
    on how the text was spaced or indented."""
    try:
        before = meaning(text)
    except ResdslError:
        return
    out = format_text(text)
    assert meaning(out) == before
    assert format_text(out) == out
    assert out == "" or (out.endswith("\n") and not out.endswith("\n\n"))
    assert not any(line != line.rstrip() for line in out.split("\n"))
    for how in ("tight", "loose", "indent"):
        assert format_text(mangle(text, **MANGLERS[how])) == out, how


@props.fixed(100)
@given(st.one_of(props.spec(), props.plausible_spec()))
def test_generated_specs_keep_their_meaning(text):
    check_formatting(text)


@props.fixed(30)  # from_lark is slow to draw (about 0.7 s an example); the others are cheap
@given(from_lark(_parser(), start="start"))
def test_text_from_the_grammar_keeps_its_meaning(text):
    check_formatting(text)


# The generators above aim at compiling specs; this one aims at the syntax the formatter must
# respect: a parenthesized first argument (`linear (w)` is a layer, `linear(w)` a block use),
# guards, `;`, one-line and empty bodies, every kind of definition, comments.
_ATOM = st.sampled_from(["1", "2", "-1", "1.5", "1e3", "w", "x", "true", "off", "(w + 1)", "-(w)", "not w"])
_EXPR = st.one_of(
    _ATOM,
    st.tuples(_ATOM, st.sampled_from(["+", "-", "*", "//", "%", "==", "<", "and", "or"]), _ATOM).map(" ".join),
    st.tuples(_ATOM, _ATOM, _ATOM).map(lambda t: f"{t[0]} if {t[1]} else {t[2]}"),
)
_STATEMENT = st.one_of(
    st.tuples(st.sampled_from(["conv", "linear", "relu", "add", "x", "conv1"]), st.lists(st.one_of(_EXPR, st.sampled_from(["3x3", "3 x 3", "w x w", "3×3", "(w)"]), _EXPR.map(lambda e: f"stride ({e})"), st.sampled_from(["relu off", "stride 2", "bias w"])), max_size=3)).map(lambda t: f"{t[0]} {', '.join(t[1])}".rstrip()),
    st.tuples(st.sampled_from(["basic(", "b("]), st.lists(st.one_of(_EXPR, _EXPR.map(lambda e: f"k = {e}")), max_size=2), st.sampled_from(["", " x 2", " x (w)"]), st.sampled_from(["", ", stride 2", ", shortcut B"])).map(lambda t: f"{t[0]}{', '.join(t[1])}){t[2]}{t[3]}"),
    _EXPR.map(lambda e: f"let v = {e}"),
    st.sampled_from(["input 3x8x8", "input 3 x w x w", "shortcut B", "expect params > 0 when w", "expect macs ~ 1e6 within 5%", "expect shape a.0.b == 3x4"]),
)
_LINE = st.tuples(
    st.sampled_from(["", "", "c: ", "layer1: "]), _STATEMENT, st.sampled_from(["", "", " when w > 1"]), st.sampled_from(["", "", "  # note", " #"])
).map("".join)
_BODY = st.one_of(
    st.lists(_LINE.filter(lambda s: "#" not in s), max_size=3).map(lambda ls: "{ " + "; ".join(ls) + " }"),
    st.lists(st.one_of(_LINE, st.just(""), st.just("# a comment"), st.lists(_LINE.filter(lambda s: "#" not in s), min_size=2, max_size=3).map("; ".join)), max_size=6).map(
        lambda ls: "{\n" + "".join(f"    {line}\n" for line in ls) + "}"
    ),
)
_DEFINITION = st.tuples(
    st.sampled_from(["network", "block", "shortcut", "sequential"]), st.sampled_from(["n", "x", "b"]), st.sampled_from(["", "()", "(w)", "(w, k = 2)", "(w = -1)"]), _BODY
).map(lambda t: f"{t[0]} {t[1]}{t[2]} {t[3]}")
SYNTAX = st.lists(st.one_of(_DEFINITION, st.just("# between")), max_size=4).map("\n".join)


@props.fixed(300)
@given(SYNTAX)
def test_generated_syntax_keeps_its_meaning(text):
    check_formatting(text)


@pytest.mark.parametrize("name", sorted(props.CORPUS))
def test_mutated_bundled_specs_keep_their_meaning(name):
    @props.fixed(15)
    @given(props.mutated(name))
    def run(text):
        check_formatting(text)

    run()


# --- the rules, case by case ---------------------------------------------------------------------

CASES = [
    # spacing: commas, operators, `=`, parentheses, labels, `x` repeats, `%`, paths, unary minus
    ("network n ( k=-1,j = 2 ){\n}", "network n(k = -1, j = 2) {\n}\n"),
    ("network n {\n  c :conv 3x3 ,64,stride( k*2 )\n}", "network n {\n    c: conv 3x3, 64, stride (k * 2)\n}\n"),
    ("network n {\n  s:basic( 16,v1=true )x 2,stride 2\n}", "network n {\n    s: basic(16, v1 = true) x 2, stride 2\n}\n"),
    ("network n {\n  input 3 x(k)x k\n}", "network n {\n    input 3 x (k) x k\n}\n"),
    ("network n {\n  expect macs~1e6 within 5 % when - 1== -( 1 )\n}", "network n {\n    expect macs ~ 1e6 within 5% when -1 == -(1)\n}\n"),
    ("network n {\n  expect shape a . 0==64x8x8\n}", "network n {\n    expect shape a.0 == 64x8x8\n}\n"),
    ("network n {\n  let a=not b and c<=d or e if f else g\n}", "network n {\n    let a = not b and c <= d or e if f else g\n}\n"),
    # dims literals as written
    ("network n {\n  input 3x224x224\n  conv 3×3, 4\n}", "network n {\n    input 3x224x224\n    conv 3×3, 4\n}\n"),
    # statements joined by `;` stay joined; idle separators go
    ("network n {\n  relu;add ;  relu;\n  ;\n}", "network n {\n    relu; add; relu\n}\n"),
    ("network n { relu; }", "network n { relu }\n"),
    ("network n {}", "network n {}\n"),
    ("network n { }", "network n {}\n"),
    # a body spanning lines opens and closes on lines of its own
    ("block b(w) { relu\n  add }", "block b(w) {\n    relu\n    add\n}\n"),
    # definitions: one per line, exactly one blank line between
    ("block a {} block b {}", "block a {}\n\nblock b {}\n"),
    ("block a {};block b {}", "block a {}\n\nblock b {}\n"),
    ("block a {\n}\nblock b {\n}\n\n\n\nblock c {}", "block a {\n}\n\nblock b {\n}\n\nblock c {}\n"),
    # ... unless comments stand between them
    ("block a {}\n# about b\nblock b {}", "block a {}\n# about b\nblock b {}\n"),
    ("block a {}\n\n\n# about b\n\n\nblock b {}", "block a {}\n\n# about b\n\nblock b {}\n"),
    # blank lines in bodies: at most one in a row, none after `{` or before `}`
    ("network n {\n\n  relu\n\n\n\n  add\n\n}", "network n {\n    relu\n\n    add\n}\n"),
    # comment lines: indented as their body; trailing comments aligned per paragraph
    ("network n {\n# a\n      relu # b\n  conv 3x3, 64   # c\n\n  add #d\n}", "network n {\n    # a\n    relu          # b\n    conv 3x3, 64  # c\n\n    add  #d\n}\n"),
    ("network n {\n  relu # b\n  conv 3x3, 64\n  add # c\n}", "network n {\n    relu  # b\n    conv 3x3, 64\n    add   # c\n}\n"),
    ("network n {\n  relu # b\n  # own line\n  add # c\n}", "network n {\n    relu  # b\n    # own line\n    add  # c\n}\n"),
    ("network n {  # header\n  relu  # body\n}  # end", "network n {  # header\n    relu     # body\n}            # end\n"),
    # a function call opens like a block use: no space after its parenthesis
    ("block b(w) { let d = min( max( ceil( w / 3.0), 0), w)\n  conv 1x1, d }", "block b(w) {\n    let d = min(max(ceil(w / 3.0), 0), w)\n    conv 1x1, d\n}\n"),
    # whitespace at the ends: no trailing spaces, no leading blank lines, one final newline
    ("\n\n  # top   \nnetwork n {\n  relu   \n}\n\n\n", "# top\nnetwork n {\n    relu\n}\n"),
    ("", ""),
    (" \n\n\t\n", ""),
    ("# only a comment", "# only a comment\n"),
]


@pytest.mark.parametrize("text, expected", CASES)
def test_rules(text, expected):
    assert format_text(text) == expected
    assert format_text(expected) == expected
    if text.strip():
        assert meaning(text) == meaning(expected)


def test_syntax_errors_raise_the_usual_diagnostics():
    with pytest.raises(ResdslError) as err:
        format_text("network n {\n    conv 3x3,\n}\n", "bad.res")
    assert "bad.res:2:" in err.value.render()
    assert err.value.diagnostics[0].code.startswith("E00")


# --- the CLI -------------------------------------------------------------------------------------

UGLY = "network n{\n  input 3x8x8\n  conv 3x3,4   # c\n}\n"
PRETTY = "network n {\n    input 3x8x8\n    conv 3x3, 4  # c\n}\n"


def invoke(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input)


def test_fmt_rewrites_in_place_and_keeps_the_mode(tmp_path):
    spec = tmp_path / "a.res"
    spec.write_text(UGLY, encoding="utf-8")
    spec.chmod(0o640)
    result = invoke("fmt", str(spec))
    assert result.exit_code == 0, result.output
    assert spec.read_text(encoding="utf-8") == PRETTY
    assert stat.S_IMODE(spec.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.res"]  # no temp file left behind
    assert f"reformatted {spec}" in result.stdout


def test_fmt_leaves_canonical_files_untouched(tmp_path):
    spec = tmp_path / "a.res"
    spec.write_text(PRETTY, encoding="utf-8")
    os.utime(spec, ns=(1_000_000_000, 1_000_000_000))
    before = spec.stat()
    result = invoke("fmt", str(spec))
    assert result.exit_code == 0 and result.output == ""
    after = spec.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_fmt_check_lists_what_would_change_and_changes_nothing(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "ugly.res").write_text(UGLY, encoding="utf-8")
    (tmp_path / "sub" / "ugly2.res").write_text(UGLY, encoding="utf-8")
    (tmp_path / "pretty.res").write_text(PRETTY, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a spec {", encoding="utf-8")
    result = invoke("fmt", "--check", str(tmp_path))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [f"would reformat {tmp_path / 'sub' / 'ugly2.res'}", f"would reformat {tmp_path / 'ugly.res'}"]
    assert (tmp_path / "ugly.res").read_text(encoding="utf-8") == UGLY
    assert invoke("fmt", "--check", str(tmp_path / "pretty.res")).exit_code == 0


def test_fmt_check_passes_on_the_repository():
    result = invoke("fmt", "--check", str(ROOT / "specs"), str(ROOT / "examples"), str(prelude_path()))
    assert result.exit_code == 0, result.output


def test_fmt_diff_prints_a_patch_and_changes_nothing(tmp_path):
    spec = tmp_path / "a.res"
    spec.write_text(UGLY.rstrip("\n"), encoding="utf-8")
    result = invoke("fmt", "--diff", str(spec))
    assert result.exit_code == 0
    assert result.stdout.startswith(f"--- a/{spec}\n+++ b/{spec}\n@@ ")
    assert "-network n{\n" in result.stdout and "+network n {\n" in result.stdout
    assert "\\ No newline at end of file\n" in result.stdout
    assert spec.read_text(encoding="utf-8") == UGLY.rstrip("\n")
    both = invoke("fmt", "--diff", "--check", str(spec))
    assert both.exit_code == 1 and both.stdout == result.stdout
    assert f"would reformat {spec}" in both.stderr


def test_fmt_refuses_specs_with_syntax_errors(tmp_path):
    bad, good = tmp_path / "bad.res", tmp_path / "good.res"
    bad.write_text("network n {\n  conv 3x3,\n", encoding="utf-8")
    good.write_text(UGLY, encoding="utf-8")
    result = invoke("fmt", str(bad), str(good))
    assert result.exit_code == 1
    assert bad.read_text(encoding="utf-8") == "network n {\n  conv 3x3,\n"
    assert good.read_text(encoding="utf-8") == PRETTY  # the others are still formatted
    checked = invoke("check", str(bad))
    assert checked.exit_code == 1
    assert result.stderr == checked.stderr  # the same diagnostics, rendered the same way


@pytest.mark.parametrize(
    "how",
    ["bom", "invalid_utf8", "nul", "too_many_statements"],
)
def test_fmt_reads_files_as_check_reads_them(tmp_path, how):
    """One reader: what `check` accepts `fmt` formats, and what it refuses (E0004 at the bad byte,
    E0301 before parsing an oversized spec) `fmt` refuses with the same located diagnostic."""
    spec = tmp_path / "s.res"
    data = PRETTY.encode("utf-8")
    if how == "bom":
        data = b"\xef\xbb\xbf" + UGLY.encode("utf-8")
    elif how == "invalid_utf8":
        data = data.replace(b"network", b"net\xffwork", 1)
    elif how == "nul":
        data = data + b"\0"
    else:
        lines = PRETTY.split("\n")
        data = "\n".join(lines[:-2] + ["    relu"] * 5001 + lines[-2:]).encode("utf-8")
    spec.write_bytes(data)
    formatted, checked = invoke("fmt", str(spec)), invoke("check", str(spec))
    if how == "bom":
        assert formatted.exit_code == 0 and spec.read_text(encoding="utf-8") == PRETTY
        assert checked.exit_code == 0
        return
    code = "E0301" if how == "too_many_statements" else "E0004"
    assert formatted.exit_code == 1 and spec.read_bytes() == data
    assert f"error[{code}]" in formatted.stderr.split("\n")[0]
    assert formatted.stderr == checked.stderr
    piped = invoke("fmt", "-", input=data)
    assert piped.exit_code == 1 and piped.stderr == checked.stderr.replace(str(spec), "<stdin>")


def test_fmt_reads_stdin_and_writes_stdout():
    result = invoke("fmt", "-", input=UGLY)
    assert result.exit_code == 0 and result.stdout == PRETTY
    assert invoke("fmt", "--check", "-", input=UGLY).exit_code == 1
    assert invoke("fmt", "--check", "-", input=PRETTY).exit_code == 0


def test_fmt_usage_errors(tmp_path):
    assert invoke("fmt").exit_code == 2
    assert invoke("fmt", str(tmp_path / "missing.res")).exit_code == 2
    assert invoke("fmt", "-", str(tmp_path)).exit_code == 2


def test_fmt_does_not_import_torch():
    import subprocess
    import sys

    probe = "import sys\nfrom resdsl.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    print(e.code, 'torch' in sys.modules)\n"
    done = subprocess.run([sys.executable, "-c", probe, "fmt", "--check", str(ROOT / "specs")], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["0", "False"]


def test_loops_indexes_and_indexed_labels():
    text = "block b(scale = 4) {\n    parts :   split scale\n    for i   in 0..scale-1 {\n  convs [ i ] : conv 3x3, 8, from parts [i+1 ]\n}\n    concat convs , parts[ 0 ]\n}\n"
    assert format_text(text) == (
        "block b(scale = 4) {\n"
        "    parts: split scale\n"
        "    for i in 0 .. scale - 1 {\n"
        "        convs[i]: conv 3x3, 8, from parts[i + 1]\n"
        "    }\n"
        "    concat convs, parts[0]\n"
        "}\n"
    )
    assert format_text(format_text(text)) == format_text(text)
