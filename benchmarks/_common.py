"""Helpers shared by the benchmark scripts: the machine's description and interleaved timing.

Benchmarks are scripts, not tests: they print numbers for the machine they ran on. Timings that
are compared with each other are taken in one process, interleaved round by round, and reported
as medians, so a slow moment of a shared machine hits every contender alike.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the hand-written reference ResNets live with the tests


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown CPU"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def machine(torch_needed: bool = True) -> str:
    """One line: CPU model, cores, Python, torch version and threads, GPU when there is one."""
    parts = [f"{cpu_model()}, {os.cpu_count()} cores", f"Python {platform.python_version()}"]
    if torch_needed:
        import torch

        parts.append(f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
        if torch.cuda.is_available():
            parts.append(f"GPU {torch.cuda.get_device_name()}")
    parts.append(datetime.date.today().isoformat())
    return "; ".join(parts)


def iterations_for(fn, seconds: float = 1.0) -> int:
    """How many calls of `fn` take about `seconds` (at least one), from one timed call."""
    start = time.perf_counter()
    fn()
    return max(1, round(seconds / max(time.perf_counter() - start, 1e-6)))


def interleaved(contenders: dict, rounds: int = 7, seconds: float = 1.0, sync=lambda: None) -> dict[str, float]:
    """Median seconds per call of each contender, timed round-robin for `rounds` rounds."""
    counts = {name: iterations_for(fn, seconds) for name, fn in contenders.items()}
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            sync()
            start = time.perf_counter()
            for _ in range(counts[name]):
                fn()
            sync()
            samples[name].append((time.perf_counter() - start) / counts[name])
    return {name: statistics.median(values) for name, values in samples.items()}
