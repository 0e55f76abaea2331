"""The README's editor set-ups, run in the editors themselves.

Neovim: the README's `init.lua` block (between `<!-- neovim-setup -->` and the end of its code
fence) is the whole configuration of a headless Neovim that opens a spec with a typo; the test
reads back the buffer's filetype, the attached clients and the diagnostics they published.
Marked `editor`; skipped where `nvim` is not installed (Debian: `apt-get install neovim`, 0.7.2).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NVIM = shutil.which("nvim")

pytestmark = [pytest.mark.editor, pytest.mark.skipif(NVIM is None, reason="needs Neovim (apt-get install neovim)")]

TYPO = "network t {\n    input 3x32x32\n    conv1: conv 3x3, 16\n    layer1: basci(16) x 2\n}\n"

_REPORT = """
local ok = vim.wait(60000, function() return #vim.diagnostic.get(0) > 0 end, 100)
local clients = {}
for _, c in pairs(vim.lsp.buf_get_clients(0)) do table.insert(clients, c.name) end
local found = {}
for _, d in ipairs(vim.diagnostic.get(0)) do table.insert(found, {d.lnum, d.col, d.message}) end
local out = io.open(vim.env.RESDSL_REPORT, "w")
out:write(vim.fn.json_encode({filetype = vim.bo.filetype, clients = clients, diagnostics = found, waited = ok}))
out:close()
vim.cmd("qa!")
"""


def readme_setup() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- neovim-setup -->\n```lua\n(.*?)```", text, re.S)
    assert found, "the README lost its marked Neovim set-up"
    return found.group(1)


def test_the_readme_neovim_setup_attaches_the_server_and_shows_diagnostics(tmp_path):
    init = tmp_path / "init.lua"
    init.write_text(readme_setup(), encoding="utf-8")
    report_lua = tmp_path / "report.lua"
    report_lua.write_text(_REPORT, encoding="utf-8")
    spec = tmp_path / "typo.res"
    spec.write_text(TYPO, encoding="utf-8")
    report = tmp_path / "report.json"
    bin_dir = Path(sys.executable).parent  # `resdsl` of this interpreter, importing this tree
    env = dict(
        os.environ,
        PATH=os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")]),
        PYTHONPATH=os.pathsep.join(p for p in [str(ROOT), os.environ.get("PYTHONPATH", "")] if p),
        RESDSL_REPORT=str(report),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_STATE_HOME=str(tmp_path / "state"),
    )
    done = subprocess.run(
        [NVIM, "--headless", "-u", str(init), "-i", "NONE", str(spec), "-c", f"luafile {report_lua}"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert report.exists(), done.stdout + done.stderr
    got = json.loads(report.read_text(encoding="utf-8"))
    assert got["filetype"] == "resdsl"
    assert got["clients"] == ["resdsl"]
    assert got["diagnostics"] == [[3, 12, "unknown block `basci`\nhelp: did you mean `basic`?"]]
