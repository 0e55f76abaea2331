"""Layer kinds as values: a norm or an activation that a parameter can hold (`norm = groupnorm(32)`,
`act = silu`) and `conv` takes (`norm norm, act act`).

A `ValueKind` says which IR op a value becomes (each one an `OpDef` in `resdsl.ir.ops`, read by
every consumer), whether it is a norm or an activation, and how many arguments it takes. A
value is a `LayerValue`: the kind's name and its evaluated arguments.

Invariant (as for literal options): a statement's structure does not depend on the value. A
`norm` unit is one module in every instance; a generated block class takes the norm and the
activation as constructor arguments (timm's `norm_layer`/`act_layer`), factories called as
`norm(channels)` and `act()`, so one class serves every value and names stay the user's labels.
"""

from __future__ import annotations

from dataclasses import dataclass

from resdsl.ir.norm_act_ops import call_source  # noqa: F401  (the factory call rule, shared with the slots)


@dataclass(frozen=True)
class ValueKind:
    name: str
    category: str  # "norm" or "act"
    op: str  # the IR op it becomes
    factory: str  # Python source of the factory, `{}` standing for the arguments' source
    params: tuple[str, ...] = ()  # the IR op's parameters, one per argument
    doc: str = ""


@dataclass(frozen=True)
class LayerValue:
    """A norm or an activation with its arguments: `groupnorm(32)`, `silu`."""

    kind: str
    args: tuple = ()

    @property
    def category(self) -> str:
        return VALUE_KINDS[self.kind].category

    def __str__(self) -> str:
        return self.kind + (f"({', '.join(str(a) for a in self.args)})" if self.args else "")


VALUE_KINDS: dict[str, ValueKind] = {
    v.name: v
    for v in [
        ValueKind("batchnorm", "norm", "bn", "nn.BatchNorm2d", doc="batch norm"),
        ValueKind("groupnorm", "norm", "groupnorm", "partial(nn.GroupNorm, {})", ("groups",), doc="group norm of `groups` groups (Wu and He 2018)"),
        ValueKind("groupnorm_size", "norm", "groupnorm_size", "partial(GroupNormSize, {})", ("size",), doc="group norm of `size` channels a group (timm's `group_size`)"),
        ValueKind("evonorm_s0", "norm", "evonorm_s0", "partial(EvoNormS0, {})", ("groups",), doc="EvoNorm-S0 of `groups` groups, its own nonlinearity (timm's EvoNorm2dS0)"),
        ValueKind("frn", "norm", "frn", "FilterResponseNorm", doc="Filter Response Norm with its TLU, its own nonlinearity (timm's FilterResponseNormTlu2d)"),
        ValueKind("relu", "act", "relu", "nn.ReLU", doc="ReLU"),
        ValueKind("relu6", "act", "relu6", "nn.ReLU6", doc="ReLU capped at 6"),
        ValueKind("leaky_relu", "act", "leaky_relu", "nn.LeakyReLU", doc="leaky ReLU, slope 0.01"),
        ValueKind("silu", "act", "silu", "nn.SiLU", doc="SiLU (swish)"),
        ValueKind("gelu", "act", "gelu", "nn.GELU", doc="GELU (exact)"),
        ValueKind("hardswish", "act", "hardswish", "nn.Hardswish", doc="hard swish"),
        ValueKind("hardsigmoid", "act", "hardsigmoid", "nn.Hardsigmoid", doc="hard sigmoid"),
        ValueKind("mish", "act", "mish", "nn.Mish", doc="Mish"),
        ValueKind("tanh", "act", "tanh", "nn.Tanh", doc="tanh"),
        ValueKind("sigmoid", "act", "sigmoid", "nn.Sigmoid", doc="logistic sigmoid"),
    ]
}


def python_source(value: LayerValue) -> str:
    """The factory's Python source (the generated file imports `partial`)."""
    kind = VALUE_KINDS[value.kind]
    return kind.factory.format(", ".join(repr(a) for a in value.args))


def python_call(kind_name: str, args: list[str]) -> str:
    """`partial(nn.GroupNorm, {})` with ["g"]: the factory's source for argument sources."""
    return VALUE_KINDS[kind_name].factory.format(", ".join(args))


def op_params(value: LayerValue) -> dict:
    """The IR op's parameters for `value`."""
    return dict(zip(VALUE_KINDS[value.kind].params, value.args))


SLOTS = ("norm", "act")  # the unit ops a value fills, and the argument types that take one
WORDS = {"norm": "a norm", "act": "an activation"}


def from_op(op: str, params: dict) -> LayerValue:
    """The value a slot resolved to in the IR (its op and parameters)."""
    kind = next(v for v in VALUE_KINDS.values() if v.op == op)
    return LayerValue(kind.name, tuple(params[p] for p in kind.params))


def concrete(value: LayerValue) -> tuple[str, dict]:
    """The IR op and parameters of a slot filled with `value`."""
    return VALUE_KINDS[value.kind].op, op_params(value)


def describe(value) -> str:
    if isinstance(value, LayerValue):
        return f"{WORDS[value.category]} `{value}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"the number {value}"


def choices(category: str) -> str:
    names = [f"`{v.name}" + (f"({', '.join(v.params)})`" if v.params else "`") for v in VALUE_KINDS.values() if v.category == category]
    return f"{WORDS[category][WORDS[category].index(' ') + 1:]}s are " + ", ".join(names)


def inherited(params, block_args: dict) -> dict:
    """What a shortcut definition takes from the block it serves: its `norm` parameter, where
    it declares one, is the block's `norm` argument (the projection normalizes as the convs do)."""
    names = {p.name for p in params}
    return {k: block_args[k] for k in ("norm",) if k in names and isinstance(block_args.get(k), LayerValue)}


def category_of(value) -> str | None:
    return value.category if isinstance(value, LayerValue) else None


def markdown_table() -> str:
    """The table of norm and activation values in docs/language.md."""
    lines = ["| value | is a | becomes |", "|---|---|---|"]
    for v in VALUE_KINDS.values():
        args = f"({', '.join(v.params)})" if v.params else ""
        lines.append(f"| `{v.name}{args}` | {v.category} | {v.doc} |")
    return "\n".join(lines) + "\n"
