"""The model zoo by library name: each timm model a bundled family spec with parameters.

`ZOO` maps a timm model name to the bundled spec that builds it and the parameters that make
it that model (`resnet101d` is `timm_resnet_d` with `n3 = 23`). `resdsl build resnet101d`,
`resdsl.build("resnet101d")` and every other command resolve such a name through
`resdsl.compiler.resolve_spec`: a bundled spec's own name comes first, then this table.
`UNCOVERED` names the models of the same timm modules that the language cannot yet express,
each with what is missing. Together they hold every name of `TIMM_MODULES` in timm 1.0.31
(tests/test_zoo.py checks that against the committed manifests; docs/zoo.md is generated from
this module by `python -m resdsl.frontend.zoo`).

Invariants: a name is in exactly one of `ZOO` and `UNCOVERED`; a `ZOO` entry's spec is a
bundled spec, and its parameters are parameters of that spec's network.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from resdsl.ir.layer_values import LayerValue

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
BLUR = {"blur": True}  # anti-aliasing by a blur pool (timm's BlurPool2d) where AA uses a 2x2 average pool
RS = {"stem_pool": True, "se": True, "se_div": 4}  # ResNet-RS: SE with rd_ratio 0.25
ECA = {"eca": True}
GN = {"norm": LayerValue("groupnorm", (32,))}  # GroupNorm(32) in place of every batch norm


def _x(groups: int, base_width: int) -> dict:
    return {"groups": groups, "base_width": base_width}


_RESNET = {
    # bundled specs of their own: ECA-ResNet-D with timm's pruned widths, a pair per block (`pick`)
    "ecaresnet50d_pruned": {"ecaresnet50d_pruned": {}},
    "ecaresnet101d_pruned": {"ecaresnet101d_pruned": {}},
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
        "resnetblur18": {**BASIC, **R18, **BLUR},
        "resnetblur50": BLUR,
        "resnet50_gn": GN,
        "ecaresnetlight": {**_layers(1, 1, 11, 3), **ECA, "avg_down": True},
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
    # SENet-154: deep stem of 64, 3x3 projections, the first conv at half width
    "timm_senet": {"senet154": {}},
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
        "resnetblur50d": BLUR,
        "resnetblur101d": {**R101, **BLUR},
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
        "ecaresnet26t": {**R26, **TIERED, **ECA},
        "ecaresnet50d": ECA,
        "ecaresnet50t": {**TIERED, **ECA},
        "ecaresnet101d": {**R101, **ECA},
        "ecaresnet200d": {**R200, **ECA},
        "ecaresnet269d": {**_layers(3, 30, 48, 8), **ECA},
        "ecaresnext26t_32x4d": {**R26, **_x(32, 4), **TIERED, **ECA},
        "ecaresnext50t_32x4d": {**_x(32, 4), **TIERED, **ECA},
        # timm's tiny test model: a block kind per stage
        "test_resnet": {**BASIC, "bottleneck3": True, **_layers(1, 1, 1, 1), "c1": 32, "c2": 48, "c3": 48, "c4": 96, "stem_width": 16},
    },
}

# the bundled pre-activation spec, named after its timm model
_RESNETV2 = {
    "resnetv2_50": {"resnetv2_50": {}},
    # 7x7 stem, 1x1 projections
    "timm_resnetv2": {
        "resnetv2_18": {**BASIC, **R18},
        "resnetv2_34": {**BASIC, **R34},
        "resnetv2_101": R101,
        "resnetv2_152": R152,
    },
    # deep or tiered stem, average-pool shortcuts
    "timm_resnetv2_d": {
        "resnetv2_18d": {**BASIC, **R18},
        "resnetv2_34d": {**BASIC, **R34},
        "resnetv2_50d": {},
        "resnetv2_50t": TIERED,
        "resnetv2_101d": R101,
        "resnetv2_152d": R152,
    },
    # BiT: weight-standardised convs, group norm + ReLU, widths times `wf`
    "timm_resnetv2_bit": {
        "resnetv2_50x1_bit": {},
        "resnetv2_50x3_bit": {"wf": 3},
        "resnetv2_101x1_bit": R101,
        "resnetv2_101x3_bit": {**R101, "wf": 3},
        "resnetv2_152x2_bit": {**R152, "wf": 2},
        "resnetv2_152x4_bit": {**R152, "wf": 4},
    },
    # deep stem, average-pool shortcuts, every norm a value: group norm + ReLU, or a norm that is its own nonlinearity
    "timm_resnetv2_norm": {
        "resnetv2_50d_gn": {},
        "resnetv2_50d_evos": {"norm": LayerValue("evonorm_s0", (32,)), "own_act": True},
        "resnetv2_50d_frn": {"norm": LayerValue("frn"), "own_act": True},
    },
}

# Res2Net: the 7x7 stem with 1x1 projections, or the deep stem with average-pool shortcuts
_RES2NET = {
    "timm_res2net": {
        "res2net50_26w_4s": {},
        "res2net101_26w_4s": R101,
        "res2net50_26w_6s": {"scale": 6},
        "res2net50_26w_8s": {"scale": 8},
        "res2net50_48w_2s": {"base_width": 48, "scale": 2},
        "res2net50_14w_8s": {"base_width": 14, "scale": 8},
        "res2next50": {"base_width": 4, "cardinality": 8},
    },
    "timm_res2net_d": {
        "res2net50d": {},
        "res2net101d": R101,
    },
}


def _r(w0: int, wa: float, wm: float, depth: int, group_size: int, **extra) -> dict:
    """timm's RegNetCfg numbers: the design-space parameters the widths and depths follow from."""
    return {"w0": w0, "wa": wa, "wm": wm, "depth": depth, "group_size": group_size, **extra}


Y = {"se_ratio": 0.25}  # RegNetY: squeeze-and-excitation at a quarter of the block's input width
TV = {"group_min_ratio": 0.9}  # torchvision's weights: its rounding of widths to the group size
Z = {"bottle_ratio": 4.0, "se_ratio": 0.25}  # RegNetZ: bottlenecks four times the stage's width
SGN = {"norm": LayerValue("groupnorm_size", (16,)), "act": LayerValue("silu")}  # GroupNorm of 16 channels a group, SiLU

# RegNetX and RegNetY with batch norm and ReLU (regnety_040_sgn: group norm and SiLU)
_REGNET = {
    "timm_regnet": {
        "regnetx_002": _r(24, 36.44, 2.49, 13, 8),
        "regnetx_004": _r(24, 24.48, 2.54, 22, 16),
        "regnetx_004_tv": _r(24, 24.48, 2.54, 22, 16, **TV),
        "regnetx_006": _r(48, 36.97, 2.24, 16, 24),
        "regnetx_008": _r(56, 35.73, 2.28, 16, 16),
        "regnetx_016": _r(80, 34.01, 2.25, 18, 24),
        "regnetx_032": _r(88, 26.31, 2.25, 25, 48),
        "regnetx_040": _r(96, 38.65, 2.43, 23, 40),
        "regnetx_064": _r(184, 60.83, 2.07, 17, 56),
        "regnetx_080": _r(80, 49.56, 2.88, 23, 120),
        "regnetx_120": _r(168, 73.36, 2.37, 19, 112),
        "regnetx_160": _r(216, 55.59, 2.1, 22, 128),
        "regnetx_320": _r(320, 69.86, 2.0, 23, 168),
        "regnety_002": _r(24, 36.44, 2.49, 13, 8, **Y),
        "regnety_004": _r(48, 27.89, 2.09, 16, 8, **Y),
        "regnety_006": _r(48, 32.54, 2.32, 15, 16, **Y),
        "regnety_008": _r(56, 38.84, 2.4, 14, 16, **Y),
        "regnety_008_tv": _r(56, 38.84, 2.4, 14, 16, **Y, **TV),
        "regnety_016": _r(48, 20.71, 2.65, 27, 24, **Y),
        "regnety_032": _r(80, 42.63, 2.66, 21, 24, **Y),
        "regnety_040": _r(96, 31.41, 2.24, 22, 64, **Y),
        "regnety_040_sgn": _r(96, 31.41, 2.24, 22, 64, **Y, **SGN),
        "regnety_064": _r(112, 33.22, 2.27, 25, 72, **Y),
        "regnety_080": _r(192, 76.82, 2.19, 17, 56, **Y),
        "regnety_080_tv": _r(192, 76.82, 2.19, 17, 56, **Y, **TV),
        "regnety_120": _r(168, 73.36, 2.37, 19, 112, **Y),
        "regnety_160": _r(200, 106.23, 2.48, 18, 112, **Y),
        "regnety_320": _r(232, 115.89, 2.53, 20, 232, **Y),
        "regnety_640": _r(352, 147.48, 2.4, 20, 328, **Y),
        "regnety_1280": _r(456, 160.83, 2.52, 27, 264, **Y),
        "regnety_2560": _r(640, 230.83, 2.53, 27, 373, **Y),
    },
    # pre-activation RegNetY with SiLU (timm's RegNetV): 1x1 projections without norm
    "timm_regnetv": {
        "regnetv_040": _r(96, 31.41, 2.24, 22, 64, **Y),
    },
    # the same with average-pool shortcuts (timm's downsample='avg')
    "timm_regnetv_d": {
        "regnetv_064": _r(112, 33.22, 2.27, 25, 72, **Y),
    },
    # RegNetZ: inverted bottlenecks (4x), SiLU, no shortcut where the shape changes
    "timm_regnetz": {
        "regnetz_005": _r(16, 10.7, 2.51, 21, 4, **Z, num_features=1024),
        "regnetz_040": _r(48, 14.5, 2.226, 28, 8, **Z),
        "regnetz_040_h": _r(48, 14.5, 2.226, 28, 8, **Z, num_features=1536),
    },
}

# name -> (timm module, what the language lacks)
_RESNEST = {
    "timm_resnest": {
        "resnest14d": _layers(1, 1, 1, 1),
        "resnest26d": R26,
        "resnest50d": {},
        "resnest101e": {**R101, "stem_width": 64},
        "resnest200e": {**R200, "stem_width": 64},
        "resnest269e": {**_layers(3, 30, 48, 8), "stem_width": 64},
        "resnest50d_4s2x40d": {"base_width": 40, "cardinality": 2, "radix": 4, "pool_first": True},
        "resnest50d_1s4x24d": {"base_width": 24, "cardinality": 4, "radix": 1, "pool_first": True},
    },
}

_SKNET = {
    # selective-kernel blocks: basic ones, bottlenecks, bottlenecks with the deep stem and average-pool shortcuts
    "timm_sknet": {"skresnet18": {}, "skresnet34": R34},
    "timm_sknet_bottleneck": {
        "skresnet50": {},
        "skresnext50_32x4d": {**_x(32, 4), "rd_divisor": 32, "split_input": False},
    },
    "timm_sknet_d": {"skresnet50d": {}},
}

UNCOVERED = {
}

_SENET = {
    # the legacy layout (`layer0`, `pool0` rounding up, `se_module`, `last_linear`)
    "timm_legacy_senet": {
        "legacy_seresnet18": {**BASIC, **R18},
        "legacy_seresnet34": {**BASIC, **R34},
        "legacy_seresnet50": {},
        "legacy_seresnet101": R101,
        "legacy_seresnet152": R152,
        "legacy_seresnext26_32x4d": {**R26, **_x(32, 4)},
        "legacy_seresnext50_32x4d": _x(32, 4),
        "legacy_seresnext101_32x4d": {**R101, **_x(32, 4)},
        "legacy_senet154": {**R152, "groups": 64, "senet": True},
    },
}

# Covered models the reference tier compares on the meta device only (keys and shapes): the
# 468M-parameter resnext101_32x32d needs about 4 GB for timm's model and resdsl's, regnety_1280
# (645M) and regnety_2560 (1.28G) more. (resnext101_32x32d's eval outputs were found
# bit-identical once, at 160x160, as for every other covered name.) resnetv2_152x4_bit (937M)
# likewise.
META_ONLY = frozenset({"resnext101_32x32d", "regnety_1280", "regnety_2560", "resnetv2_152x4_bit"})


def _zoo() -> dict[str, ZooEntry]:
    out = {}
    for module, families in (("resnet", _RESNET), ("resnetv2", _RESNETV2), ("res2net", _RES2NET), ("resnest", _RESNEST), ("sknet", _SKNET), ("regnet", _REGNET), ("senet", _SENET)):
        for spec, names in families.items():
            for name, params in names.items():
                out[name] = ZooEntry(name, module, spec, dict(params))
    return out


ZOO: dict[str, ZooEntry] = _zoo()


def lookup(name: str) -> ZooEntry | None:
    """The zoo entry of a library model name, or None."""
    return ZOO.get(name)


def names_by_module() -> dict[str, list[str]]:
    """Every name of `ZOO` and `UNCOVERED`, by timm module (modules in `TIMM_MODULES` order)."""
    out: dict[str, list[str]] = {m: [] for m in TIMM_MODULES}
    for entry in ZOO.values():
        out[entry.module].append(entry.name)
    for name, (module, _) in UNCOVERED.items():
        out[module].append(name)
    return {m: sorted(names) for m, names in out.items()}


def _params_text(params: dict) -> str:
    return ", ".join(f"{k} = {str(v).lower() if isinstance(v, bool) else v}" for k, v in params.items()) or "(defaults)"


def zoo_markdown(bundled: set[str]) -> str:
    """docs/zoo.md: coverage per timm module, then a row per model (`bundled`: the spec names)."""
    by_module = names_by_module()
    total = sum(map(len, by_module.values()))
    lines = [
        "# The model zoo: timm's ResNet and RegNet families",
        "",
        "<!-- Generated by `python -m resdsl.frontend.zoo` from resdsl/frontend/zoo.py; tests/test_zoo.py keeps it true. -->",
        "",
        f"Every model of timm {TIMM_VERSION}'s modules {', '.join(f'`{m}`' for m in TIMM_MODULES)} ({total} names).",
        "A covered name works wherever a spec is named (`resdsl build resnet101d`, `resdsl.build(\"resnetrs50\")`):",
        "it is a bundled family spec with parameters, or a bundled spec of that name, which comes first.",
        "",
        "Covered means exact: the same `state_dict` keys in the same order with the same shapes as",
        "timm's model (ordinary CI, against `tests/manifests/timm_zoo.json`), and in the reference tier",
        "(`-m reference`, timm installed) a strict load of timm's weights and bit-identical eval outputs",
        f"after randomising the norm statistics. {', '.join(f'`{n}`' for n in sorted(META_ONLY))} (over 400M parameters)",
        "are compared on the meta device there (keys and shapes only): marked (meta) below.",
        "",
        "| timm module | covered | total |",
        "|---|---:|---:|",
    ]
    for module, names in by_module.items():
        lines.append(f"| `{module}` | {sum(n in ZOO for n in names)} | {len(names)} |")
    lines.append(f"| all | {len(ZOO)} | {total} |")
    for module, names in by_module.items():
        lines += ["", f"## `{module}`", "", "| model | spec | parameters | checked |", "|---|---|---|---|"]
        for name in names:
            entry = ZOO.get(name)
            if entry is None:
                lines.append(f"| `{name}` | not covered | {UNCOVERED[name][1]} | |")
                continue
            spec = f"`{entry.spec}`"
            if name in bundled and name != entry.spec:  # resolution takes the bundled spec first
                spec = f"`{name}` (bundled), also {spec}"
            elif name in bundled:
                spec += " (bundled)"
            checked = "keys, shapes (meta)" if name in META_ONLY else "keys, shapes, outputs"
            lines.append(f"| `{name}` | {spec} | {_params_text(entry.params)} | {checked} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m resdsl.frontend.zoo > docs/zoo.md
    import sys

    from resdsl.frontend.resources import bundled_specs

    sys.stdout.write(zoo_markdown(set(bundled_specs())))
