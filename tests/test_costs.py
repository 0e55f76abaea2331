"""Costs: static counts against the published numbers and against the built module, and the
checked `expect` statements.

Differential: for every bundled spec, the static parameter count equals `sum(p.numel())` of the
module `resdsl.build` makes, and the static multiply-adds equal FlopCounterMode's total / 2. The
"all" convention's element ops and the activation sizes are checked against the aten ops the
module actually runs, counted by a dispatch mode written from the convention's definition.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

import resdsl
from resdsl.compiler import compile_text
from resdsl.passes.count_costs import CONVENTIONS, Cost, network_cost
from resdsl.frontend.resources import bundled_specs

from conftest import ROOT

# The published numbers: torchvision's parameter counts, and conv + fc multiply-adds at
# 224x224 / 32x32 input, batch 1 (the paper's Table 1 convention).
# plain18/34: resnet18/34 minus the three option-B projections (1x1 conv + BN at the entries of
# layer2/3/4): params (64*128 + 2*128) + (128*256 + 2*256) + (256*512 + 2*512) = 173,824;
# MACs 64*128*28*28 + 128*256*14*14 + 256*512*7*7 = 3 * 6,422,528 = 19,267,584.
# cifar_plain: option A adds no parameters and no multiply-adds, so it counts as cifar_resnet.
REFERENCE = {
    "resnet18": (11_689_512, 1_814_073_344),
    "resnet34": (21_797_672, 3_663_761_408),
    "resnet50": (25_557_032, 4_089_184_256),
    "resnet101": (44_549_160, 7_801_405_440),
    "resnet152": (60_192_808, 11_513_626_624),
    "resnet50_v1": (25_557_032, 3_857_973_248),
    "resnet101_v1": (44_549_160, 7_570_194_432),
    "resnet152_v1": (60_192_808, 11_282_415_616),
    "resnext50_32x4d": (25_028_904, 4_230_479_872),
    "resnext101_32x8d": (88_791_336, 16_414_015_488),
    "wide_resnet50_2": (68_883_240, 11_398_021_120),
    "wide_resnet101_2": (126_886_696, 22_753_050_624),
    "plain18": (11_689_512 - 173_824, 1_814_073_344 - 19_267_584),
    "plain34": (21_797_672 - 173_824, 3_663_761_408 - 19_267_584),
    "cifar_resnet": (269_722, 40_551_040),
    "cifar_plain": (269_722, 40_551_040),
}
# The paper names each net by its weighted layers (convs + fc, projections not counted).
LAYERS = {"18": 18, "34": 34, "50": 50, "101": 101, "152": 152}

NESTED = """
block pair(width) {
 conv 3x3, width
 conv 3x3, width, relu off
 add
 relu
}
block double(width, stride = 1) {
 down: conv 1x1, width, stride stride
 inner: pair(width) x 2
 tail: pair(width)
 conv 1x1, width * 2
}
network nested(classes = 10) {
 input 3x32x32
 conv1: conv 3x3, 16
 layer1: double(16) x 2
 layer2: double(32), stride 2
 avgpool
 fc: linear classes
}
"""


def test_reference_covers_every_bundled_spec():
    from resdsl.frontend.zoo import ZOO  # the family specs, held to timm's layouts (tests/test_zoo.py)
    from test_zoo import MIRRORS, PAPERS  # the specs after 2015, held to timm's and the papers' numbers

    families = {entry.spec for entry in ZOO.values()}
    assert set(REFERENCE) | {spec for spec, _ in list(MIRRORS) + list(PAPERS)} | families == set(bundled_specs())


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_static_totals_equal_the_reference(name):
    net = resdsl.load(name)
    assert (net.params, net.macs) == REFERENCE[name]
    depth = re.search(r"(\d+)", name.replace("32x", "").replace("_2", ""))
    layers = sum(1 for _, d in net.graph.nodes(data=True) if d["op"] in ("conv", "linear") and not d["origin"])
    assert layers == (20 if name.startswith("cifar") else LAYERS[depth.group(1)])


# --- differential: the built module --------------------------------------------------------------


# group norm and the activations given as values: one operation per element, as batch norm and ReLU
VALUE_OPS = ("native_group_norm", "silu", "gelu", "hardtanh", "leaky_relu", "hardswish", "hardsigmoid", "mish", "tanh")


class ElementOps(TorchDispatchMode):
    """Counts what the "all" convention defines, from the aten ops a forward pass runs."""

    def __init__(self):
        super().__init__()
        self.element_ops = 0
        self.activations = 0
        self.ops: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        first = out[0] if isinstance(out, tuple) else out
        self.ops[name] += 1
        if name in ("native_batch_norm", "_native_batch_norm_legit_no_training", "relu_", "relu", "add", "add_", "sigmoid", "mul") + VALUE_OPS:
            self.element_ops += first.numel()
        elif name in ("max_pool2d_with_indices", "max_pool2d", "avg_pool2d"):
            self.element_ops += first.numel() * math.prod(args[1])
        elif name in ("mean", "_adaptive_avg_pool2d"):
            self.element_ops += args[0].numel()
        elif name == "_softmax":  # exp, the sum, the division
            self.element_ops += 3 * first.numel()
        elif name == "sum":  # a reduction over paths: one addition per element it removes
            self.element_ops += args[0].numel() - first.numel()
        if name in ("convolution", "native_batch_norm", "_native_batch_norm_legit_no_training", "relu_", "relu", "add", "add_", "sigmoid", "mul",
                    "max_pool2d_with_indices", "max_pool2d", "avg_pool2d", "mean", "_adaptive_avg_pool2d", "addmm", "constant_pad_nd", "cat", "_softmax", "sum") + VALUE_OPS:
            self.activations += first.numel()
        return out


def measure(net):
    """(parameters, multiply-adds, element ops, activations) of the module built from `net`."""
    torch.manual_seed(0)
    model = resdsl.build(net).eval()
    params = sum(p.numel() for p in model.parameters())
    counter, flops = ElementOps(), FlopCounterMode(display=False)
    with torch.no_grad(), flops, counter:
        model(torch.randn(1, *net.input_shape))
    return params, flops.get_total_flops() // 2, counter.element_ops, counter.activations


@pytest.mark.parametrize("name", sorted(bundled_specs()))
def test_static_counts_equal_the_built_module(name):
    net = resdsl.load(name)
    params, macs, element_ops, activations = measure(net)
    assert (params, macs) == (net.params, net.macs)
    if name in REFERENCE:  # numbers.md; the zoo's published counts are held in tests/test_zoo.py
        assert (params, macs) == REFERENCE[name]
    cost = network_cost(net.graph)
    assert (element_ops, activations) == (cost.element_ops, cost.activations)


# group norm, activations as values, ECA's channel_conv and a blur pool (docs/costs.md)
VALUES = """
block eca_block(w, norm = batchnorm, act = relu) {
    conv 3x3, w, norm norm, act act
    blur: blur_pool
    conv 3x3, w, norm norm, relu off
    avgpool
    conv: channel_conv 5
    sigmoid
    mul blur
    add
    act act
}
network values(norm = groupnorm(4), act = silu) {
    input 3x16x16
    shortcut C
    conv 3x3, 16, norm groupnorm_size(8), act gelu
    eca_block(32, norm = norm, act = act) x 2
    avgpool
    fc: linear 10
}
"""

# sums of separate values, of a loop's tuple, and of both: k values are k - 1 additions and tensors
SUMS = """
block adds(w) {
    conv 3x3, 3 * w
    parts: split 3
    s: sum parts[0], parts[1], parts[2]
    for i in 0 .. 2 {
        convs[i]: conv 1x1, w, from parts[i]
    }
    t: sum convs, s
    sum convs
    sum t, parts[0]
}
network sums {
    input 3x8x8
    shortcut C
    conv 3x3, 6
    adds(2)
    avgpool
    fc: linear 5
}
"""


@pytest.mark.parametrize(
    "load",
    [
        lambda: resdsl.load(ROOT / "examples" / "tiny_preact.res", classes=7),
        lambda: compile_text(NESTED, "nested.res"),
        lambda: resdsl.load("cifar_resnet", n=2, classes=100),
        lambda: compile_text((ROOT / "specs" / "resnet18.res").read_text().replace("shortcut B", "shortcut C").replace("expect", "# expect"), "c.res"),
        lambda: compile_text(VALUES, "values.res"),
        lambda: compile_text(SUMS, "sums.res"),
    ],
    ids=["preact-dilated", "nested-blocks", "cifar-n2", "resnet18-option-C", "norms-activations-eca-blur", "sums-of-values-and-tuples"],
)
def test_static_counts_equal_the_built_module_beyond_the_bundled_specs(load):
    net = load()
    cost = network_cost(net.graph)
    assert measure(net) == (cost.params, cost.macs, cost.element_ops, cost.activations)


# --- the counting conventions, by hand -------------------------------------------------------------

TINY = "network tiny {\n input 3x8x8\n conv1: conv 3x3, 4\n pool: maxpool 2x2, stride 2\n avgpool\n fc: linear 5\n}\n"


def test_tiny_network_counted_by_hand():
    net = compile_text(TINY, "tiny.res")
    # conv 3x3, 3->4 on 8x8 (padding 1 keeps 8x8): 4*3*9 = 108 weights, 4*8*8*27 = 6,912 MACs;
    # bn: 2*4 = 8 params; fc: 4*5 + 5 = 25 params, 20 MACs.
    assert (net.params, net.macs) == (108 + 8 + 25, 6_912 + 20)
    # element ops: bn 256 + relu 256 + maxpool 2x2 per output (4*4*4 = 64 outputs) 256
    # + global avg pool over its 64 input elements.
    cost = network_cost(net.graph)
    assert cost.element_ops == 256 + 256 + 256 + 64
    # activations: conv, bn, relu 256 each; maxpool 64; avgpool 4; fc 5 (the input is not one).
    assert cost.activations == 3 * 256 + 64 + 4 + 5
    assert cost.macs_in("conv+fc") == 6_932 and cost.macs_in("all") == 6_932 + 832


def test_conventions_are_checked():
    assert set(CONVENTIONS) == {"conv+fc", "all"}
    with pytest.raises(ValueError, match=r"^unknown counting convention 'ptflops'; expected one of conv\+fc, all$"):
        Cost().macs_in("ptflops")


def test_default_convention_totals_are_the_papers():
    net = resdsl.load("resnet50_v1")
    assert network_cost(net.graph).macs_in("conv+fc") == net.macs == 3_857_973_248


# --- expectations ------------------------------------------------------------------------------------

BASE = "network t(n = 3, when = 1) {\n input 3x8x8\n conv1: conv 3x3, 4\n fc: linear 2\n %s\n}\n"
# params: conv 108 + bn 8 + fc 4*8*8*2 + 2 = 630; MACs: 6,912 + 512 = 7,424; layers: 2.


def error_of(stmt: str) -> str:
    with pytest.raises(resdsl.ResdslError) as err:
        compile_text(BASE % stmt, "t.res")
    return str(err.value.render())


def first_line(stmt: str) -> str:
    return error_of(stmt).splitlines()[0]


def test_expectations_that_hold_compile():
    for stmt in ["expect params == 630", "expect macs == 7_424", "expect flops == 14_848", "expect layers == 2",
                 "expect macs ~ 7_500 within 2%", "expect params < 631", "expect shape conv1 == 4x8x8",
                 "expect params == 1 when n == 4", "expect params == 630 when n == 3 and when == 1"]:
        assert compile_text(BASE % stmt, "t.res").params == 630, stmt


@pytest.mark.parametrize(
    "stmt, message",
    [
        ("expect params == 631", "t.res:5:2: error[E0401]: expected params == 631, counted 630 (-1)"),
        ("expect macs ~ 7_600 within 2%", "t.res:5:2: error[E0401]: expected macs ~ 7,600 within 2%, counted 7,424 (off by -2.32%)"),
        ("expect macs ~ 3.8e9", "t.res:5:2: error[E0401]: expected macs ~ 3,800,000,000 within 1%, counted 7,424 (off by -100.00%)"),
        ("expect layers == 3 when n == 3", "t.res:5:2: error[E0401]: expected layers == 3, counted 2 (-1)"),
        ("expect shape conv1 == 4x4x4 when n == 3", "t.res:5:2: error[E0401]: expected `conv1` to be 4×4×4, inferred 4×8×8"),
        ("expect params == 630 when n", "t.res:5:28: error[E0115]: `when` needs a condition (true or false), got the int 3"),
        ("expect params == 630 when m == 3", "t.res:5:28: error[E0107]: unknown name `m`"),
        ("expect parms == 630", "t.res:5:9: error[E0104]: unknown metric `parms`"),
        ("expect params == 630 within 2%", "t.res:5:2: error[E0402]: `within 2%` goes with `~`, not `==`"),
        ("expect params == true", "t.res:5:19: error[E0115]: `expect params` needs a number, got the bool `true`"),
        ("expect shape conv2 == 4x8x8", "t.res:5:15: error[E0104]: unknown label `conv2`"),
    ],
)
def test_violated_or_malformed_expectations_are_located_errors(stmt, message):
    assert first_line(stmt) == message


def test_error_excerpts_point_at_the_statement_and_help_names_the_fix():
    text = error_of("expect parms == 630")
    assert text.splitlines()[1:5] == ["  |", "5 |  expect parms == 630", "  |         ^^^^^", "  = help: did you mean `params`?"]


def test_when_guards_published_numbers_of_a_family():
    # cifar_resnet states ResNet-20/32/44/56/110/1202; other n and other class counts build.
    # by hand: each n adds a basic block at widths 16, 32, 64: (2*9*w*w + 4*w) summed = 97,216;
    # ResNet-20 (n = 3) has 269,722, so n = 4 has 269,722 + 97,216.
    assert resdsl.load("cifar_resnet", n=4).params == 269_722 + 97_216
    assert resdsl.load("resnet50", classes=10).params == 25_557_032 - 2_048 * 990 - 990
    text = (ROOT / "specs" / "cifar_resnet.res").read_text().replace("464_154 when n == 5", "464_155 when n == 5")
    compile_text(text, "cifar_resnet.res")  # n = 3: the wrong n = 5 line is not checked
    with pytest.raises(resdsl.ResdslError, match=r"cifar_resnet\.res:\d+:5: error\[E0401\]: expected params == 464,155, counted 464,154"):
        compile_text(text, "cifar_resnet.res", n=5)


def test_every_bundled_spec_states_its_published_numbers():
    from test_zoo import MIRRORS, PAPERS
    from reference_manifest import manifest

    published = {spec: manifest(m)["params"] for (spec, params), m in MIRRORS.items() if not params}
    published |= {spec: n for (spec, params), n in PAPERS.items() if not params or spec == "preact_resnet"}
    from resdsl.frontend.zoo import ZOO  # a family spec states the count of the timm model its defaults make
    timm = {m["name"]: m["params"] for m in manifest("timm_zoo")["models"]}
    published |= {e.spec: timm[e.name] for e in ZOO.values() if not e.params}  # a bundled spec of a timm name too
    published["timm_resnetv2"] = timm["resnetv2_50"]  # whose zoo entry is the bundled resnetv2_50
    published["timm_regnet"] = timm["regnetx_002"]  # its defaults; zoo entries spell out every number
    published |= {"timm_regnetv": timm["regnetv_040"], "timm_regnetv_d": timm["regnetv_064"], "timm_regnetz": timm["regnetz_040"]}
    for name, path in bundled_specs().items():
        text = path.read_text()
        if name in REFERENCE:  # torchvision's and the paper's: parameters and multiply-adds
            params, macs = REFERENCE[name]
            assert f"expect macs == {macs:_}" in text, name
        else:  # timm's and the later papers': parameters (they publish no multiply-adds)
            params = published[name]
        assert f"expect params == {params:_}" in text, name
        assert "expect layers ==" in text or name == "resnetv2_50", name
