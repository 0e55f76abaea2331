"""One meaning, checked two ways: the generated module equals the reference interpreter of the IR.

`resdsl.ir.interpret` runs the checked IR node by node with torch.nn.functional; the torch
backend writes Python classes from the same IR. For every spec the generator of
tests/spec_strategies.py writes and `check` accepts, with weights and batch-norm statistics
randomised and the module in eval mode:
(a) the built module's output equals the interpreter's;
(b) every node's inferred shape equals the shape the interpreter saw;
(c) `check`'s parameter count equals the built module's, and the module holds no weight the IR
    does not account for (every state_dict entry is read by some node).
The run also counts which ops and constructs the accepted specs used; a test fails if any op
of the registry or any construct was never exercised, so nothing passes untested.

Below the property: shrunk counterexamples it found, one test each, that failed before their fix.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
import torch
from hypothesis import HealthCheck, example, find, given, settings

import resdsl
from resdsl.backends.torch_source import module_path
from resdsl.compiler import compile_text
from resdsl.diagnostics import Limits, ResdslError
from resdsl.backends.torch_build import weights_from_module
from resdsl.ir.interpret import interpret
from resdsl.ir.layer_values import VALUE_KINDS
from resdsl.ir.ops import OPS
from spec_strategies import ACTS, SIMPLE, Drawn, specs

SCALE = int(os.environ.get("RESDSL_PROPERTY_EXAMPLES", "1"))
# Every norm value of the registry, with 2 groups (or channels a group) where it takes an argument.
NORMS = [name + ("(2)" if kind.params else "") for name, kind in VALUE_KINDS.items() if kind.category == "norm"]
SEEN: Counter = Counter()  # construct or op -> accepted specs that used it
OUTCOMES: Counter = Counter()


def randomise(model: torch.nn.Module, seed: int = 0) -> None:
    """Weights and batch-norm statistics away from their initial values, reproducibly."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, value in model.state_dict().items():
            if not value.is_floating_point():
                continue
            noise = torch.rand(value.shape, generator=gen) if key.endswith("running_var") else torch.randn(value.shape, generator=gen)
            value.copy_(noise + 0.5 if key.endswith("running_var") else noise * 0.5)


def assert_same_network(net: resdsl.Network) -> None:
    """(a), (b) and (c) of the module docstring for one checked network."""
    model = resdsl.build(net)
    randomise(model)
    model.eval()
    weights = weights_from_module(net, model)
    state = [k for k in model.state_dict() if not k.endswith("num_batches_tracked")]
    used, shapes = set(), {}
    x = torch.randn(2, *net.input_shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = interpret(net, x, weights, shapes=shapes, used=used)
        actual = model(x)
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)
    g = net.graph
    wrong = {n: (g.nodes[n]["shape"], seen) for n, seen in shapes.items() if g.nodes[n]["shape"] != seen}
    assert not wrong, f"static shape != interpreted shape: {wrong}"
    assert sum(p.numel() for p in model.parameters()) == net.params
    assert used == set(weights)
    read = {f"{module_path(net, node)}.{tensor}" for node, tensor in (k.rsplit(".", 1) for k in weights)}
    assert sorted(set(state) - read) == [], "module weights that no IR node reads"


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one thread is fastest, and a loaded machine makes more threads far slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _property(drawn) -> None:
    try:
        net = compile_text(drawn.text, "gen.res", limits=Limits(max_nodes=2_000))
    except ResdslError as err:
        OUTCOMES["rejected"] += 1
        OUTCOMES.update(f"code:{d.code}" for d in err.diagnostics[:1])
        return
    OUTCOMES["accepted"] += 1
    assert_same_network(net)
    SEEN.update(drawn.tags)
    SEEN.update(f"op:{data['op']}" for _, data in net.graph.nodes(data=True))


def _settings(examples: int):
    return settings(max_examples=examples * SCALE, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def _explicit_examples(test):
    """One explicit example per activation value, per norm value of the registry and per
    one-layer statement, whatever Hypothesis draws: the coverage table below can then never
    miss one of them (the drawn specs still mix them with everything else)."""
    head = "network n(classes = 10) {\n    input 3x8x8\n    conv 3x3, 4\n    b: blk(4)\n    avgpool\n    fc: linear classes\n}\n"
    for act in ACTS:
        body = "    conv 3x3, w, act ac\n    conv 3x3, w, relu off\n    add\n    act ac\n"
        test = example(Drawn(head + f"block blk(w, ac = {act}) {{\n{body}}}\n", set()))(test)
    for norm in NORMS:
        body = "    conv 3x3, w, norm nm\n    conv 3x3, w, relu off\n    add\n"
        test = example(Drawn(head + f"block blk(w, nm = {norm}) {{\n{body}}}\n", set()))(test)
    for stmt in SIMPLE:
        tags = {f"stmt:{stmt.split(',')[0].split(' ')[0]}"} | ({"stmt:bn_relu"} if stmt.startswith("batchnorm, relu") else set())
        body = f"    conv 3x3, w\n    {stmt}\n    conv 3x3, w, relu off\n    add\n"
        test = example(Drawn(head + f"block blk(w, p = 0.1, nm = groupnorm(2), ac = silu) {{\n{body}}}\n", tags))(test)
    return test


@_settings(400)
@_explicit_examples
@given(specs())
def generated_module_equals_the_interpreter(drawn):
    _property(drawn)


@pytest.mark.slow
@_settings(1_000)
@given(specs())
def test_generated_module_equals_the_interpreter_at_length(drawn):
    _property(drawn)


# Constructs an accepted spec must have used at least once over the run above.
CONSTRUCTS = {
    "stmt:conv", "stmt:norm", "stmt:act", "conv:value", "conv:ws", "stmt:pad", "stmt:channel_conv", "stmt:blur_pool", "stmt:relu", "stmt:sigmoid", "stmt:identity", "stmt:batchnorm", "stmt:bn_relu", "stmt:dropout",
    "stmt:drop_path", "stmt:maxpool", "stmt:avgpool", "stmt:pre", "stmt:mul", "stmt:add_value", "stmt:from",
    "stmt:add", "stmt:add_from_pre", "stmt:block_use", "stmt:stage", "stmt:bn_after_linear",
    "guard:conv", "guard:mul", "guard:add_value", "guard:chained", "guard:linear", "guard:pre",
    "def:block", "def:sequential", "def:shortcut",
    "nest:block_in_block", "nest:sequential_ends_in_block", "nest:sequential_block_then_layer",
    "nest:shortcut_ends_in_block", "nest:head_block",
    "let:ifexp_float", "let:long", "let:functions", "let:float", "let:network", "stage:index", "stage:pick", "stage:net_index",
    "stmt:split", "stmt:index", "stmt:for", "stmt:concat", "stmt:sum", "stmt:let_value", "stmt:softmax", "stmt:weighted_sum", "stmt:for_block",
    "policy:A", "policy:B", "policy:C", "policy:identity", "policy:none", "policy:avg_down", "policy:conv_projection", "policy:mine",
}


def _uses(tag: str):
    """A predicate for `find`: an accepted spec that uses the construct or op `tag`."""

    def accepted_with(drawn) -> bool:
        if not tag.startswith("op:") and tag not in drawn.tags:
            return False
        try:
            net = compile_text(drawn.text, "gen.res", limits=Limits(max_nodes=2_000))
        except ResdslError:
            return False
        return not tag.startswith("op:") or any(d["op"] == tag[3:] for _, d in net.graph.nodes(data=True))

    return accepted_with


def test_generated_module_equals_the_interpreter_on_every_op_and_construct():
    """The property over 400 draws and the explicit examples, then the coverage table, and
    nothing left out: every construct or op the draws missed is searched for with `find` and
    put through the same property, so a rare draw is still checked once. One test, so that
    pytest-xdist cannot run the draws in one process and the coverage count in another."""
    generated_module_equals_the_interpreter()
    missed = sorted(({f"op:{op}" for op in OPS} | CONSTRUCTS) - set(SEEN))
    search = settings(max_examples=3_000, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    for tag in missed:
        _property(find(specs(), _uses(tag), settings=search))
    rows = sorted(SEEN.items())
    print(f"\n{OUTCOMES['accepted']} accepted, {OUTCOMES['rejected']} rejected specs; first errors:")
    print("  " + ", ".join(f"{k[5:]} {v}" for k, v in sorted(OUTCOMES.items()) if k.startswith("code:")))
    print("uses per construct:")
    for name, count in rows:
        print(f"  {name:40} {count}")
    assert OUTCOMES["accepted"] >= 30
    assert {f"op:{op}" for op in OPS} - set(SEEN) == set()
    assert CONSTRUCTS - set(SEEN) == set()


def test_every_op_has_an_interpretation():
    assert [name for name, op in OPS.items() if op.interpret is None] == []


# --- counterexamples the property found, shrunk: each failed before its fix ----------------------

_NET = "network net(classes = 5) {{\n    input 3x8x8\n    shortcut {policy}\n    conv 3x3, 4\n{body}\n}}\n"

_PREACT = "block p(w, stride = 1) {\n    pre: batchnorm, relu on\n    conv 3x3, w, stride stride\n    conv 3x3, w, bn off, relu off\n    add from pre\n}\n"

REGRESSIONS = {
    # a guard that is false is the identity: no `*` (the class multiplied anyway)
    "guarded_off_mul": (
        "block g(w, stride = 1) {\n    c: conv 3x3, w\n    avgpool\n    sigmoid\n    mul c\n    mul c when stride == 3\n    add\n}\n",
        "B", "    layer1: g(4) x 2\n    avgpool; fc: linear classes",
    ),
    # written `(stride == 2) == true`, emitted as Python's chained `stride == 2 == True`
    "guard_compared_to_true": (
        "block g(w, stride = 1) {\n    conv 3x3, w, stride stride\n    conv 1x1, w, relu off when (stride == 2) == true\n    add\n}\n",
        "B", "    layer1: g(4)\n    layer2: g(8) x 1, stride 2\n    avgpool; fc: linear classes",
    ),
    # a guarded-off `linear` flattened its input all the same
    "guarded_off_linear": (
        "block head(c) {\n    avgpool\n    linear c when c > 100\n}\n", "B", "    h: head(classes)\n    conv 1x1, 4\n    fc: linear classes",
    ),
    # a block use at the end of a sequential was dropped (parameters counted, not built)
    "sequential_ends_in_block": (
        "block inner(w) {\n    conv 1x1, w\n}\nsequential stem(w, stride = 1) {\n    conv 3x3, w, stride stride\n    inner(w)\n}\n",
        "B", "    stem: stem(4)\n    avgpool; fc: linear classes",
    ),
    # a block use followed by a layer in a sequential read `self.` in a function (NameError)
    "sequential_block_then_layer": (
        "block inner(w) {\n    conv 1x1, w * 2\n}\nsequential stem(w) {\n    conv 3x3, w\n    inner(w)\n    conv 1x1, w\n}\n",
        "B", "    stem: stem(4)\n    avgpool; fc: linear classes",
    ),
    # `flatten; linear c` in a block built nn.Linear(in_channels, c); BatchNorm2d after linear
    "flatten_linear_in_block": (
        "block head(c) {\n    flatten; linear c\n    batchnorm, relu on\n    linear c\n    batchnorm\n}\n", "B", "    h: head(classes)",
    ),
    # `batchnorm, relu on` after a network's `linear`: a 1-d norm, as the docs promise
    "bn_relu_after_linear": ("", "B", "    avgpool; fc: linear classes; batchnorm, relu on"),
    # a nested block without layers has no `out_channels` for its user to read
    "nested_block_without_layers": (
        "block nothing(w) {\n    let a = w\n}\nblock outer(w) {\n    n: nothing(w)\n    conv 1x1, w\n}\n",
        "B", "    o: outer(4)\n    avgpool; fc: linear classes",
    ),
    # `a` is an int here: the language's `/` divides exactly; Python's `/` made a float channel count
    "int_or_float_division": (
        "block g(w, flag = true) {\n    let a = (2 if flag else 2.0)\n    conv 1x1, w / a\n    conv 1x1, w\n    add\n}\n",
        "B", "    layer1: g(4) x 2\n    avgpool; fc: linear classes",
    ),
    # a let over 100 characters ending in `( … )` was wrapped as a call: a one-element tuple
    "long_parenthesized_let": (
        "block g(w) {\n    let zero = w * (" + " + ".join(["w - w"] * 12) + ")\n    conv 1x1, w + zero\n    add\n}\n",
        "B", "    layer1: g(4) x 2\n    avgpool; fc: linear classes",
    ),
    # `shortcut none` with pre-activation blocks (`add from pre`): at network level, and on one
    # stage where a later stage needs a projection of the pre-activated input (internal errors once)
    "shortcut_none_preact": (
        _PREACT, "none", "    layer1: p(4) x 2\n    layer2: p(8) x 2, stride 2\n    avgpool; fc: linear classes",
    ),
    "shortcut_none_stage_then_projection_preact": (
        _PREACT, "B", "    layer1: p(4) x 2, shortcut none\n    layer2: p(8) x 2, stride 2\n    avgpool; fc: linear classes",
    ),
    # shortcut none removes the add; the next block still named it as its input
    "shortcut_none_stage": (
        "block g(w) {\n    v0: conv 1x1, w\n    add\n}\n", "none", "    layer1: g(4) x 2\n    avgpool; fc: linear classes",
    ),
}


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_counterexample(name):
    defs, policy, body = REGRESSIONS[name]
    assert_same_network(compile_text(defs + _NET.format(policy=policy, body=body), f"{name}.res"))


def test_a_shortcut_definition_using_a_block_is_an_error():
    """It was ignored: the same parameters with or without it, and no diagnostic."""
    text = (
        "block inner(w) {\n    conv 1x1, w\n    add\n}\n"
        "shortcut mine(channels, stride = 1) {\n    conv 1x1, channels, stride stride, relu off\n    inner(channels)\n}\n"
        + _NET.format(policy="mine", body="    layer1: inner(8)\n    avgpool")
    )
    with pytest.raises(ResdslError) as err:
        compile_text(text, "mine.res")
    first = err.value.diagnostics[0]
    assert (first.code, first.message) == ("E0114", "a `shortcut` definition holds layers; it cannot use a block")
    assert (first.span.line, first.span.column) == (7, 5)


def test_a_comparison_never_chains_in_python():
    from resdsl.ir.expressions import to_python
    from resdsl.frontend.syntax.parser import parse

    net = parse("network n(s = 1) {\n    let a = (s == 2) == true\n    let b = s == (s == 2)\n}\n", "c.res").definitions[0]
    assert [to_python(stmt.value, str) for stmt in net.body] == ["(s == 2) == True", "s == (s == 2)"]


# The slow tier's property run found this: in a block of several values (the class from
# torch_values), a guarded-off conv whose width is a written conditional `(w if flag else w)`
# gave the next conv `w if flag else w if not flag else in_channels` (Python reads the second
# `if` into the first's else), so with `flag` the next conv took w channels, not in_channels.
GUARDED_CONDITIONAL_WIDTH = """
block blk(w, stride = 1, flag = true) {
    pre: batchnorm, relu on
    v1: conv 1x1, (w if flag else w) when not flag
    v2: conv 1x1, w, stride stride
    s4x: relu
    s4: split 2
    sum s4
    avgpool
    conv 1x1, w, bias on, bn off
    softmax 2
    weighted_sum s4x, 2
    conv 1x1, w
    add
}
network net(classes = 5) {
    input 3x8x8
    shortcut A
    conv 3x3, 4
    layer1: blk(4) x 1
    layer2: blk(8) x 1, stride 2
    avgpool; fc: linear classes
}
"""


def test_a_guarded_conditional_width_in_a_values_block_equals_the_interpreter():
    net = resdsl.compile_text(GUARDED_CONDITIONAL_WIDTH, "g.res")
    assert "(w if flag else w) if not flag else in_channels" in resdsl.generate_source(net)
    assert_same_network(net)
