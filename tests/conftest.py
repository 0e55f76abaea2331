"""Shared test helpers: golden files, regenerated with RESDSL_UPDATE_GOLDEN=1 and reviewed as diffs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
sys.path.insert(0, str(TESTS))  # for torchvision_reference

UPDATE = os.environ.get("RESDSL_UPDATE_GOLDEN") == "1"


def check_golden(path: Path, actual: str) -> None:
    """Compare `actual` with the golden file byte for byte (or rewrite it when updating)."""
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"missing golden file {path.relative_to(ROOT)}; run with RESDSL_UPDATE_GOLDEN=1 and review it")
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{path.relative_to(ROOT)} differs; rerun with RESDSL_UPDATE_GOLDEN=1 and review the diff"


@pytest.fixture
def golden():
    return check_golden


@pytest.fixture(scope="session")
def installed_wheel(tmp_path_factory) -> Path:
    """resdsl built as a wheel and installed into a folder of its own (once per session): the
    folder to put on PYTHONPATH. Slow (pip); for tests marked `slow`."""
    import subprocess

    tmp = tmp_path_factory.mktemp("wheel")
    dist, site = tmp / "dist", tmp / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(ROOT)],
        check=True,
    )
    (wheel,) = dist.glob("resdsl-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)], check=True)
    return site
