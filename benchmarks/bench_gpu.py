"""GPU inference throughput of resnet50: the recipe's steps, eager vs whole vs regional compile.

    python benchmarks/bench_gpu.py [--batch 256] [--rounds 5]

Prints "skipped: no CUDA" and exits 0 where CUDA is absent. Otherwise, for resnet50 at the
given batch (inference: eval, no_grad), all with the same weights:
  - the recipe step by step in eager mode: fp32 contiguous; bf16 autocast; bf16 autocast +
    channels_last (the recipe `resdsl.build(..., inference=True, device="cuda")` applies);
    that plus batch norms folded into the convolutions;
  - the recipe (bf16 + channels_last) compiled whole and regionally, in each of `--modes`:
    cold compile time (caches disabled by this script; one throwaway compile first pays
    inductor's start-up; regional runs first, so any in-process reuse favours whole) and images/s.
Each row gives the fraction of the H100's dense bf16 peak (989 TFLOP/s) reached at
8.18 GFLOP per image (2 x the IR's 4,089,184,256 multiply-adds). Timings are interleaved round by round, with
CUDA synchronized around each timed run; medians are reported.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TORCHINDUCTOR_FORCE_DISABLE_CACHES", "1")  # before torch: cold compiles

import sys  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402
from _common import interleaved, machine  # noqa: E402

import resdsl  # noqa: E402
from resdsl.backends.gpu_recipe import InferenceRecipe, apply_recipe  # noqa: E402
from resdsl.backends.torch_compile import compile_model  # noqa: E402

PEAK_FLOPS = 989e12  # H100 SXM, dense bf16

RECIPES = {
    "eager fp32": InferenceRecipe(),
    "eager bf16": InferenceRecipe(bf16=True),
    "eager bf16 + channels_last": InferenceRecipe(bf16=True, channels_last=True),
    "eager bf16 + channels_last + BN folded": InferenceRecipe(bf16=True, channels_last=True, fold_bn=True),
}


def variant(net, weights, recipe: InferenceRecipe, device: str, strategy: str | None = None, mode: str | None = None):
    model = resdsl.build(net)
    model.load_state_dict(weights)
    model = apply_recipe(model, net, recipe, device)
    return compile_model(model, net, strategy, mode=mode) if strategy else model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--modes", nargs="+", default=["default"], help="torch.compile modes to compile with")
    parser.add_argument("--spec", default="resnet50", help=argparse.SUPPRESS)  # small dry runs
    parser.add_argument("--device", default="cuda", help=argparse.SUPPRESS)  # dry runs on the CPU
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("skipped: no CUDA")
        return
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    net = resdsl.load(args.spec)
    flop_per_image = 2 * net.macs
    weights = resdsl.build(net).state_dict()
    x = torch.randn(args.batch, *net.input_shape, device=args.device)
    models = {name: variant(net, weights, recipe, args.device) for name, recipe in RECIPES.items()}
    compile_s = {}
    with torch.no_grad():
        reference = models["eager fp32"](x)
        torch.compile(lambda t: torch.relu(t) + 1)(torch.ones(8, device=args.device))  # start-up, not counted
        for mode in args.modes:
            for strategy in ("regional", "whole"):
                name = f"{strategy} compiled, bf16 + channels_last" + ("" if mode == "default" else f", {mode}")
                recipe = RECIPES["eager bf16 + channels_last"]
                try:
                    models[name] = variant(net, weights, recipe, args.device, strategy, mode)
                    sync()
                    start = time.perf_counter()
                    models[name](x)
                    sync()
                except Exception as err:  # noqa: BLE001 - one failed variant must not lose the others
                    models.pop(name, None)
                    print(f"{name}: failed: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
                    continue
                compile_s[name] = time.perf_counter() - start
                print(f"{name}: compiled in {compile_s[name]:.1f} s", file=sys.stderr, flush=True)
        errors = {name: ((m(x) - reference).abs().max() / reference.abs().max()).item() for name, m in models.items()}
        times = interleaved({k: (lambda m=m: m(x)) for k, m in models.items()}, args.rounds, 2.0, sync)
    print(f"machine: {machine()}")
    print(f"{args.spec}, batch {args.batch}, {args.device}, inference; median of {args.rounds} interleaved rounds")
    print("| variant | images/s | TFLOP/s | of 989 TFLOP/s peak | cold compile s | max error / max |output| |")
    print("|---|---|---|---|---|---|")
    for name, seconds in times.items():
        ips = args.batch / seconds
        flops = ips * flop_per_image
        compiled = f"{compile_s[name]:.1f}" if name in compile_s else ""
        print(f"| {name} | {ips:,.0f} | {flops / 1e12:.1f} | {flops / PEAK_FLOPS:.1%} | {compiled} | {errors[name]:.1e} |")


if __name__ == "__main__":
    main()
