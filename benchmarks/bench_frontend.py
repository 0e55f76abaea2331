"""Front-end time: spec text -> checked IR (parse, elaborate, all passes), without torch.

    python benchmarks/bench_frontend.py

Times `resdsl.compile_text` (the whole front end; reading the file is excluded) for the bundled
ImageNet ResNets, the CIFAR net at n = 200 (ResNet-1202), and generated specs whose bodies
spell out 1,250 .. 10,000 `basic` blocks one statement each (so the parser sees every block,
not a repeat count). Each time is the best of `--repeat` runs. Cost should grow linearly with
depth: microseconds per IR node should stay flat as the networks grow. The last column pauses
Python's cyclic garbage collector, whose passes over a growing heap add a mild superlinear
term that is the interpreter's, not the compiler's.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time

from _common import machine

import resdsl
from resdsl.compiler import resolve_spec
from resdsl.diagnostics import Limits

LIMITS = Limits(max_nodes=10**6, max_params=10**10)


def generated_spec(blocks: int) -> str:
    """A CIFAR-style network of `blocks` explicit block statements in four equal groups."""
    lines = ["network generated(classes = 10) {", "    input 3x32x32", "    shortcut A", "    conv1: conv 3x3, 16"]
    per_group = blocks // 4
    for group, width in enumerate((16, 32, 64, 128)):
        for i in range(per_group):
            stride = ", stride = 2" if i == 0 and group > 0 else ""
            lines.append(f"    g{group}_{i}: basic({width}{stride})")
    lines += ["    avgpool: avgpool", "    fc: linear classes", "}"]
    return "\n".join(lines) + "\n"


def best_time(text: str, source: str, repeat: int, collect: bool, **params) -> tuple[float, resdsl.Network]:
    """Best of `repeat` runs; `collect=False` pauses Python's cyclic garbage collector meanwhile."""
    best, net = float("inf"), None
    for _ in range(repeat):
        net = None
        gc.collect()
        if not collect:
            gc.disable()
        start = time.perf_counter()
        net = resdsl.compile_text(text, source, limits=LIMITS, **params)
        best = min(best, time.perf_counter() - start)
        gc.enable()
    return best, net


def cases():
    for name in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152"):
        path, source = resolve_spec(name)
        yield name, path.read_text(encoding="utf-8"), source, {}
    path, source = resolve_spec("cifar_resnet")
    yield "cifar_resnet n=200", path.read_text(encoding="utf-8"), source, {"n": 200}
    for blocks in (1000, 2500, 5000, 10000):
        yield f"generated, {blocks:,} blocks", generated_spec(blocks), "generated.res", {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs per spec; the best is reported")
    args = parser.parse_args()
    print(f"machine: {machine(torch_needed=False)}")
    print("| spec | blocks | IR nodes | front end ms | µs per node | µs per node, gc paused |")
    print("|---|---|---|---|---|---|")
    for name, text, source, params in cases():
        seconds, net = best_time(text, source, args.repeat, True, **params)
        paused, _ = best_time(text, source, args.repeat, False, **params)
        nodes, blocks = net.graph.number_of_nodes(), len(net.graph.graph["blocks"])
        print(
            f"| {name} | {blocks:,} | {nodes:,} | {seconds * 1e3:,.1f} | {seconds * 1e6 / nodes:.1f} | {paused * 1e6 / nodes:.1f} |",
            flush=True,
        )
    assert "torch" not in sys.modules, "the front end imported torch"
    print("torch imported: no")


if __name__ == "__main__":
    main()
