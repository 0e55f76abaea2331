"""`resdsl build SPEC --format pt2 -o FILE` and `resdsl.export`: a torch.export program that
`torch.export.load` reads back, with the module's weights, its outputs for any batch size, and
atomic writes (a failed export leaves no file)."""

from __future__ import annotations

import torch
from click.testing import CliRunner

import resdsl
from resdsl.cli import main


def _outputs_match(path, spec, **params):
    program = torch.export.load(str(path))
    model = resdsl.build(spec, **params).eval()
    model.load_state_dict(program.state_dict, strict=True)  # the program's weights, by module path
    x = torch.randn(3, *resdsl.load(spec, **params).input_shape)  # the example batch was 2
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x), model(x), rtol=1e-5, atol=1e-6)
    return program


def test_cli_pt2_round_trips(tmp_path):
    target = tmp_path / "model.pt2"
    result = CliRunner().invoke(main, ["build", "cifar_resnet", "--set", "n=2", "--format", "pt2", "-o", str(target)])
    assert result.exit_code == 0 and result.output == ""
    program = _outputs_match(target, "cifar_resnet", n=2)
    # Eval mode: batch norms read running statistics, so the graph updates no buffers.
    assert program.graph_signature.buffers_to_mutate == {}
    assert list(tmp_path.iterdir()) == [target]


def test_python_export_of_resnet18(tmp_path):
    target = tmp_path / "resnet18.pt2"
    resdsl.export("resnet18", target)
    program = _outputs_match(target, "resnet18")
    # torchvision's parameter names survive export: 62 parameters, 122 state_dict entries in all.
    assert len(program.graph_signature.parameters) == 62
    assert len(program.graph_signature.parameters) + len(program.graph_signature.buffers) == 122


def test_pt2_needs_an_output_file(tmp_path):
    result = CliRunner().invoke(main, ["build", "cifar_resnet", "--format", "pt2"])
    assert result.exit_code == 2
    assert "Error: --format pt2 writes a binary file: name it with -o FILE" in result.output


def test_a_spec_error_writes_no_pt2(tmp_path):
    target = tmp_path / "model.pt2"
    result = CliRunner().invoke(main, ["build", "cifar_resnet", "--set", "n=0", "--format", "pt2", "-o", str(target)])
    assert result.exit_code == 1 and "E0201" in result.output
    assert list(tmp_path.iterdir()) == []


def test_format_choices_are_exact():
    result = CliRunner().invoke(main, ["build", "cifar_resnet", "--format", "onnx"])
    assert result.exit_code == 2
    assert "Error: Invalid value for '--format': 'onnx' is not one of 'py', 'pt2'." in result.output
