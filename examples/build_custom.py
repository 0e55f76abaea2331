"""Build a spec with user-defined blocks and run a forward pass.

    python examples/build_custom.py [classes]
"""

import sys
from pathlib import Path

import torch

import resdsl

spec = Path(__file__).with_name("tiny_preact.res")
classes = int(sys.argv[1]) if len(sys.argv) > 1 else 10

net = resdsl.load(spec, classes=classes)  # checked IR: shapes, shortcuts, costs
model = resdsl.build(net).eval()  # the same network as an nn.Module

x = torch.randn(2, *net.input_shape)
with torch.no_grad():
    y = model(x)

print(f"{net.name}: {net.params:,} parameters, {net.macs:,} multiply-adds")
print(f"input {tuple(x.shape)} -> output {tuple(y.shape)}")
print("shortcuts:", ", ".join(f"{b.path}={b.shortcut}" for b in net.graph.graph["blocks"].values()))
