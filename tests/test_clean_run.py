"""A first run is quiet: `resdsl build` and `resdsl.build()` print nothing on stderr.

torch warns on import ("Failed to initialize NumPy") when numpy is missing, so numpy is one of
resdsl's dependencies; these tests run after the README's install, in CI as for a new user.
"""

from __future__ import annotations

import subprocess
import sys


def _run(args, cwd):
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_cli_build_prints_nothing_on_stderr(tmp_path):
    target = tmp_path / "resnet18.py"
    result = _run(["-m", "resdsl", "build", "resnet18", "-o", str(target)], tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert target.read_text(encoding="utf-8").startswith('"""Network `resnet18`')


def test_python_build_prints_nothing_on_stderr(tmp_path):
    result = _run(["-c", "import resdsl; print(type(resdsl.build('resnet18')).__name__)"], tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "Resnet18\n", "")
