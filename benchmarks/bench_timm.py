"""Eager forward time of resdsl's zoo models against timm's own, name by name.

    /path/to/reference-venv/bin/python benchmarks/bench_timm.py [NAME ...] [--batch 8] [--rounds 7]

Runs in the reference environment (timm installed; see scripts/reference_manifests.py). For
each timm name the zoo covers: timm's model and resdsl's are built, resdsl's loads timm's
state_dict strictly (the same weights), the norm statistics are randomised, and the outputs are
checked equal (1e-5 relative) before timing. Both are timed in one process, interleaved round
by round, eval mode and no_grad, and the medians compared: the ratio is resdsl's time over
timm's (the issue's target: <= 1.05 for each of the default names).
"""

from __future__ import annotations

import argparse

import torch
from _common import interleaved, machine

import resdsl
from resdsl.frontend.zoo import ZOO

DEFAULT = ["resnest50d", "res2net50_26w_4s", "skresnet50", "regnety_032", "ecaresnet50d", "resnet50", "seresnext50_32x4d"]


def _randomise_norms(model: torch.nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)


def compare(name: str, batch: int, rounds: int) -> tuple[float, float]:
    import timm

    torch.manual_seed(0)
    theirs = timm.create_model(name, pretrained=False).eval()
    _randomise_norms(theirs)
    ours = resdsl.build(name).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(batch, *resdsl.load(name).input_shape)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)
        times = interleaved({"timm": lambda: theirs(x), "resdsl": lambda: ours(x)}, rounds=rounds)
    return times["timm"], times["resdsl"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", default=DEFAULT)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"batch {args.batch}, fp32, eval, no_grad, median of {args.rounds} interleaved rounds (ms per batch)")
    print("| model | timm | resdsl | resdsl / timm |")
    print("|---|---:|---:|---:|")
    for name in args.names:
        if name not in ZOO:
            print(f"| `{name}` | | | not in the zoo |")
            continue
        theirs, ours = compare(name, args.batch, args.rounds)
        print(f"| `{name}` | {theirs * 1e3:.1f} | {ours * 1e3:.1f} | {ours / theirs:.3f} |", flush=True)


if __name__ == "__main__":
    main()
