"""Distributed training with torch's own engine: examples/train_ddp.py under torchrun (2 CPU
ranks, gloo) with DistributedDataParallel and with FSDP2 (`resdsl.backends.shard.shard`).

Both runs are checked against the same training done in this process without any
distribution: one model whose gradient is the mean of the two ranks' gradients (what DDP
all-reduces and FSDP reduce-scatters), each rank's batch normalized with its own statistics.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

import resdsl
from conftest import ROOT
from resdsl.backends.shard import outermost_blocks

EXAMPLE = ROOT / "examples" / "train_ddp.py"
SPEC, STEPS, BATCH, LR, RANKS = "cifar_resnet", 6, 8, 0.02, 2  # the example's defaults, fewer steps


def _example():
    spec = importlib.util.spec_from_file_location("train_ddp", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _env():
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _torchrun(out, *args):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={RANKS}",
               str(EXAMPLE), "--spec", SPEC, "--steps", str(STEPS), "--batch-size", str(BATCH), "--out", str(out), *args]
    result = subprocess.run(command, cwd=out.parent, env=_env(), capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    records = [json.loads((out / f"rank{r}.json").read_text()) for r in range(RANKS)]
    return records, torch.load(out / "parameters.pt"), result.stdout


@pytest.fixture(scope="module")
def reference():
    """(losses, parameters) of the same training, simulated in one process."""
    example = _example()
    net = resdsl.load(SPEC)
    torch.manual_seed(0)
    model = resdsl.build(net).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    batches = [example.synthetic_batch(net, BATCH, rank) for rank in range(RANKS)]
    losses = []
    for _ in range(STEPS):
        optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for x, y in batches:  # each rank's forward sees only its batch (its own BN statistics)
            loss = F.cross_entropy(model(x), y)
            (loss / RANKS).backward()  # accumulates the mean gradient over ranks
            total += loss.item()
        optimizer.step()
        losses.append(total / RANKS)
    return losses, {name: p.detach().clone() for name, p in model.named_parameters()}


def _check_training(records, parameters, reference):
    ref_losses, ref_parameters = reference
    assert [r["rank"] for r in records] == list(range(RANKS)) and {r["world"] for r in records} == {RANKS}
    assert records[0]["params_sha256"] == records[1]["params_sha256"]  # identical weights on every rank
    losses = records[0]["losses"]
    assert len(losses) == STEPS and losses[-1] < 0.8 * losses[0]  # the fixed batches are being learned
    torch.testing.assert_close(torch.tensor(losses), torch.tensor(ref_losses), rtol=1e-4, atol=1e-5)
    assert parameters.keys() == ref_parameters.keys()
    for name, value in parameters.items():
        torch.testing.assert_close(value, ref_parameters[name], rtol=1e-4, atol=1e-5, msg=name)


def test_ddp_on_two_cpu_ranks(tmp_path, reference):
    records, parameters, stdout = _torchrun(tmp_path / "ddp")
    _check_training(records, parameters, reference)
    assert [r["local_numel"] for r in records] == [records[0]["params"]] * RANKS  # DDP replicates
    assert "2 x cpu (gloo), DDP; 6 steps" in stdout


def test_fsdp2_on_two_cpu_ranks_shards_per_block(tmp_path, reference):
    exported = tmp_path / "trained.pt2"
    records, parameters, stdout = _torchrun(tmp_path / "fsdp", "--parallel", "fsdp", "--export", str(exported))
    _check_training(records, parameters, reference)
    total = records[0]["params"]
    local = [r["local_numel"] for r in records]
    assert sum(local) == total and max(local) < 0.6 * total  # each rank holds about half
    assert "FSDP2 over 10 units" in stdout  # 9 blocks and the root
    # The exported program holds the trained weights, gathered from the shards.
    program = torch.export.load(str(exported))
    for name, value in parameters.items():
        torch.testing.assert_close(program.state_dict[name], value, rtol=0, atol=0, msg=name)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU refusal")
def test_sync_bn_needs_gpus():
    result = subprocess.run([sys.executable, str(EXAMPLE), "--sync-bn"], env=_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].endswith("error: --sync-bn needs GPUs: torch's SyncBatchNorm does not run on the CPU")


# --- which modules FSDP2 shards: no process group needed ----------------------------------------

NESTED = """
block pair(width) {
    conv 3x3, width
    conv 3x3, width, relu off
    add
    relu
}
block twice(width) {
    inner: pair(width) x 2
}
network nested(classes = 10) {
    input 3x16x16
    stem: conv 3x3, 8
    outer: twice(8) x 2
    single: pair(8)
    pool: avgpool
    fc: linear classes
}
"""


def _paths(model):
    return [path for path, _ in outermost_blocks(model)]


def test_units_are_the_outermost_blocks():
    assert _paths(resdsl.build("cifar_resnet")) == [f"layer{s}.{i}" for s in (1, 2, 3) for i in range(3)]
    assert _paths(resdsl.build("resnet50")) == [f"layer{s}.{i}" for s, n in zip((1, 2, 3, 4), (3, 4, 6, 3)) for i in range(n)]
    # a block used directly by the network, and blocks inside a block: only the outer ones
    assert _paths(resdsl.build(resdsl.compile_text(NESTED))) == ["outer.0", "outer.1", "single"]
    assert _paths(resdsl.build(ROOT / "examples" / "tiny_preact.res")) == ["stage1.0", "stage1.1", "stage2.0", "stage2.1", "context"]


def test_units_from_a_generated_file(tmp_path):
    """A model loaded from the file `resdsl build -o` writes is sharded the same way."""
    (tmp_path / "cifar_model.py").write_text(resdsl.generate_source("cifar_resnet", n=2), encoding="utf-8")
    sys.path.insert(0, str(tmp_path))
    try:
        module = importlib.import_module("cifar_model")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("cifar_model", None)
    assert _paths(module.cifar_resnet()) == [f"layer{s}.{i}" for s in (1, 2, 3) for i in range(2)]
