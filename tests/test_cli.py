"""The `resdsl` command: output, files, exit codes (0 ok, 1 spec error, 2 usage error)."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from resdsl.cli import main
from resdsl.frontend.resources import bundled_specs


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_check_prints_one_line():
    result = run("check", "resnet50")
    assert result.exit_code == 0
    assert result.output == "resnet50: input 3×224×224, output 1000, 25,557,032 parameters\n"


def test_check_with_set_overrides():
    result = run("check", "cifar_resnet", "--set", "n=18", "--set", "classes=100")
    assert result.output == "cifar_resnet: input 3×32×32, output 100, 1,733,812 parameters\n"


def test_list_names_every_bundled_spec():
    lines = run("list").output.splitlines()
    assert [line.split()[0] for line in lines] == sorted(bundled_specs())
    assert "cifar_resnet        The paper's CIFAR-10 ResNets (Section 4.2): 6n+2 layers, option A shortcuts." in lines


def test_build_writes_the_generated_source(tmp_path):
    out = tmp_path / "m.py"
    result = run("build", "resnet18", "-o", str(out))
    assert result.exit_code == 0 and result.output == ""
    import resdsl

    assert out.read_text() == resdsl.generate_source("resnet18")


def test_spec_errors_exit_1_and_write_nothing(tmp_path):
    bad = tmp_path / "bad.res"
    bad.write_text("network bad {\n    input 3x32x32\n    layer1: basci(16) x 2\n}\n")
    out = tmp_path / "m.py"
    result = CliRunner().invoke(main, ["build", str(bad), "-o", str(out)])
    assert result.exit_code == 1
    assert f"{bad}:3:13: error[E0101]: unknown block `basci`" in result.output
    assert "did you mean `basic`?" in result.output
    assert list(tmp_path.iterdir()) == [bad]


def test_a_failed_build_keeps_an_existing_file_untouched(tmp_path):
    out = tmp_path / "m.py"
    out.write_text("previous")
    result = CliRunner().invoke(main, ["build", "cifar_resnet", "--set", "n=0", "-o", str(out)])
    assert result.exit_code == 1 and "E0201" in result.output
    assert out.read_text() == "previous" and len(list(tmp_path.iterdir())) == 1


def test_usage_errors_exit_2():
    assert CliRunner().invoke(main, ["check"]).exit_code == 2
    assert CliRunner().invoke(main, ["check", "resnet18", "--set", "n"]).exit_code == 2
    assert CliRunner().invoke(main, ["frobnicate"]).exit_code == 2


def test_unknown_spec_name_suggests_a_bundled_one():
    result = CliRunner().invoke(main, ["check", "resnet5"])
    assert result.exit_code == 1
    assert "error[E0501]: no bundled spec named `resnet5`" in result.output
    assert "did you mean `resnet50`" in result.output


def test_console_script_is_installed():
    result = subprocess.run(["resdsl", "check", "resnet18"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("resnet18: input 3×224×224")
    assert subprocess.run([sys.executable, "-m", "resdsl", "--version"], capture_output=True, text=True).stdout == "resdsl, version 0.1.0\n"


def test_written_files_get_the_usual_permissions(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        out = tmp_path / "m.py"
        assert run("build", "cifar_resnet", "-o", str(out)).exit_code == 0
        assert out.stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(umask)


def test_writing_to_a_special_file_writes_through_it():
    import stat

    assert run("build", "cifar_resnet", "-o", "/dev/null").exit_code == 0
    assert stat.S_ISCHR(__import__("os").stat("/dev/null").st_mode)
