"""The ops of several values at once: a channel `split`, one `part` of it, `concat`, `sum`.

Registered into `resdsl.ir.ops.OPS` like every other op (by `resdsl.ir`'s `__init__`, which
imports this module, so that any import of the registry sees them). A split is a tuple of equal parts:
in the IR it is one `split` node (its value: the whole input, unchanged) and one `part` node
per part (`parts.0`, `parts.1`, ...), each a view of C/n channels, so every consumer sees one
tensor per node. `concat` and `sum` take any number of operands (`arity` -1).

Costs: split and part are views (no parameters, operations or new tensors); `concat` writes
its output once (one activation tensor, no arithmetic); `sum` of k values makes k - 1
additions per output element and writes k - 1 tensors (Python adds pairwise: `a + b + c` makes
`a + b`, then the total; `sum` of one value is that value).
"""

from __future__ import annotations

import functools
import math

from resdsl.ir.ops import OPS, OpDef, Shape, ShapeError, fmt_shape

VARIADIC = -1  # `arity` of an op that takes one or more operands


def _split_shape(params: dict, inputs: list[Shape]) -> Shape:
    (shape,) = inputs
    n = params["parts"]
    if shape[0] % n:
        raise ShapeError(
            "E0210",
            f"`split {n}` cannot divide {shape[0]} channels ({fmt_shape(shape)}) into {n} equal parts",
            help=f"split a channel count that is a multiple of {n}",
        )
    return shape


def _part_shape(params: dict, inputs: list[Shape]) -> Shape:
    (shape,) = inputs
    return (shape[0] // params["parts"], *shape[1:])


def _spatial_of(shape: Shape) -> Shape:
    return shape[1:]


def _join_shape(what: str, key, rule: str):
    def infer(params: dict, inputs: list[Shape]) -> Shape:
        first = inputs[0]
        for i, other in enumerate(inputs[1:], 1):
            if len(other) != len(first) or key(other) != key(first):
                raise ShapeError(
                    "E0211",
                    f"`{what}` receives {fmt_shape(first)} (value 1) and {fmt_shape(other)} (value {i + 1})",
                    help=rule,
                )
        if what == "concat":
            return (sum(s[0] for s in inputs), *first[1:])
        return first

    return infer


def _part_run(p: dict, xs: list, w: dict):
    width = xs[0].shape[1] // p["parts"]
    return xs[0].narrow(1, p["index"] * width, width)


def _concat_run(p: dict, xs: list, w: dict):
    import torch

    return torch.cat(xs, 1)


def _sum_run(p: dict, xs: list, w: dict):
    return functools.reduce(lambda a, b: a + b, xs)


def _sum_call(module: str, xs: list[str]) -> str:
    """`a + b + c`; `sum(paths[1:], paths[0])` for one tuple; `sum([*paths[1:], c], paths[0])`
    where a tuple (`*`) is among the operands. Python's `sum` starts from its second argument,
    so k values make k - 1 additions and k - 1 tensors, as counted (from 0 it would make k)."""
    first, rest = xs[0], xs[1:]
    start = first
    if first.startswith("*"):
        start, rest = f"{first[1:]}[0]", [f"{first}[1:]", *rest]
    if not any(x.startswith("*") for x in rest):
        return " + ".join([start, *rest])
    if len(rest) == 1:
        return f"sum({rest[0][1:]}, {start})"
    return f"sum([{', '.join(rest)}], {start})"


VALUE_OPS = [
    OpDef(
        "split", 1, _split_shape, interpret=lambda p, xs, w: xs[0], parts=lambda p: p["parts"], label=lambda p: f"split {p['parts']}", role="norm", outputs=0,
    ),
    OpDef(
        "part", 1, _part_shape, interpret=_part_run, label=lambda p: f"part {p['index']}", role="norm", outputs=0,
        no_op=lambda p: True, picks_part=True,
    ),
    OpDef(
        "concat", VARIADIC, _join_shape("concat", _spatial_of, "the values to concatenate need the same H×W"),
        forward=lambda module, xs: f"torch.cat([{', '.join(xs)}], 1)", interpret=_concat_run, label=lambda p: "‖", role="add",  # concatenation
        stacks_channels=True,
    ),
    OpDef(
        "sum", VARIADIC, _join_shape("sum", lambda s: s, "the values to add need the same shape"),
        element_ops=lambda p, inputs, out: (len(inputs) - 1) * math.prod(out), forward=_sum_call, interpret=_sum_run, label=lambda p: "+", role="add",
        sums=True, outputs=lambda p, inputs: len(inputs) - 1,  # `a + b + c` writes a + b, then the total
    ),
]

OPS.update((op.name, op) for op in VALUE_OPS)
