"""Train any resdsl spec with torch's own distributed engine: DistributedDataParallel or FSDP2.

    torchrun --nproc_per_node 2 examples/train_ddp.py                 # CPU: gloo, cifar_resnet
    torchrun --nproc_per_node 8 examples/train_ddp.py --spec resnet50 --sync-bn --steps 100
    torchrun --nproc_per_node 8 examples/train_ddp.py --spec resnet152 --parallel fsdp --export r152.onnx
    python examples/train_ddp.py                                      # one process, no torchrun

One process per device: with GPUs, rank r uses cuda:LOCAL_RANK and the nccl backend; without,
every rank runs on the CPU with gloo. The data is synthetic: each rank draws one fixed batch
(seeded by its rank) and trains on it for `--steps` steps, so the loss must go down; a real
script would put a DataLoader with a DistributedSampler here.

`--parallel ddp` (default) wraps the model in DistributedDataParallel (`--sync-bn` first
converts its batch norms to SyncBatchNorm, which torch runs only on GPUs); `--parallel fsdp`
shards it with FSDP2, one unit per outermost residual block (resdsl.backends.shard.shard).

`--export FILE` has rank 0 write the trained network for deployment (`resdsl.export`: a
`.pt2` program, or ONNX for a `.onnx` name), from the full state gathered from all ranks.

`--out DIR` makes every rank write DIR/rank<r>.json: the losses (averaged over ranks), a
SHA-256 of the full parameters after training (equal on all ranks when they stayed in sync)
and how many parameter elements the rank holds locally (about 1/N of them under FSDP); rank 0
also saves the full trained parameters to DIR/parameters.pt.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F

import resdsl


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="cifar_resnet", help="bundled spec name or path to a .res file (default: cifar_resnet)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE", help="override a network parameter (integers only here), repeatable")
    parser.add_argument("--steps", type=int, default=10, help="optimizer steps (default: 10)")
    parser.add_argument("--batch-size", type=int, default=8, help="per-rank batch size (default: 8)")
    parser.add_argument("--lr", type=float, default=0.02, help="SGD learning rate (default: 0.02)")
    parser.add_argument("--parallel", choices=("ddp", "fsdp"), default="ddp", help="DistributedDataParallel or FSDP2 per block (default: ddp)")
    parser.add_argument("--sync-bn", action="store_true", help="convert batch norms to SyncBatchNorm (GPUs only)")
    parser.add_argument("--backend", choices=("auto", "gloo", "nccl"), default="auto", help="auto: nccl with GPUs, else gloo")
    parser.add_argument("--out", type=Path, help="directory where each rank writes rank<r>.json")
    parser.add_argument("--export", type=Path, metavar="FILE", help="rank 0 writes the trained model: FILE.pt2 or FILE.onnx")
    args = parser.parse_args(argv)
    if args.backend == "auto":
        args.backend = "nccl" if torch.cuda.is_available() else "gloo"
    if args.backend == "nccl" and not torch.cuda.is_available():
        parser.error("--backend nccl needs CUDA GPUs; none is visible")
    if args.sync_bn and args.backend != "nccl":
        parser.error("--sync-bn needs GPUs: torch's SyncBatchNorm does not run on the CPU")
    if args.sync_bn and args.parallel == "fsdp":
        parser.error("--sync-bn goes with --parallel ddp")
    try:
        args.params = {k: int(v) for k, v in (item.split("=", 1) for item in args.overrides)}
    except ValueError:
        parser.error("--set takes NAME=INTEGER")
    try:  # a wrong spec or a missing onnx extra fails here, before any process joins a group
        args.net = resdsl.load(args.spec, **args.params)
        if args.export is not None and args.export.suffix == ".onnx":
            from resdsl.backends.onnx_export import require_exporter

            require_exporter()
    except resdsl.ResdslError as err:
        print(err, file=sys.stderr)
        sys.exit(1)
    return args


def init_distributed(backend: str) -> tuple[int, int, torch.device]:
    """Join the process group torchrun describes; without torchrun, a group of one."""
    if "RANK" not in os.environ:  # plain `python train_ddp.py`: a world of one process
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    local_rank = int(os.environ["LOCAL_RANK"])
    if backend == "nccl":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    dist.init_process_group(backend, device_id=device if backend == "nccl" else None)
    return dist.get_rank(), dist.get_world_size(), device


def full_parameters(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Every parameter in full, on the CPU (FSDP2 shards are DTensors: gathered, on all ranks)."""
    return {
        name: (p.full_tensor() if hasattr(p, "full_tensor") else p).detach().cpu()
        for name, p in model.named_parameters()
    }


def full_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The network's state_dict in full, on the CPU; a collective under FSDP2 (call on all ranks).

    Parameters are gathered from their shards; buffers (batch-norm statistics) are rank 0's
    under DDP's default buffer broadcast, and each rank's own under FSDP.
    """
    return {
        name: (t.full_tensor() if hasattr(t, "full_tensor") else t).detach().cpu()
        for name, t in model.state_dict().items()
    }


def digest(parameters: dict[str, torch.Tensor]) -> str:
    """SHA-256 of the parameters' names and bytes: equal iff the ranks hold identical weights."""
    h = hashlib.sha256()
    for name, tensor in parameters.items():
        h.update(name.encode())
        h.update(tensor.contiguous().numpy().tobytes())
    return h.hexdigest()


def synthetic_batch(net, batch_size: int, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rank `rank`'s fixed batch: random images and labels, the same on every run."""
    generator = torch.Generator().manual_seed(1000 + rank)
    x = torch.randn(batch_size, *net.input_shape, generator=generator)
    y = torch.randint(0, net.output_shape[0], (batch_size,), generator=generator)
    return x, y


def main(argv=None) -> int:
    args = parse_args(argv)
    rank, world, device = init_distributed(args.backend)
    net = args.net
    torch.manual_seed(0)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
    model = core = resdsl.build(net).to(device)  # `core`: the network itself, whatever wraps it
    if args.parallel == "ddp":
        if args.sync_bn:
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    else:
        from resdsl.backends.shard import outermost_blocks, shard

        units = len(outermost_blocks(model)) + 1
        model = shard(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)

    x, y = (t.to(device) for t in synthetic_batch(net, args.batch_size, rank))

    losses = []
    start = time.perf_counter()
    model.train()
    for step in range(args.steps):
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()  # DDP all-reduces the gradients; FSDP reduce-scatters them
        optimizer.step()
        mean = loss.detach().clone()
        dist.all_reduce(mean)
        losses.append(mean.item() / world)
        if rank == 0:
            print(f"step {step + 1}/{args.steps}  loss {losses[-1]:.4f}", flush=True)
    elapsed = time.perf_counter() - start

    parameters = full_parameters(core)  # the network's own names, as in its state_dict
    local = sum((p.to_local() if hasattr(p, "to_local") else p).numel() for p in core.parameters())
    if rank == 0:
        how = f"FSDP2 over {units} units" if args.parallel == "fsdp" else "DDP" + (" + SyncBatchNorm" if args.sync_bn else "")
        print(f"{net.name}: {net.params:,} parameters, {world} x {device.type} ({args.backend}), {how}; "
              f"{args.steps} steps in {elapsed:.1f} s; loss {losses[0]:.4f} -> {losses[-1]:.4f}")
    state = full_state_dict(core) if args.export is not None else None  # every rank takes part
    if args.export is not None and rank == 0:
        trained = resdsl.build(net)  # a plain CPU module with the trained weights, as deployed
        trained.load_state_dict(state)
        resdsl.export(trained, args.export)  # eval mode, dynamic batch; .onnx needs resdsl[onnx]
        print(f"wrote {args.export}")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        record = {"rank": rank, "world": world, "losses": losses, "params_sha256": digest(parameters), "local_numel": local, "params": net.params}
        (args.out / f"rank{rank}.json").write_text(json.dumps(record))
        if rank == 0:
            torch.save(parameters, args.out / "parameters.pt")
    # Every rank reaches the teardown together (rank 0 may still be exporting): twice in this
    # project's suite under load, the rank that left first was aborted at exit by gloo ("terminate
    # called without an active exception") after the training had succeeded.
    dist.barrier()
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
