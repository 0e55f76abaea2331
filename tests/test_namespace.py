"""Hostile names and strings cannot break or hijack the generated Python.

Every spec name reaches Python through `backends.namespace.Namespace`, and every carried text
(network name, file path) through `doc_text`. These tests feed names that are Python keywords,
builtins, names the generated code uses itself (`x`, `torch`, `relu`), and attributes
`nn.Module` relies on (`forward`, `training`, `_modules`), and file paths with quotes,
newlines and triple quotes; the generated module must compile, contain nothing but imports,
definitions and its docstring at top level, build, run in train and eval mode, and have
exactly the parameter count the compiler counted statically.
"""

from __future__ import annotations

import ast as pyast

import pytest
import torch

import resdsl
from resdsl.backends.namespace import Namespace, class_name, doc_text
from resdsl.backends.torch_build import instantiate
from resdsl.backends.torch_source import module_path

KEYWORD_BLOCK = """
block class(lambda, import = 1, self = 2, x = 1, torch = 1, forward = 1, training = 1, __init__ = 1, __class__ = 1, super = 1, nn = 1, in_channels = 1, out = 1, downsample = 1, residual = 1, None = 1, print = 1) {
    let def = lambda * import
    let return = def * self // 2 * x * torch * forward * training * __init__ * __class__ * super * nn * in_channels * out * downsample * residual * None * print
    forward: conv 3x3, return
    training: conv 3x3, def, relu off
    add
    self: relu
}
block x(torch, stride = 1) {
    __init__: conv 3x3, torch, stride stride
    __class__: conv 3x3, torch, relu off
    add
    x: relu
}
network torch(forward = 10, training = 16, self = 3) {
    input self x 16 x 16
    shortcut B
    __init__: conv 3x3, training
    x: class(training)
    import: x(32) x 2, stride 2
    class: class(32, import = 1)
    lambda: avgpool
    super: linear forward
}
"""

MODULE_ATTRIBUTES = """
network n {
    input 3x8x8
    training: conv 3x3, 4
    _modules: conv 3x3, 4
    _parameters: conv 3x3, 4
    forward: conv 3x3, 4
    state_dict: conv 3x3, 4
    call_super_init: conv 3x3, 4
    out_channels: conv 3x3, 4
    fc: linear 10
}
"""

# A conv labelled `relu` in a block whose ReLUs are relu1, relu2: the shared `self.relu` must not
# replace the conv (the model would silently lose a layer).
RELU_LABEL = """
block b(w) {
    relu: conv 3x3, w, relu off
    conv 3x3, w
    conv 3x3, w, relu off
    add
    relu
}
network n {
    input 3x8x8
    conv 3x3, 4
    b(4)
}
"""

# `basic` and `Basic` both give the class name `Basic`; `Torch` is also the network's class name.
CLASS_COLLISIONS = """
block basic(w) {
    conv 3x3, w
}
block Basic(w) {
    conv 3x3, w
}
block Torch(w) {
    conv 3x3, w
}
network torch {
    input 3x8x8
    basic(4)
    Basic(4)
    Torch(4)
}
"""

# A parameter named like the nested block a body builds (`layer1`): both become __init__ arguments.
CHILD_PARAMETER = """
block inner(w) {
    conv 3x3, w
}
block outer(layer1, out_channels = 2) {
    inner(layer1)
    out_channels: conv 3x3, out_channels
}
network n {
    input 3x8x8
    outer(4)
}
"""

SPECS = {
    "keywords": KEYWORD_BLOCK,
    "module_attributes": MODULE_ATTRIBUTES,
    "relu_label": RELU_LABEL,
    "class_collisions": CLASS_COLLISIONS,
    "child_parameter": CHILD_PARAMETER,
}


def _top_level_kinds(source: str) -> list[str]:
    tree = pyast.parse(source)
    kinds = []
    for i, node in enumerate(tree.body):
        if i == 0 and isinstance(node, pyast.Expr) and isinstance(node.value, pyast.Constant):
            kinds.append("docstring")
        else:
            kinds.append(type(node).__name__)
    return kinds


def _defined_names(source: str) -> list[str]:
    return [n.name for n in pyast.parse(source).body if isinstance(n, (pyast.ClassDef, pyast.FunctionDef))]


@pytest.mark.parametrize("name", sorted(SPECS))
def test_hostile_names_build_and_run(name):
    net = resdsl.compile_text(SPECS[name], f"{name}.res")
    source = resdsl.generate_source(net)
    kinds = _top_level_kinds(source)
    assert kinds[0] == "docstring"
    assert set(kinds[1:]) <= {"Import", "ImportFrom", "ClassDef", "FunctionDef"}
    names = _defined_names(source)
    assert len(names) == len(set(names)), names
    model = instantiate(net)
    # measured == counted: a layer silently replaced by another attribute would change this
    assert sum(p.numel() for p in model.parameters()) == net.params
    # every IR node that owns a module is found at its module path (fold_bn and regional
    # compile reach into the model this way)
    modules = dict(model.named_modules())
    owners = [n for n, d in net.graph.nodes(data=True) if d["op"] in ("conv", "bn", "linear", "maxpool")]
    assert [n for n in owners if module_path(net, n) not in modules] == []
    for train in (True, False):
        model.train(train)
        y = model(torch.randn(2, *net.input_shape))
        assert tuple(y.shape[1:]) == net.output_shape


def test_folding_batch_norms_finds_renamed_layers():
    """fold_batchnorm reaches layers by IR path; `training`, `_modules`, ... are renamed."""
    from resdsl.backends.inference_recipe import fold_batchnorm

    net = resdsl.compile_text(MODULE_ATTRIBUTES, "m.res")
    torch.manual_seed(0)
    model = instantiate(net).eval()
    x = torch.randn(2, *net.input_shape)
    expected = model(x)
    folded = instantiate(net).eval()
    folded.load_state_dict(model.state_dict())
    assert fold_batchnorm(folded, net) == 7
    assert sum(isinstance(m, torch.nn.Identity) for m in folded.modules()) == 7
    torch.testing.assert_close(folded(x), expected, rtol=1e-4, atol=1e-5)


def test_keyword_names_are_renamed_not_refused():
    source = resdsl.generate_source(resdsl.compile_text(KEYWORD_BLOCK, "k.res"))
    assert "class Class(nn.Module):" in source
    assert "def torch_(zero_init_residual: bool = False) -> Torch:" in source
    assert "        lambda_: int," in source and "        import_: int = 1," in source
    assert "        def_ = lambda_ * import_" in source
    assert "self.forward_ = nn.Conv2d(" in source  # `forward` would replace the method
    assert "self.training_ = nn.Conv2d(" in source  # `training` is nn.Module's mode flag
    assert source.count("import torch\n") == 1


def test_module_attribute_labels_get_fresh_attributes():
    source = resdsl.generate_source(resdsl.compile_text(MODULE_ATTRIBUTES, "m.res"))
    for attr in ("training_", "_modules_", "_parameters_", "forward_", "state_dict_", "call_super_init_", "out_channels_"):
        assert f"        self.{attr} = nn.Conv2d(" in source, attr


def test_relu_label_keeps_its_conv():
    source = resdsl.generate_source(resdsl.compile_text(RELU_LABEL, "r.res"))
    assert "self.relu_ = nn.Conv2d(in_channels, w, kernel_size=3, padding=1, bias=False)" in source
    assert "self.relu = nn.ReLU(inplace=True)" in source


def test_colliding_class_names_are_made_unique():
    source = resdsl.generate_source(resdsl.compile_text(CLASS_COLLISIONS, "c.res"))
    assert _defined_names(source) == ["Basic", "Basic_1", "Torch", "Torch_1", "torch_"]


@pytest.mark.parametrize(
    "path",
    [
        'evil""".res',
        'a"""\nimport os\nos.system("echo pwned")\n""".res',
        "back\\slash\\.res",
        "quote'\".res",
        "line\u2028sep\x0cfeed\r.res",
        "ends with quote\"",
    ],
)
def test_file_paths_cannot_leave_the_docstring(path):
    text = "network n {\n    input 3x8x8\n    conv 3x3, 4\n}\n"
    source = resdsl.generate_source(resdsl.compile_text(text, path))
    kinds = _top_level_kinds(source)
    assert kinds == ["docstring", "Import", "ImportFrom", "ClassDef", "FunctionDef"]
    docstring = pyast.get_docstring(pyast.parse(source), clean=False)
    assert doc_text(path) in docstring
    calls = [n.func for n in pyast.walk(pyast.parse(source)) if isinstance(n, pyast.Call)]
    assert not any(isinstance(f, pyast.Attribute) and f.attr == "system" for f in calls)
    assert not any(isinstance(n, pyast.Import) and n.names[0].name == "os" for n in pyast.walk(pyast.parse(source)))


def test_namespace_sanitizes_and_uniquifies():
    ns = Namespace()
    assert ns.name("class") == "class_"
    assert ns.name("class") == "class_"  # stable for the same spec name
    assert ns.name("class_") == "class__1"  # `class_` is taken by `class`
    assert ns.name("print") == "print_"
    assert ns.name("__init__") == "init__"  # `__init` would be name-mangled in a class body
    assert ns.name("__x") == "x_" and ns.name("x_") == "x__1"  # `x` is the generated code's
    assert ns.name("9lives") == "_9lives"
    assert ns.name("a-b c") == "a_b_c"
    assert ns.name("") == "unnamed"
    assert ns.unique("x") == "x__2" and ns.unique("x") == "x__3"  # never one returned before


def test_module_attributes_are_reserved_only_where_asked():
    attrs = Namespace(module_attrs=True)
    assert [attrs.name(n) for n in ("training", "forward", "_modules", "relu", "conv1")] == [
        "training_", "forward_", "_modules_", "relu_", "conv1",
    ]
    assert Namespace().name("training") == "training"


OWN_DOWNSAMPLE = """
block pre(w, stride = 1) {
    act: relu
    conv 3x3, w, stride stride
    downsample: conv 1x1, w, stride stride, relu off, from act when stride > 1
    add downsample
}
block res(w, stride = 1) {
    conv 3x3, w, stride stride
    downsample: conv 1x1, w, relu off
    add
}
network n {
    input 4x8x8
    pre(8) x 2, stride 2
    res(16) x 1, stride 2
}
"""


def test_downsample_is_a_label_only_where_no_residual_add_takes_a_shortcut():
    """A block without a residual add takes no `downsample` argument: its own label keeps the
    name (timm's pre-activation RegNet); with a residual add the label is renamed."""
    net = resdsl.compile_text(OWN_DOWNSAMPLE, "d.res")
    source = resdsl.generate_source(net)
    assert "        self.downsample = (\n            nn.Conv2d(in_channels, w, kernel_size=1, stride=stride, bias=False)\n" in source
    assert "        self.downsample_ = nn.Conv2d(w, w, kernel_size=1, bias=False)\n" in source
    assert [k for k in instantiate(net).state_dict() if "downsample" in k] == [
        "layer1.0.downsample.weight", "layer1.0.downsample_bn.weight", "layer1.0.downsample_bn.bias",
        "layer1.0.downsample_bn.running_mean", "layer1.0.downsample_bn.running_var", "layer1.0.downsample_bn.num_batches_tracked",
        "layer2.0.downsample_.weight", "layer2.0.downsample_bn.weight", "layer2.0.downsample_bn.bias",
        "layer2.0.downsample_bn.running_mean", "layer2.0.downsample_bn.running_var", "layer2.0.downsample_bn.num_batches_tracked",
        "layer2.0.downsample.0.weight", "layer2.0.downsample.1.weight", "layer2.0.downsample.1.bias",
        "layer2.0.downsample.1.running_mean", "layer2.0.downsample.1.running_var", "layer2.0.downsample.1.num_batches_tracked",
    ]
    assert module_path(net, "layer1.0.downsample") == "layer1.0.downsample"
    # with a residual add, the user's `downsample` label and the shortcut's `downsample.0` share a
    # prefix in the IR; each IR node maps to its own module
    model = instantiate(net)
    paths = {n: module_path(net, n) for n in ("layer2.0.downsample", "layer2.0.downsample_bn", "layer2.0.downsample.0", "layer2.0.downsample.1")}
    assert paths == {"layer2.0.downsample": "layer2.0.downsample_", "layer2.0.downsample_bn": "layer2.0.downsample_bn",
                     "layer2.0.downsample.0": "layer2.0.downsample.0", "layer2.0.downsample.1": "layer2.0.downsample.1"}
    assert [type(model.get_submodule(p)).__name__ for p in paths.values()] == ["Conv2d", "BatchNorm2d", "Conv2d", "BatchNorm2d"]


def test_class_name_and_doc_text():
    assert class_name("wide_resnet50_2") == "WideResnet50_2"
    assert class_name("__") == "Network"
    assert doc_text('a"""b\\c\nd\x00') == "a'''b/c d"


@pytest.mark.parametrize("name", ["compile_model", "RECOMPILE_LIMITS"])
def test_network_names_do_not_collide_with_the_compile_helpers(name):
    from resdsl.backends.torch_compile import compile_source
    from resdsl.backends.torch_source import TorchSourceGenerator

    net = resdsl.compile_text(f"network {name} {{\n    input 3x8x8\n    conv 3x3, 4\n    basic(4)\n}}\n", "c.res")
    generator = TorchSourceGenerator(net)
    source = generator.generate() + compile_source(generator, net, "regional")
    top = [n.name if isinstance(n, (pyast.FunctionDef, pyast.ClassDef)) else n.targets[0].id for n in pyast.parse(source).body if isinstance(n, (pyast.FunctionDef, pyast.ClassDef, pyast.Assign))]
    assert len(top) == len(set(top)) == 6, top  # DropPath, Basic, the network class and factory, two compile helpers
    assert generator.factory in top
