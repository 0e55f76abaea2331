"""Diagnostics: the corpus of bad specs, the code registry, the renderer, and the docs.

The corpus: `tests/diagnostics/NAME.res` is a bad spec (an optional first line `# args: ...`
gives extra CLI arguments), `NAME.out` the exact text `resdsl check NAME.res` prints on stderr.
Regenerate with RESDSL_UPDATE_GOLDEN=1 and review the diff. Every case with an error must also
fail `resdsl build -o FILE` with the same text, exit code 1 and no file written; a case with
only warnings exits 0 from both, and the build writes its file.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

import resdsl
from resdsl.cli import main
from resdsl.diagnostics.codes import CODES, compact_table, markdown_table
from resdsl.diagnostics import Diagnostic, Note, Reporter, ResdslError, SourceMap, Span, render

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
CORPUS = TESTS / "diagnostics"
CASES = sorted(p.stem for p in CORPUS.glob("*.res"))
DOCS = ROOT / "docs" / "diagnostics.md"


def _extra_args(path: Path) -> list[str]:
    first = path.read_bytes().split(b"\n", 1)[0]
    return shlex.split(first[len(b"# args:") :].decode()) if first.startswith(b"# args:") else []


def _check(name: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["check", f"{name}.res", *_extra_args(CORPUS / f"{name}.res")])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("name", CASES)
def test_corpus_case(name, golden, monkeypatch, tmp_path):
    monkeypatch.chdir(CORPUS)
    code, out, err = _check(name)
    failed = "error[" in err
    assert (code, out == "") == (1 if failed else 0, failed)
    golden(CORPUS / f"{name}.out", err)
    target = tmp_path / "model.py"
    built = CliRunner().invoke(main, ["build", f"{name}.res", *_extra_args(CORPUS / f"{name}.res"), "-o", str(target)])
    assert (built.exit_code, built.stderr) == (code, err)
    # a failed build writes nothing, not even a temporary
    assert list(tmp_path.iterdir()) == ([] if failed else [target])


def test_corpus_covers_every_code():
    assert len(CASES) >= 40
    assert sorted(p.stem for p in CORPUS.glob("*.out")) == CASES, "a golden file without its spec, or the reverse"
    shown = {m for p in CORPUS.glob("*.out") for m in re.findall(r"(?:error|warning)\[([EW]\d{4})\]", p.read_text(encoding="utf-8"))}
    assert shown == {c for c, info in CODES.items() if info.in_spec}  # E0501 (no spec file): see below


def test_every_code_used_in_the_source_is_registered():
    used = set()
    for path in (ROOT / "resdsl").rglob("*.py"):
        used |= set(re.findall(r"[\"']([EW]\d{4})[\"']", path.read_text(encoding="utf-8")))
    used.discard("E0000")
    assert used - set(CODES) == set(), "register these codes in resdsl/diagnostics/codes.py"
    assert set(CODES) - used == set(), "codes registered but never reported"


def test_docs_table_is_the_registry(golden):
    text = DOCS.read_text(encoding="utf-8")
    start, end = text.index("<!-- codes -->\n") + len("<!-- codes -->\n"), text.index("<!-- /codes -->")
    golden(DOCS, text[:start] + markdown_table() + text[end:])  # equal iff the table is the registry's


def _console_blocks(path: Path) -> list[tuple[str, str, str]]:
    text = path.read_text(encoding="utf-8")
    return re.findall(r"```console\n\$ resdsl check (\S+)\.res( [^\n]*)?\n(.*?)```", text, re.S)


def test_docs_examples_are_real_output():
    """Each ```console block `$ resdsl check NAME.res` in the docs (and the README, once it has
    some) shows that case's golden output."""
    blocks = _console_blocks(DOCS)
    assert len(blocks) >= 5
    for name, args, shown in blocks + _console_blocks(ROOT / "README.md"):
        assert shlex.split(args or "") == _extra_args(CORPUS / f"{name}.res"), name
        assert shown == (CORPUS / f"{name}.out").read_text(encoding="utf-8"), name


def test_readme_codes_table_is_the_registry():
    """The README's short table (once pasted) is `compact_table()`: found by its header row."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    header = compact_table().split("\n", 1)[0]
    if header not in text:
        pytest.skip("the README has no codes table yet")
    lines = text[text.index(header) :].split("\n")
    table = lines[: next(i for i, line in enumerate(lines) if not line.startswith("|"))]
    assert "\n".join(table) + "\n" == compact_table()


def test_examples_fit_in_a_code_span():
    assert [c for c, info in CODES.items() if "`" in info.example] == []


# --- E0501: no spec to read ----------------------------------------------------------------------


def test_missing_spec_file(tmp_path):
    result = CliRunner().invoke(main, ["check", str(tmp_path / "nope.res")])
    assert (result.exit_code, result.stderr) == (1, f"error[E0501]: no such spec file: {tmp_path / 'nope.res'}\n")


def test_directory_is_not_a_spec(tmp_path):
    result = CliRunner().invoke(main, ["check", str(tmp_path)])
    assert (result.exit_code, result.stderr) == (1, f"error[E0501]: {tmp_path} is a directory, not a spec file\n")


def test_unknown_bundled_name_suggests_one():
    with pytest.raises(ResdslError) as info:
        resdsl.load("resnet5O")
    assert str(info.value) == "error[E0501]: no bundled spec named `resnet5O`\n  = help: did you mean `resnet50` or `resnet50t` or `resnet50s`?"  # zoo names too (resdsl.frontend.zoo)


# --- the API raises ResdslError only ------------------------------------------------------------


@pytest.mark.parametrize("params", [{"n": "three"}, {"n": [3]}, {"n": float("nan")}, {"n": True}, {"n": 2.5}, {"m": 1}])
def test_bad_parameters_from_python_are_diagnostics(params):
    with pytest.raises(ResdslError) as info:
        resdsl.load("cifar_resnet", **params)
    (diag,) = info.value.diagnostics
    assert diag.code == ("E0103" if "m" in params else "E0115")
    assert (diag.span.line, diag.span.column) == ((3, 9) if "m" in params else (3, 22))


def test_unwritable_output_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["build", "resnet18", "-o", str(tmp_path / "missing" / "model.py")])
    assert (result.exit_code, result.stderr) == (2, "Error: cannot write the output: No such file or directory\n")
    assert list(tmp_path.iterdir()) == []


# --- the renderer --------------------------------------------------------------------------------


def _sources(text: str) -> SourceMap:
    sources = SourceMap()
    sources.add("s.res", text)
    return sources


def test_render_matches_the_documented_layout():
    text = "\n" * 13 + "    layer2: basic(128) x 4, stride 2\n"
    diag = Diagnostic(
        "E0203",
        "residual add receives 128×28×28 and 64×56×56",
        Span("s.res", 14, 5, 14, 37),
        label="in block layer2.0",
        help="shortcut `identity` cannot change shape; use `shortcut B` (1×1 projection) or `A` (zero padding)",
    )
    assert render(diag, _sources(text)) == (
        "s.res:14:5: error[E0203]: residual add receives 128×28×28 and 64×56×56\n"
        "   |\n"
        "14 |     layer2: basic(128) x 4, stride 2\n"
        "   |     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ in block layer2.0\n"
        "   = help: shortcut `identity` cannot change shape; use `shortcut B` (1×1 projection) or `A` (zero padding)"
    )


def test_long_lines_are_cut_around_the_span():
    line = "    conv 3x3, " + " + ".join(["1"] * 60) + " + oops"
    col = line.index("oops") + 1
    out = render(Diagnostic("E0107", "unknown name `oops`", Span("s.res", 1, col, 1, col + 4)), _sources(line))
    source_line, caret_line = out.split("\n")[2:4]
    assert source_line.startswith("1 | …") and source_line.endswith("+ oops")
    assert len(source_line) <= 4 + 1 + 100 + 1
    assert caret_line.index("^^^^") == source_line.index("oops")


def test_notes_with_locations_follow_with_their_own_excerpt():
    sources = _sources("block b(w) {\n    conv 3x3, w\n}\nblock b(w) {\n}\n")
    diag = Diagnostic("E0105", "`b` is defined twice", Span("s.res", 4, 7, 4, 8), notes=(Note("first defined here", Span("s.res", 1, 7, 1, 8)), Note("a plain note")))
    assert render(diag, sources) == (
        "s.res:4:7: error[E0105]: `b` is defined twice\n"
        "  |\n"
        "4 | block b(w) {\n"
        "  |       ^\n"
        "  = note: a plain note\n"
        "s.res:1:7: note: first defined here\n"
        "  |\n"
        "1 | block b(w) {\n"
        "  |       ^"
    )


def test_form_feeds_and_line_separators_do_not_shift_lines():
    sources = _sources("a\x0cb\u2028c\nsecond\n")
    assert sources.line("s.res", 2) == "second"


def test_reporter_stops_at_its_cap_and_says_so():
    reporter = Reporter(_sources("x\n"), limit=3)
    with pytest.raises(ResdslError) as info:
        for i in range(10):
            reporter.error("E0201", f"problem {i}", Span("s.res", 1, 1, 1, 2))
    assert len(info.value.diagnostics) == 3
    assert str(info.value).endswith("\n\nstopped after 3 errors")


def test_a_diagnostic_takes_only_a_registered_code_of_its_severity():
    from resdsl.diagnostics import Diagnostic

    assert Diagnostic("E0203", "ok").code == "E0203"
    with pytest.raises(ValueError, match="'E9999' is not registered"):
        Diagnostic("E9999", "made up")
    with pytest.raises(ValueError, match="E0203 has severity 'warning'"):
        Diagnostic("E0203", "an error reported as a warning", severity="warning")
    assert Diagnostic("W0001", "promoted by --werror", severity="error").severity == "error"


def test_a_branch_no_parameter_takes_is_written_out_not_folded(tmp_path):
    """`w if c else 1 / 0` in a block: the compiler never evaluates the `else`, and neither may the
    code generator's constant folding (it used to raise the E0209 as an internal error)."""
    spec = tmp_path / "net.res"
    spec.write_text("block b(w, c = true) {\n    conv 3x3, (w if c else 1 / 0)\n    add\n}\n\nnetwork net {\n    input 3x8x8\n    conv 3x3, 16\n    b(16)\n}\n")
    target = tmp_path / "net.py"
    result = CliRunner().invoke(main, ["build", str(spec), "-o", str(target)])
    assert (result.exit_code, result.stderr) == (0, "")
    assert "self.bn1 = nn.BatchNorm2d(w if c else 1 // 0)" in target.read_text(encoding="utf-8")
