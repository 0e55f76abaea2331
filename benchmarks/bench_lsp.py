"""Language server latency: how long after an edit the diagnostics of a big spec are back.

    python benchmarks/bench_lsp.py                 # resnet152, 40 edits
    python benchmarks/bench_lsp.py --spec resnet50 --edits 100
    python benchmarks/bench_lsp.py --cold-start 5 --spec resnet18

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

`--cold-start N` times N fresh `python -m resdsl lsp` processes instead, each from its launch to
the answer to `initialize` and to the first `publishDiagnostics` after `initialized` and
`didOpen` of the spec, as an editor opening a file does (the client is a few lines of raw
JSON-RPC here, so the measuring process imports no LSP library); plus the server's CPU time up
to that point (from /proc, where there is one).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, machine

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


def _send(pipe, message: dict) -> None:
    body = json.dumps(message).encode("utf-8")
    pipe.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    pipe.flush()


def _receive(pipe) -> dict:
    length = None
    while True:
        line = pipe.readline()
        if not line:
            raise EOFError("the server closed its output")
        line = line.strip()
        if not line:
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return json.loads(pipe.read(length))


def cold_start(path: Path, text: str, root: Path = ROOT) -> tuple[float, float, float | None]:
    """One fresh server (resdsl from `root`): seconds from launch to the initialize result and
    to the first publishDiagnostics, and the server's CPU seconds by then."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    start = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "resdsl", "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=root)
    try:
        _send(server.stdin, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"processId": os.getpid(), "rootUri": None, "capabilities": {}}})
        while _receive(server.stdout).get("id") != 1:
            pass
        initialized = time.perf_counter() - start
        _send(server.stdin, {"jsonrpc": "2.0", "method": "initialized", "params": {}})
        item = {"uri": path.resolve().as_uri(), "languageId": "resdsl", "version": 1, "text": text}
        _send(server.stdin, {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": item}})
        while _receive(server.stdout).get("method") != "textDocument/publishDiagnostics":
            pass
        published = time.perf_counter() - start
        cpu = _cpu_of(server.pid)
        _send(server.stdin, {"jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": None})
        while _receive(server.stdout).get("id") != 2:
            pass
        _send(server.stdin, {"jsonrpc": "2.0", "method": "exit", "params": None})
        server.wait(timeout=30)
        return initialized, published, cpu
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def main_cold_start(path: Path, source: str, count: int) -> None:
    text = path.read_text(encoding="utf-8")
    print(f"spec: {source}, {count} fresh servers")
    runs = [cold_start(path, text) for _ in range(count)]
    print(f"launch -> initialize result:           {_stats([r[0] for r in runs])}")
    print(f"launch -> first publishDiagnostics:    {_stats([r[1] for r in runs])}")
    cpu = [r[2] for r in runs if r[2] is not None]
    if cpu:
        print(f"  server CPU by then:                  {_stats(cpu)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", default="resnet152", help="bundled spec name or .res path")
    parser.add_argument("--edits", type=int, default=40, help="edits timed per figure")
    parser.add_argument("--cold-start", type=int, metavar="N", help="time N fresh servers to their first diagnostics instead")
    args = parser.parse_args()
    path, source = resolve_spec(args.spec)
    text = path.read_text(encoding="utf-8")
    print(f"machine: {machine(torch_needed=False)}")
    if args.cold_start:
        main_cold_start(path, source, args.cold_start)
        return
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
