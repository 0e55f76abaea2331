"""Reference tier: resdsl's models against timm and torchvision themselves.

Each case builds a resdsl model from a spec, loads the library model's state_dict into it with
strict=True, and requires the same state_dict key order and shapes, the same convolutions
(stride, padding, dilation) and bit-identical eval outputs (torch.equal) on a fixed input.
The drop-path tests compare the per-block stochastic-depth rates with timm's.

Skipped unless timm and torchvision both import. CI's CPU torch cannot import the PyPI
torchvision wheel, so this tier runs in a separate reference environment; see
scripts/reference_manifests.py for how it is made. Select it with `-m reference`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import torch
from torch import nn


try:
    timm = pytest.importorskip("timm")  # not installed: the whole module is skipped
    torchvision = pytest.importorskip("torchvision")
    import torchvision.models  # noqa: F401
except Exception as exc:  # a torchvision built for another torch fails at import with other errors
    pytest.skip(f"timm/torchvision installed but not importable here: {exc!r}", allow_module_level=True)

import resdsl  # noqa: E402
from reference_manifest import manifest, manifest_names, state_dict_layout  # noqa: E402

pytestmark = pytest.mark.reference


@dataclass(frozen=True)
class Case:
    id: str
    spec: str                       # resdsl spec name
    library: str                    # "timm" or "torchvision"
    model: str                      # the library's model name
    spec_kwargs: dict = field(default_factory=dict)     # for resdsl.build
    library_kwargs: dict = field(default_factory=dict)  # for timm.create_model / torchvision.models.X

    def build_library(self) -> nn.Module:
        if self.library == "timm":
            return timm.create_model(self.model, pretrained=False, **self.library_kwargs)
        return getattr(torchvision.models, self.model)(weights=None, **self.library_kwargs)


OS16 = {"replace_stride_with_dilation": [False, False, True]}
OS8 = {"replace_stride_with_dilation": [False, True, True]}

CASES = [
    Case("resnet18d", "resnet18d", "timm", "resnet18d"),
    Case("resnet26d", "resnet26d", "timm", "resnet26d"),
    Case("resnet50d", "resnet50d", "timm", "resnet50d"),
    Case("seresnet50", "seresnet50", "timm", "seresnet50"),
    Case("seresnext50_32x4d", "seresnext50_32x4d", "timm", "seresnext50_32x4d"),
    Case("resnetv2_50", "resnetv2_50", "timm", "resnetv2_50"),
    # DropPath has no state and is the identity in eval: same layout, same outputs.
    Case("resnet50-drop_path", "resnet50", "timm", "resnet50", {"drop_path_rate": 0.1}, {"drop_path_rate": 0.1}),
    Case("tv_resnet50", "resnet50", "torchvision", "resnet50"),
    Case("tv_resnet50_os16", "resnet50", "torchvision", "resnet50", {"output_stride": 16}, OS16),
    Case("tv_resnet50_os8", "resnet50", "torchvision", "resnet50", {"output_stride": 8}, OS8),
    Case("tv_resnet101_os16", "resnet101", "torchvision", "resnet101", {"output_stride": 16}, OS16),
    Case("tv_resnet101_os8", "resnet101", "torchvision", "resnet101", {"output_stride": 8}, OS8),
]

# case id -> torch.testing.assert_close keywords, for a case that cannot be bit-identical.
# Empty: every case must match exactly. Add an entry only with a reason next to it.
TOLERANCES: dict[str, dict] = {}


def _randomize(model: nn.Module, seed: int) -> None:
    """Give every norm layer and bias non-trivial values (libraries zero-init some BN weights,
    which would hide a wrong residual branch); conv and linear weights keep their seeded init."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.weight.copy_(torch.rand(module.weight.shape, generator=g) * 0.5 + 0.25)
                module.bias.copy_(torch.randn(module.bias.shape, generator=g) * 0.1)
                module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=g) * 0.1)
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=g) * 0.5 + 0.75)
            elif isinstance(module, (nn.Conv2d, nn.Linear)) and module.bias is not None:
                module.bias.copy_(torch.randn(module.bias.shape, generator=g) * 0.1)


def _convs(model: nn.Module) -> list:
    return [
        [name, list(m.stride), m.padding if isinstance(m.padding, str) else list(m.padding), list(m.dilation)]
        for name, m in model.named_modules()
        if isinstance(m, nn.Conv2d)
    ]


def _first_difference(ours: list, theirs: list) -> str:
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if a != b:
            return f"entry {i}: resdsl {a} vs library {b}"
    return f"lengths differ: resdsl {len(ours)} vs library {len(theirs)} (next: {(ours + theirs)[min(len(ours), len(theirs))]})"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_spec_reproduces_the_library_model(case: Case):
    torch.manual_seed(0)
    theirs = case.build_library()
    _randomize(theirs, seed=1)
    ours = resdsl.build(case.spec, **case.spec_kwargs)

    layout_ours, layout_theirs = state_dict_layout(ours), state_dict_layout(theirs)
    assert layout_ours == layout_theirs, (
        f"{case.id}: state_dict key order/shapes differ from {case.library} {case.model}: "
        + _first_difference(layout_ours, layout_theirs)
    )
    ours.load_state_dict(theirs.state_dict(), strict=True)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())
    convs_ours, convs_theirs = _convs(ours), _convs(theirs)
    assert convs_ours == convs_theirs, f"{case.id}: conv stride/padding/dilation: " + _first_difference(
        convs_ours, convs_theirs
    )

    ours.eval()
    theirs.eval()
    torch.manual_seed(0)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        expected = theirs(x.clone())
        actual = ours(x.clone())
    assert actual.shape == expected.shape
    assert torch.isfinite(expected).all()
    if case.id in TOLERANCES:
        torch.testing.assert_close(actual, expected, **TOLERANCES[case.id])
    else:
        assert torch.equal(actual, expected), (
            f"{case.id}: eval outputs differ from {case.library} {case.model} "
            f"(max abs diff {(actual - expected).abs().max().item():.3g}); they must be bit-identical"
        )


# ---- every covered timm name (resdsl.frontend.zoo) -------------------------------------------------

from resdsl.frontend import zoo  # noqa: E402


@pytest.mark.parametrize("name", sorted(zoo.ZOO))
def test_zoo_name_reproduces_timm(name):
    """The name as a user gives it (`resdsl.build("resnet101d")`): timm's layout, a strict load
    and bit-identical eval outputs at 160x160 after randomising the norms. Models in
    `zoo.META_ONLY` (resnext101_32x32d, 468M parameters) are compared on the meta device: keys,
    shapes and convs."""
    if name in zoo.META_ONLY:
        with torch.device("meta"):
            theirs, ours = timm.create_model(name, pretrained=False), resdsl.build(name)
        assert state_dict_layout(ours) == state_dict_layout(theirs)
        assert _convs(ours) == _convs(theirs)
        return
    torch.manual_seed(0)
    theirs = timm.create_model(name, pretrained=False)
    _randomize(theirs, seed=1)
    ours = resdsl.build(name)
    layout_ours, layout_theirs = state_dict_layout(ours), state_dict_layout(theirs)
    assert layout_ours == layout_theirs, f"{name}: " + _first_difference(layout_ours, layout_theirs)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    assert _convs(ours) == _convs(theirs)
    ours.eval()
    theirs.eval()
    x = torch.randn(1, 3, 160, 160, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected, actual = theirs(x.clone()), ours(x.clone())
    assert torch.isfinite(expected).all()
    assert torch.equal(actual, expected), f"{name}: max abs diff {(actual - expected).abs().max().item():.3g}"


# ---- drop path ---------------------------------------------------------------------------

# TODO: these names must match the DropPath module resdsl generates: its class name, and the
# attribute that holds its probability (tried in this order). Update them when resdsl's
# DropPath lands if it spells them differently.
DROP_PATH_CLASS = "DropPath"
DROP_PATH_ATTRS = ("p", "drop_prob")


def _timm_block_rates(model: nn.Module) -> list[tuple[str, float]]:
    """timm ResNet: (block path, rate) per block; a block without DropPath (None or Identity) is 0."""
    rates = []
    for stage in ("layer1", "layer2", "layer3", "layer4"):
        for index, block in enumerate(getattr(model, stage)):
            drop_path = getattr(block, "drop_path", None)
            rates.append((f"{stage}.{index}", float(getattr(drop_path, "drop_prob", 0.0))))
    return rates


def resdsl_block_rate(block: nn.Module) -> float:
    """The drop-path probability of one resdsl block: its DropPath module's `p` (0.0 if none)."""
    found = [m for m in block.modules() if type(m).__name__ == DROP_PATH_CLASS]
    if not found:
        return 0.0
    assert len(found) == 1, f"{len(found)} {DROP_PATH_CLASS} modules in one block"
    for attr in DROP_PATH_ATTRS:
        if hasattr(found[0], attr):
            return float(getattr(found[0], attr))
    raise AssertionError(f"{DROP_PATH_CLASS} has none of {DROP_PATH_ATTRS}; update DROP_PATH_ATTRS")


@pytest.mark.parametrize("spec, rate", [("resnet50", 0.1), ("resnet18", 0.2), ("resnet50d", 0.1), ("resnet18d", 0.1), ("resnet26d", 0.1), ("resnet101d", 0.1), ("resnet10t", 0.1)])
def test_drop_path_rates_match_timm(spec, rate):
    theirs = timm.create_model(spec, pretrained=False, drop_path_rate=rate)
    ours = resdsl.build(spec, drop_path_rate=rate)
    expected = _timm_block_rates(theirs)
    actual = [(path, resdsl_block_rate(ours.get_submodule(path))) for path, _ in expected]
    # timm computes rate * index / (blocks - 1) in Python floats; allow only rounding-level slack
    # for a different but equivalent order of operations.
    assert [p for p, _ in actual] == [p for p, _ in expected]
    for (path, got), (_, want) in zip(actual, expected):
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12), f"{spec} {path}: resdsl {got} vs timm {want}"
    blocks_with_drop_path = sum(1 for m in ours.modules() if type(m).__name__ == DROP_PATH_CLASS)
    assert blocks_with_drop_path <= len(expected), "DropPath modules outside the residual blocks"
    assert blocks_with_drop_path >= sum(1 for _, want in expected if want > 0), "missing DropPath modules"


# ---- the committed manifests describe the installed libraries ------------------------------

def _generator():
    import importlib.util

    from reference_manifest import GENERATOR

    spec = importlib.util.spec_from_file_location("reference_manifests", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


VERSION_FIELDS = ("library_version", "torch_version")


@pytest.mark.parametrize("name", manifest_names())
def test_manifest_matches_the_installed_library(name):
    gen = _generator()
    if name == "timm_drop_path_rates":
        fresh = gen.drop_path_manifest()
    elif name == "timm_zoo":
        fresh = gen.zoo_manifest()
    elif name.startswith("timm_"):
        fresh = gen.timm_manifest(name.removeprefix("timm_"))
    else:
        fresh = gen.torchvision_manifest(name)
    recorded = manifest(name)
    for key in VERSION_FIELDS:
        recorded.pop(key)
        fresh.pop(key)
    assert fresh == recorded, (
        f"tests/manifests/{name}.json no longer matches the installed {fresh['library']}; "
        "regenerate with scripts/reference_manifests.py and review the diff"
    )
