"""Cold torch.compile time, whole model vs regional, and the steady-state throughput of each.

    python benchmarks/bench_compile.py                      # CIFAR n = 3, 18, 200 and resnet152
    python benchmarks/bench_compile.py --only cifar3 --only resnet152
    python benchmarks/bench_compile.py --timeout 1200       # give up on a compile after 20 min

Each (network, strategy) runs in a fresh process with every torch.compile cache disabled
(TORCHINDUCTOR_FORCE_DISABLE_CACHES=1 and an empty cache directory), so nothing one compile
made can speed up another. Each process first compiles a one-line function (not counted), so
both strategies start from an initialized inductor rather than one paying its start-up.
Compile time = the first call of the compiled model minus the second (compilation alone).
`graphs` is dynamo's count of unique graphs. Throughput is inference (eval, no_grad) in one
more process that builds eager, whole and regional copies of the same weights, compiles them
(caches on: its compile time is not reported) and times them interleaved, round by round.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from _common import interleaved, machine

# name -> (spec, params, batch)
CONFIGS = {
    "cifar3": ("cifar_resnet", {"n": 3}, 128),
    "cifar18": ("cifar_resnet", {"n": 18}, 128),
    "cifar200": ("cifar_resnet", {"n": 200}, 128),
    "resnet152": ("resnet152", {}, 4),
}


def _scale_residual_branches(model) -> None:
    """Set each residual branch's last BN scale (zeroed by zero_init_residual) to 1/sqrt(blocks).

    Untrained, a 1202-layer net's activations otherwise grow block after block until they
    overflow to inf and NaN, which would make both the accuracy check and the timings meaningless.
    """
    import torch

    last = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d) and not m.weight.any()]
    for bn in last:
        torch.nn.init.constant_(bn.weight, len(last) ** -0.5)


def _models(name: str, strategies: tuple[str, ...]):
    import torch

    import resdsl

    spec, params, batch = CONFIGS[name]
    # Untrained nets make denormal floats, and x86 runs arithmetic on them many times slower:
    # without this, timings measure the random weights' numerics, not the compiled code.
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    eager = resdsl.build(spec, zero_init_residual=True, **params).eval()
    _scale_residual_branches(eager)
    models = {"eager": eager}
    for strategy in strategies:
        models[strategy] = resdsl.build(spec, compile=strategy, **params).eval()  # in place, lazily
        models[strategy].load_state_dict(eager.state_dict())
    return models, torch.randn(batch, *resdsl.load(spec, **params).input_shape)


def cold(name: str, strategy: str) -> None:
    """Compile time of one strategy; run with caches disabled, in its own process."""
    import torch
    from torch._dynamo.utils import counters

    torch.compile(lambda t: torch.relu(t) + 1)(torch.ones(8))  # inductor start-up, not counted
    warm_graphs = counters["stats"]["unique_graphs"]
    models, x = _models(name, (strategy,))
    with torch.no_grad():
        start = time.perf_counter()
        out = models[strategy](x)
        first = time.perf_counter() - start
        start = time.perf_counter()
        models[strategy](x)
        forward = time.perf_counter() - start
        err = (out - models["eager"](x)).abs().max().item()
    graphs = counters["stats"]["unique_graphs"] - warm_graphs
    print(json.dumps({"compile_s": first - forward, "graphs": graphs, "max_abs_err": err}))


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


def report(name: str, timeout: float, throughput: bool) -> None:
    row = {s: run_child(["cold", name, s], timeout, True) for s in ("whole", "regional")}
    ips = run_child(["steady", name], 3 * timeout, False) if throughput and row["whole"] else None
    for strategy, r in row.items():
        if r is None:
            print(f"| {name} | {strategy} | > {timeout:.0f} (did not finish) | | | |", flush=True)
            continue
        speed = f"{ips[strategy]:.2f} ({ips[strategy] / ips['eager']:.3f}x eager)" if ips else "not measured"
        print(f"| {name} | {strategy} | {r['compile_s']:.1f} | {r['graphs']} | {speed} | {r['max_abs_err']:.1e} |", flush=True)
    if row["whole"] and row["regional"]:
        speed = f"{ips['regional'] / ips['whole']:.3f}" if ips else ""
        print(f"| {name} | regional / whole | {row['regional']['compile_s'] / row['whole']['compile_s']:.2f} | | {speed} | |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=list(CONFIGS), help="run these configurations only")
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds allowed per compile process")
    parser.add_argument("--no-throughput", action="store_true", help="compile times only")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        {"cold": cold, "steady": steady}[args.child[0]](*args.child[1:])
        return
    print(f"machine: {machine()}")
    print("| network (batch) | strategy | cold compile s | graphs | img/s (vs eager) | max abs err |")
    print("|---|---|---|---|---|---|", flush=True)
    for name in args.only or list(CONFIGS):
        report(name, args.timeout, not args.no_throughput)


if __name__ == "__main__":
    main()
