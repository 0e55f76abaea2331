"""Language server latency: how long after an edit the diagnostics of a big spec are back.

    python benchmarks/bench_lsp.py                 # resnet152, 40 edits
    python benchmarks/bench_lsp.py --spec resnet50 --edits 100

Each figure is the median (and 90th percentile) over `--edits` edits that each change the
text (so no cache can answer):
- re-check, in process: what the server does per edit, `analyze` (the whole compile with
  `keep_going`) plus the conversion of every diagnostic to LSP types, as wall-clock and as
  CPU time (the process's own; on a shared machine the wall clock also counts waiting for a
  core);
- round trip over stdio: a real `resdsl lsp` process (debounce 0) and pygls's client, from
  sending `didChange` to receiving `publishDiagnostics` for that version, and the server
  process's CPU time per edit (from /proc, where there is one);
and the round trip of a hover on a stage right after an edit (which recompiles and builds the
summary rows). The compile alone is timed too, to show what the server adds. Needs the `lsp`
extra (pygls).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from _common import machine

from resdsl.compiler import resolve_spec


def edits(text: str, count: int) -> list[str]:
    """`count` distinct texts: the spec with a trailing comment that changes every time."""
    return [f"{text.rstrip()}\n# edit {i}\n" for i in range(count)]


def _cpu_of(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _stats(seconds: list[float]) -> str:
    ms = sorted(s * 1e3 for s in seconds)
    p90 = ms[min(len(ms) - 1, int(0.9 * len(ms)))]
    return f"median {statistics.median(ms):.1f} ms, p90 {p90:.1f} ms, best {ms[0]:.1f} ms"


def compile_only(text: str, source: str, count: int) -> list[float]:
    from resdsl.compiler import compile_text

    times, cpu = [], []
    for version in edits(text, count):
        start, start_cpu = time.perf_counter(), time.process_time()
        compile_text(version, source, keep_going=True)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return times, cpu


def in_process(text: str, source: str, count: int) -> list[float]:
    from resdsl.tools.lsp.document import analyze
    from resdsl.tools.lsp.server import ResdslServer

    server = ResdslServer()
    analyze(text, source)  # warm: the grammar, the prelude's parse
    times, cpu = [], []
    previous = None
    for version in edits(text, count):
        start, start_cpu = time.perf_counter(), time.process_time()
        previous = analyze(version, source, previous=previous)
        [server.diagnostic(previous, d, "file:///bench.res") for d in previous.diagnostics]
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return times, cpu


def round_trip(text: str, source: str, count: int) -> tuple[list[float], float | None, list[float]]:
    from lsp_session import Session

    with tempfile.TemporaryDirectory() as tmp:
        session = Session(Path(tmp) / "server.log", debounce_ms=0)
        try:
            uri = (Path(tmp) / source).as_uri()
            session.open(uri, text)
            session.wait_diagnostics(uri, version=1)
            stage = next(i for i, line in enumerate(text.split("\n")) if line.strip().startswith("layer3:"))
            checks, hovers = [], []
            pid = session.client._server.pid
            cpu_before = _cpu_of(pid)
            for version, changed in enumerate(edits(text, count), 2):
                start = time.perf_counter()
                session.change(uri, changed, version)
                session.wait_diagnostics(uri, version=version)
                checks.append(time.perf_counter() - start)
            cpu_after = _cpu_of(pid)
            server_cpu = None if cpu_before is None or cpu_after is None else (cpu_after - cpu_before) / count
            for version, changed in enumerate(edits(text + "\n", count), count + 2):
                session.change(uri, changed, version)
                start = time.perf_counter()
                session.hover(uri, stage, 6)
                hovers.append(time.perf_counter() - start)
            return checks, server_cpu, hovers
        finally:
            session.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", default="resnet152", help="bundled spec name or .res path")
    parser.add_argument("--edits", type=int, default=40, help="edits timed per figure")
    args = parser.parse_args()
    path, source = resolve_spec(args.spec)
    text = path.read_text(encoding="utf-8")
    print(f"machine: {machine(torch_needed=False)}")
    print(f"spec: {source}, {args.edits} edits each")
    wall, cpu = in_process(text, source, args.edits)
    print(f"re-check after an edit, in process:      {_stats(wall)}; CPU {_stats(cpu)}", flush=True)
    wall, cpu = compile_only(text, source, args.edits)
    print(f"  the compile alone, for comparison:     {_stats(wall)}; CPU {_stats(cpu)}", flush=True)
    checks, server_cpu, hovers = round_trip(text, source, args.edits)
    per_edit = f"; server CPU {server_cpu * 1e3:.1f} ms per edit (mean)" if server_cpu is not None else ""
    print(f"didChange -> publishDiagnostics, stdio:  {_stats(checks)}{per_edit}")
    print(f"didChange, then hover on a stage, stdio: {_stats(hovers)}")


if __name__ == "__main__":
    main()
