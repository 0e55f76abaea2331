"""Cold torch.compile time, whole model vs regional, where it goes, and the steady-state throughput.

    python benchmarks/bench_compile.py                                  # CIFAR n = 3, 9, 18, 200 and resnet152
    python benchmarks/bench_compile.py --only cifar18 --repeat 3 --no-throughput
    python benchmarks/bench_compile.py --only cifar200 --strategies regional --repeat 3
    python benchmarks/bench_compile.py --timeout 1200                   # give up on a compile after 20 min

Each (network, strategy) runs in a fresh process with every torch.compile cache disabled
(TORCHINDUCTOR_FORCE_DISABLE_CACHES=1 and an empty cache directory), so nothing one compile
made can speed up another. Each process first compiles a one-line function (not counted), so
both strategies start from an initialized inductor rather than one paying its start-up.
Compile time = the first call of the compiled model minus the second (compilation alone).
With `--repeat K` every (network, strategy) runs K times, the strategies alternating in order,
and the median is reported; the load average before and after each process is printed.
`graphs` is dynamo's count of unique graphs. The breakdown splits the compile time by torch's
own timers: dynamo (bytecode tracing, guards), AOT autograd + inductor in Python (lowering,
scheduling, code generation), and the wait for inductor's C++ kernel compiles.
Strategies: `whole`, `regional` (resdsl's: distinct blocks, stem and head), and
`blocks-only` (the distinct blocks alone, stem and head eager: regional before the stem and
head became regions, to show what those two regions cost), and `nested` (an experiment, not a
resdsl strategy: `_common.compile_nested`, a whole-model compile with every block class's
forward a nested compile region).
Throughput is inference (eval, no_grad) in one more process that builds eager, whole and
regional copies of the same weights (calibrated: no denormal floats, see `_common`), compiles
them (caches on: its compile time is not reported) and times them interleaved, round by round.
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

from _common import calibrated_model, compile_nested, interleaved, machine

# name -> (spec, params, batch)
CONFIGS = {
    "cifar3": ("cifar_resnet", {"n": 3}, 128),
    "cifar9": ("cifar_resnet", {"n": 9}, 128),
    "cifar18": ("cifar_resnet", {"n": 18}, 128),
    "cifar200": ("cifar_resnet", {"n": 200}, 128),
    "resnet152": ("resnet152", {}, 4),
}
STRATEGIES = ("whole", "regional", "blocks-only", "nested")
# torch._dynamo.utils.compilation_time_metrics keys
TOTAL, BACKEND, CPP = "_compile.compile_inner", "OutputGraph.call_user_compiler", "async_compile.wait"


def _compile(model, net, strategy: str):
    from resdsl.backends.torch_compile import block_variants, channels_last_on_cpu, compile_model, raise_recompile_limit
    from resdsl.backends.torch_source import module_path

    if strategy == "nested":
        return compile_nested(model, net)
    if strategy != "blocks-only":
        return compile_model(model, net, strategy)
    channels_last_on_cpu(model)  # as compile_model does: blocks-only differs by the two regions alone
    variants = block_variants(net)
    raise_recompile_limit(len(variants))
    for paths in variants.values():
        for path in paths:
            model.get_submodule(module_path(net, path)).compile(dynamic=False)
    return model


def _models(name: str, strategies: tuple[str, ...], calibrate: bool = True):
    import torch

    import resdsl

    spec, params, batch = CONFIGS[name]
    torch.set_flush_denormal(True)  # belt and braces: the calibrated weights make none
    net = resdsl.load(spec, **params)
    if calibrate:
        eager, shape = calibrated_model(spec, params, batch)
    else:  # compile time does not depend on the weights' values
        torch.manual_seed(0)
        eager, shape = resdsl.build(net).eval(), net.input_shape
    models = {"eager": eager}
    for strategy in strategies:
        model = resdsl.build(net).eval()
        model.load_state_dict(eager.state_dict())
        models[strategy] = _compile(model, net, strategy)  # in place, lazily
    torch.manual_seed(1)
    return models, torch.randn(batch, *shape)


def _timers() -> dict[str, float]:
    from torch._dynamo.utils import compilation_time_metrics

    return {k: sum(compilation_time_metrics.get(k, [])) for k in (TOTAL, BACKEND, CPP)}


def cold(name: str, strategy: str) -> None:
    """Compile time of one strategy and where it goes; run with caches disabled, in its own process."""
    import torch
    from torch._dynamo.utils import counters

    load_before = os.getloadavg()
    torch.compile(lambda t: torch.relu(t) + 1)(torch.ones(8))  # inductor start-up, not counted
    warm_graphs = counters["stats"]["unique_graphs"]
    models, x = _models(name, (strategy,), calibrate=False)
    before = _timers()
    with torch.no_grad():
        start = time.perf_counter()
        out = models[strategy](x)
        first = time.perf_counter() - start
        start = time.perf_counter()
        models[strategy](x)
        forward = time.perf_counter() - start
        err = (out - models["eager"](x)).abs().max().item()
    after = _timers()
    spent = {k: after[k] - before[k] for k in after}
    graphs = counters["stats"]["unique_graphs"] - warm_graphs
    print(json.dumps({
        "compile_s": first - forward, "graphs": graphs, "max_abs_err": err,
        "dynamo_s": spent[TOTAL] - spent[BACKEND], "inductor_s": spent[BACKEND] - spent[CPP], "cpp_wait_s": spent[CPP],
        "load_before": load_before, "load_after": os.getloadavg(),
    }))


def steady(name: str) -> None:
    """Throughput of eager, whole and regional, interleaved in one process."""
    import torch

    models, x = _models(name, ("whole", "regional"))
    with torch.no_grad():
        for model in models.values():
            model(x)  # compile
        times = interleaved({k: (lambda m=m: m(x)) for k, m in models.items()}, rounds=5)
    print(json.dumps({k: x.shape[0] / t for k, t in times.items()}))


def run_child(args: list[str], timeout: float, cold_caches: bool) -> dict | None:
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ)
        if cold_caches:
            env.update(TORCHINDUCTOR_FORCE_DISABLE_CACHES="1", TORCHINDUCTOR_CACHE_DIR=cache)
        cmd = [sys.executable, __file__, "--child", *args]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(name: str, strategies: list[str], repeat: int, timeout: float, throughput: bool) -> None:
    runs: dict[str, list[dict]] = {s: [] for s in strategies}
    for rep in range(repeat):
        for strategy in strategies if rep % 2 == 0 else strategies[::-1]:
            r = run_child(["cold", name, strategy], timeout, True)
            if r is None:
                print(f"| {name} | {strategy} | > {timeout:.0f} (did not finish) | | | | | | | |", flush=True)
                continue
            runs[strategy].append(r)
            load = f"{r['load_before'][0]:.2f} → {r['load_after'][0]:.2f}"
            print(f"| {name} | {strategy} | {r['compile_s']:.1f} | {r['graphs']} | {r['dynamo_s']:.1f} | {r['inductor_s']:.1f} | {r['cpp_wait_s']:.1f} | {load} | {r['max_abs_err']:.1e} |", flush=True)
    ips = run_child(["steady", name], 3 * timeout, False) if throughput and runs.get("whole") and runs.get("regional") else None
    medians = {s: statistics.median(r["compile_s"] for r in rs) for s, rs in runs.items() if rs}
    for strategy, median in medians.items():
        each = ", ".join(f"{r['compile_s']:.1f}" for r in runs[strategy])
        speed = f"; {ips[strategy]:.2f} img/s ({ips[strategy] / ips['eager']:.3f}x eager)" if ips and strategy in ips else ""
        print(f"| {name} | {strategy}, median of {len(runs[strategy])} ({each}) | **{median:.1f}** | {runs[strategy][0]['graphs']} | | | | | {speed} |", flush=True)
    for strategy in medians:
        if strategy != "whole" and "whole" in medians:
            speed = f"; run time {ips[strategy] / ips['whole']:.3f}" if ips and strategy in ips else ""
            print(f"| {name} | {strategy} / whole | **{medians[strategy] / medians['whole']:.2f}** | | | | | | {speed} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=list(CONFIGS), help="run these configurations only")
    parser.add_argument("--strategies", nargs="+", choices=STRATEGIES, default=["whole", "regional"])
    parser.add_argument("--repeat", type=int, default=1, help="cold compiles per (network, strategy); medians")
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds allowed per compile process")
    parser.add_argument("--no-throughput", action="store_true", help="compile times only")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        {"cold": cold, "steady": steady}[args.child[0]](*args.child[1:])
        return
    print(f"machine: {machine()}")
    print("| network | strategy | cold compile s | graphs | dynamo s | AOT + inductor s | C++ wait s | load avg 1 min before → after | max abs err; throughput |")
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    for name in args.only or list(CONFIGS):
        report(name, args.strategies, args.repeat, args.timeout, not args.no_throughput)


if __name__ == "__main__":
    main()
