"""Time and memory of `resdsl check` on large hostile inputs (each at most about 1 MB).

    python benchmarks/bench_large_inputs.py [--repeat 3]

The language server re-checks on every keystroke, so every input of at most 1 MB must get its
answer (success, or a located error naming the limit it hit) within 5 s and 500 MB on a 2-core
machine. Each case runs `python -m resdsl check FILE` in a fresh process; the table gives the
median wall time, the largest peak RSS (the child's ru_maxrss), the exit code and the first
line of the answer.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine


def _network(body: str) -> str:
    return f"network big {{\n    input 3x32x32\n{body}}}\n"


def cases() -> dict[str, str]:
    """The inputs of the robustness issue, and the largest ones that stay within the limits."""
    return {
        "60,000 one-line convs": _network("".join("    conv 3x3, 16\n" for _ in range(60_000))),
        "170,000 relu, one per line": _network("".join("relu\n" for _ in range(170_000))),
        "170,000 relu on one line": _network("    conv 3x3, 16; " + "; ".join(["relu"] * 170_000) + "\n"),
        "basic(8) x 28000": _network("    conv 3x3, 8\n    layer1: basic(8) x 28000\n"),
        "10,000 block definitions": "".join(f"block b{i}(w) {{\n    conv 3x3, w\n}}\n" for i in range(10_000)) + _network("    conv 3x3, 16\n"),
        "60,000 errors": _network("".join("conv 3x3, widht\n" for _ in range(60_000))),
        "100,000 syntax errors": _network("".join("    conv 3x3,, 16\n" for _ in range(100_000))),
        "within the limits: 4,990 convs": _network("".join("    conv 3x3, 16\n" for _ in range(4_990))),
        "within the limits: basic(8) x 4,900 (49,000 nodes)": _network("    conv 3x3, 8\n    layer1: basic(8) x 4900\n"),
        "within the limits: 4,990 unknown names": _network("".join("    conv 3x3, widht\n" for _ in range(4_990))),
        "within the limits: 1,600 block definitions": "".join(f"block b{i}(w) {{\n    conv 3x3, w\n}}\n" for i in range(1_600)) + _network("    conv 3x3, 16\n"),
    }


def run(path: Path) -> tuple[float, int, int, str]:
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run([sys.executable, "-m", "resdsl", "check", str(path)], capture_output=True, text=True)
    wall = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux; the largest child so far
    answer = (proc.stdout or proc.stderr).strip().split("\n")[0]
    return wall, max(rss, before), proc.returncode, answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f} at the start")
    print()
    print("| input | size | wall (median of {}) | peak RSS | exit | answer |".format(args.repeat))
    print("|---|---:|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in cases().items():
            path = Path(tmp) / "big.res"
            path.write_text(text)
            runs = [run(path) for _ in range(args.repeat)]
            wall = statistics.median(r[0] for r in runs)
            rss_mib = max(r[1] for r in runs) / 1024
            _, _, code, answer = runs[-1]
            answer = answer if len(answer) < 90 else answer[:87] + "..."
            print(f"| {name} | {len(text.encode()) / 1e6:.2f} MB | {wall:.2f} s | {rss_mib:.0f} MiB | {code} | `{answer}` |", flush=True)
    print()
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
