"""Weight-standardised convs (`conv ..., ws EPS`, op `std_conv`) and zero padding (`pad k`):
shapes, costs, the generated module and the reference interpreter, with values worked by hand."""

from __future__ import annotations

import torch

import resdsl
from resdsl.backends.torch_build import weights_from_module
from resdsl.compiler import compile_text
from resdsl.ir.interpret import interpret
from resdsl.passes.count_costs import network_cost

# A 1x1 conv 2 -> 2: out channel 0 has weights (3, 1), channel 1 (0, 4). Standardised (mean
# 2 and 2, biased variance 1 and 4) they are (1, -1) and (-1, 1), exactly with eps 1e-8 (1 + 1e-8
# and 4 + 1e-8 are 1 and 4 in float32). On the input (5, 2) the outputs are 3 and -3.
WS = """
block blk(w, eps = 1e-8) {
    conv 1x1, w, ws eps, bn off, relu off
}
network ws(eps = 1e-8) {
    input 2x1x1
    b: blk(2, eps = eps)
}
"""


def _run(net, weight):
    model = resdsl.build(net).eval()
    with torch.no_grad():
        model.b.conv1.weight.copy_(weight)
        x = torch.tensor([5.0, 2.0]).view(1, 2, 1, 1)
        return model, model(x), interpret(net, x, weights_from_module(net, model))


def test_a_standardised_conv_uses_zero_mean_unit_variance_weights():
    weight = torch.tensor([[3.0, 1.0], [0.0, 4.0]]).view(2, 2, 1, 1)
    for eps in (1e-8, 1e-9):
        net = _compile(eps)
        model, out, ref = _run(net, weight)
        assert out.flatten().tolist() == [3.0, -3.0]
        assert ref.flatten().tolist() == [3.0, -3.0]
        assert model.b.conv1.eps == eps
        assert [k for k in model.state_dict()] == ["b.conv1.weight"]


def _compile(eps: float):
    return compile_text(WS.replace("network ws(eps = 1e-8)", f"network ws(eps = {eps!r})"), "ws.res")


def test_the_generated_file_defines_std_conv2d_once_and_passes_eps():
    source = resdsl.generate_source(_compile(1e-08))
    assert source.count("class StdConv2d(nn.Conv2d):") == 1
    assert "self.conv1 = StdConv2d(in_channels, w, kernel_size=1, bias=False, eps=eps)" in source


SPEC = """
network t {
    input 3x8x8
    conv 3x3, 4, ws 1e-8, bias on, bn off, relu off
    pad 2
}
"""


def test_costs_of_a_standardised_conv_and_a_pad():
    net = compile_text(SPEC, "t.res")
    g = net.graph
    conv, pad = (n for n, d in g.nodes(data=True) if d["op"] in ("std_conv", "pad"))
    assert g.nodes[conv]["op"] == "std_conv" and g.nodes[pad]["op"] == "pad"
    assert g.nodes[pad]["shape"] == (4, 12, 12)
    # 4·3·9 = 108 weights + 4 biases; 4·8·8·27 = 6,912 MACs; 108 element ops (the standardisation);
    # activations: the conv's 4·8·8 = 256 plus its 108 standardised weights, the pad's 4·12·12 = 576
    assert network_cost(g) == type(network_cost(g))(112, 6_912, 108, 256 + 108 + 576)


def test_pad_surrounds_the_map_with_zeros():
    net = compile_text(SPEC, "t.res")
    model = resdsl.build(net).eval()
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = model(x)
    ref = interpret(net, x, weights_from_module(net, model))
    assert out.shape == (1, 4, 12, 12)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)  # the interpreter standardises by its own formula
    assert out[:, :, :2].abs().sum().item() == 0 and out[:, :, :, -2:].abs().sum().item() == 0
    assert out[:, :, 2:-2, 2:-2].abs().sum().item() > 0


def test_a_standardised_conv_needs_a_positive_eps():
    import pytest

    with pytest.raises(resdsl.ResdslError) as err:
        _compile(0.0)
    assert "error[E0201]: conv ws needs an eps above 0, got 0" in str(err.value)
