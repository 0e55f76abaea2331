"""Eager forward throughput: resdsl's resnet50 against a hand-written PyTorch ResNet-50.

    python benchmarks/bench_eager.py [--spec resnet50] [--batch 16] [--rounds 9]

The reference is `tests/torchvision_reference.py` (torchvision's structure, written without
resdsl). The generated model loads the reference's state_dict strictly, so both run the same
weights; outputs are checked equal before timing. Both are timed in one process, interleaved
round by round, in inference (eval, no_grad); the ratio is generated / hand-written images/s
(target >= 0.98).
"""

from __future__ import annotations

import argparse

import torch
from _common import interleaved, machine
from torchvision_reference import reference

import resdsl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", default="resnet50", help="a bundled spec that has a reference model")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    torch.manual_seed(0)
    hand = reference(args.spec).eval()
    generated = resdsl.build(args.spec).eval()
    generated.load_state_dict(hand.state_dict(), strict=True)
    x = torch.randn(args.batch, *resdsl.load(args.spec).input_shape)
    with torch.no_grad():
        assert torch.equal(generated(x), hand(x)), "the two models disagree"
        times = interleaved({"hand-written": lambda: hand(x), "resdsl": lambda: generated(x)}, rounds=args.rounds)
    ips = {name: args.batch / t for name, t in times.items()}
    print(f"machine: {machine()}")
    print(f"{args.spec}, batch {args.batch}, fp32, eval, no_grad, median of {args.rounds} interleaved rounds")
    print("| model | images/s |")
    print("|---|---|")
    for name, value in ips.items():
        print(f"| {name} | {value:.2f} |")
    print(f"ratio resdsl / hand-written: {ips['resdsl'] / ips['hand-written']:.3f}")


if __name__ == "__main__":
    main()
