"""`resdsl build SPEC --format pt2 -o FILE` and `resdsl.export`: a torch.export program that
`torch.export.load` reads back, with the module's weights, its outputs for any batch size, and
atomic writes (a failed export leaves no file). `resdsl.export` of a built module writes that
module's own weights (a trained model exports as trained). ONNX: tests/test_onnx.py."""

from __future__ import annotations

import pytest
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
    result = CliRunner().invoke(main, ["build", "cifar_resnet", "--format", "tflite"])
    assert result.exit_code == 2
    assert "Error: Invalid value for '--format': 'tflite' is not one of 'py', 'pt2', 'onnx'." in result.output


# --- exporting a module: its own weights -------------------------------------------------------


def _trained(spec, **params):
    """A built module whose weights and batch-norm statistics are no longer the initial ones."""
    torch.manual_seed(1)
    model = resdsl.build(spec, **params)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                tensor.add_(0.05 * torch.randn_like(tensor))
                if name.endswith("running_var"):
                    tensor.abs_()
    return model


def test_built_modules_carry_their_input_shape():
    model = resdsl.build("cifar_resnet", n=1)
    assert model.resdsl_input_shape == (3, 32, 32)
    assert not any("resdsl" in key for key in model.state_dict())  # an attribute, not state
    assert resdsl.build("resnet18", inference=True).resdsl_input_shape == (3, 224, 224)


def test_export_of_a_module_writes_its_weights(tmp_path):
    model = _trained("cifar_resnet", n=2)
    target = tmp_path / "trained.pt2"
    resdsl.export(model, target)
    assert model.training  # export runs in eval mode and puts the module back as it was
    program = torch.export.load(str(target))
    for key, value in model.state_dict().items():
        if key in program.state_dict:
            torch.testing.assert_close(program.state_dict[key], value, rtol=0, atol=0)
    model.eval()
    for batch in (1, 5):
        x = torch.randn(batch, 3, 32, 32)
        with torch.no_grad():
            torch.testing.assert_close(program.module()(x), model(x), rtol=1e-5, atol=1e-6)


def test_export_format_comes_from_the_suffix_or_is_pt2(tmp_path):
    model = resdsl.build("cifar_resnet", n=1)
    resdsl.export(model, tmp_path / "model.bin")  # any suffix but .onnx: pt2, as before
    assert torch.export.load(str(tmp_path / "model.bin")).module()(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_export_errors(tmp_path):
    model = resdsl.build("cifar_resnet", n=1)
    with pytest.raises(resdsl.ResdslError) as info:
        resdsl.export(model, tmp_path / "m.tflite", format="tflite")
    assert str(info.value) == "error[E0702]: cannot export in format `tflite`: use one of pt2, onnx"
    with pytest.raises(resdsl.ResdslError) as info:
        resdsl.export(torch.nn.Linear(4, 2), tmp_path / "l.pt2")
    assert str(info.value) == "error[E0704]: the Linear module carries no input shape (it was not built by resdsl): pass input_shape=(C, H, W)"
    with pytest.raises(TypeError):
        resdsl.export(model, tmp_path / "m.pt2", n=3)  # parameters belong to a spec
    with pytest.raises(TypeError):
        resdsl.export("cifar_resnet", tmp_path / "m.pt2", input_shape=(3, 16, 16))
    assert list(tmp_path.iterdir()) == []


def test_a_module_without_resdsl_shape_exports_with_input_shape(tmp_path):
    resdsl.export(torch.nn.Conv2d(3, 4, 3), tmp_path / "c.pt2", input_shape=(3, 8, 8))
    assert torch.export.load(str(tmp_path / "c.pt2")).module()(torch.zeros(3, 3, 8, 8)).shape == (3, 4, 6, 6)


def test_unexportable_module_is_a_one_line_diagnostic(tmp_path):
    class DataDependent(torch.nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    with pytest.raises(resdsl.ResdslError) as info:
        resdsl.export(DataDependent(), tmp_path / "d.pt2", input_shape=(3, 4, 4))
    assert str(info.value).startswith("error[E0703]: torch.export cannot export this module: ")
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []
