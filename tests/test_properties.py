"""Property tests: no input, however malformed, gets anything but a valid build or diagnostics.

The property (`outcome`): `compile_text` either returns a `Network` whose generated PyTorch
source `compile()` accepts, or raises `ResdslError` whose every diagnostic has a registered
code and a location inside a known source. Any other exception fails the test.

Inputs: random text; text derived from the grammar (hypothesis's Lark strategy) and from a
generator of the language's constructs (statements, blocks, expressions with hostile names and
out-of-range values); random token mutations (delete, duplicate, swap, replace) of every bundled
spec, the example and the prelude; truncation of two specs at every position; and a sample of
mutations through the CLI (exit code 1 or 0, never a traceback).

Budgets are fixed (`derandomize=True`, bounded `max_examples`) so CI time is stable; set
RESDSL_PROPERTY_EXAMPLES to a larger number for a longer local hunt.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark

from resdsl.backends.torch_source import generate_source
from resdsl.cli import main
from resdsl.diagnostics.codes import CODES
from resdsl.compiler import compile_text
from resdsl.diagnostics import Limits, ResdslError
from resdsl.frontend.resources import bundled_specs, prelude_path
from resdsl.frontend.syntax.parser import _parser

ROOT = Path(__file__).resolve().parent.parent
SCALE = int(os.environ.get("RESDSL_PROPERTY_EXAMPLES", "1"))
LIMITS = Limits(max_nodes=5_000)  # keeps generated nets small; the limit itself is exercised


def fixed(examples: int):
    return settings(
        max_examples=examples * SCALE,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def outcome(text: str) -> str:
    """"ok" or "error"; fails the test on any exception that is not a ResdslError."""
    try:
        net = compile_text(text, "fuzz.res", limits=LIMITS)
    except ResdslError as err:
        assert err.diagnostics, "a ResdslError without diagnostics"
        for d in err.diagnostics:
            assert d.code in CODES, d.code
            assert d.span is not None, f"unlocated {d.code}: {d.message}"
            assert err.sources.line(d.span.source, d.span.line) is not None, f"{d.code} points outside its source: {d.span}"
        err.render()
        return "error"
    compile(generate_source(net), "generated.py", "exec")
    return "ok"


# --- sources to mutate ---------------------------------------------------------------------------

# A network that uses the prelude's blocks, appended to the prelude so its mutations matter.
_PRELUDE_USER = """
network n(k = 2) {
    input 3x32x32
    shortcut A
    conv 3x3, 16
    layer1: basic(16) x k
    layer2: bottleneck(8, v1 = true) x 2, stride 2, shortcut B
    avgpool
    fc: linear 10
}
"""


def _corpus() -> dict[str, str]:
    texts = {name: path.read_text(encoding="utf-8") for name, path in sorted(bundled_specs().items())}
    texts["tiny_preact"] = (ROOT / "examples" / "tiny_preact.res").read_text(encoding="utf-8")
    texts["prelude"] = prelude_path().read_text(encoding="utf-8") + _PRELUDE_USER
    return texts


CORPUS = _corpus()
TOKEN = re.compile(r"\s+|#[^\n]*|[A-Za-z_]\w*\(?|\d[\w.]*|.", re.S)
TOKENS = {name: TOKEN.findall(text) for name, text in CORPUS.items()}
VOCABULARY = sorted({tok for toks in TOKENS.values() for tok in toks if not tok.isspace()} | {"0", "-1", "(", ")", "{", "}", "x", "\n"})


@st.composite
def mutated(draw, name: str) -> str:
    tokens = list(TOKENS[name])
    for _ in range(draw(st.integers(1, 4))):
        if not tokens:
            break
        i = draw(st.integers(0, len(tokens) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "replace", "insert"]))
        if op == "delete":
            del tokens[i]
        elif op == "duplicate":
            tokens.insert(i, tokens[i])
        elif op == "swap":
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif op == "replace":
            tokens[i] = draw(st.sampled_from(VOCABULARY))
        else:
            tokens.insert(i, draw(st.sampled_from(VOCABULARY)))
    return "".join(tokens)


# --- the language's constructs, generated ---------------------------------------------------------

NAMES = ["w", "n", "k", "x", "class", "forward", "training", "relu", "conv1", "layer1", "self", "torch", "basic", "a_b"]
SIZES = ["0", "1", "2", "3", "7", "16", "-1", "1.5", "true", "off", "99999999999", "2147483648"]


def _expr(names: list[str]) -> st.SearchStrategy[str]:
    atoms = st.sampled_from(SIZES + names)
    return st.recursive(
        atoms,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "//", "%", "==", "<"]), inner).map(" ".join),
            inner.map(lambda e: f"({e})"),
            st.tuples(inner, inner, inner).map(lambda t: f"{t[0]} if {t[1]} else {t[2]}"),
            inner.map(lambda e: f"-{e}"),
        ),
        max_leaves=6,
    )


def _value(names):
    return st.one_of(st.sampled_from(SIZES + names), _expr(names).map(lambda e: f"({e})"))


@st.composite
def layer(draw, names: list[str]) -> str:
    kind = draw(st.sampled_from(["conv", "conv", "maxpool", "avgpool", "relu", "batchnorm", "linear", "add", "conv2d", "bn"]))
    if draw(st.integers(0, 3)) == 0:  # Language 2: gates, named values, drops, guards
        text = draw(st.sampled_from([
            "sigmoid", "mul input", "add input", "identity", "flatten", "dropout 0.2", "drop_path 0.1", "drop_path 1.5",
            "batchnorm, relu on", "avgpool 2x2, stride 2, ceil on, count_pad off", "mul a", "conv 1x1, 4, from input",
            "pad_channels 8, stride 2", "relu when 1 > 0", "conv 3x3, 8 when false", "add from input",
        ]))
        return draw(st.sampled_from(["", "", "a: ", "pre: "])) + text
    args = []
    if kind in ("conv", "maxpool", "avgpool", "conv2d"):
        args.append(draw(st.sampled_from(["3x3", "1x1", "1", "2x2", "7x7", "3x3x3", "k x k"])))
    if kind in ("conv", "linear", "conv2d"):
        args.append(draw(_expr(names)))
    options = draw(st.lists(st.sampled_from(["stride", "padding", "groups", "dilation", "bias", "bn", "relu", "strid"]), max_size=3))
    args += [f"{o} {draw(_value(names))}" for o in options]
    label = draw(st.sampled_from([""] * 4 + [f"{n}: " for n in NAMES]))
    return f"{label}{kind} {', '.join(args)}".rstrip()


@st.composite
def block_use(draw, names: list[str], blocks: list[str]) -> str:
    block = draw(st.sampled_from(blocks + ["basic", "bottleneck", "basci", "se", "se_bottleneck", "deep_stem", "projection"]))
    args = draw(st.lists(_expr(names), max_size=2))
    args += [f"{k} = {draw(_expr(names))}" for k in draw(st.lists(st.sampled_from(["stride", "groups", "v1", "width", "wdth"]), max_size=2, unique=True))]
    text = f"{block}({', '.join(args)})"
    if draw(st.booleans()):
        text += f" x {draw(st.sampled_from(['1', '2', '3', 'n', '0', '10000000', '(k + 1)']))}"
    if draw(st.booleans()):
        text += f", stride {draw(_value(names))}"
    if draw(st.booleans()):
        text += f", shortcut {draw(st.sampled_from(['A', 'B', 'C', 'identity', 'none', 'D', 'avg_down', 'conv_projection', 'basic']))}"
    label = draw(st.sampled_from(["", "", "layer1: ", "layer2: ", "stage: ", "class: "]))
    return label + text


@st.composite
def body(draw, names: list[str], blocks: list[str], network: bool) -> list[str]:
    statements = []
    for _ in range(draw(st.integers(0, 6))):
        choice = draw(st.sampled_from(["layer", "layer", "layer", "block", "let", "expect"] if network or blocks else ["layer", "let"]))
        if choice == "layer":
            statements.append(draw(layer(names)))
        elif choice == "block":
            statements.append(draw(block_use(names, blocks)))
        elif choice == "let":
            name = draw(st.sampled_from(NAMES))
            statements.append(f"let {name} = {draw(_expr(names))}")
            names = names + [name]
        else:
            statements.append(draw(st.sampled_from(["expect params > 0", "expect shape layer1 == 16x32x32", "expect macs ~ 1e6 within 5%"])))
    return statements


@st.composite
def spec(draw) -> str:
    blocks, parts = [], []
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.sampled_from(["blk", "basic", "class", "torch", "b2"]))
        params = draw(st.lists(st.sampled_from(NAMES), max_size=3, unique=True))
        defaults = [f"{p} = {draw(_expr([]))}" if draw(st.booleans()) else p for p in params]
        lines = draw(body(params, list(blocks), network=False))
        parts.append(f"block {name}({', '.join(defaults)}) {{\n" + "".join(f"    {s}\n" for s in lines) + "}\n")
        blocks.append(name)
    params = draw(st.lists(st.sampled_from(["n", "k", "w"]), max_size=2, unique=True))
    header = f"network net({', '.join(f'{p} = {draw(st.sampled_from(SIZES))}' for p in params)}) {{\n"
    lines = [f"input {draw(st.sampled_from(['3x32x32', '3x7x7', '1x1x1', '3 x k x k', '0x3x3', '3x32']))}"]
    if draw(st.booleans()):
        lines.append(f"shortcut {draw(st.sampled_from(['A', 'B', 'C', 'identity', 'none']))}")
    lines += draw(body(params, blocks, network=True))
    parts.append(header + "".join(f"    {s}\n" for s in lines) + "}\n")
    return "".join(parts)


@st.composite
def plausible_spec(draw) -> str:
    """Mostly valid residual networks (user blocks, prelude blocks, stages, policies, odd sizes),
    so that elaboration, shortcuts, shapes and the code generator see deep valid inputs too."""
    kernel = draw(st.sampled_from(["3x3", "1x1", "2x2", "3"]))
    padding = draw(st.sampled_from(["", ", padding 0", ", padding 1"]))
    preact = draw(st.booleans())
    user = (
        f"block unit(w, stride = 1, p = 0.0) {{\n"
        + ("    pre: batchnorm, relu on\n" if preact else "")
        + f"    conv {kernel}, w, stride stride{padding}\n"
        f"    {draw(st.sampled_from(['conv 3x3, w, relu off', 'conv 1x1, w * 2, relu off', 'batchnorm', 'relu', 'dropout p']))}\n"
        f"    {draw(st.sampled_from(['', '', 'se: se(w, 2)', 'drop_path p', 'avgpool 2x2, stride 2, ceil on when stride > 1']))}\n"
        f"    {draw(st.sampled_from(['add', 'add', '', 'add from pre' if preact else 'add']))}\n"
        f"    relu\n}}\n"
    )
    n = draw(st.integers(1, 3))
    lines = [
        f"input {draw(st.sampled_from(['3', '1']))}x{draw(st.sampled_from(['7', '8', '16', '32']))}x{draw(st.sampled_from(['7', '8', '16', '32']))}",
        f"shortcut {draw(st.sampled_from(['A', 'B', 'C', 'identity', 'none', 'avg_down', 'conv_projection']))}",
        draw(st.sampled_from(["conv1: conv 3x3, 8", "conv1: conv 3x3, 16", "conv1: deep_stem(16, 8)"])),
    ]
    if draw(st.booleans()):
        lines.append("maxpool 3x3, stride 2")
    for i in range(draw(st.integers(1, 3))):
        block = draw(st.sampled_from(["unit", "basic", "bottleneck", "se_bottleneck"]))
        width = draw(st.sampled_from(["4", "8", "16"]))
        extra = draw(st.sampled_from(["", "", ", p = 0.1" if block == "unit" else ", drop_path = 0.1 * index"]))
        use = f"stage{i}: {block}({width}{extra if block != 'se_bottleneck' else ', reduction = 2'})"
        use += draw(st.sampled_from(["", " x n", " x 2"]))
        if " x " in use:
            use += draw(st.sampled_from(["", ", stride 2"]))
        use += draw(st.sampled_from(["", "", ", shortcut B", ", shortcut A"]))
        lines.append(use)
    lines += draw(st.sampled_from([["avgpool", "fc: linear 10"], ["avgpool"], []]))
    return user + f"network net(n = {n}) {{\n" + "".join(f"    {line}\n" for line in lines) + "}\n"


# --- the tests ---------------------------------------------------------------------------------


@fixed(300)
@given(st.text(max_size=200))
def test_random_text(text):
    outcome(text)


@fixed(100)
@given(st.binary(max_size=100).map(lambda b: b.decode("latin-1")))
def test_random_bytes_as_text(text):
    outcome(text)


@fixed(100)
@given(from_lark(_parser(), start="start"))
def test_text_from_the_grammar(text):
    outcome(text)


@fixed(400)
@given(st.one_of(spec(), plausible_spec()))
def test_generated_specs(text):
    if outcome(text) == "ok":
        _run_if_small(text)


def _run_if_small(text: str) -> None:
    """What `check` accepts builds and runs: on meta tensors always (any size, no arithmetic),
    on real ones when small. The output shape must be the inferred one."""
    import torch

    from resdsl.backends.torch_build import instantiate

    net = compile_text(text, "fuzz.res", limits=LIMITS)
    c, h, w = net.input_shape
    with torch.device("meta"):
        model = instantiate(net).eval()
        assert tuple(model(torch.empty(1, c, h, w)).shape[1:]) == net.output_shape
    if net.params > 200_000 or c * h * w > 4096 or net.graph.number_of_nodes() > 300:
        return
    model = instantiate(net).eval()
    with torch.no_grad():
        assert tuple(model(torch.zeros(1, c, h, w)).shape[1:]) == net.output_shape


def test_generated_specs_reach_every_outcome():
    """The generators are useful only if they produce valid builds, with blocks, and errors."""
    results = set()

    @fixed(150)
    @given(st.one_of(spec(), plausible_spec()))
    def run(text):
        result = outcome(text)
        if result == "ok" and compile_text(text, "fuzz.res", limits=LIMITS).graph.graph["blocks"]:
            result = "ok with blocks"
        results.add(result)

    run()
    assert results == {"ok", "ok with blocks", "error"}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_mutations_of_bundled_specs(name):
    @fixed(60)
    @given(mutated(name))
    def run(text):
        outcome(text)

    run()


@pytest.mark.parametrize("name", ["cifar_resnet", "tiny_preact"])
def test_truncation_at_every_position(name):
    text = CORPUS[name]
    results = [outcome(text[:end]) for end in range(len(text) + 1)]
    assert results[-1] == "ok"
    assert results[0] == "error"


@fixed(25)
@given(mutated("cifar_resnet"))
def test_the_cli_never_shows_a_traceback(text):
    runner = CliRunner()
    with runner.isolated_filesystem():
        Path("m.res").write_text(text, encoding="utf-8")
        checked = runner.invoke(main, ["check", "m.res", "--max-nodes", "5000"])
        built = runner.invoke(main, ["build", "m.res", "--max-nodes", "5000", "-o", "out.py"])
        for result in (checked, built):
            assert result.exit_code in (0, 1), result.output
            assert "Traceback" not in result.output and "internal error" not in result.output
            assert result.exception is None or isinstance(result.exception, SystemExit)
        assert checked.exit_code == built.exit_code
        assert Path("out.py").exists() == (built.exit_code == 0)
        if checked.exit_code == 1:
            assert re.match(r"m\.res:\d+:\d+: error\[E\d{4}\]: ", checked.stderr)
        for command in (["summary", "m.res"], ["draw", "m.res", "-o", "m.dot"]):  # the other readers of a spec
            result = runner.invoke(main, [*command, "--max-nodes", "5000"])
            assert result.exit_code in (0, 1), result.output
            assert "Traceback" not in result.output and "internal error" not in result.output


@fixed(8)
@given(plausible_spec())
def test_what_check_accepts_exports_as_pt2(text):
    """`resdsl build --format pt2` of what `check` accepts: a program whose output shape is the
    inferred one (small networks only; torch.export takes seconds per network)."""
    import torch

    from resdsl.backends.torch_build import instantiate
    from resdsl.backends.torch_export import export_program

    if outcome(text) != "ok":
        return
    net = compile_text(text, "fuzz.res", limits=LIMITS)
    if net.params > 200_000 or net.graph.number_of_nodes() > 150:
        return
    program = export_program(instantiate(net), net)
    out = program.module()(torch.zeros(2, *net.input_shape))
    assert tuple(out.shape) == (2, *net.output_shape)
