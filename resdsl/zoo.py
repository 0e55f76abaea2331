"""The model zoo by library name: each timm model a bundled family spec with parameters.

`ZOO` maps a timm model name to the bundled spec that builds it and the parameters that make
it that model (`resnet101d` is `timm_resnet_d` with `n3 = 23`). `resdsl build resnet101d`,
`resdsl.build("resnet101d")` and every other command resolve such a name through
`resdsl.compiler.resolve_spec`: a bundled spec's own name comes first, then this table.
`UNCOVERED` names the models of the same timm modules that the language cannot yet express,
each with what is missing. Together they hold every name of `TIMM_MODULES` in timm 1.0.31
(tests/test_zoo.py checks that against the committed manifests; docs/zoo.md is generated from
this module by `python -m resdsl.zoo`).

Invariants: a name is in exactly one of `ZOO` and `UNCOVERED`; a `ZOO` entry's spec is a
bundled spec, and its parameters are parameters of that spec's network.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TIMM_VERSION = "1.0.31"

# timm's modules, in the order docs/zoo.md lists them.
TIMM_MODULES = ("resnet", "resnetv2", "res2net", "resnest", "sknet", "regnet", "senet")


@dataclass(frozen=True)
class ZooEntry:
    """A library model as a bundled spec with parameters."""

    name: str  # the library's model name
    module: str  # its timm module
    spec: str  # the bundled spec (a file stem of specs/)
    params: dict = field(default_factory=dict)


def _layers(n1: int, n2: int, n3: int, n4: int) -> dict:
    return {"n1": n1, "n2": n2, "n3": n3, "n4": n4}


R18, R34, R26 = _layers(2, 2, 2, 2), _layers(3, 4, 6, 3), _layers(2, 2, 2, 2)
R101, R152, R200 = _layers(3, 4, 23, 3), _layers(3, 8, 36, 3), _layers(3, 24, 36, 3)
BASIC = {"bottleneck": False}
TIERED = {"tiered": True}
SE = {"se": True}
AA = {"aa": True}
RS = {"stem_pool": True, "se": True, "se_div": 4}  # ResNet-RS: SE with rd_ratio 0.25


def _x(groups: int, base_width: int) -> dict:
    return {"groups": groups, "base_width": base_width}


_RESNET = {
    # 7x7 stem, 1x1 projection shortcuts (timm's default, torchvision's layout)
    "timm_resnet": {
        "resnet18": {**BASIC, **R18},
        "resnet26": R26,
        "resnet34": {**BASIC, **R34},
        "resnet50": {},
        "resnet101": R101,
        "resnet152": R152,
        "resnet200": R200,
        "wide_resnet50_2": {"base_width": 128},
        "wide_resnet101_2": {**R101, "base_width": 128},
        "resnext50_32x4d": _x(32, 4),
        "resnext101_32x4d": {**R101, **_x(32, 4)},
        "resnext101_32x8d": {**R101, **_x(32, 8)},
        "resnext101_32x16d": {**R101, **_x(32, 16)},
        "resnext101_32x32d": {**R101, **_x(32, 32)},
        "resnext101_64x4d": {**R101, **_x(64, 4)},
        "seresnet18": {**BASIC, **R18, **SE},
        "seresnet34": {**BASIC, **R34, **SE},
        "seresnet50": SE,
        "seresnet101": {**R101, **SE},
        "seresnet152": {**R152, **SE},
        "seresnext50_32x4d": {**_x(32, 4), **SE},
        "seresnext101_32x4d": {**R101, **_x(32, 4), **SE},
        "seresnext101_32x8d": {**R101, **_x(32, 8), **SE},
        "seresnext101_64x4d": {**R101, **_x(64, 4), **SE},
        "resnetaa50": AA,
    },
    # deep stem (C: 32, 32, 64; S: 64, 64, 128), 1x1 projection shortcuts
    "timm_resnet_c": {
        "resnet50c": {},
        "resnet50s": {"stem_width": 64},
        "resnet101c": R101,
        "resnet101s": {**R101, "stem_width": 64},
        "resnet152c": R152,
        "resnet152s": {**R152, "stem_width": 64},
    },
    # deep stem, average-pool shortcuts (D, T, ResNet-RS)
    "timm_resnet_d": {
        "resnet10t": {**BASIC, **_layers(1, 1, 1, 1), **TIERED},
        "resnet14t": {**_layers(1, 1, 1, 1), **TIERED},
        "resnet18d": {**BASIC, **R18},
        "resnet26d": R26,
        "resnet26t": {**R26, **TIERED},
        "resnet34d": {**BASIC, **R34},
        "resnet50d": {},
        "resnet50t": TIERED,
        "resnet101d": R101,
        "resnet152d": R152,
        "resnet200d": R200,
        "resnext50d_32x4d": _x(32, 4),
        "seresnet50t": {**TIERED, **SE},
        "seresnet152d": {**R152, **SE},
        "seresnet200d": {**R200, **SE},
        "seresnet269d": {**_layers(3, 30, 48, 8), **SE},
        "seresnext26d_32x4d": {**R26, **_x(32, 4), **SE},
        "seresnext26t_32x4d": {**R26, **_x(32, 4), **SE, **TIERED},
        "seresnext101d_32x8d": {**R101, **_x(32, 8), **SE},
        "resnetaa34d": {**BASIC, **R34, **AA},
        "resnetaa50d": AA,
        "resnetaa101d": {**R101, **AA},
        "seresnetaa50d": {**AA, **SE},
        "seresnextaa101d_32x8d": {**R101, **_x(32, 8), **AA, **SE},
        "seresnextaa201d_32x8d": {**_layers(3, 24, 36, 4), **_x(32, 8), **AA, **SE, "stem_width": 64},
        "resnetrs50": RS,
        "resnetrs101": {**R101, **RS},
        "resnetrs152": {**R152, **RS},
        "resnetrs200": {**R200, **RS},
        "resnetrs270": {**_layers(4, 29, 53, 4), **RS},
        "resnetrs350": {**_layers(4, 36, 72, 4), **RS},
        "resnetrs420": {**_layers(4, 44, 87, 4), **RS},
    },
}

_ECA = "ECA attention (a 1-D conv across channels, kernel size from log2 of the channels)"
_BLUR = "a fixed-filter blur pool (BlurPool2d: a buffer that is not saved, reflect padding)"

# name -> (timm module, what the language lacks)
UNCOVERED = {
    **{name: ("resnet", _ECA) for name in (
        "ecaresnet26t", "ecaresnet50d", "ecaresnet50t", "ecaresnet101d", "ecaresnet200d", "ecaresnet269d",
        "ecaresnetlight", "ecaresnext26t_32x4d", "ecaresnext50t_32x4d")},
    "ecaresnet50d_pruned": ("resnet", _ECA + ", and per-layer pruned widths"),
    "ecaresnet101d_pruned": ("resnet", _ECA + ", and per-layer pruned widths"),
    **{name: ("resnet", _BLUR) for name in ("resnetblur18", "resnetblur50", "resnetblur50d", "resnetblur101d")},
    "resnet50_gn": ("resnet", "GroupNorm in place of batch norm (norm as a value)"),
}


def _zoo() -> dict[str, ZooEntry]:
    out = {}
    for module, families in (("resnet", _RESNET),):
        for spec, names in families.items():
            for name, params in names.items():
                out[name] = ZooEntry(name, module, spec, dict(params))
    return out


ZOO: dict[str, ZooEntry] = _zoo()


def lookup(name: str) -> ZooEntry | None:
    """The zoo entry of a library model name, or None."""
    return ZOO.get(name)
