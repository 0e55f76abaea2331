"""Time and memory of `resdsl check` on large hostile inputs (each at most about 1 MB).

    python benchmarks/bench_large_inputs.py [--repeat 3]

The language server re-checks on every keystroke, so every input of at most 1 MB must get its
answer (success, or a located error naming the limit it hit) within 5 s and 500 MB on a 2-core
machine. Each case runs `python -m resdsl check FILE` in a fresh process; the table gives the
median wall time, the largest peak RSS (each child's own ru_maxrss), the exit code and the first
line of the answer.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine


def _network(body: str) -> str:
    return f"network big {{\n    input 3x32x32\n{body}}}\n"


_SUM = "+".join(["1"] * 95)  # 95 terms: a chain within the depth limit (E0006 at 100 levels)


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
        # Dense inputs within the statement limit: about a million tokens in 1 MB.
        "4,800 lets of 95-term sums": _network("".join(f"    let a{i} = {_SUM}\n" for i in range(4_800))),
        "4,700 such lets, then 30 syntax errors": _network("".join(f"    let a{i} = {_SUM}\n" for i in range(4_700)) + "".join(f"    let e{i} = 1 +\n" for i in range(30))),
        "within the limits: 4,990 convs": _network("".join("    conv 3x3, 16\n" for _ in range(4_990))),
        "within the limits: basic(8) x 4,900 (49,000 nodes)": _network("    conv 3x3, 8\n    layer1: basic(8) x 4900\n"),
        "within the limits: 4,990 unknown names": _network("".join("    conv 3x3, widht\n" for _ in range(4_990))),
        "within the limits: 1,250 lets of 95-term sums (about 241,000 tokens)": _network("".join(f"    let a{i} = {_SUM}\n" for i in range(1_250))),
        "within the limits: 1,200 such lets, then 30 syntax errors": _network("".join(f"    let a{i} = {_SUM}\n" for i in range(1_200)) + "".join(f"    let e{i} = 1 +\n" for i in range(30))),
        "within the limits: 1,600 block definitions": "".join(f"block b{i}(w) {{\n    conv 3x3, w\n}}\n" for i in range(1_600)) + _network("    conv 3x3, 16\n"),
    }


def run(path: Path) -> tuple[float, int, int, str]:
    """Wall time, the child's own peak RSS (KiB; RUSAGE_CHILDREN would give the largest child
    so far), exit code and the first line of the answer."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "resdsl", "check", str(path)], stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        answer = (out.read() or err.read()).strip().split("\n")[0]
    return wall, usage.ru_maxrss, proc.returncode, answer


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
