"""Robustness: what the compiler promises for any input (no internal error, bounded time), and
the mechanisms that keep it (the parser's pause of the cyclic garbage collector)."""

from __future__ import annotations

import gc

import pytest

import resdsl
from resdsl.frontend.syntax.parser import parse


@pytest.mark.parametrize("text", ["network n {\n    input 3x8x8\n}\n", "network n {\n    conv 3x3,, 16\n}\n"])
@pytest.mark.parametrize("enabled", [True, False])
def test_parsing_leaves_the_garbage_collector_as_it_found_it(text, enabled):
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        try:
            parse(text, "n.res")
        except resdsl.ResdslError as err:
            assert [d.code for d in err.diagnostics] == ["E0001"]
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


ALIASED = """block blk(w) {
    identity
    relu
    conv 3x3, w, relu off
    add
}

network net {
    input 3x8x8
    conv 3x3, 4, relu off
    layer1: blk(4) x 2
    avgpool; fc: linear 5
}
"""


def test_an_in_place_relu_never_changes_a_value_read_later_through_an_identity():
    """`identity` hands on the block input itself: an in-place ReLU on it would change the
    shortcut too (the generated module differed from the interpreter by up to 15)."""
    from test_interpret import assert_same_network

    net = resdsl.compile_text(ALIASED, "net.res")
    forward = resdsl.generate_source(net).split("def forward", 1)[1].split("return", 1)[0]
    assert forward.splitlines()[1:4] == ["        out = self.identity(x)", "        out = torch.relu(out)", "        out = self.conv1(out)"]
    assert_same_network(net)


GUARDED_CONDITIONAL = """block blk(w, flag = true) {
    v0: conv 1x1, (w if flag else w) when not flag
    v1: conv 1x1, w
    add
}

network net {
    input 3x8x8
    shortcut A
    conv 3x3, 4
    layer1: blk(4) x 1
    layer2: blk(8) x 1
    avgpool; fc: linear 5
}
"""


def test_a_guarded_layer_with_a_conditional_width_keeps_its_parentheses():
    """Where `v0` is skipped, `v1` reads the block input: `(w if flag else w) if not flag else
    in_channels`. Unparenthesized, Python read `w if flag else (...)`: 8 channels where 4 come."""
    from test_interpret import assert_same_network

    net = resdsl.compile_text(GUARDED_CONDITIONAL, "net.res")
    assert "            ((w if flag else w) if not flag else in_channels),\n" in resdsl.generate_source(net)
    assert_same_network(net)
