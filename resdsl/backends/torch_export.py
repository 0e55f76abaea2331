"""`torch.export` of a built network: a `.pt2` program that `torch.export.load` reads back.

The program is exported in eval mode (batch norms use their running statistics, so the graph
has no state updates) with a dynamic batch dimension: one file serves every batch size, while
channels and spatial size stay those the spec checked. Saving goes through `write_atomic`, so a
failed export never leaves a partial file.
"""

from __future__ import annotations

import io
from pathlib import Path

import torch

from resdsl.compiler import Network
from resdsl.output import write_atomic

EXAMPLE_BATCH = 2  # not 0 or 1: export would specialize those sizes instead of keeping `batch` symbolic


def export_program(model: torch.nn.Module, net: Network) -> torch.export.ExportedProgram:
    """`model` (built from `net`) exported in eval mode for inputs of shape (batch, *input_shape)."""
    model.eval()
    example = torch.zeros(EXAMPLE_BATCH, *net.input_shape)
    batch = torch.export.Dim("batch")
    with torch.no_grad():
        return torch.export.export(model, (example,), dynamic_shapes=({0: batch},))


def save_program(program: torch.export.ExportedProgram, path: str | Path) -> None:
    """Write `program` to `path` atomically (`torch.export.save` format)."""
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    write_atomic(path, buffer.getvalue())
