"""`torch.export` of a built network: a `.pt2` program that `torch.export.load` reads back.

The program is exported in eval mode (batch norms use their running statistics, so the graph
has no state updates) with a dynamic batch dimension: one file serves every batch size, while
channels and spatial size stay those the spec checked. The module's own weights are what the
program holds, so a trained module exports as trained; its training flags are restored after
export. Saving goes through `write_atomic`, so a failed export never leaves a partial file.

A module that resdsl built carries its input shape (C, H, W) as the plain attribute
`resdsl_input_shape` (see `torch_build.instantiate`); any other module needs it given.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import torch

from resdsl.compiler import Network
from resdsl.diagnostics import Diagnostic, ResdslError
from resdsl.output import write_atomic

EXAMPLE_BATCH = 2  # not 0 or 1: export would specialize those sizes instead of keeping `batch` symbolic
INPUT_SHAPE_ATTRIBUTE = "resdsl_input_shape"


def input_shape_of(model: torch.nn.Module) -> tuple[int, ...]:
    """The (C, H, W) input shape a resdsl-built `model` carries; a diagnostic when it has none."""
    shape = getattr(model, INPUT_SHAPE_ATTRIBUTE, None)
    if shape is None:
        raise ResdslError([Diagnostic("E0704", f"the {type(model).__name__} module carries no input shape (it was not built by resdsl): pass input_shape=(C, H, W)")])
    return tuple(int(d) for d in shape)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside a DistributedDataParallel or DataParallel wrapper (others as they are)."""
    if isinstance(model, (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel)):
        return model.module
    return model


def example_input(model: torch.nn.Module, input_shape) -> torch.Tensor:
    """A zero batch of EXAMPLE_BATCH inputs on the module's device, in its floating dtype."""
    first = next((p for p in model.parameters() if p.is_floating_point()), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None else torch.float32
    return torch.zeros(EXAMPLE_BATCH, *input_shape, device=device, dtype=dtype)


def export_failed(err: BaseException, what: str = "torch.export") -> ResdslError:
    """A one-line diagnostic for an exporter's failure, from the innermost cause's first line.

    The exporters' own messages run to many lines (advice, graph dumps, colour codes); the
    innermost cause names the operator or construct that failed.
    """
    seen = [err]
    while seen[-1].__cause__ is not None and seen[-1].__cause__ not in seen:
        seen.append(seen[-1].__cause__)
    root = seen[-1]
    lines = [line.strip() for line in re.sub(r"\x1b\[[0-9;]*m", "", str(root)).splitlines() if line.strip()]
    first = lines[0] if lines else "(no message)"
    return ResdslError([Diagnostic("E0703", f"{what} cannot export this module: {type(root).__name__}: {first}")])


def export_program(model: torch.nn.Module, net: Network | tuple[int, ...]) -> torch.export.ExportedProgram:
    """`model` exported in eval mode for inputs of shape (batch, *input_shape).

    `net` is the `Network` the model was built from, or the input shape (C, H, W) itself.
    """
    input_shape = net.input_shape if isinstance(net, Network) else tuple(net)
    example = example_input(model, input_shape)
    batch = torch.export.Dim("batch")
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            return torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
    except Exception as err:  # noqa: BLE001 - an unsupported construct is the module's, not a bug of ours
        raise export_failed(err) from err
    finally:
        for module, training in modes:  # a trained module goes back to the mode it was in
            module.training = training


def save_program(program: torch.export.ExportedProgram, path: str | Path) -> None:
    """Write `program` to `path` atomically (`torch.export.save` format)."""
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    write_atomic(path, buffer.getvalue())
