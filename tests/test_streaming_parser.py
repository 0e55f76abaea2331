"""The streaming parser (syntax/streaming.py) against Lark's own parse of the same grammar.

`parse` builds the AST while it drives Lark's tables; the reference here is what resdsl did
before: `Lark.parse` into a tree with propagated positions, `check_depth`, then `_ToAst`, with
syntax errors reported from Lark's exception and Lark's re-parses. Every AST (spans included)
and every rendered diagnostic must be the same.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from lark.exceptions import UnexpectedInput

from resdsl.diagnostics import ResdslError, SourceMap
from resdsl.frontend.syntax import errors, parser

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted(p for folder in ("specs", "examples", "resdsl", "tests/diagnostics") for p in (ROOT / folder).rglob("*.res"))


def _reference(text: str, source: str):
    """resdsl's parse before the streaming parser, and its route under other Lark releases:
    Lark's tree, then the walk (`parser.parse_public`)."""
    try:
        return "ok", parser.parse_public(text, source)
    except ResdslError as err:
        return "error", err.render()


def _streamed(text: str, source: str):
    try:
        return "ok", parser.parse(text, source)
    except ResdslError as err:
        return "error", err.render()


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace").replace("\0", "")


@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_spec_parses_as_with_lark_s_tree(path):
    text = _read(path)
    assert _streamed(text, "s.res") == _reference(text, "s.res")


def _net(body: str) -> str:
    return "network n {\n    input 3x8x8\n" + body + "}\n"


EDGES = [
    "",
    "# only a comment",
    "network n {\r\n    input 3x8x8\r\n    relu # x\r\n}\r\n",
    _net("    let a = 1e999\n"),
    _net("    let a = 1 ~ 2\n    conv 3x3,, 16\n"),  # the syntax error after the bad literal wins
    _net("    conv 3x3, 16 @ 2\n"),
    _net("    conv 3x3, x2\n"),
    _net("    let a = (1 + 2) * 3\n    conv 3x3, (4)\n"),  # spans of parenthesised operands
    *(_net("    let a = " + "-" * k + "1\n") for k in (98, 99, 100)),
    *(_net("    let a = " + "+".join(["1"] * k) + "\n") for k in (99, 100, 101)),
    _net("".join(f"    let e{i} = 1 +\n" for i in range(25))),  # recovery, capped at 20
]


@pytest.mark.parametrize("text", EDGES, ids=range(len(EDGES)))
def test_edge_cases_parse_as_with_lark_s_tree(text):
    assert _streamed(text, "s.res") == _reference(text, "s.res")


def test_specs_with_many_broken_lines_report_as_with_lark():
    """Error recovery resumes its re-parses at a line start: the diagnostics stay the same."""
    rng = random.Random(19)
    inserts = [",,", "@", "(", ")", " x2", "'", "~", "é", "1e999", "}", "=="]
    compared = multiple = 0
    for path in sorted((ROOT / "specs").glob("*.res"))[:40]:
        lines = _read(path).split("\n")
        for _ in range(rng.randrange(2, 26)):
            i = rng.randrange(len(lines))
            j = rng.randrange(len(lines[i]) + 1)
            lines[i] = lines[i][:j] + rng.choice(inserts) + lines[i][j:]
        text = "\n".join(lines)
        expected = _reference(text, "s.res")
        assert _streamed(text, "s.res") == expected, path.name
        compared += 1
        multiple += expected[0] == "error" and expected[1].count("error[") > 1
    assert compared == 40 and multiple >= 10


@pytest.mark.parametrize("route", ["streaming", "public"])
def test_a_token_past_the_limit_is_refused_where_it_is(route, monkeypatch):
    """`Limits.max_tokens` counts what the parser reads (names, numbers, symbols, line ends),
    the same on the public route that other Lark releases take."""
    from resdsl.diagnostics import Limits
    from resdsl.frontend.syntax import streaming

    monkeypatch.setattr(streaming, "SUPPORTED", route == "streaming")
    from resdsl.frontend.syntax.reader import parse_bounded

    text = _net("    conv 3x3, 16\n")  # 14 tokens: network n { NL input 3x8x8 NL conv 3x3 , 16 NL } NL
    assert len(parse_bounded(text, "s.res", Limits(max_tokens=14)).definitions) == 1
    with pytest.raises(ResdslError) as refused:
        parse_bounded(text, "s.res", Limits(max_tokens=10))
    (diagnostic,) = refused.value.diagnostics
    assert (diagnostic.code, diagnostic.message) == ("E0301", "this spec has more than 10 tokens")
    assert (diagnostic.span.line, diagnostic.span.column, diagnostic.span.end_column) == (3, 15, 17)  # the `16`


def test_the_installed_lark_runs_the_streaming_driver():
    """Else every comparison above holds the public route to itself: a new Lark release must be
    checked against the driver, then named in `streaming.TESTED_LARK`."""
    import lark

    from resdsl.frontend.syntax import streaming

    assert streaming.SUPPORTED, f"lark {lark.__version__} is not the release the streaming driver was tested with ({'.'.join(streaming.TESTED_LARK)})"
