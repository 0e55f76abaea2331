"""Stages: the names a stage's block arguments may read, and how a stage names its blocks.

A stage `layer1: bottleneck(64) x 3` numbers its blocks `layer1.0` ... `layer1.2`, as
nn.Sequential does; `names b1` numbers them `b1`, `b2`, ... (timm's RegNet: `s1.b1`).
"""

from __future__ import annotations

import re

from resdsl.ir.expressions import EvalError
from resdsl.frontend.syntax import ast

# Names a stage's block arguments may use (unless the spec defines them itself).
STAGE_NAMES = {
    "index": "the block's position in its stage, from 0",
    "net_index": "the block's position among the network's residual blocks, from 0",
    "net_blocks": "the number of residual blocks in the network (a stem's `sequential` is not one)",
}


def stage_names(options: dict, repeat) -> tuple[str, int]:
    """(prefix, first number) of a stage's block names: ("", 0), or `names b1`'s ("b", 1).
    Raises EvalError (E0111 without `x N`, E0115 for a name without its number)."""
    opt = options.get("names")
    if opt is None:
        return "", 0
    if repeat is None:
        raise EvalError("E0111", "`names` numbers the blocks of a stage; this block use has no `x N`", opt.name_span, help="write `block(...) x N, names b1`")
    match = re.fullmatch(r"([A-Za-z_]\w*?)(\d+)", opt.value.id) if isinstance(opt.value, ast.Name) else None
    if match is None:
        raise EvalError("E0115", "`names` takes the first block's name: a name ending in its number, e.g. `names b1`", opt.value.span)
    return match[1], int(match[2])
