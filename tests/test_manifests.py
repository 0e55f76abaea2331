"""The reference manifests in tests/manifests/ are well-formed, self-consistent and current.

They are written by scripts/reference_manifests.py in the reference environment (timm and
torchvision); these checks need neither, so they run in ordinary CI. A manifest whose
parameter count disagrees with its own shapes was edited by hand; one whose generator hash
differs from the script's was written by an older script and must be regenerated.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math

import pytest

from reference_manifest import GENERATOR, MANIFESTS, is_parameter_key, manifest, manifest_names

EXPECTED = {
    "timm_resnet18d", "timm_resnet26d", "timm_resnet50d", "timm_resnet101d", "timm_resnet26",
    "timm_resnet50", "timm_seresnet50", "timm_seresnext50_32x4d", "timm_resnetv2_50",
    "tv_resnet50", "tv_resnet50_os8", "tv_resnet50_os16", "tv_resnet101_os8", "tv_resnet101_os16",
    "timm_drop_path_rates", "timm_zoo",
}
NAMES = manifest_names()
STATE_DICT = [n for n in NAMES if n not in ("timm_drop_path_rates", "timm_zoo")]
REGENERATE = (
    "regenerate them with scripts/reference_manifests.py, run by a python that has timm and "
    "torchvision (see its docstring)"
)


def _generator():
    """scripts/reference_manifests.py as a module (it imports timm and torchvision only when run)."""
    spec = importlib.util.spec_from_file_location("reference_manifests", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_expected_manifest_is_present():
    assert EXPECTED <= set(NAMES), f"missing manifests {sorted(EXPECTED - set(NAMES))}; {REGENERATE}"


@pytest.mark.parametrize("name", NAMES)
def test_manifest_header_and_layout(name):
    text = (MANIFESTS / f"{name}.json").read_text(encoding="utf-8")
    data = json.loads(text)
    assert _generator().dumps(data) == text, f"{name}.json is not laid out as the generator writes it; {REGENERATE}"
    assert data["name"] == name.removeprefix("timm_") or data["name"] == name
    assert data["library"] in ("timm", "torchvision")
    assert isinstance(data["library_version"], str) and data["library_version"]
    assert data["kind"] in ("state_dict", "drop_path_rates", "zoo")


@pytest.mark.parametrize("name", NAMES)
def test_manifest_was_written_by_the_current_generator(name):
    current = hashlib.sha256(GENERATOR.read_bytes()).hexdigest()
    recorded = manifest(name)["generator_sha256"]
    assert recorded == current, (
        f"tests/manifests/{name}.json was written by another version of "
        f"scripts/reference_manifests.py (sha256 {recorded[:12]}..., now {current[:12]}...); {REGENERATE}"
    )


@pytest.mark.parametrize("name", STATE_DICT)
def test_state_dict_manifest_is_self_consistent(name):
    m = manifest(name)
    assert m["kind"] == "state_dict"
    assert isinstance(m["constructor"], str) and m["constructor"]
    entries = m["state_dict"]
    assert m["state_dict_entries"] == len(entries) > 0
    keys = [key for key, _ in entries]
    assert len(set(keys)) == len(keys), "duplicate state_dict keys"
    for key, shape in entries:
        assert isinstance(key, str) and key
        assert isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape), (key, shape)
    params = sum(math.prod(shape) for key, shape in entries if is_parameter_key(key))
    assert m["params"] == params, (
        f"{name}: recorded params {m['params']:,} but the parameter shapes add up to {params:,}; "
        f"the manifest was edited by hand; {REGENERATE}"
    )


@pytest.mark.parametrize("name", [n for n in STATE_DICT if n.startswith("tv_")])
def test_torchvision_manifest_lists_every_conv(name):
    m = manifest(name)
    weights = {key.removesuffix(".weight") for key, shape in m["state_dict"] if len(shape) == 4}
    convs = m["convs"]
    assert {row[0] for row in convs} == weights
    for conv, stride, padding, dilation in convs:
        assert len(stride) == len(dilation) == 2 and len(padding) == 2, conv


def test_drop_path_manifest_is_well_formed():
    m = manifest("timm_drop_path_rates")
    assert m["kind"] == "drop_path_rates"
    assert [model["name"] for model in m["models"]] == ["resnet50", "resnet18", "resnet50d", "resnet18d", "resnet26d"]
    for model in m["models"]:
        rates = [rate for _, rate in model["blocks"]]
        assert all(0.0 <= r <= model["drop_path_rate"] for r in rates)
        assert rates == sorted(rates), "timm's rates grow with the block index"
        assert rates[-1] == pytest.approx(model["drop_path_rate"])


def test_reference_structure_was_written_by_the_current_generator():
    """scripts/reference_structure.txt (print(model) of timm's models) comes from the same script."""
    structure = GENERATOR.parent / "reference_structure.txt"
    assert structure.exists(), f"missing scripts/reference_structure.txt; {REGENERATE}"
    lines = structure.read_text(encoding="utf-8").splitlines()
    current = hashlib.sha256(GENERATOR.read_bytes()).hexdigest()
    assert lines[1] == f"# generator_sha256 {current}", f"scripts/reference_structure.txt is stale; {REGENERATE}"
    assert "===== timm.create_model('resnetv2_50', pretrained=False) =====" in lines


def test_zoo_manifest_is_self_consistent():
    """timm_zoo.json: 168 models of timm's seven ResNet modules, each layout's groups adding up."""
    m = manifest("timm_zoo")
    assert m["kind"] == "zoo"
    names = [model["name"] for model in m["models"]]
    assert len(names) == len(set(names)) == 168
    assert {model["module"] for model in m["models"]} == {"resnet", "resnetv2", "res2net", "resnest", "sknet", "regnet", "senet"}
    for model in m["models"]:
        groups = model["groups"]
        assert sum(count for _, count, _ in groups) == model["state_dict_entries"] > 0, model["name"]
        assert all(len(digest) == 16 and int(digest, 16) >= 0 for _, _, digest in groups)
        assert isinstance(model["params"], int) and model["params"] > 0
