"""FSDP2 for a resdsl-built network: one `fully_shard` unit per outermost residual block.

    from resdsl.backends.shard import shard
    model = shard(resdsl.build("resnet50").cuda())   # inside an initialized process group

resdsl generates one Python class per block kind (and a network class) into one module; a
network's stages are `nn.Sequential`s of block instances. The units are therefore found from
the module tree alone, with no use of resdsl's IR: every submodule whose class is defined in the
same Python module as the root's class is a generated block (or a generated helper), and the
outermost ones that hold parameters become FSDP units. The root is sharded last, so it owns what
is left (stem, classifier). This holds for a model from `resdsl.build` and for one built from a
file that `resdsl build -o model.py` wrote, whatever layers the blocks contain.

Sharding a block as one unit means its parameters are all-gathered just before its forward (and
backward) and freed right after: peak memory is about one block's full parameters plus the
shards. Blocks nested inside a block stay inside their outer block's unit.
"""

from __future__ import annotations

from torch import nn


def outermost_blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(path, module) of each outermost generated block of `model` that holds parameters, in order.

    A block is a submodule (not the root) whose class is defined in the module that defines the
    root's class; "outermost" means no enclosing submodule other than the root is one.
    """
    home = type(model).__module__
    found: list[tuple[str, nn.Module]] = []

    def visit(module: nn.Module, prefix: str) -> None:
        for name, child in module.named_children():
            path = f"{prefix}{name}"
            if type(child).__module__ == home:
                if any(True for _ in child.parameters()):
                    found.append((path, child))
                continue  # outermost only: whatever it contains belongs to its unit
            visit(child, f"{path}.")

    visit(model, "")
    return found


def shard(model: nn.Module, **fully_shard_options) -> nn.Module:
    """Apply FSDP2 `fully_shard` to each outermost block of `model`, then to the root; return it.

    Needs an initialized default process group (e.g. under `torchrun`); `fully_shard_options`
    (`mesh`, `reshard_after_forward`, `mp_policy`, `offload_policy`, ...) go to every call. The
    model is modified in place, as `fully_shard` does, and its parameters become `DTensor`
    shards; `state_dict()` keys are unchanged.
    """
    from torch.distributed.fsdp import fully_shard

    for _, block in outermost_blocks(model):
        fully_shard(block, **fully_shard_options)
    fully_shard(model, **fully_shard_options)
    return model


__all__ = ["outermost_blocks", "shard"]
