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
