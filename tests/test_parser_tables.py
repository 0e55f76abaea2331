"""The parser's LALR tables are built once and loaded from disk after (`resdsl.frontend.syntax.tables`).

The load must give the parser the build gives (same trees, spans and syntax diagnostics), and
the build must really be skipped: the tests count Lark's builds of a parser (the LALR analysis,
which is what costs, runs in them).
"""

from __future__ import annotations

import pytest
from lark import Lark

from resdsl.diagnostics import ResdslError
from resdsl.frontend import resources
from resdsl.frontend.syntax import parser as syntax_parser
from resdsl.frontend.syntax import tables

GRAMMAR = resources.grammar_path().read_text(encoding="utf-8")


@pytest.fixture
def analyses(monkeypatch):
    """How many times Lark built a parser (computed its tables) since the fixture started."""
    calls = []
    build = Lark._build_parser

    def counted(self, *args, **kwargs):
        calls.append(1)
        return build(self, *args, **kwargs)

    monkeypatch.setattr(Lark, "_build_parser", counted)
    return calls


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_the_first_load_builds_and_saves_the_next_loads(tmp_path, monkeypatch, analyses):
    monkeypatch.setenv("RESDSL_CACHE_DIR", str(tmp_path / "cache"))
    tables.load_parser(GRAMMAR, **syntax_parser.LARK_OPTIONS)
    assert len(analyses) == 1
    saved = _files(tmp_path / "cache")
    assert len(saved) == 1 and saved[0].startswith("grammar-") and saved[0].endswith(".lark")
    tables.load_parser(GRAMMAR, **syntax_parser.LARK_OPTIONS)
    tables.load_parser(GRAMMAR, **syntax_parser.LARK_OPTIONS)
    assert len(analyses) == 1  # loaded twice, never rebuilt
    assert _files(tmp_path / "cache") == saved


def test_another_grammar_or_options_get_their_own_file(tmp_path, monkeypatch, analyses):
    monkeypatch.setenv("RESDSL_CACHE_DIR", str(tmp_path))
    tables.load_parser(GRAMMAR, **syntax_parser.LARK_OPTIONS)
    tables.load_parser(GRAMMAR + "\n// another checkout's grammar\n", **syntax_parser.LARK_OPTIONS)
    tables.load_parser(GRAMMAR, **dict(syntax_parser.LARK_OPTIONS, propagate_positions=False))
    assert len(analyses) == 3
    assert len(_files(tmp_path)) == 3


def test_a_damaged_file_is_rebuilt_and_rewritten(tmp_path, monkeypatch, analyses):
    monkeypatch.setenv("RESDSL_CACHE_DIR", str(tmp_path))
    path = tables.table_path(GRAMMAR, syntax_parser.LARK_OPTIONS)
    path.write_bytes(b"not a parser\n")
    text = "network n {\n    input 3x8x8\n}\n"
    assert tables.load_parser(GRAMMAR, **syntax_parser.LARK_OPTIONS).parse(text).data == "start"
    assert len(analyses) == 1
    tables.load_parser(GRAMMAR, **syntax_parser.LARK_OPTIONS)
    assert len(analyses) == 1  # the rewritten file loads


def test_an_unwritable_folder_costs_the_build_only(tmp_path, monkeypatch, analyses):
    blocker = tmp_path / "a file"
    blocker.write_text("")
    monkeypatch.setenv("RESDSL_CACHE_DIR", str(blocker / "cache"))  # under a file: mkdir fails
    tables.load_parser(GRAMMAR, **syntax_parser.LARK_OPTIONS)
    tables.load_parser(GRAMMAR, **syntax_parser.LARK_OPTIONS)
    assert len(analyses) == 2
    assert _files(tmp_path) == ["a file"]


def test_a_half_written_file_is_rebuilt(tmp_path, monkeypatch, analyses):
    """A process that died while writing leaves part of a file: the next one rebuilds over it."""
    monkeypatch.setenv("RESDSL_CACHE_DIR", str(tmp_path))
    tables.load_parser(GRAMMAR, **syntax_parser.LARK_OPTIONS)
    path = tables.table_path(GRAMMAR, syntax_parser.LARK_OPTIONS)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])  # the hash line intact, the tables cut
    text = "network n {\n    input 3x8x8\n}\n"
    assert tables.load_parser(GRAMMAR, **syntax_parser.LARK_OPTIONS).parse(text).data == "start"
    assert len(analyses) == 2
    tables.load_parser(GRAMMAR, **syntax_parser.LARK_OPTIONS)
    assert len(analyses) == 2  # the rewritten file loads


def test_an_empty_cache_dir_turns_the_cache_off(tmp_path, monkeypatch):
    monkeypatch.setenv("RESDSL_CACHE_DIR", "")
    assert tables.cache_dir() is None and tables.table_path(GRAMMAR, syntax_parser.LARK_OPTIONS) is None
    monkeypatch.delenv("RESDSL_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert tables.cache_dir() == tmp_path / "resdsl"


BROKEN = [
    "network n {\n    input 3x8x8\n    conv1: conv 3x3, 16\n    layer1: basic(16 x 2\n}\n",
    "network n {\n    input 3x8x8\n    stem: conv 3x3 16\n}\n",
    "block b(w) {\n    conv 3x3, w,\n}\nnetwork n { input 3x8x8 }\n",
    "network n {\n    input 3x8x8\n    x = = 2\n}\n",
]


def _parse_with(lark_parser, text: str, source: str) -> str:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(syntax_parser, "_parser", lambda: lark_parser)
        try:
            return repr(syntax_parser.parse(text, source))
        except ResdslError as err:
            return "error:\n" + str(err)


def test_the_loaded_parser_parses_as_the_built_one(tmp_path, monkeypatch):
    monkeypatch.setenv("RESDSL_CACHE_DIR", str(tmp_path))
    built = tables.load_parser(GRAMMAR, **syntax_parser.LARK_OPTIONS)
    loaded = tables.load_parser(GRAMMAR, **syntax_parser.LARK_OPTIONS)
    texts = [(p.read_text(encoding="utf-8"), p.name) for p in sorted(resources.bundled_specs().values())]
    texts += [(resources.prelude_path().read_text(encoding="utf-8"), "prelude.res")]
    texts += [(text, f"broken{i}.res") for i, text in enumerate(BROKEN)]
    results = [(_parse_with(built, t, s), _parse_with(loaded, t, s)) for t, s in texts]
    assert [a == b for a, b in results] == [True] * len(texts)
    assert sum(a.startswith("error:") for a, _ in results) == len(BROKEN)  # the error path ran
    assert "Span(" in results[0][0]  # spans (propagate_positions) are compared too
    assert repr(loaded.grammar.rule_defs) == repr(built.grammar.rule_defs)  # what hypothesis's from_lark reads
