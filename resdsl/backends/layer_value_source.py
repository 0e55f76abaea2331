"""What generated code needs for norm and activation values (`resdsl.frontend.layer_values`).

A block class takes a norm or an activation as a factory (timm's `norm_layer`/`act_layer`):
`norm: Callable[[int], nn.Module] = nn.BatchNorm2d`, `act: Callable[[], nn.Module] = nn.ReLU`
(activations out of place: a block's input may be read again after one); its `norm VALUE` units are the slots `norm` and `act`
(`resdsl.ir.norm_act_ops`), looked up with the IR ops in `UNIT_OPS`.
"""

from __future__ import annotations

from resdsl.frontend.layer_values import from_op  # noqa: F401  (re-exported for the generator)
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
