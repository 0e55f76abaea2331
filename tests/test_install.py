"""The grammar, prelude and bundled specs are found from an editable install and from a wheel."""

from __future__ import annotations

import subprocess
import sys

import pytest

import resdsl
from conftest import ROOT
from resdsl.frontend import resources


def test_editable_install_reads_the_repository_folders():
    assert resources.data_dir("specs") == ROOT / "specs"
    assert resources.grammar_path() == ROOT / "grammars" / "resdsl.lark"


_PROBE = """
import resdsl, resdsl.frontend.resources as r
print(resdsl.__file__)
print(r.data_dir("specs"))
print(resdsl.load("resnet50").params, len(r.bundled_specs()))
"""


@pytest.mark.slow
def test_wheel_install_carries_grammar_and_specs(installed_wheel, tmp_path):
    site = installed_wheel
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", _PROBE], cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    module_file, specs_dir, counts = out.stdout.splitlines()
    assert module_file.startswith(str(site))
    assert specs_dir == str(site / "resdsl" / "_data" / "specs")
    assert counts == f"25557032 {len(resources.bundled_specs())}"
