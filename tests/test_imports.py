"""Start-up stays fast: the front end and the commands that need no model never import torch.

Each check runs in a fresh interpreter (this test process has torch loaded already) and looks
at `sys.modules` after the command ran.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_RUN_COMMAND = r"""
import sys
from resdsl.cli import main
try:
    main(sys.argv[1:], prog_name="resdsl")
except SystemExit as exit:
    code = exit.code
print("exit", code, "torch" in sys.modules, file=sys.stderr)
"""


def _command(*args: str) -> str:
    done = subprocess.run([sys.executable, "-c", _RUN_COMMAND, *args], capture_output=True, text=True, check=True)
    return done.stderr.strip().splitlines()[-1]


def _registered() -> set[str]:
    from resdsl.cli import main

    return set(main.list_commands(None))


@pytest.mark.parametrize(
    "args",
    [("check", "resnet50"), ("check", "cifar_resnet", "--set", "n=200"), ("list",), ("build", "--help"), ("--help",)],
)
def test_commands_without_models_do_not_import_torch(args):
    assert _command(*args) == "exit 0 False"


def test_draw_does_not_import_torch(tmp_path):
    if "draw" not in _registered():
        pytest.skip("no `resdsl draw` command registered in this tree")
    assert _command("draw", "resnet18", "-o", str(tmp_path / "r.dot")) == "exit 0 False"


def test_a_failing_check_does_not_import_torch(tmp_path):
    bad = tmp_path / "bad.res"
    bad.write_text("network bad {\n    input 3x32x32\n    layer1: basci(16) x 2\n}\n")
    assert _command("check", str(bad)) == "exit 1 False"


def test_build_does_import_torch_the_check_is_live(tmp_path):
    # The same probe on a command that needs torch: it must see it, or the probe proves nothing.
    assert _command("build", "cifar_resnet", "--format", "pt2", "-o", str(tmp_path / "m.pt2")) == "exit 0 True"


def test_the_python_front_end_does_not_import_torch():
    code = "import sys, resdsl; net = resdsl.load('resnet152'); print(net.params, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == "60192808 False\n"


_LSP_PATH = r"""
import sys
from resdsl.cli import main
main.get_command(None, "lsp")  # what `resdsl lsp` loads before the server runs
import resdsl.tools.lsp.server
heavy = ("torch", "graphviz", "onnx", "resdsl.backends", "resdsl.api", "resdsl.analysis")
print(sorted({m.split(".")[0] if not m.startswith("resdsl") else ".".join(m.split(".")[:2]) for m in sys.modules if m.startswith(heavy)}))
"""


def test_the_language_server_loads_no_back_end_before_its_first_diagnostics():
    """`resdsl lsp` needs the compiler and pygls; the back ends, torch and graphviz wait until
    a command that uses them runs (a client waits for the first diagnostics meanwhile)."""
    done = subprocess.run([sys.executable, "-c", _LSP_PATH], capture_output=True, text=True, check=True)
    assert done.stdout == "[]\n"


_LSP_FIRST_CHECK = r"""
import sys
from lark import Lark

builds = []
build = Lark._build_parser
Lark._build_parser = lambda self, *args, **kwargs: builds.append(1) or build(self, *args, **kwargs)
from resdsl.cli import main
main.get_command(None, "lsp")
from resdsl.tools.lsp.document import analyze
from resdsl.tools.lsp.server import create_server

server = create_server()  # what the first didOpen runs: the analysis and its LSP diagnostics
analysis = analyze(sys.argv[1], "typo.res")
found = [server.diagnostic(analysis, d, "file:///typo.res") for d in analysis.diagnostics]
heavy = ("torch", "graphviz", "onnx", "resdsl.backends", "resdsl.api", "resdsl.analysis")
print(len(builds), [(d.code, d.range.start.line) for d in found], sorted({m for m in sys.modules if m.startswith(heavy)}))
"""


def test_the_language_servers_first_diagnostics_load_the_parser_tables_and_no_back_end(tmp_path):
    """A fresh server's first check (after `resdsl lsp` imported what it needs) builds the
    parser's tables only when no earlier process saved them, and imports no back end."""
    typo = "network typo {\n    input 3x32x32\n    conv1: conv 3x3, 16\n    layer1: basci(16) x 2\n}\n"
    env = dict(os.environ, RESDSL_CACHE_DIR=str(tmp_path))
    runs = [subprocess.run([sys.executable, "-c", _LSP_FIRST_CHECK, typo], env=env, capture_output=True, text=True, check=True).stdout for _ in range(2)]
    assert runs == ["1 [('E0101', 3)] []\n", "0 [('E0101', 3)] []\n"]



def test_parsing_and_formatting_do_not_import_networkx():
    """The parser builds the IR's expression nodes (`resdsl.ir.expr`): importing them must not
    pull in the graph (networkx), which `resdsl fmt` and the highlighters never use."""
    code = (
        "import sys\n"
        "from resdsl.tools.format import format_text\n"
        "from resdsl.frontend.syntax.parser import parse\n"
        "format_text('network n {\\n    input 3x8x8\\n}\\n', 'n.res')\n"
        "print(sorted(m for m in ('networkx', 'torch') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "[]\n"
