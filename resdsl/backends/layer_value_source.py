"""What generated code needs for norm and activation values (`resdsl.ir.layer_values`).

A block class takes a norm or an activation as a factory (timm's `norm_layer`/`act_layer`):
`norm: Callable[[int], nn.Module] = nn.BatchNorm2d`, `act: Callable[[], nn.Module] = nn.ReLU`
(activations out of place: a block's input may be read again after one); its `norm VALUE` units are the slots `norm` and `act`
(`resdsl.ir.norm_act_ops`), looked up with the IR ops in `UNIT_OPS`.
"""

from __future__ import annotations

from resdsl.ir.layer_values import VALUE_KINDS, from_op  # noqa: F401  (from_op re-exported for the generator)
from resdsl.ir.norm_act_ops import SLOT_OPS, UNIT_OPS  # noqa: F401  (re-exported)

FACTORY_TYPES = {"norm": "Callable[[int], nn.Module]", "act": "Callable[[], nn.Module]"}


def factory_imports(used: str) -> list[str]:
    """The imports the generated source `used` needs for factories, in import order."""
    lines = []
    if "partial(" in used:
        lines.append("from functools import partial")
    if "Callable[" in used:
        lines.append("from typing import Callable")
    return lines


def value_ops(g) -> set[str]:
    """The IR ops of the norm and activation values graph `g` uses: a value passed on as a
    factory (`partial(GroupNormSize, 16)`) needs its op's helper class though no unit calls it."""
    ops = {v.op for v in VALUE_KINDS.values()}
    return {data["op"] for _, data in g.nodes(data=True)} & ops


def names_class(name: str, used: str) -> bool:
    """Whether generated source `used` constructs class `name` or binds it in a factory
    (`partial(GroupNormSize, 16)`, or the class itself: `norm=FilterResponseNorm)`)."""
    return any(f"{name}{end}" in used for end in "(,)")
