"""Every bundled spec against the published numbers (the `REFERENCE` table of tests/test_costs.py), and the IR
invariants after every pass."""

from __future__ import annotations

import pytest

import resdsl
from resdsl.compiler import compile_text
from resdsl.frontend.resources import bundled_specs
from test_costs import REFERENCE

# The published numbers, held in one table (tests/test_costs.py) for every test module.
IMAGENET = {name: REFERENCE[name] for name in REFERENCE if not name.startswith(("plain", "cifar"))}

CIFAR = {3: (269_722, 40_551_040), 5: (464_154, 68_862_592), 7: (658_586, 97_174_144),
         9: (853_018, 125_485_696), 18: (1_727_962, 252_887_680), 200: (19_421_274, None)}

# The paper's projection shortcuts of ResNet-18/34 (1x1 conv + BN at layer2/3/4 entries):
# (64*128 + 2*128) + (128*256 + 2*256) + (256*512 + 2*512) = 173,824 parameters.
PROJECTIONS_18_34 = 8_448 + 33_280 + 132_096


def test_every_bundled_spec_is_covered():
    from resdsl.frontend.zoo import ZOO  # the family specs of timm's names
    from test_zoo import MIRRORS, PAPERS  # the specs after 2015

    covered = set(IMAGENET) | {"plain18", "plain34", "cifar_resnet", "cifar_plain"} | {spec for spec, _ in list(MIRRORS) + list(PAPERS)}
    covered |= {entry.spec for entry in ZOO.values()}
    assert set(bundled_specs()) == covered


@pytest.mark.parametrize("name", sorted(IMAGENET))
def test_imagenet_counts_match_reference(name):
    net = resdsl.load(name)
    assert (net.params, net.macs) == IMAGENET[name]
    assert net.input_shape == (3, 224, 224) and net.output_shape == (1000,)


@pytest.mark.parametrize("n", sorted(CIFAR))
def test_cifar_family_matches_paper_table6(n):
    net = resdsl.load("cifar_resnet", n=n)
    params, macs = CIFAR[n]
    assert net.params == params
    if macs is not None:
        assert net.macs == macs
    layers = sum(1 for _, d in net.graph.nodes(data=True) if d["op"] in ("conv", "linear"))
    assert layers == 6 * n + 2  # option A adds no layer


@pytest.mark.parametrize("plain, resnet", [("plain18", "resnet18"), ("plain34", "resnet34")])
def test_plain_baselines_are_resnets_without_projections(plain, resnet):
    assert resdsl.load(plain).params == IMAGENET[resnet][0] - PROJECTIONS_18_34


def test_cifar_plain_has_the_same_parameters_as_option_a():
    for n in (3, 9):
        assert resdsl.load("cifar_plain", n=n).params == CIFAR[n][0]


@pytest.mark.parametrize("name", sorted(bundled_specs()))
def test_ir_invariants_hold_after_every_pass(name):
    path = bundled_specs()[name]
    net = compile_text(path.read_text(), path.name, verify_ir=True)  # verify() after each pass
    assert net.graph.number_of_nodes() > 0
