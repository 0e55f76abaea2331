"""Every zoo name traces whole under `torch.compile(fullgraph=True)`: no graph break.

A graph break costs a compiled model its speed silently; `fullgraph=True` makes dynamo raise
instead. The backend is "eager" (dynamo traces, nothing is code-generated) and the model and
input live on the meta device, so no weights are allocated: about a second per ResNet-50-sized
model on the CPU, hence the `compile` tier (`python -m pytest -m compile`).
"""

from __future__ import annotations

import pytest
import torch

import resdsl
from resdsl.frontend.zoo import ZOO


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.compile
@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_model_traces_as_one_graph(name):
    with torch.device("meta"):
        model = resdsl.build(name).eval()
        x = torch.randn(2, 3, 224, 224)
    graphs = []

    def count(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    out = torch.compile(model, backend=count, fullgraph=True)(x)
    assert len(graphs) == 1
    assert tuple(out.shape) == (2, resdsl.load(name).output_shape[0])
