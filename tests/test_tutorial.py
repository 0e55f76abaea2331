"""docs/tutorial.md is real: every spec it shows is checked and prints exactly what it quotes, and
its images are what its own commands draw.

The tutorial's fenced blocks are read in order. A ```res block is a spec file; a ```diff block a
change to the last ```res block (its `-` lines become its `+` lines, around unchanged context
lines); a ```console block `$ resdsl check NAME.res [ARGS]` (read as docs/diagnostics.md's are)
saves the latest spec as NAME.res and runs the command: its output, standard output and standard
error as a terminal shows them, must be the rest of the block. A NAME that is a committed file
(`examples/res2net_block.res`) must hold that spec. RESDSL_UPDATE_GOLDEN=1 rewrites the quoted
outputs; review the diff.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import ROOT, UPDATE
from resdsl.backends.draw import draw
from resdsl.backends.draw.render import find_renderer
from resdsl.cli import main
from resdsl.diagnostics import ResdslError
from resdsl.tools.format import format_text
from test_diagnostics import _console_blocks

TUTORIAL = ROOT / "docs" / "tutorial.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
DRAW = re.compile(r"^resdsl draw (\S+\.res) (.*) -o (docs/images/\S+\.png)$", re.M)


def apply_diff(base: str, diff: str) -> str:
    """`base` with the hunk `diff` applied: its context and `-` lines, found once, become its
    context and `+` lines."""
    old, new = [], []
    for line in diff.splitlines(keepends=True):
        tag, rest = (line[0], line[1:]) if line[0] in " +-" else (" ", line)
        if tag != "+":
            old.append(rest)
        if tag != "-":
            new.append(rest)
    before, after = "".join(old), "".join(new)
    assert base.count(before) == 1, f"the diff's old lines occur {base.count(before)} times in the spec:\n{before}"
    return base.replace(before, after)


def tutorial_runs() -> list[tuple[str, str, str, str]]:
    """(file name, arguments, spec text, quoted output) for each `resdsl check` in the tutorial."""
    text = TUTORIAL.read_text(encoding="utf-8")
    commands = iter(_console_blocks(TUTORIAL))
    runs, base, spec = [], None, None
    for fence in FENCE.finditer(text):
        lang, body = fence.groups()
        if lang == "res":
            base = spec = body
        elif lang == "diff":
            spec = apply_diff(base, body)
        elif lang == "console" and body.startswith("$ resdsl check "):
            name, args, shown = next(commands)
            runs.append((f"{name}.res", args.strip() if args else "", spec, shown))
    assert next(commands, None) is None, "a console block the fences did not reach"
    return runs


RUNS = tutorial_runs()


def _run(tmp_path: Path, name: str, args: str, spec: str):
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text(spec, encoding="utf-8")
    return CliRunner().invoke(main, ["check", name, *shlex.split(args)])


def test_the_tutorial_shows_each_step_and_mistake():
    names = [name for name, *_ in RUNS]
    assert len(names) == 15 and len(set(names)) == 15, names
    assert sum("error[" in shown for *_, shown in RUNS) == 6
    assert sum("warning[" in shown for *_, shown in RUNS) == 1


@pytest.mark.parametrize("name, args, spec, shown", RUNS, ids=[run[0] for run in RUNS])
def test_each_check_prints_what_the_tutorial_quotes(name, args, spec, shown, tmp_path, monkeypatch):
    if UPDATE:
        pytest.skip("rewriting the quoted outputs (test_rewrite_quoted_outputs)")
    monkeypatch.chdir(tmp_path)
    result = _run(tmp_path, name, args, spec)
    assert result.output == shown, f"docs/tutorial.md quotes another output for {name}"
    assert result.exit_code == (1 if "error[" in shown else 0)
    assert format_text(spec, name) == spec, f"{name}: the tutorial shows specs as `resdsl fmt` writes them"
    if (ROOT / name).is_file():
        assert (ROOT / name).read_text(encoding="utf-8") == spec, f"{name} differs from the spec the tutorial shows"


@pytest.mark.skipif(not UPDATE, reason="RESDSL_UPDATE_GOLDEN=1 rewrites the tutorial's quoted outputs")
def test_rewrite_quoted_outputs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = TUTORIAL.read_text(encoding="utf-8")
    at = 0
    for name, args, spec, shown in RUNS:
        head = f"```console\n$ resdsl check {name}{' ' + args if args else ''}\n"
        start = text.index(head, at) + len(head)
        output = _run(tmp_path, name, args, spec).output
        text, at = text[:start] + output + text[start + len(shown) :], start + len(output)
    TUTORIAL.write_text(text, encoding="utf-8")


# --- the diagrams -------------------------------------------------------------------------------


def test_the_tutorial_shows_the_images_its_commands_draw():
    text = TUTORIAL.read_text(encoding="utf-8")
    commands = DRAW.findall(text)
    assert [png for *_, png in commands] == ["docs/images/res2net_block.png", "docs/images/resnest_block.png", "docs/images/sknet_block.png"]
    assert all(f"]({png.removeprefix('docs/')})" in text for *_, png in commands)  # shown in the tutorial


@pytest.mark.parametrize("spec, options, png", DRAW.findall(TUTORIAL.read_text(encoding="utf-8")), ids=lambda value: Path(value).stem)
def test_committed_png_is_what_the_command_draws(spec, options, png, tmp_path, monkeypatch):
    """graphviz-pure renders byte for byte the same on every platform; another renderer would not."""
    try:
        renderer = find_renderer()
    except ResdslError:
        pytest.skip("no renderer")
    if Path(renderer).name != "graphviz-pure" or shutil.which("dot"):
        pytest.skip(f"the images are rendered by graphviz-pure, not {renderer}")
    monkeypatch.chdir(ROOT)
    out = tmp_path / Path(png).name
    result = CliRunner().invoke(main, ["draw", spec, *shlex.split(options), "-o", str(out)])
    assert (result.exit_code, result.output) == (0, "")
    assert out.read_bytes() == (ROOT / png).read_bytes(), f"{png} is stale: regenerate it as docs/tutorial.md says"


def _arcs_into(source: str, node: str) -> list[str]:
    return sorted(line.strip() for line in source.split("\n") if f'-> "{node}"' in line)


def test_the_block_diagrams_join_the_branches():
    """Res2Net's parts meet at the concat; ResNeSt's paths are weighed by the softmax's output."""
    res2 = draw(ROOT / "examples" / "res2net_block.res", detail="unit").source
    assert _arcs_into(res2, "layer1.concat") == [
        '"layer1.convs.0" -> "layer1.concat"', '"layer1.convs.1" -> "layer1.concat"', '"layer1.convs.2" -> "layer1.concat"',
        '"layer1.parts" -> "layer1.concat" [label="26×56×56"]',
    ]  # fmt: skip
    nest = draw(ROOT / "examples" / "resnest_block.res", detail="unit").source
    assert _arcs_into(nest, "layer1.conv2.weighted_sum") == [
        '"layer1.conv2.conv" -> "layer1.conv2.weighted_sum" [label="128×56×56"]',
        '"layer1.conv2.softmax" -> "layer1.conv2.weighted_sum"',
    ]
    # the radix sum adds both parts of one split: two arcs, not one
    assert _arcs_into(nest, "layer1.conv2.sum") == ['"layer1.conv2.paths" -> "layer1.conv2.sum" [label="64×56×56"]'] * 2
    assert 'label="Σ w·x /2" fixedsize=false' in nest and 'label="+" fixedsize=true' in nest  # the label fits its node
