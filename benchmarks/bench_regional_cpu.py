"""CPU run time, regional vs whole compilation: the same interleaved comparison, repeated in processes.

    python benchmarks/bench_regional_cpu.py                       # resnet50 (batch 8) and cifar n=18
    python benchmarks/bench_regional_cpu.py --only cifar18 --processes 7
    python benchmarks/bench_regional_cpu.py --threads 1       # one intra-op thread per process
    python benchmarks/bench_regional_cpu.py --contiguous      # weights left contiguous (before channels_last)
    python benchmarks/bench_regional_cpu.py --only cifar18 --keep-freed-memory   # no page faults per forward

One comparison on a shared 2-core machine is not evidence either way (docs/benchmarks.md
section 3 measured ratios from 0.78 to 1.04 for the same question). So each network is
compared in `--processes` separate processes, one after another; each builds eager, whole and
regional copies of the same weights, compiles them (not timed), and times them interleaved,
round by round (`--rounds`, median). The processes alternate the order in which the contenders
are timed. The table gives every process's ratio regional/whole (images/s) and the load
average before and after it, then the median ratio and its spread.

Weights that make no denormal floats (`_common.calibrated_model`): resdsl's initialization,
then every batch norm's running statistics measured on random images, so that in eval mode
each batch norm's output has unit scale, as in a trained network. Each process counts the denormal
floats every module produces on its input (reported: expected 0) and then sets
`torch.set_flush_denormal(True)` anyway. Inference: eval, no_grad, fp32, contiguous.
The compile caches are shared between the processes of one network (compile time is not what
is measured here), so only the first process pays the full compile.
`--contiguous` puts the compiled copies' weights back in contiguous memory format after
`compile_model` (which puts them in channels_last on the CPU; compilation is lazy, so the
graphs then see contiguous weights): the behaviour before that change, for comparison.
After the timing, each process profiles three forwards of each compiled copy
(`torch.profiler`) and reports dynamo's own cost per forward: the cache lookups (guard
evaluation) and the compiled frames' own time (gathering the graph inputs, the runtime
wrappers), with the number of compiled calls; whole makes one call per forward, regional one
per block and region.
Each process also counts the minor page faults per forward of each compiled copy: glibc gives
freed blocks above its mmap threshold back to the kernel, so a forward that allocates large
activations faults their pages in again every time. `--keep-freed-memory` runs the processes
with glibc's heap told to keep freed memory (`MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_`,
`MALLOC_TOP_PAD_`; a process's allocator, not resdsl, decides this). `--batch N` replaces the
network's batch size: at batch 1 the gap between the two is mostly the per-call cost.
`--threads 1` runs each process on one thread: on a machine shared with other work, two
OpenMP threads on two cores stall whenever one is descheduled (eager speed varied 5x between
processes here), while one thread keeps a core to itself more often.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile

from _common import calibrated_model, denormals, interleaved, machine

# name -> (spec, params, batch)
CONFIGS = {
    "resnet50": ("resnet50", {}, 4),
    "cifar18": ("cifar_resnet", {"n": 18}, 128),
}


# glibc keeps freed memory in its heap instead of returning it (1 GiB mmap threshold, 16 GiB trim
# threshold, 256 MiB top pad): activations are then allocated without page faults.
KEEP_FREED_MEMORY = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 34), "MALLOC_TOP_PAD_": str(1 << 28)}

_DYNAMO_EVENTS = ("TorchDynamo Cache Lookup", "Torch-Compiled Region", "Pregraph bytecode", "AOTDispatcher Runtime Wrapper Prologue")


def dynamo_overhead(model, x, forwards: int = 3) -> dict:
    """Per forward: dynamo's own milliseconds (guards, compiled frames, wrappers) and compiled calls."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(forwards):
            model(x)
    events = [e for e in prof.key_averages() if e.key.startswith(_DYNAMO_EVENTS)]
    calls = sum(e.count for e in events if e.key == "TorchDynamo Cache Lookup")
    return {"ms": sum(e.self_cpu_time_total for e in events) / 1e3 / forwards, "calls": calls // forwards}


def minor_faults(fn, forwards: int = 3) -> float:
    """Minor page faults per call of `fn` (the process's, every thread)."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(forwards):
        fn()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / forwards


def child(name: str, index: int, rounds: int, threads: int | None, contiguous: bool, batch: int | None) -> None:
    import torch

    import resdsl

    if threads:
        torch.set_num_threads(threads)
    load_before = os.getloadavg()
    spec, params, default_batch = CONFIGS[name]
    batch = batch or default_batch
    torch.set_flush_denormal(False)
    eager, shape = calibrated_model(spec, params, batch)
    torch.manual_seed(1)
    x = torch.randn(batch, *shape)
    found = denormals(eager, x)
    torch.set_flush_denormal(True)
    models = {"eager": eager}
    for strategy in ("whole", "regional"):
        models[strategy] = resdsl.build(spec, compile=strategy, **params).eval()
        models[strategy].load_state_dict(eager.state_dict())
        if contiguous:
            models[strategy].to(memory_format=torch.contiguous_format)
    with torch.no_grad():
        reference = eager(x)
        err = {k: (models[k](x) - reference).abs().max().item() for k in ("whole", "regional")}  # compiles
        order = ["whole", "regional", "eager"] if index % 2 == 0 else ["regional", "whole", "eager"]
        times = interleaved({k: (lambda m=models[k]: m(x)) for k in order}, rounds=rounds)
        overhead = {k: dynamo_overhead(models[k], x) for k in ("whole", "regional")}
        faults = {k: minor_faults(lambda m=models[k]: m(x)) for k in ("whole", "regional")}
    out = {k: batch / t for k, t in times.items()}
    print(json.dumps({**out, "overhead": overhead, "faults": faults, "forward_ms": {k: 1e3 * times[k] for k in ("whole", "regional")}, "order": order[:2], "denormals": found, "max_abs_err": max(err.values()), "load_before": load_before, "load_after": os.getloadavg()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=list(CONFIGS), help="these networks only")
    parser.add_argument("--processes", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, help="torch threads per process (default: torch's)")
    parser.add_argument("--contiguous", action="store_true", help="compiled copies keep contiguous weights")
    parser.add_argument("--keep-freed-memory", action="store_true", help="glibc keeps freed memory (no page faults per forward)")
    parser.add_argument("--batch", type=int, help="batch size instead of the network's")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds allowed per process")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.rounds, args.threads, args.contiguous, args.batch)
        return
    print(f"machine: {machine()}")
    threads = f"{args.threads} thread(s)" if args.threads else "torch's default threads"
    layout = "compiled weights contiguous (--contiguous)" if args.contiguous else "compiled weights channels_last (compile_model's choice on the CPU)"
    heap = "glibc keeps freed memory (--keep-freed-memory)" if args.keep_freed_memory else "glibc's default heap"
    print(f"{args.processes} processes per network, {args.rounds} interleaved rounds each (median), {threads}; {layout}; {heap}; inference, fp32, flush denormals on")
    print("| network (batch) | process | timed first | whole img/s | regional img/s | eager img/s | regional / whole | dynamo ms per forward (calls), whole / regional | of regional's forward | minor page faults per forward, whole / regional | load avg 1 min before → after | denormals | max abs err |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|", flush=True)
    summary = []
    for name in args.only or list(CONFIGS):
        spec, params, batch = CONFIGS[name]
        batch = args.batch or batch
        ratios = []
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=cache) | (KEEP_FREED_MEMORY if args.keep_freed_memory else {})
            for index in range(args.processes):
                cmd = [sys.executable, __file__, "--child", name, str(index), "--rounds", str(args.rounds)]
                cmd += ["--threads", str(args.threads)] if args.threads else []
                cmd += ["--contiguous"] if args.contiguous else []
                cmd += ["--batch", str(args.batch)] if args.batch else []
                try:
                    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout)
                except subprocess.TimeoutExpired:
                    print(f"| {name} ({batch}) | {index + 1} | | timed out after {args.timeout:.0f} s | | | | | | | | | |", flush=True)
                    continue
                if done.returncode != 0:
                    print(f"| {name} ({batch}) | {index + 1} | | failed: {done.stderr.strip().splitlines()[-1][:200]} | | | | | | | | | |", flush=True)
                    continue
                r = json.loads(done.stdout.strip().splitlines()[-1])
                ratio = r["regional"] / r["whole"]
                ow, orr = r["overhead"]["whole"], r["overhead"]["regional"]
                ratios.append(ratio)
                load = f"{r['load_before'][0]:.2f} → {r['load_after'][0]:.2f}"
                print(f"| {name} ({batch}) | {index + 1} | {r['order'][0]} | {r['whole']:.2f} | {r['regional']:.2f} | {r['eager']:.2f} | {ratio:.3f} | {ow['ms']:.1f} ({ow['calls']}) / {orr['ms']:.1f} ({orr['calls']}) | {orr['ms'] / r['forward_ms']['regional']:.1%} | {r['faults']['whole']:,.0f} / {r['faults']['regional']:,.0f} | {load} | {r['denormals']} | {r['max_abs_err']:.1e} |", flush=True)
        if ratios:
            summary.append((name, batch, ratios))
    print()
    print("| network (batch) | processes | median regional / whole | min – max | regional within 3% of whole? |")
    print("|---|---|---|---|---|")
    for name, batch, ratios in summary:
        median = statistics.median(ratios)
        verdict = "yes" if median >= 0.97 else f"no: {1 - median:.1%} slower"
        if median >= 0.97 and min(ratios) < 0.97:
            verdict += f" (median; {sum(r < 0.97 for r in ratios)} of {len(ratios)} processes below 0.97)"
        print(f"| {name} ({batch}) | {len(ratios)} | {median:.3f} | {min(ratios):.3f} – {max(ratios):.3f} | {verdict} |")


if __name__ == "__main__":
    main()
