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


def calibrated_model(spec: str, params: dict, batch: int):
    """An eval-mode resdsl model whose batch norms' running statistics are its activations'.

    resdsl's initialization (torchvision's scheme), then every batch norm's statistics measured
    on random images (train mode, cumulative average over two batches): in eval mode each batch
    norm's output then has unit scale, as in a trained network, so no activation drifts into
    denormal floats and none overflows with depth. Returns (model, input shape).
    """
    import torch

    import resdsl

    torch.manual_seed(0)
    model = resdsl.build(spec, **params)
    shape = resdsl.load(spec, **params).input_shape
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # a cumulative average
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(max(batch, 16), *shape))
    return model.eval(), shape


def compile_nested(model, net):
    """An experiment, not a resdsl strategy: `model` compiled whole, with every outermost block
    class's forward a `torch.compiler.nested_compile_region` (one dynamo frame; each distinct
    block meant to be lowered once). Patches the block classes: one such model per process."""
    import torch

    from resdsl.backends.torch_compile import block_variants, compile_model
    from resdsl.backends.torch_source import module_path

    classes = {type(model.get_submodule(module_path(net, paths[0]))) for paths in block_variants(net).values()}
    for cls in classes:
        cls.forward = torch.compiler.nested_compile_region(cls.forward)
    return compile_model(model, net, "whole")


def denormals(model, x) -> int:
    """How many denormal floats the leaf modules of `model` output on `x` (run with flush off)."""
    import torch

    tiny = torch.finfo(torch.float32).tiny
    count = [0]

    def hook(module, args, out):
        if isinstance(out, torch.Tensor) and out.is_floating_point():
            count[0] += int(((out != 0) & (out.abs() < tiny)).sum())

    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return count[0]
