"""The norms that are their own nonlinearity, `evonorm_s0(groups)` and `frn` (timm's EvoNorm2dS0
and FilterResponseNormTlu2d): keys, parameter counts, and outputs worked by hand."""

from __future__ import annotations

import math

import torch

import resdsl
from resdsl.backends.torch_build import weights_from_module
from resdsl.compiler import compile_text
from resdsl.ir.interpret import interpret

SPEC = """
block b(norm = batchnorm) {
    n: norm norm
}
network t(norm = batchnorm) {
    input 2x1x2
    blk: b(norm = norm)
}
"""


def _module(norm: str):
    net = compile_text(SPEC.replace("network t(norm = batchnorm)", f"network t(norm = {norm})"), "t.res")
    return net, resdsl.build(net).eval()


def _run(net, model, x):
    with torch.no_grad():
        return model(x), interpret(net, x, weights_from_module(net, model))


# Channel 0 holds (1, -1), channel 1 (3, 3): per channel (and, with 2 groups, per group) the
# mean is 0 and 3, the biased variance 1 and 0, the mean square 1 and 9.
X = torch.tensor([[[[1.0, -1.0]], [[3.0, 3.0]]]])


def test_evonorm_s0_gates_by_a_sigmoid_and_divides_by_the_group_deviation():
    net, model = _module("evonorm_s0(2)")
    assert net.params == 6 and list(model.state_dict()) == ["blk.n.weight", "blk.n.bias", "blk.n.v"]
    with torch.no_grad():
        model.blk.n.v.copy_(torch.tensor([0.0, 0.0]))  # sigmoid(0) = 1/2
        model.blk.n.weight.copy_(torch.tensor([2.0, 1.0]))
        model.blk.n.bias.copy_(torch.tensor([0.5, -1.0]))
    out, ref = _run(net, model, X)
    s0, s1 = math.sqrt(1 + 1e-5), math.sqrt(0 + 1e-5)
    expected = torch.tensor([[[[0.5 / s0 * 2 + 0.5, -0.5 / s0 * 2 + 0.5]], [[1.5 / s1 - 1, 1.5 / s1 - 1]]]])
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(ref, expected)


def test_frn_divides_by_the_root_mean_square_and_clamps_at_tau():
    net, model = _module("frn")
    assert net.params == 6 and list(model.state_dict()) == ["blk.n.weight", "blk.n.bias", "blk.n.tau"]
    with torch.no_grad():
        model.blk.n.weight.copy_(torch.tensor([2.0, 1.0]))
        model.blk.n.bias.copy_(torch.tensor([0.5, 0.0]))
        model.blk.n.tau.copy_(torch.tensor([0.0, 2.0]))
    out, ref = _run(net, model, X)
    r0 = math.sqrt(1 + 1e-5)
    assert out[0, 0, 0, 1].item() == 0.0 and ref[0, 0, 0, 1].item() == 0.0  # -2/r0 + 0.5 < tau 0
    # channel 1: 3 / sqrt(9 + 1e-5) is just below 1, below tau 2
    expected = torch.tensor([[[[2 / r0 + 0.5, 0.0]], [[2.0, 2.0]]]])
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(ref, expected)


def test_the_generated_file_defines_each_norm_once_and_passes_the_factory():
    net = compile_text(SPEC.replace("input 2x1x2", "input 32x2x2").replace("network t(norm = batchnorm)", "network t(norm = evonorm_s0(32))"), "t.res")
    source = resdsl.generate_source(net)
    assert source.count("class EvoNormS0(nn.Module):") == 1
    assert "self.blk = B(32, norm=partial(EvoNormS0, 32))" in source and "self.n = norm(in_channels)" in source
