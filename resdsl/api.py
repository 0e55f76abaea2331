"""The Python API's functions that span back ends: `build`, `export`, `generate_source`, and
the notebook display's registration. `resdsl/__init__.py` re-exports them lazily; the `resdsl`
command and the tools call them here, so every way in takes one path (one export entry for
every format, the spec resolved once by `resdsl.compiler.load`).

Nothing is imported at module level: each function imports the stage it needs when called.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from resdsl.diagnostics import Limits


def generate_source(spec, **params) -> str:
    """Standalone PyTorch source for a spec (path, bundled name, or a loaded `Network`)."""
    from resdsl.backends.torch_source import generate_source as _generate
    from resdsl.compiler import Network, load

    net = spec if isinstance(spec, Network) else load(spec, **params)
    return _generate(net)


def build(
    spec,
    *,
    zero_init_residual: bool = False,
    limits: Limits | None = None,
    compile: str | None = None,
    mode: str | None = None,
    dynamic: bool = False,
    inference=False,
    device=None,
    **params,
):
    """An `nn.Module` built from a spec: `build("resnet50")`, `build("cifar_resnet", n=18)`.

    `zero_init_residual` zeroes the last batch norm of each residual branch.
    `compile`: None (eager), "whole" (one graph, no graph breaks allowed) or "regional" (each
    distinct block compiled once, shared by its identical copies); `mode` is torch.compile's
    ("default", "reduce-overhead", "max-autotune", ...; regional refuses the CUDA-graph ones);
    shapes are static unless `dynamic`. See docs/benchmarks.md.
    `inference`: True applies `InferenceRecipe.auto(device)` (eval mode; on CUDA also
    channels_last and bf16 autocast), or pass an `InferenceRecipe` (e.g. with `fold_bn=True`).
    The model is moved to `device` when one is given.
    The module carries its input shape (C, H, W) as the plain attribute `resdsl_input_shape`
    (not in `state_dict`), which `resdsl.export` reads.
    """
    from resdsl.backends.torch_build import instantiate
    from resdsl.backends.torch_compile import check_mode, compile_model
    from resdsl.compiler import Network, load

    if compile is not None:
        check_mode(compile, mode)  # before any building: a typo fails fast
    net = spec if isinstance(spec, Network) else load(spec, limits=limits, **params)
    model = instantiate(net, zero_init_residual=zero_init_residual)
    if inference:
        from resdsl.backends.inference_recipe import InferenceRecipe, apply_recipe

        recipe = InferenceRecipe.auto(device or "cpu") if inference is True else inference
        model = apply_recipe(model, net, recipe, device)
    elif device is not None:
        model.to(device)
    if compile is not None:
        model = compile_model(model, net, compile, mode=mode, dynamic=dynamic)
    if not hasattr(model, "resdsl_input_shape"):  # a wrapper (the inference recipe's) carries it too
        model.resdsl_input_shape = tuple(net.input_shape)
    return model


EXPORT_FORMATS = ("pt2", "onnx")


def export(model, path, *, format: str | None = None, input_shape=None, limits: Limits | None = None, **params) -> None:
    """Write a network for deployment: a `torch.export` program (`.pt2`) or an ONNX file.

    `model` is a spec (bundled name, path or loaded `Network`; built fresh, with `params`) or an
    `nn.Module` that resdsl built, whose current weights are what is written: export what you
    trained. Its input shape comes from the module (`resdsl_input_shape`) unless `input_shape`
    (C, H, W) is given. `format` is "pt2" or "onnx"; by default a `.onnx` path means ONNX and any
    other means pt2. Both are exported in eval mode (the module's training flags are restored
    afterwards) with a dynamic batch dimension. ONNX needs the `onnx` extra
    (`pip install "resdsl[onnx]"`); see docs/deployment.md.
    """
    import torch

    from resdsl.backends.torch_build import instantiate
    from resdsl.backends.torch_export import export_program, input_shape_of, save_program, unwrap
    from resdsl.compiler import Network, load
    from resdsl.diagnostics import Diagnostic, ResdslError

    format = format if format is not None else ("onnx" if str(path).lower().endswith(".onnx") else "pt2")
    if format not in EXPORT_FORMATS:
        raise ResdslError([Diagnostic("E0702", f"cannot export in format `{format}`: use one of {', '.join(EXPORT_FORMATS)}")])
    if format == "onnx":
        from resdsl.backends.onnx_export import require_exporter

        require_exporter()  # fail before building or capturing anything
    if isinstance(model, torch.nn.Module):
        if params or limits is not None:
            raise TypeError("resdsl.export: spec parameters and limits apply to a spec, not to a built module")
        model = unwrap(model)
        shape = tuple(input_shape) if input_shape is not None else input_shape_of(model)
    else:
        if input_shape is not None:
            raise TypeError("resdsl.export: input_shape applies to a built module; a spec states its own input")
        net = model if isinstance(model, Network) else load(model, limits=limits, **params)
        model = instantiate(net)
        shape = tuple(net.input_shape)
    if format == "onnx":
        from resdsl.backends.onnx_export import export_onnx

        export_onnx(model, shape, path)
    else:
        save_program(export_program(model, shape), path)
