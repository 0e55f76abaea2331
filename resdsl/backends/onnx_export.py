"""ONNX export of a built network, through torch's exporter (`torch.onnx.export(dynamo=True)`).

The exporter used is torch's own torch.export-based one: the module is first captured exactly as
for `.pt2` (`torch_export.export_program`: eval mode, dynamic batch, the module's own weights),
and that program is translated to ONNX by `torch.onnx.export`, whose optimizer (onnxscript's)
folds each batch norm that follows a convolution into the convolution's weight and bias. The
file's input is named `input` with shape (batch, C, H, W), `batch` symbolic; its output is named
`logits` for a network that ends in a linear classifier (batch, classes) and `output` otherwise.

The exporter needs the `onnx` extra (onnx and onnxscript; onnxruntime runs the file). Without it,
or for a module the exporter cannot translate, a one-line diagnostic is raised, never a traceback.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import warnings
from pathlib import Path

import torch

from resdsl.backends.torch_export import export_failed, export_program
from resdsl.diagnostics import Diagnostic, ResdslError
from resdsl.output import write_atomic

EXPORTER_PACKAGES = ("onnx", "onnxscript")  # what torch.onnx.export(dynamo=True) imports
INPUT_NAME = "input"
INSTALL = 'pip install "resdsl[onnx]"'


def require_exporter() -> None:
    """E0701 unless the packages torch's ONNX exporter imports are installed."""
    missing = []
    for name in EXPORTER_PACKAGES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ResdslError([Diagnostic("E0701", f"ONNX export needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed: {INSTALL}")])


def output_name(program: torch.export.ExportedProgram) -> str:
    """`logits` when the program returns (batch, classes), else `output`."""
    for node in program.graph.nodes:
        if node.op == "output":
            outputs = node.args[0]
            value = outputs[0].meta.get("val") if len(outputs) == 1 and hasattr(outputs[0], "meta") else None
            if value is not None and value.dim() == 2:
                return "logits"
    return "output"


@contextlib.contextmanager
def quiet_exporter():
    """The exporter's progress warnings (a missing torchvision, deprecations) kept off stderr."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def onnx_bytes(program: torch.export.ExportedProgram) -> bytes:
    """The serialized ONNX model for an exported program (see the module docstring)."""
    require_exporter()
    try:
        with quiet_exporter():
            onnx_program = torch.onnx.export(
                program,
                (),
                None,
                dynamo=True,
                input_names=[INPUT_NAME],
                output_names=[output_name(program)],
                optimize=True,  # constant folding, and batch norms folded into their convolutions
                verbose=False,
            )
            return onnx_program.model_proto.SerializeToString()
    except ModuleNotFoundError as err:  # a package the exporter imports only on some paths
        raise ResdslError([Diagnostic("E0701", f"ONNX export needs {err.name}, which is not installed: {INSTALL}")]) from err
    except Exception as err:  # noqa: BLE001 - an untranslatable op is the module's, not a bug of ours
        raise export_failed(err, "torch.onnx") from err


def export_onnx(model: torch.nn.Module, input_shape: tuple[int, ...], path: str | Path) -> None:
    """Write `model` (its current weights) as ONNX to `path`, atomically."""
    require_exporter()  # before the (slow) capture
    write_atomic(path, onnx_bytes(export_program(model, input_shape)))
