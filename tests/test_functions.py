"""Functions in expressions (resdsl.ir.functions): the compiler's value, the generated
Python's value, the docs, and the diagnostics for a wrong call."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import resdsl
import resdsl.compiler  # `resdsl.compiler.compile_text` below, whichever tests run first
from resdsl.diagnostics import ResdslError
from resdsl.ir.functions import FUNCTIONS, markdown_table
from resdsl.ir.expressions import evaluate, to_python
from resdsl.frontend.syntax.parser import parse

ROOT = Path(__file__).resolve().parent.parent

# function -> argument lists to try (ints and floats, halves for `round`)
CASES = {
    "log": [(8,), (2.5,), (8, 2), (1000, 10)],
    "log2": [(1,), (64,), (1000,), (0.5,)],
    "pow": [(2, 3), (2.49, 1.5), (2, -1), (0, 0)],
    "sqrt": [(0,), (2,), (16,)],
    "floor": [(2.5,), (-2.5,), (3,)],
    "ceil": [(2.5,), (-2.5,), (3,)],
    "round": [(0.5,), (1.5,), (2.5,), (-0.5,), (2.6,), (7,)],
    "int": [(2.9,), (-2.9,), (5,)],
    "abs": [(-3,), (2.5,)],
    "min": [(3, 1, 2), (1.5, 2)],
    "max": [(3, 1, 2), (1.5, 2)],
    "pick": [(0, 47, 52, 64), (2, 47, 52, 64), (1, 2.5, 3), (0, 9)],
}


def _expr(text: str):
    module = parse(f"network _(v = {text}) {{}}", "<test>")
    return module.definitions[0].params[0].default


def test_every_function_has_cases():
    assert set(CASES) == set(FUNCTIONS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_generated_python_computes_what_the_compiler_computed(name):
    """Value and type: `round(2.5)` is the int 2 in both (halves to even, as NumPy)."""
    for args in CASES[name]:
        names = {f"a{i}": v for i, v in enumerate(args)}
        expr = _expr(f"{name}({', '.join(names)})")
        compiled = evaluate(expr, names)
        source = to_python(expr, lambda n: n, kinds={k: "int" if isinstance(v, int) else "number" for k, v in names.items()})
        generated = eval(source, {"math": math}, dict(names))
        assert (compiled, type(compiled)) == (generated, type(generated)), (name, args, source)


def test_round_halves_to_even_and_log2_is_exact():
    assert [evaluate(_expr(f"round({x})"), {}) for x in ("0.5", "1.5", "2.5", "3.5")] == [0, 2, 2, 4]
    assert evaluate(_expr("int(abs(log2(256) + 1) / 2)"), {}) == 4  # ECA's kernel rule for 256 channels


def test_generated_python_calls_math_functions_with_translated_names():
    expr = _expr("max(int(abs(log2(c) + 1) / 2), 3)")
    assert to_python(expr, lambda n: "self_" + n, kinds={"c": "int"}) == "max(int(abs(math.log2(self_c) + 1) / 2), 3)"


SPEC = """network n(c = 64) {
    input 3x16x16
    conv 3x3, 16
    b(16, 40)
    b(16, 90)
    avgpool
    fc: linear 10
}
block b(w, c) {
    let k = int(abs(log2(c) + 1) / 2)
    conv (max(k if k % 2 == 1 else k + 1, 3)) x 1, round(c / 3.0) + min(w, c)
    conv 1x1, w, relu off
    add
}
"""


def test_a_block_computing_widths_with_functions_builds_what_check_counted(tmp_path):
    """k = 3 for 40 channels and 3 for 90 (int((log2 c + 1) / 2) = 3 for both, odd); widths
    round(40 / 3) + 16 = 29 and round(30.0) + 16 = 46; the module imports math."""
    spec = tmp_path / "n.res"
    spec.write_text(SPEC, encoding="utf-8")
    net = resdsl.load(str(spec))
    convs = [d for _, d in net.graph.nodes(data=True) if d["op"] == "conv"]
    assert [(d["params"]["kernel"], d["params"]["out_channels"]) for d in convs] == [((3, 3), 16), ((3, 1), 29), ((1, 1), 16), ((3, 1), 46), ((1, 1), 16)]
    source = resdsl.generate_source(str(spec))
    assert "\nimport math\n" in source and "k = int(abs(math.log2(c) + 1) / 2)" in source
    model = resdsl.build(str(spec))
    stem = 3 * 16 * 9 + 2 * 16
    block = lambda mid: 16 * mid * 3 + 2 * mid + mid * 16 + 2 * 16  # noqa: E731  (3x1 conv, bn, 1x1 conv, bn)
    assert sum(p.numel() for p in model.parameters()) == net.params == stem + block(29) + block(46) + 16 * 10 + 10 == 5_648


@pytest.mark.parametrize(
    "expr, message, column",
    [
        ("log2(c - 64)", "error[E0201]: `log2` needs a positive number, got 0", 15),
        ("max(c)", "error[E0109]: `max` takes at least 2 arguments, got 1", 15),
        ("floor(c, 2)", "error[E0110]: `floor` takes 1 argument, got 2", 24),
        ("pow(c, 100)", "error[E0201]: `pow(64, 100)` is past the limit of 30 digits", 15),
        ("round(true)", "error[E0115]: `round` needs a number, got the bool `true`", 21),
        ("pick(2, c, 8)", "error[E0201]: `pick`'s index 2 is outside 0 .. 1: it picks from 2 values", 15),
        ("pick(-1, c, 8)", "error[E0201]: `pick`'s index -1 is outside 0 .. 1: it picks from 2 values", 15),
        ("pick(0.5, c, 8)", "error[E0115]: `pick`'s index must be an integer, got 0.5", 15),
    ],
)
def test_a_wrong_call_is_a_located_error(expr, message, column):
    text = f"network n(c = 64) {{\n    input 3x8x8\n    conv 3x3, {expr}\n}}\n"
    with pytest.raises(ResdslError) as err:
        resdsl.compiler.compile_text(text, "f.res")
    first = err.value.diagnostics[0]
    assert (first.span.line, first.span.column) == (3, column)
    assert message.split(": ", 1)[1] == first.message
    assert message.split("[")[1].split("]")[0] == first.code


def test_an_unknown_function_suggests_the_nearest():
    with pytest.raises(ResdslError) as err:
        resdsl.compiler.compile_text("network n(c = 64) {\n    input 3x8x8\n    conv 3x3, lg2(c)\n}\n", "f.res")
    unknown = [d for d in err.value.diagnostics if d.code == "E0111"]
    assert [(d.message, d.help, d.span.column) for d in unknown] == [("`conv` has no option `lg2`", "`lg2(` is no function; did you mean `log2` or `log`?", 15)]


def test_the_grammar_lexes_exactly_the_registrys_functions():
    """grammars/resdsl.lark names the functions in FUNC_CALL (so `stride(k * 2)` stays an option)."""
    import re

    grammar = (ROOT / "grammars" / "resdsl.lark").read_text(encoding="utf-8")
    names = re.search(r"FUNC_CALL\.\d: /\(\?:([a-z0-9|_]+)\)", grammar).group(1).split("|")
    assert sorted(names) == sorted(FUNCTIONS)


def test_docs_language_md_lists_every_function():
    text = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    start = text.index("<!-- functions -->\n") + len("<!-- functions -->\n")
    assert text[start : text.index("<!-- /functions -->")] == markdown_table()


def test_pick_is_a_tuple_index_in_python():
    assert to_python(_expr("pick(i, 47, 52, 64)"), lambda n: n, kinds={"i": "int"}) == "(47, 52, 64)[i]"
    assert to_python(_expr("pick(i, w)"), lambda n: n, kinds={"i": "int", "w": "int"}) == "(w,)[i]"


def test_pick_gives_each_block_of_a_stage_its_own_widths():
    """timm's ecaresnet50d_pruned: layer1's blocks 47/18, 52/22, 64/35 wide inside, 19 out."""
    net = resdsl.load("ecaresnet50d_pruned")
    convs = {n: d["params"]["out_channels"] for n, d in net.graph.nodes(data=True) if d["op"] == "conv"}
    assert [[convs[f"layer1.{i}.conv{k}"] for k in (1, 2, 3)] for i in range(3)] == [[47, 18, 19], [52, 22, 19], [64, 35, 19]]
