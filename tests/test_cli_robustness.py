"""The `resdsl` command under abuse: outputs that would destroy inputs, symlinks, read-only files,
a full or closed standard output, Ctrl-C at start-up and later, SIGTERM mid-write, odd names.

Signals and standard streams are tested on real child processes. A child pauses at a known
point (an import hook, or a patched `os.replace` between write and rename), says "ready" on
stderr, and the test signals it then: no timing guesses.
"""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT

import resdsl
import resdsl.compiler
from resdsl import output
from resdsl.frontend import resources
from resdsl.cli import commands, common, main
from resdsl.frontend.resources import bundled_specs

CIFAR = bundled_specs()["cifar_resnet"]


def run(*args, **kwargs):
    return CliRunner().invoke(main, [str(a) for a in args], **kwargs)


@pytest.fixture
def spec(tmp_path, monkeypatch):
    """A spec file `spec.res` in the current folder (tmp_path), so messages name short paths."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "spec.res"
    path.write_bytes(CIFAR.read_bytes())
    return path


def _child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


_PAUSE_AT_IMPORT = r"""
import importlib.abc, sys, time
PAUSE_AT = sys.argv.pop(1)
class Pause(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == PAUSE_AT:
            sys.stderr.write("ready\n"); sys.stderr.flush(); time.sleep(60)
sys.meta_path.insert(0, Pause())
from resdsl.cli import main
main()
"""

_PAUSE_IN_LOAD = r"""
import sys, time
import resdsl.compiler
def load(*args, **kwargs):
    sys.stderr.write("ready\n"); sys.stderr.flush(); time.sleep(60)
resdsl.compiler.load = load
from resdsl.cli import main
main()
"""

_PAUSE_BEFORE_RENAME = r"""
import os, sys, time
real = os.replace
def replace(src, dst):
    sys.stderr.write("ready\n"); sys.stderr.flush(); time.sleep(60); real(src, dst)
os.replace = replace
from resdsl.cli import main
main()
"""


def _signal_when_ready(code: str, args, sig: int, cwd=None) -> tuple[int, str]:
    """Run `code` with `args`; when it says "ready", send `sig`; its status and the rest of stderr.

    The child starts with `sig` at its default disposition: a suite run as a background job
    inherits SIGINT as ignored, and an ignored SIGINT would leave the child asleep."""
    child = subprocess.Popen(
        [sys.executable, "-c", code, *args], env=_child_env(), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(sig, signal.SIG_DFL),
    )
    try:
        assert child.stderr.readline() == "ready\n"
        child.send_signal(sig)
        return child.wait(timeout=60), child.stderr.read()
    finally:
        if child.poll() is None:
            child.kill()
        child.stderr.close()


# --- 1. data loss: an output never replaces a file the command reads --------------------------

WRITERS = [
    ("build",),
    ("summary",),
    ("draw", "--format", "dot"),
]


@pytest.mark.parametrize("command", WRITERS, ids=lambda c: c[0])
@pytest.mark.parametrize("spelling", ["spec.res", "./a/../spec.res", "{abs}"])
def test_an_output_that_is_the_spec_is_refused(spec, command, spelling):
    (spec.parent / "a").mkdir()
    before = spec.read_bytes()
    out = spelling.format(abs=spec)
    result = run(command[0], "spec.res", *command[1:], "-o", out)
    assert result.exit_code == 2, result.output
    assert result.stderr == f"Error: refusing to write {out}: it is the same file as the spec spec.res\n"
    assert spec.read_bytes() == before
    assert sorted(p.name for p in spec.parent.iterdir()) == ["a", "spec.res"]  # no temporary left


def test_compare_refuses_to_overwrite_any_of_its_specs(spec):
    result = run("compare", "resnet18", "spec.res:n=5", "-o", "spec.res")
    assert (result.exit_code, result.stderr) == (2, "Error: refusing to write spec.res: it is the same file as the spec spec.res\n")
    assert spec.read_bytes() == CIFAR.read_bytes()


def test_a_hard_link_to_the_spec_is_the_same_file(spec):
    os.link(spec, "other.py")
    result = run("build", "spec.res", "-o", "other.py")
    assert (result.exit_code, result.stderr) == (2, "Error: refusing to write other.py: it is the same file as the spec spec.res\n")
    assert Path("other.py").read_bytes() == CIFAR.read_bytes()


def test_a_symlink_to_the_spec_is_refused(spec):
    os.symlink("spec.res", "link.py")
    result = run("build", "spec.res", "-o", "link.py")
    assert (result.exit_code, result.stderr) == (2, "Error: refusing to write link.py: it is the same file as the spec spec.res\n")
    assert spec.read_bytes() == CIFAR.read_bytes() and os.path.islink("link.py")


def test_the_bundled_spec_is_protected_too(tmp_path):
    before = CIFAR.read_bytes()
    result = run("build", "cifar_resnet", "-o", CIFAR)
    assert result.exit_code == 2 and "it is the same file as the spec" in result.stderr
    assert CIFAR.read_bytes() == before


def test_an_output_that_is_the_prelude_is_refused(tmp_path, monkeypatch):
    # A copy stands in for the prelude, so that a regression cannot damage the installed one.
    text = resources.prelude_path().read_bytes()
    prelude = tmp_path / "prelude.res"
    prelude.write_bytes(text)
    monkeypatch.setattr(resources, "prelude_path", lambda: prelude)
    result = run("build", "cifar_resnet", "-o", prelude)
    assert (result.exit_code, result.stderr) == (2, f"Error: refusing to write {prelude}: it is the same file as the prelude {prelude}\n")
    assert prelude.read_bytes() == text


@pytest.mark.slow
def test_a_pt2_export_over_the_spec_is_refused(spec):
    pytest.importorskip("torch")
    result = run("build", "spec.res", "--format", "pt2", "-o", "spec.res")
    assert (result.exit_code, result.stderr) == (2, "Error: refusing to write spec.res: it is the same file as the spec spec.res\n")
    assert spec.read_bytes() == CIFAR.read_bytes()


def test_the_check_lives_in_write_atomic_for_every_caller(tmp_path):
    target = tmp_path / "x.txt"
    target.write_text("input")
    with output.reading_inputs():
        output.note_input(target, "the spec")
        with pytest.raises(output.OutputError, match="refusing to write .*x.txt: it is the same file as the spec"):
            output.write_atomic(tmp_path / "." / "x.txt", "data")
    output.write_atomic(target, "data")  # outside a command's scope, nothing is protected
    assert target.read_text() == "data"


def test_a_symlink_is_written_through_and_kept(spec):
    Path("real.py").write_text("old")
    os.symlink("real.py", "link.py")
    assert run("build", "cifar_resnet", "-o", "link.py").exit_code == 0
    assert os.readlink("link.py") == "real.py"
    assert Path("real.py").read_text() == resdsl.generate_source("cifar_resnet")


def test_a_dangling_symlink_creates_its_target(spec):
    os.symlink("made.py", "link.py")
    assert run("build", "cifar_resnet", "-o", "link.py").exit_code == 0
    assert os.path.islink("link.py") and Path("made.py").read_text().startswith('"""Network `cifar_resnet`')


def test_a_read_only_file_is_refused_not_replaced(spec):
    Path("locked.py").write_text("keep me")
    os.chmod("locked.py", 0o444)
    result = run("build", "cifar_resnet", "-o", "locked.py")
    assert (result.exit_code, result.stderr) == (2, "Error: refusing to write locked.py: it is read-only (make it writable, or choose another output)\n")
    assert Path("locked.py").read_text() == "keep me"


def test_a_read_only_symlink_target_is_refused(spec):
    Path("locked.py").write_text("keep me")
    os.chmod("locked.py", 0o444)
    os.symlink("locked.py", "link.py")
    assert run("build", "cifar_resnet", "-o", "link.py").exit_code == 2
    assert Path("locked.py").read_text() == "keep me"


def test_a_folder_is_refused(spec):
    os.mkdir("out")
    result = run("summary", "cifar_resnet", "-o", "out")
    assert (result.exit_code, result.stderr) == (2, "Error: refusing to write out: it is a directory\n")


def test_a_replaced_file_keeps_its_permissions(spec):
    Path("private.py").write_text("old")
    os.chmod("private.py", 0o600)
    assert run("build", "cifar_resnet", "-o", "private.py").exit_code == 0
    assert stat.S_IMODE(os.stat("private.py").st_mode) == 0o600


def test_every_writing_command_takes_the_shared_output_option():
    """The check cannot be skipped by a new command: every -o is common.OutputPath."""
    for name, command in commands().items():
        for param in command.params:
            if "-o" in getattr(param, "opts", ()):
                assert isinstance(param.type, common.OutputPath), name


# --- 3. no temporary left behind, whatever stops the write -------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: signal.Signals(s).name)
def test_a_signal_between_write_and_rename_leaves_no_temporary(tmp_path, sig):
    (tmp_path / "out.py").write_text("previous")
    status, stderr = _signal_when_ready(_PAUSE_BEFORE_RENAME, ["build", "cifar_resnet", "-o", "out.py"], sig, cwd=tmp_path)
    assert (status, stderr) == (128 + sig, "")
    assert [p.name for p in tmp_path.iterdir()] == ["out.py"]
    assert (tmp_path / "out.py").read_text() == "previous"


def test_the_registry_holds_a_temporary_only_while_it_lives(tmp_path, monkeypatch):
    seen = []
    real = os.replace

    def replace(src, dst):
        seen.append(set(output._live))
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    before = signal.getsignal(signal.SIGTERM)
    output.write_atomic(tmp_path / "x.txt", "data")
    assert [len(s) for s in seen] == [1] and output._live == set()
    assert signal.getsignal(signal.SIGTERM) is before  # the cleanup handler lives only as long


def test_remove_temporaries_removes_what_is_listed(tmp_path):
    tmp = tmp_path / ".x.tmp"
    tmp.write_text("partial")
    output._live.add(str(tmp))
    try:
        output.remove_temporaries()
    finally:
        output._live.discard(str(tmp))
    assert not tmp.exists()


# --- 2. standard output full or closed, Ctrl-C -------------------------------------------------

EVERY_COMMAND = [
    ("list",),
    ("--help",),
    ("--version",),
    ("build", "--help"),
    ("check", "cifar_resnet"),
    ("build", "cifar_resnet"),
    ("summary", "cifar_resnet"),
    ("compare", "cifar_resnet", "resnet18"),
    ("draw", "cifar_resnet"),
]


def _resdsl(args, **kwargs):
    return subprocess.run([sys.executable, "-m", "resdsl", *args], env=_child_env(), text=True, **kwargs)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", EVERY_COMMAND, ids=" ".join)
def test_a_full_standard_output_is_one_line_and_exit_1(args):
    with open("/dev/full", "w") as full:
        done = _resdsl(args, stdout=full, stderr=subprocess.PIPE)
    assert (done.returncode, done.stderr) == (1, "resdsl: cannot write to standard output: No space left on device\n")


@pytest.mark.parametrize("args", EVERY_COMMAND, ids=" ".join)
def test_a_closed_standard_output_exits_1_quietly(args):
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first byte: every write gets EPIPE
    try:
        done = _resdsl(args, stdout=write, stderr=subprocess.PIPE)
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (1, "")


@pytest.mark.parametrize("args", EVERY_COMMAND, ids=" ".join)
def test_a_standard_output_closed_before_start_is_an_error_not_silence(args, tmp_path):
    """`resdsl build spec >&-`: Python starts without `sys.stdout`; output must not vanish."""
    done = _resdsl(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=lambda: os.close(1))
    assert (done.returncode, done.stderr) == (1, "resdsl: cannot write to standard output: Bad file descriptor\n")
    to_file = _resdsl(["build", "cifar_resnet", "-o", str(tmp_path / "m.py")], stderr=subprocess.PIPE, preexec_fn=lambda: os.close(1))
    assert (to_file.returncode, to_file.stderr) == (0, "") and (tmp_path / "m.py").stat().st_size > 0


@pytest.mark.parametrize("module", ["click", "networkx"])
def test_ctrl_c_during_start_up_exits_130_without_a_traceback(module):
    assert _signal_when_ready(_PAUSE_AT_IMPORT, [module, "check", "cifar_resnet"], signal.SIGINT) == (130, "")


def test_ctrl_c_during_a_command_exits_130_without_a_traceback():
    assert _signal_when_ready(_PAUSE_IN_LOAD, ["summary", "resnet50"], signal.SIGINT) == (130, "")


def test_an_interrupt_in_process_is_130_and_the_handler_is_given_back(monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    before = signal.getsignal(signal.SIGINT)
    monkeypatch.setattr(resdsl.compiler, "load", interrupted)
    result = run("check", "cifar_resnet")
    assert (result.exit_code, result.stdout) == (130, "")
    assert signal.getsignal(signal.SIGINT) is before


# --- 4. odd names and values --------------------------------------------------------------------


def test_dev_null_is_an_empty_spec_not_a_missing_one():
    result = run("check", "/dev/null")
    assert result.exit_code == 1
    assert result.stderr.startswith("/dev/null:1:1: error[E0108]: this file is empty\n")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_a_spec_file(tmp_path):
    fifo = tmp_path / "spec.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(CIFAR.read_bytes()), daemon=True)
    writer.start()
    result = run("check", fifo)
    if writer.is_alive():  # resdsl never opened the FIFO: release the writer blocked in open()
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
    writer.join(timeout=30)
    assert (result.exit_code, result.output) == (0, "cifar_resnet: input 3×32×32, output 10, 269,722 parameters\n")


@pytest.mark.parametrize("args", [("check", ""), ("summary", ""), ("compare", "resnet18", "")])
def test_an_empty_spec_name_is_a_usage_error(args):
    result = run(*args)
    assert result.exit_code == 2 and "empty spec name" in result.stderr and "directory" not in result.stderr


def test_resolve_spec_refuses_an_empty_name_from_python():
    with pytest.raises(resdsl.ResdslError, match="E0501.*empty spec name"):
        resdsl.load("")


def test_an_empty_output_path_is_a_usage_error(spec):
    result = run("build", "cifar_resnet", "-o", "")
    assert result.exit_code == 2 and "empty output path" in result.stderr and result.stdout == ""


def test_dash_is_standard_output(spec):
    result = run("build", "cifar_resnet", "-o", "-")
    assert result.exit_code == 0 and result.stdout == resdsl.generate_source("cifar_resnet")
    assert not Path("-").exists()


@pytest.mark.parametrize(
    "args",
    [
        ("check", "cifar_resnet", "--set", "n=3", "--set", "n=5"),
        ("check", "cifar_resnet", "--set", "n=3", "--set", " n = 3"),
        ("compare", "cifar_resnet:n=3,n=5", "resnet18"),
    ],
)
def test_a_parameter_set_twice_is_a_usage_error(args):
    result = run(*args)
    assert result.exit_code == 2 and "parameter `n` is set twice" in result.stderr


LONG = "a" * 100_000  # near the longest single argument Linux passes (128 KiB)


@pytest.mark.parametrize(
    "args",
    [
        ("check", LONG),
        ("check", LONG + ".res"),
        ("check", "cifar_resnet", "--set", f"{LONG}=3"),
        ("check", "cifar_resnet", "--set", f"n={LONG}"),
        ("check", "cifar_resnet", "--set", LONG),
        ("build", "cifar_resnet", "--format", LONG),
        ("build", "cifar_resnet", "-o", LONG),
        ("draw", "cifar_resnet", "-o", LONG + ".pdf"),
        ("compare", "cifar_resnet", f"{LONG}:n=3"),
    ],
    ids=lambda a: " ".join(x if len(x) < 20 else "LONG" for x in a),
)
def test_long_names_are_shortened_in_messages(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code in (1, 2) and len(result.stderr) < 700, result.stderr[:300]
    assert "a" * 250 not in result.stderr


def test_a_long_name_inside_a_spec_is_shortened(tmp_path):
    bad = tmp_path / "big.res"
    bad.write_text("network big {\n    input 3x32x32\n    layer1: " + "b" * 1_000_000 + "(16) x 2\n}\n")
    result = run("check", bad)
    assert result.exit_code == 1 and len(result.stderr) < 1000
    assert re.search(r"unknown block `b{39}…b{20}`", result.stderr)


def test_shorten_keeps_head_and_tail():
    assert common.shorten("x" * 60) == "x" * 60
    assert common.shorten("h" * 50 + "t" * 50) == "h" * 39 + "…" + "t" * 20
    assert common.shorten_message("unknown `" + "n" * 100 + "` here") == "unknown `" + "n" * 39 + "…" + "n" * 20 + "` here"
    path = "/" + "d" * 300 + "/spec.res"
    assert common.shorten_message(f"no such spec file: {path}").endswith("…" + path[-66:])
    prose = "the paper's table isn't " + "quite " * 20
    assert common.shorten_message(prose) == prose


# --- 5. the code says what it does ----------------------------------------------------------------


def test_each_command_lives_in_its_own_module():
    modules = {name: command.callback.__module__ for name, command in commands().items()}
    assert modules == {name: f"resdsl.cli.{'list_cmd' if name == 'list' else name}" for name in modules}


def test_commands_write_standard_output_only_through_echo():
    """`common.echo` turns a failed write into the guard's StdoutFailed; click.echo would not."""
    for module in (ROOT / "resdsl" / "cli").glob("*.py"):
        for number, line in enumerate(module.read_text().splitlines(), 1):
            if "click.echo(" in line and "err=True" not in line and module.name != "common.py":
                pytest.fail(f"{module.name}:{number} writes standard output with click.echo: use common.echo")


def test_rendering_moved_to_the_draw_backend():
    assert not (ROOT / "resdsl" / "render.py").exists()
    from resdsl.backends.draw import render
    from resdsl.cli import draw as draw_cli

    assert draw_cli.FORMATS is render.FORMATS and draw_cli.SUFFIXES is render.SUFFIXES
    assert set(render.FORMATS) == set(render.SUFFIXES.values())


def test_an_interrupt_that_python_turns_into_another_error_at_start_up_is_still_130():
    """Compiling a module that holds a `\\N{...}` escape imports unicodedata; a Ctrl-C there
    reaches the start-up guard as a SyntaxError, not a KeyboardInterrupt."""
    from resdsl.cli import guard

    before = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit) as done:
            with guard.startup():
                try:
                    signal.raise_signal(signal.SIGINT)
                except KeyboardInterrupt:
                    raise SyntaxError("(unicode error) \\N escapes not supported (can't load unicodedata module)") from None
        assert done.value.code == 130
    finally:
        signal.signal(signal.SIGINT, before)
    with guard.startup():  # a start-up without Ctrl-C gives the handler back
        pass
    assert signal.getsignal(signal.SIGINT) is before


class _InterruptWhenCollected:
    """Takes the Ctrl-C in its finalizer, where Python cannot raise it: it reports it to
    `sys.unraisablehook` ("Exception ignored in ...", as a weakref callback of the import
    system did when Ctrl-C came during start-up)."""

    def __del__(self):
        signal.raise_signal(signal.SIGINT)


def test_an_interrupt_python_cannot_raise_at_start_up_is_silent_and_130(monkeypatch):
    from resdsl.cli import guard

    reported = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    before = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit) as done:
            with guard.startup():
                _InterruptWhenCollected()  # collected at once
        assert done.value.code == 130
    finally:
        signal.signal(signal.SIGINT, before)
    assert reported == []


def test_an_interrupt_python_cannot_raise_in_a_command_still_ends_it_with_130(monkeypatch):
    from resdsl.cli import guard

    reported = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)

    def command() -> int:
        _InterruptWhenCollected()
        return 0  # the command went on: Python swallowed the interrupt

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(SystemExit) as done:
        guard.run(command, whole_process=False)
    assert (done.value.code, reported) == (130, [])
    assert signal.getsignal(signal.SIGINT) is before and sys.unraisablehook == reported.append
