"""Load the reference manifests in tests/manifests/ (written by scripts/reference_manifests.py).

They record timm's and torchvision's state_dict layouts (key order and shapes), parameter
counts, the convolutions' stride/padding/dilation of torchvision's dilated ResNets, and timm's
per-block drop-path rates, so that ordinary CI (which cannot import timm or torchvision) can
compare resdsl's models against them:

    from reference_manifest import manifest
    m = manifest("timm_resnet50d")            # or "timm_resnet50d.json"
    m["params"], m["state_dict_entries"], m["state_dict"]   # [[key, [shape...]], ...] in order
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

MANIFESTS = Path(__file__).resolve().parent / "manifests"
GENERATOR = MANIFESTS.parent.parent / "scripts" / "reference_manifests.py"

# A state_dict entry that is not a parameter (batch-norm statistics).
BUFFER_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")


def manifest_names() -> list[str]:
    """The manifests present, as names without `.json`, sorted."""
    return sorted(p.stem for p in MANIFESTS.glob("*.json"))


@functools.cache
def _load(name: str) -> str:
    return (MANIFESTS / f"{name}.json").read_text(encoding="utf-8")


def manifest(name: str) -> dict:
    """One manifest as a fresh dict: `manifest("timm_resnet50d")`, `manifest("tv_resnet50_os8")`."""
    name = name.removesuffix(".json")
    path = MANIFESTS / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(
            f"no reference manifest {name!r} in {MANIFESTS}; have: {', '.join(manifest_names())}"
        )
    return json.loads(_load(name))


def is_parameter_key(key: str) -> bool:
    """True for a state_dict key that names a parameter rather than a buffer."""
    return not key.endswith(BUFFER_SUFFIXES)


def state_dict_layout(model) -> list[list]:
    """A model's state_dict as the manifests record it: [[key, [shape...]], ...] in order."""
    return [[key, list(value.shape)] for key, value in model.state_dict().items()]
