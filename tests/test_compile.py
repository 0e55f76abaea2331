"""torch.compile: block variants from the IR, graph counts (regional shares one graph per
distinct block, plus one for the stem and one for the head; whole is one graph, no breaks),
outputs equal eager, the recompile and recursion limits, and the `compile_model` function
`resdsl build --compile` writes into the source.

Graph counts use a counting backend (dynamo traces, nothing is code-generated), so they are
quick; two tests run inductor for real on a one-block-per-stage CIFAR net.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner

import resdsl
from conftest import ROOT, TESTS
from resdsl.backends.torch_compile import block_variants, compile_model, regional_forward
from resdsl.backends.torch_source import module_path
from resdsl.cli import main
from resdsl.frontend.resources import bundled_specs

GOLDEN = TESTS / "golden" / "compile"

# The paper's CIFAR net: stage 1 keeps 16 channels; stages 2 and 3 open with a stride-2,
# channel-doubling block (option A zero-pad shortcut) followed by identical blocks.
CIFAR3_VARIANTS = [
    ["layer1.0", "layer1.1", "layer1.2"],
    ["layer2.0"],
    ["layer2.1", "layer2.2"],
    ["layer3.0"],
    ["layer3.1", "layer3.2"],
]


@pytest.fixture
def dynamo():
    """A clean dynamo with its limits restored afterwards (compile_model raises them)."""
    import torch._dynamo.config as config

    saved = {k: getattr(config, k) for k in ("recompile_limit", "accumulated_recompile_limit")}
    limit = sys.getrecursionlimit()
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()
    for k, v in saved.items():
        setattr(config, k, v)
    sys.setrecursionlimit(limit)


class CountingBackend:
    """A torch.compile backend that runs graphs as traced and counts how many it was given."""

    def __init__(self):
        self.graphs = 0

    def __call__(self, gm, example_inputs):
        self.graphs += 1
        return gm.forward


def test_cifar_variants_are_the_papers_distinct_blocks():
    assert list(block_variants(resdsl.load("cifar_resnet", n=3)).values()) == CIFAR3_VARIANTS


@pytest.mark.parametrize("spec", ["resnet50", "resnet152"])
def test_bottleneck_nets_have_two_variants_per_stage(spec):
    # Each stage: a first block with a projection shortcut, then identical identity blocks.
    variants = block_variants(resdsl.load(spec))
    assert [paths[0] for paths in variants.values()] == [f"layer{s}.{i}" for s in (1, 2, 3, 4) for i in (0, 1)]
    assert [v.shortcut for v in variants] == ["projection", "identity"] * 4
    assert sum(map(len, variants.values())) == len(resdsl.load(spec).graph.graph["blocks"])


def _pair(spec="cifar_resnet", **params):
    torch.manual_seed(0)
    eager = resdsl.build(spec, **params).eval()
    other = resdsl.build(spec, **params).eval()
    other.load_state_dict(eager.state_dict())
    return eager, other, torch.randn(2, *resdsl.load(spec, **params).input_shape)


@pytest.mark.compile
@pytest.mark.parametrize("n, blocks", [(1, 3), (3, 5), (5, 5)])
def test_regional_compiles_one_graph_per_distinct_block_plus_stem_and_head(dynamo, n, blocks):
    eager, model, x = _pair(n=n)
    backend = CountingBackend()
    compile_model(model, resdsl.load("cifar_resnet", n=n), "regional", backend=backend)
    with torch.no_grad():
        assert torch.equal(model(x), eager(x))
        model(x)  # identical second call: no recompilation
    assert backend.graphs == blocks + 2


def _region_calls(spec, **params):
    net = resdsl.load(spec, **params)
    blocks = [module_path(net, p) for paths in block_variants(net).values() for p in paths]
    forward, regions = regional_forward(resdsl.build(net), blocks)
    calls = [[n.target if n.op == "call_module" else n.target.__name__ for n in r.graph.nodes if n.op.startswith("call")] for r in regions]
    top = [n.target for n in forward.graph.nodes if n.op == "call_module"]
    return blocks, calls, top


def test_regions_are_the_stem_and_the_head():
    blocks, calls, top = _region_calls("resnet50")
    assert calls == [["conv1", "bn1", "relu", "maxpool"], ["avgpool", "flatten", "fc"]]
    assert top == ["region0", *blocks, "region1"]  # every block called as itself, in order


@pytest.mark.parametrize("spec", bundled_specs())
def test_every_bundled_spec_cuts_into_blocks_and_regions(spec):
    # The cut forward calls blocks and regions only: regional leaves no statement uncompiled.
    blocks, calls, top = _region_calls(spec)
    assert [t for t in top if not t.startswith("region")] == blocks
    assert len(top) == len(blocks) + len(calls) and all(top.count(f"region{i}") == 1 for i in range(len(calls)))
    # each region a maximal run between blocks (none twice in a row); a bundled spec has at most a
    # stem and a head run (timm_regnetz has none: its stem and head are blocks)
    assert not any(a.startswith("region") and b.startswith("region") for a, b in zip(top, top[1:]))
    assert len(calls) <= 2


@pytest.mark.compile
def test_regional_trains_as_eager(dynamo):
    # Training mode reaches the stem's batch norm through the region; gradients flow through all regions.
    eager, model, x = _pair(n=1)
    eager.train(), model.train()
    backend = CountingBackend()
    compile_model(model, resdsl.load("cifar_resnet", n=1), "regional", backend=backend)
    eager(x).square().sum().backward()
    model(x).square().sum().backward()
    assert torch.equal(model.bn1.running_mean, eager.bn1.running_mean)
    for (name, a), b in zip(model.named_parameters(), eager.parameters()):
        torch.testing.assert_close(a.grad, b.grad, msg=name)
    assert backend.graphs == 3 + 2


@pytest.mark.compile
def test_regional_raises_the_recompile_limit_past_eight_variants(dynamo, tmp_path):
    # Ten blocks of ten widths: ten variants, two more than dynamo allows one code object by default.
    body = "\n".join(f"    b{w}: basic({w})" for w in range(16, 26))
    spec = tmp_path / "widths.res"
    spec.write_text(f"network widths {{\n    input 3x8x8\n    shortcut A\n    conv1: conv 3x3, 16\n{body}\n}}\n")
    net = resdsl.load(spec)
    assert len(block_variants(net)) == 10
    eager, model, x = _pair(spec)
    backend = CountingBackend()
    compile_model(model, net, "regional", backend=backend)
    assert torch._dynamo.config.recompile_limit == (10 + 1) * 8  # and the stem's region; no head
    with torch.no_grad():
        assert torch.equal(model(x), eager(x))
    assert backend.graphs == 11  # at the default limit the last three regions would silently run eager


@pytest.mark.compile
def test_whole_model_is_one_graph_without_breaks(dynamo):
    eager, model, x = _pair(n=2)
    backend = CountingBackend()
    compile_model(model, resdsl.load("cifar_resnet", n=2), "whole", backend=backend)  # fullgraph=True
    with torch.no_grad():
        assert torch.equal(model(x), eager(x))
    assert backend.graphs == 1


def test_whole_model_raises_the_recursion_limit_with_depth(dynamo):
    net = resdsl.load("cifar_resnet", n=200)
    model = resdsl.build(net)
    compile_model(model, net, "whole")  # lazy: nothing compiles until the first call
    assert sys.getrecursionlimit() >= 10 * net.graph.number_of_nodes() == 48080  # 4,808 nodes, a drop path per block


def test_compiling_keeps_class_and_state_dict_names(dynamo):
    eager = resdsl.build("cifar_resnet", n=1)
    for strategy in ("whole", "regional"):
        model = resdsl.build("cifar_resnet", n=1, compile=strategy)
        assert type(model).__name__ == "CifarResnet"
        assert list(model.state_dict()) == list(eager.state_dict())
        assert [p for p, _ in model.named_modules()] == [p for p, _ in eager.named_modules()]  # regions stay outside


@pytest.mark.parametrize("strategy", ["whole", "regional"])
def test_inductor_on_the_cpu_gets_channels_last_weights(dynamo, strategy):
    # Inductor convolves in channels_last on the CPU; contiguous weights would be converted on every
    # call, and regionally each block's input and output too. Lazy: nothing compiles here.
    convs = lambda m: [c.weight for c in m.modules() if isinstance(c, torch.nn.Conv2d)]  # noqa: E731
    model = resdsl.build("cifar_resnet", n=1, compile=strategy)
    assert all(w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous() for w in convs(model))
    counted = compile_model(resdsl.build("cifar_resnet", n=1), resdsl.load("cifar_resnet", n=1), strategy, backend=CountingBackend())
    assert all(w.is_contiguous() for w in convs(counted))  # another backend: the layout is left alone


@pytest.mark.compile
@pytest.mark.parametrize("strategy", ["whole", "regional"])
def test_inductor_output_matches_eager(dynamo, strategy):
    torch.manual_seed(0)
    eager = resdsl.build("cifar_resnet", n=1).eval()
    model = resdsl.build("cifar_resnet", n=1, compile=strategy).eval()
    model.load_state_dict(eager.state_dict())
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(model(x), eager(x), rtol=1e-4, atol=1e-5)


def test_unknown_strategy_and_mode_are_refused():
    with pytest.raises(ValueError, match=r"^unknown compile strategy 'fast'; expected one of whole, regional$"):
        resdsl.build("cifar_resnet", n=1, compile="fast")
    with pytest.raises(ValueError, match=r"^unknown torch.compile mode 'turbo'; expected one of default, "):
        resdsl.build("cifar_resnet", n=1, compile="whole", mode="turbo")
    # Identical blocks share one compiled graph; as CUDA graphs they would share output buffers.
    with pytest.raises(ValueError, match=r"^mode 'max-autotune' replays CUDA graphs, whose output buffers identical"):
        resdsl.build("cifar_resnet", n=1, compile="regional", mode="max-autotune")


# --- resdsl build --compile: a compile_model(model) function in the generated file ---------------


def _generated(tmp_path, *args):
    target = tmp_path / "model.py"
    result = CliRunner().invoke(main, ["build", "cifar_resnet", "--set", "n=2", "-o", str(target), *args])
    assert result.exit_code == 0, result.output
    return target.read_text()


@pytest.mark.parametrize("args", [["--compile", "regional", "--mode", "max-autotune-no-cudagraphs"], ["--compile", "whole"]])
def test_build_compile_appends_compile_model(tmp_path, golden, args):
    source = _generated(tmp_path, *args)
    plain = resdsl.generate_source("cifar_resnet", n=2)
    assert source.startswith(plain)
    golden(GOLDEN / f"cifar_resnet_n2_{args[1]}_tail.py", source[len(plain):])


def _compiled(source: str):
    namespace: dict = {}
    exec(compile(source, "model.py", "exec"), namespace)
    model = namespace["compile_model"](namespace["cifar_resnet"]())
    return model, [path for path, m in model.named_modules() if getattr(m, "_compiled_call_impl", None) is not None]


def test_generated_compile_model_compiles_each_block_and_region_or_the_whole(tmp_path, dynamo):
    blocks = [p for group in block_variants(resdsl.load("cifar_resnet", n=2)).values() for p in group]
    model, paths = _compiled(_generated(tmp_path, "--compile", "regional"))
    assert sorted(paths) == sorted(blocks)
    regions = [m for name, m in model.forward.__self__.named_children() if name.startswith("region")]
    assert len(regions) == 2 and all(r._compiled_call_impl is not None for r in regions)
    assert torch._dynamo.config.recompile_limit == 56  # (5 variants + 2 regions) x 8
    model, paths = _compiled(_generated(tmp_path, "--compile", "whole"))
    assert paths == [""]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--mode", "max-autotune"], "Error: --mode needs --compile whole or --compile regional"),
        (["--format", "pt2", "--compile", "whole"], "Error: --compile applies to --format py;"),
        (["--compile", "partial"], "Error: Invalid value for '--compile': 'partial' is not one of 'none', 'whole', 'regional'."),
        (
            ["--compile", "regional", "--mode", "reduce-overhead"],
            "Error: --mode reduce-overhead replays CUDA graphs, which identical blocks cannot share; use it with --compile whole",
        ),
    ],
)
def test_build_compile_usage_errors_exit_2(tmp_path, args, message):
    result = CliRunner().invoke(main, ["build", "cifar_resnet", *args, "-o", str(tmp_path / "model.out")])
    assert result.exit_code == 2
    assert message in result.output
    assert list(tmp_path.iterdir()) == []


# --- benchmarks/bench_gpu.py: runnable without a GPU (--smoke), never failing outright -----------

BENCH_GPU = ROOT / "benchmarks" / "bench_gpu.py"
GPU_TABLES = [
    "Whole compilation with reduce-overhead (CUDA graphs), alone in its process",
    "Inference: resdsl vs torchvision",
    "Training step: resdsl vs torchvision",
    "Depth: regional vs whole, training step",
    "Inference, max-autotune-no-cudagraphs",
]


def _bench_gpu(*args, timeout=1200):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, str(BENCH_GPU), *args], capture_output=True, text=True, timeout=timeout, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "error:" not in done.stdout and "Traceback" not in done.stdout, done.stdout
    for title in GPU_TABLES:
        assert f"#### {title}" in done.stdout
    rows = [line.split(" | ") for line in done.stdout.splitlines() if line.startswith("| ") and not line.startswith("| setting")]
    return done.stdout, rows


@pytest.mark.compile
@pytest.mark.slow
def test_bench_gpu_smoke_measures_every_resdsl_row_on_the_cpu():
    out, rows = _bench_gpu("--smoke")
    ours = [r for r in rows if r[1].startswith("resdsl")]
    assert len(ours) == 1 + 4 + 3 + 2 + 1  # reduce-overhead; inference; training; deep; max-autotune
    for row in ours:
        assert re.fullmatch(r"[\d,]+", row[2]), row  # images/s measured, nothing skipped or failed
    theirs = [r for r in rows if r[1] == "torchvision"]
    assert len(theirs) == 3 + 2 + 1  # inference: eager, default, best; training: eager, default; max-autotune
    for row in theirs:  # measured with torchvision installed, or said to be missing
        assert re.fullmatch(r"[\d,]+", row[2]) or row[2] == "not measured: torchvision is not installed", row
    assert "reduce-overhead, whole: works" in out
    assert out.count("Machine: ") == 1 + len(GPU_TABLES)  # every table names its machine, torch and date
    assert out.count(" torch 2.") == 1 + len(GPU_TABLES)


@pytest.mark.slow
def test_bench_gpu_past_its_budget_skips_rows_and_exits_0():
    out, rows = _bench_gpu("--smoke", "--budget", "1", timeout=300)
    assert rows and all(r[2] == "skipped: time budget" for r in rows)


def test_the_api_runs_the_text_build_compile_writes(monkeypatch, dynamo):
    """One policy, written once: resdsl.build(compile=...) executes compile_source's text."""
    import resdsl.backends.torch_compile as torch_compile

    texts = []
    real = torch_compile.compile_source

    def recording(*args, **kwargs):
        texts.append(real(*args, **kwargs))
        return texts[-1]

    monkeypatch.setattr(torch_compile, "compile_source", recording)
    net = resdsl.load("cifar_resnet", n=1)
    compile_model(resdsl.build(net), net, "regional", backend="eager")
    assert len(texts) == 1 and texts[0].name == "compile_model"
    assert texts[0] == real(_generator(net), net, "regional")


def _generator(net):
    from resdsl.backends.torch_source import TorchSourceGenerator

    generator = TorchSourceGenerator(net)
    generator.generate()
    return generator


def test_regional_compile_of_a_network_without_blocks_is_valid_python(tmp_path, dynamo):
    spec = tmp_path / "flat.res"
    spec.write_text("network flat {\n    input 3x8x8\n    conv1: conv 3x3, 4\n    avgpool\n    fc: linear 2\n}\n")
    source = resdsl.generate_source(str(spec))
    net = resdsl.load(str(spec))
    text = source + real_compile_source(net, "regional")
    namespace: dict = {}
    exec(compile(text, "flat.py", "exec"), namespace)  # was `isinstance(module, (,))`: a SyntaxError
    eager = namespace["flat"]().eval()
    model = namespace["flat"]().eval()
    model.load_state_dict(eager.state_dict())
    namespace["compile_model"](model, backend="eager")
    assert model.forward.__self__.region0._compiled_call_impl is not None  # the whole net is one region
    x = torch.randn(2, 3, 8, 8)
    assert torch.equal(model(x), eager(x))


def real_compile_source(net, strategy):
    from resdsl.backends.torch_compile import compile_source

    return compile_source(_generator(net), net, strategy)
