"""Norms and activations as values: `norm = groupnorm(32)`, `act = silu`, `conv ..., norm norm, act act`.

One generated class per definition: the class takes the norm and the activation as factories
(timm's norm_layer/act_layer), the network passes the values; the names stay the labels.
"""

from __future__ import annotations

import pytest
import torch

import resdsl
from resdsl.backends.torch_build import instantiate, weights_from_module
from resdsl.diagnostics import ResdslError
from resdsl.ir.interpret import interpret

SPEC = """block basic(planes, stride = 1, norm = batchnorm, act = relu) {
    conv 3x3, planes, stride stride, norm norm, act act
    conv 3x3, planes, norm norm, relu off
    add
    act act
}
shortcut normed(channels, stride = 1, norm = batchnorm) {
    conv 1x1, channels, stride stride, norm norm, relu off
}
network valued(norm = groupnorm(8), act = silu) {
    input 3x16x16
    shortcut normed
    conv 3x3, 16, norm norm, act act
    basic(32, norm = norm, act = act) x 2, stride 2
    avgpool
    fc: linear 10
}
"""

BLOCK = '''class Basic(nn.Module):
    """Block `basic(planes, stride=1, norm=nn.BatchNorm2d, act=nn.ReLU)`.

    Defined at valued.res:1:1; one class serves every instance of the block.
    """

    def __init__(
        self,
        in_channels: int,
        planes: int,
        stride: int = 1,
        norm: Callable[[int], nn.Module] = nn.BatchNorm2d,
        act: Callable[[], nn.Module] = nn.ReLU,
        downsample: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(
            in_channels,
            planes,
            kernel_size=3,
            stride=stride,
            padding=1,
            bias=False,
        )
        self.bn1 = norm(planes)
        self.act1 = act()
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, padding=1, bias=False)
        self.bn2 = norm(planes)
        self.act2 = act()
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.act1(out)
        out = self.conv2(out)
        out = self.bn2(out)
        out = out + (x if self.downsample is None else self.downsample(x))
        out = self.act2(out)
        return out
'''


def _compile(text: str):
    return resdsl.compile_text(text, "valued.res")


def test_a_block_class_takes_the_norm_and_activation_as_factories():
    source = resdsl.generate_source(_compile(SPEC))
    assert source[source.index("class Basic") : source.index("class Valued")].rstrip() + "\n" == BLOCK
    assert "from functools import partial\nfrom typing import Callable\n\nimport torch\n" in source
    assert "        self.bn1 = nn.GroupNorm(8, 16)\n        self.act = nn.SiLU()\n" in source
    assert (
        "Basic(16, 32, stride=2, norm=partial(nn.GroupNorm, 8), act=nn.SiLU, downsample=normed(16, 32, stride=2, norm=partial(nn.GroupNorm, 8)))"
        in source
    )


def test_values_fill_the_ir_with_concrete_ops_and_exact_counts():
    net = _compile(SPEC)
    g = net.graph
    assert (g.nodes["layer1.0.bn1"]["op"], g.nodes["layer1.0.bn1"]["params"]) == ("groupnorm", {"groups": 8})
    assert g.nodes["layer1.0.act1"]["op"] == "silu"
    assert (g.nodes["layer1.0.downsample.1"]["op"], g.nodes["layer1.0.downsample.1"]["params"]) == ("groupnorm", {"groups": 8})
    # group norm counts as batch norm does: 2·C
    assert net.params == 33_882
    model = instantiate(net).eval()
    assert sum(p.numel() for p in model.parameters()) == 33_882
    assert [k for k in model.state_dict() if k.startswith("layer1.0.")][:5] == [
        "layer1.0.conv1.weight", "layer1.0.bn1.weight", "layer1.0.bn1.bias", "layer1.0.conv2.weight", "layer1.0.bn2.weight",
    ]
    for p in model.parameters():
        torch.nn.init.normal_(p, 0.0, 0.3, generator=torch.Generator().manual_seed(0))
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(model(x), interpret(net, x, weights_from_module(net, model)), rtol=1e-5, atol=1e-5)


def test_the_defaults_are_batch_norm_and_relu():
    net = _compile(SPEC.replace("network valued(norm = groupnorm(8), act = silu)", "network valued(norm = batchnorm, act = relu)"))
    assert [net.graph.nodes[n]["op"] for n in ("layer1.0.bn1", "layer1.0.act1", "layer1.0.downsample.1")] == ["bn", "relu", "bn"]
    source = resdsl.generate_source(net)
    assert "Basic(16, 32, stride=2, downsample=normed(16, 32, stride=2))," in source  # defaults are left out


ERRORS = [
    ("conv 3x3, 64, norm silu", "E0115", "conv norm takes a norm, got an activation `silu`", (3, 24, 3, 28), "norms are `batchnorm`, `groupnorm(groups)`, `groupnorm_size(size)`, `evonorm_s0(groups)`, `frn`"),
    ("conv 3x3, 64, act groupnorm(2)", "E0115", "conv act takes an activation, got a norm `groupnorm(2)`", (3, 23, 3, 35), None),
    ("conv 3x3, 60, norm groupnorm(32)", "E0205", "groupnorm's 32 groups do not divide the 60 channels", (3, 5, 3, 37), None),
    ("conv 3x3, 64, norm groupnorm", "E0109", "`groupnorm` takes 1 argument, got 0", (3, 24, 3, 33), "for example `groupnorm(32)`"),
    ("conv 3x3, 48, norm groupnorm_size(32)", "E0205", "groupnorm_size's groups of 32 channels do not divide the 48 channels", (3, 5, 3, 42), None),
    ("conv 3x3, 64, norm groupnorm_size(0)", "E0115", "`groupnorm_size`'s size must be a positive integer, got 0", (3, 39, 3, 40), None),
    ("conv 3x3, 64, norm groupnorm(0)", "E0115", "`groupnorm`'s groups must be a positive integer, got 0", (3, 34, 3, 35), None),
    ("conv 3x3, 64, norm 2", "E0115", "conv norm takes a norm, got the number 2", (3, 24, 3, 25), None),
    ("norm relu", "E0115", "norm kind takes a norm, got an activation `relu`", (3, 10, 3, 14), None),
]


@pytest.mark.parametrize("body, code, message, where, help", ERRORS)
def test_a_value_of_the_wrong_kind_is_a_located_error(body, code, message, where, help):
    with pytest.raises(ResdslError) as info:
        _compile(f"network t {{\n    input 3x32x32\n    {body}\n}}\n")
    diag = info.value.diagnostics[0]
    span = diag.span
    assert (diag.code, diag.message, (span.line, span.column, span.end_line, span.end_column)) == (code, message, where)
    if help is not None:
        assert diag.help == help
