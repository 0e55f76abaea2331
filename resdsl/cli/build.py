"""`resdsl build SPEC -o model.py`: write standalone PyTorch source, or a `torch.export` program.

`--format py` (default) writes the generated source; with `--compile whole|regional` it also
defines `compile_model(model)`, which compiles a built model the way resdsl.build would.
`--format pt2` writes a `torch.export` program (eval mode, dynamic batch) to the `-o` file;
`--format onnx` an ONNX file (the same capture, through torch.onnx; needs `resdsl[onnx]`).
"""

from __future__ import annotations

import click

from resdsl.api import EXPORT_FORMATS  # no torch import
from resdsl.backends.torch_compile import CUDA_GRAPH_MODES, MODES, STRATEGIES  # no torch import
from resdsl.cli import main
from resdsl.cli.common import emit, load_spec, output_option, reports_errors, spec_options

COMPILE_CHOICES = ("none", *STRATEGIES)


@main.command()
@spec_options
@output_option("file to write (default: standard output; required for pt2 and onnx)")
@click.option("--format", "fmt", type=click.Choice(["py", *EXPORT_FORMATS]), default="py", show_default=True, help="py: PyTorch source; pt2: torch.export program; onnx: ONNX file")
@click.option("--compile", "strategy", type=click.Choice(COMPILE_CHOICES), default="none", show_default=True, help="py only: add compile_model(model), whole-model or per distinct block")
@click.option("--mode", type=click.Choice(MODES), default="default", show_default=True, help="the torch.compile mode compile_model uses")
@reports_errors
def build(spec, overrides, max_nodes, max_params, output, fmt, strategy, mode):
    """Compile SPEC to a standalone PyTorch module (imports only torch) or a .pt2 program."""
    if fmt in EXPORT_FORMATS and not output:
        raise click.UsageError(f"--format {fmt} writes a binary file: name it with -o FILE")
    if fmt in EXPORT_FORMATS and strategy != "none":
        raise click.UsageError("--compile applies to --format py; compile an exported program after loading it")
    if strategy == "none" and mode != "default":
        raise click.UsageError("--mode needs --compile whole or --compile regional")
    if strategy == "regional" and mode in CUDA_GRAPH_MODES:
        raise click.UsageError(f"--mode {mode} replays CUDA graphs, which identical blocks cannot share; use it with --compile whole")
    net = load_spec(spec, overrides, max_nodes, max_params)
    if fmt in EXPORT_FORMATS:
        from resdsl.api import export  # the one entry for every deployment format, as from Python

        export(net, output, format=fmt)
        return
    emit(_source(net, strategy, mode), output)


def _source(net, strategy: str, mode: str) -> str:
    from resdsl.backends.torch_source import TorchSourceGenerator

    generator = TorchSourceGenerator(net)
    source = generator.generate()
    if strategy != "none":
        from resdsl.backends.torch_compile import compile_source

        source += compile_source(generator, net, strategy, mode)
    return source
