"""`ir.verify` runs after every pass and catches a pass that leaves the graph inconsistent."""

from __future__ import annotations

import pytest

import resdsl
from resdsl.ir.verify import FACTS, IRInvariantError, verify
from resdsl.passes import PASSES


@pytest.fixture()
def resnet18():
    return resdsl.load("resnet18")


def test_a_checked_network_holds_every_fact(resnet18):
    verify(resnet18.graph, facts=tuple(FACTS))


def test_every_fact_is_established_by_a_pass():
    assert {fact for step in PASSES for fact in step.establishes} == set(FACTS)


def test_uncounted_costs_and_wrong_totals_are_caught(resnet18):
    g = resnet18.graph
    g.graph["total_params"] += 1
    with pytest.raises(IRInvariantError, match=r"total_params 11689513 is not the nodes' sum 11689512"):
        verify(g, facts=("costs",))
    del g.nodes["fc"]["cost_params"]
    with pytest.raises(IRInvariantError, match="fc: costs not counted"):
        verify(g, facts=("costs",))


def test_an_undecided_shortcut_is_caught(resnet18):
    block = resnet18.graph.graph["blocks"]["layer2.0"]
    block.shortcut = "none"
    with pytest.raises(IRInvariantError, match=r"block layer2.0: add without a decided shortcut \('none'\)"):
        verify(resnet18.graph, facts=("shortcuts",))


def test_a_missing_shape_is_caught(resnet18):
    resnet18.graph.nodes["layer1.0.conv1"]["shape"] = None
    with pytest.raises(IRInvariantError, match=r"layer1.0.conv1: shape None is not inferred"):
        verify(resnet18.graph, facts=("shapes",))


def test_only_validation_stops_the_pipeline_on_error():
    stops = [step.name for step in PASSES if step.stops_on_error]
    assert stops == ["validate_residuals"]
