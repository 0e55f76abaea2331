"""CPU run time of compiled regions of different sizes, against a whole-model compile (cifar n = 18).

    python benchmarks/bench_region_size.py                  # 1, 2 and 18 blocks a region
    python benchmarks/bench_region_size.py --blocks 1 3 6
    python benchmarks/bench_region_size.py --nested         # nested compile regions, against regional

The question: is regional compilation's run-time gap on the CPU the price of one compiled call
per block? Each contender other than `whole` compiles the stem and the head as a region each,
each stage's first block (the one that changes the shape) as a region, and then each run of
`k` consecutive identical blocks as one region (`nn.Module.compile` of a container that calls
them in turn; identical containers share one graph, as identical blocks do in
`compile_model(..., "regional")`). k = 1 is regional compilation; k = 18 is about a region a
stage (7 compiled calls a forward: the stem, the head, and the first 18 blocks, the first
block and the other 17 of each later stage). `--nested` instead times a whole-model compile in
which each block's forward is a nested compile region (`_common.compile_nested`: one dynamo frame, each distinct block compiled once)
against `compile_model`'s regional one; it patches the block class, so it runs alone in its
process. Cold compile times of the same contenders: `bench_compile.py --strategies whole nested
regional`.

One process, weights of the calibrated network, batch 128, inference, fp32, flush denormals
on, interleaved rounds (median). Run it on a quiet machine, with the glibc settings of
`bench_regional_cpu.py --keep-freed-memory` exported to take page faults out of the figures.
"""

from __future__ import annotations

import argparse
import copy
import os

from _common import calibrated_model, compile_nested, interleaved, machine

SPEC, PARAMS, BATCH = "cifar_resnet", {"n": 18}, 128


def chunked(model, k: int):
    """A forward that runs `model` (cifar_resnet) as compiled regions of `k` identical blocks."""
    import torch
    from torch import nn

    class Run(nn.Module):  # kept out of the model's module tree; holds what it calls
        def __init__(self, mods):
            super().__init__()
            self.mods = nn.ModuleList(mods)

        def forward(self, x):
            for m in self.mods:
                x = m(x)
            return x

    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.avgpool, self.fc = model.avgpool, model.fc

        def forward(self, x):
            return self.fc(torch.flatten(self.avgpool(x), 1))

    model.to(memory_format=torch.channels_last)  # as compile_model does on the CPU
    calls = [Run([model.conv1, model.bn1, model.relu])]
    for layer in (model.layer1, model.layer2, model.layer3):
        blocks = list(layer)
        first = 1 if blocks[0].downsample is not None else 0
        calls += [Run(blocks[:first])] if first else []
        calls += [Run(blocks[i : i + k]) for i in range(first, len(blocks), k)]
    calls.append(Head())
    for c in calls:
        c.compile(dynamic=False)

    def forward(x):
        for c in calls:
            x = c(x)
        return x

    return forward, len(calls)


def sizes(args) -> None:
    import torch

    import resdsl
    from resdsl.backends.torch_compile import compile_model

    model, shape = calibrated_model(SPEC, PARAMS, BATCH)
    torch.set_flush_denormal(True)
    net = resdsl.load(SPEC, **PARAMS)
    contenders, calls = {}, {}
    whole = copy.deepcopy(model)
    compile_model(whole, net, "whole")
    contenders["whole"], calls["whole"] = whole, 1
    for k in args.blocks:
        contenders[f"{k} a region"], calls[f"{k} a region"] = chunked(copy.deepcopy(model), k)
    x = torch.randn(BATCH, *shape)
    with torch.no_grad():
        reference = model(x)
        for fn in contenders.values():  # compiles
            assert (fn(x) - reference).abs().max().item() < 1e-3
        times = interleaved({name: (lambda fn=fn: fn(x)) for name, fn in contenders.items()}, rounds=args.rounds)
    print("| contender | compiled calls per forward | images/s | whole / this |")
    print("|---|---:|---:|---:|")
    for name, t in times.items():
        print(f"| {name} | {calls[name]} | {BATCH / t:.1f} | {times['whole'] / t:.3f} |")


def nested(args) -> None:
    import torch

    import resdsl
    from resdsl.backends.torch_compile import compile_model

    model, shape = calibrated_model(SPEC, PARAMS, BATCH)
    torch.set_flush_denormal(True)
    net = resdsl.load(SPEC, **PARAMS)
    contenders = {"nested": compile_nested(copy.deepcopy(model), net), "regional": compile_model(copy.deepcopy(model), net, "regional")}
    x = torch.randn(BATCH, *shape)
    with torch.no_grad():
        times = interleaved({name: (lambda m=m: m(x)) for name, m in contenders.items()}, rounds=args.rounds)
    print("| contender | images/s | regional / this |")
    print("|---|---:|---:|")
    for name, t in times.items():
        print(f"| {name} | {BATCH / t:.1f} | {times['regional'] / t:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, nargs="+", default=[1, 2, 18], help="blocks a region")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--nested", action="store_true", help="nested compile regions against regional")
    args = parser.parse_args()
    import torch._dynamo.config as config

    config.recompile_limit = max(config.recompile_limit, 128)  # each region size is its own graph
    config.accumulated_recompile_limit = max(config.accumulated_recompile_limit, 1024)
    print(f"machine: {machine()}")
    print(f"{SPEC} {PARAMS}, batch {BATCH}, {args.rounds} interleaved rounds (median); heap settings: "
          + (", ".join(f"{k}={os.environ[k]}" for k in sorted(os.environ) if k.startswith("MALLOC_")) or "glibc's default"))
    (nested if args.nested else sizes)(args)


if __name__ == "__main__":
    main()
