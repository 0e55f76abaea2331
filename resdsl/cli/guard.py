"""How the `resdsl` process meets Ctrl-C and a standard output that is closed or full.

Imports only modules the interpreter has already loaded at start-up (errno, os, sys and the C
module `_signal`; not the Python module `signal`, whose own import took a few ms in which a
Ctrl-C was Python's to report), and `resdsl.cli` imports it first, so that it guards the start-up
imports too; `import resdsl` itself imports nothing. What it cannot guard is the interpreter's
own start-up before resdsl's first line runs (importing `site` and the `.pth` files of the
installed packages: 20–40 ms on this project's machine); a Ctrl-C there is Python's. The policy, for every command, `--help` and `--version` included:

- SIGINT (Ctrl-C), at any point, start-up included: no traceback, no message, exit status
  130. A temporary output file being written is removed (see `resdsl.output`).
- Standard output closed by its reader (EPIPE, e.g. `resdsl list | head -1`): a quiet exit,
  status 1, as click does for the help text it writes itself.
- Standard output failing otherwise (ENOSPC: `resdsl list > /dev/full`; EIO): one line on
  standard error, `resdsl: cannot write to standard output: No space left on device`, exit 1.
- Standard output closed before start (`resdsl build spec >&-`, so Python has no `sys.stdout`):
  the first write fails as a write to a closed descriptor would, `resdsl: cannot write to
  standard output: Bad file descriptor`, exit 1, instead of dropping the output and exiting 0.
- SIGTERM and SIGHUP while an output file is written: `resdsl.output` removes the temporary
  and exits 128 + signum.

After a failed standard output, file descriptor 1 is pointed at /dev/null, so that the
interpreter's last flush of what is still buffered has nothing to complain about.

Mechanism: `startup()` wraps the imports; `run()` wraps a whole command. Both record an
interrupt as well as raise it, and replace `sys.unraisablehook` while they run: an interrupt
raised where Python cannot raise it (a weakref callback of the import system, a `__del__`) is
not printed as "Exception ignored in ...", and, being recorded, it still ends the process with
130. `run` installs a SIGINT handler that raises `Interrupted`, which, unlike KeyboardInterrupt, no `except
Exception` and no click handler catches (click would print "Aborted!" and exit 1), and it
flushes standard output itself, so buffered-write errors surface inside the guard. Commands
write standard output through `resdsl.cli.common.echo`, which turns a failed write into
`StdoutFailed`, past every `except Exception` too.
"""

from __future__ import annotations

import errno
import os
import sys

try:  # the C module behind `signal`, loaded with the interpreter: nothing to import
    import _signal as signal
except ImportError:  # an interpreter without it
    import signal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import NoReturn

INTERRUPTED = 130  # 128 + SIGINT, what shells report for a Ctrl-C
STREAM_FAILED = 1


class Interrupted(BaseException):
    """Raised by the SIGINT handler `run` installs: unwinds the command, then exit 130."""


class StdoutFailed(BaseException):
    """Writing standard output failed; `errno` says how (EPIPE: its reader went away)."""

    def __init__(self, err: int | None):
        super().__init__(err)
        self.errno = err


class _ClosedStdout:
    """`sys.stdout` when file descriptor 1 was closed at start-up: every write fails (EBADF)."""

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


_interrupted = False  # set by either handler: an interrupt Python swallowed still counts


def _interrupt(signum, frame) -> NoReturn:
    global _interrupted
    _interrupted = True
    raise Interrupted()


def _quiet_interrupts(previous):
    """An unraisable hook that drops the interrupts the handlers raise and passes the rest on."""

    def hook(unraisable) -> None:
        if not issubclass(unraisable.exc_type, (Interrupted, KeyboardInterrupt)):
            previous(unraisable)

    return hook


def _set_sigint(handler):
    """Install `handler` for SIGINT; the previous one, or False where that is not allowed
    (only the main thread may set signal handlers)."""
    try:
        return signal.signal(signal.SIGINT, handler)
    except ValueError:
        return False


class startup:
    """`with startup():` around the start-up imports: Ctrl-C exits 130, quietly.

    The interrupt is recorded as well as raised: Python turns a KeyboardInterrupt in some places
    into another error (while compiling a module, a `\\N{...}` escape imports unicodedata, and
    an interrupt there becomes a SyntaxError), and whatever escapes after a Ctrl-C is the Ctrl-C.
    The previous SIGINT handler is given back on a normal exit (a test runner imports this too).
    """

    def __enter__(self) -> None:
        self.interrupted = False

        def record(signum, frame):
            self.interrupted = True
            raise KeyboardInterrupt

        self.previous = _set_sigint(record)
        self.hook, sys.unraisablehook = sys.unraisablehook, _quiet_interrupts(sys.unraisablehook)

    def __exit__(self, kind, value, traceback) -> bool:
        if self.interrupted or (kind is not None and issubclass(kind, KeyboardInterrupt)):
            _set_sigint(signal.SIG_IGN)  # a second Ctrl-C must not interrupt the exit either
            raise SystemExit(INTERRUPTED) from None
        sys.unraisablehook = self.hook
        if self.previous is not False:
            _set_sigint(signal.default_int_handler if self.previous is None else self.previous)
        return False


def run(command: Callable[[], int | None], *, whole_process: bool) -> NoReturn:
    """Run `command` (it returns an exit status) under the policy above; exit with its status.

    `whole_process`: this command is the process (its arguments came from `sys.argv`), so
    SIGINT stays ignored on the way out instead of getting its old handler back.
    """
    global _interrupted
    _interrupted = False
    previous = _set_sigint(_interrupt)
    hook, sys.unraisablehook = sys.unraisablehook, _quiet_interrupts(sys.unraisablehook)
    if sys.stdout is None:
        sys.stdout = _ClosedStdout()
    try:
        try:
            status = _status(command())
        except SystemExit as done:
            status = _status(done.code)
        except StdoutFailed as err:
            status = _stream_failed(err.errno)
        except OSError as err:  # click's own writes (help, version, usage) escape as OSError
            status = _stream_failed(err.errno)
        status = _flush_stdout(status)
    except (Interrupted, KeyboardInterrupt):
        status = INTERRUPTED
    finally:
        sys.unraisablehook = hook
        if previous is not False:
            if whole_process:
                _set_sigint(signal.SIG_IGN)
            else:  # a test runner, say: give it back its own handler
                _set_sigint(signal.SIG_DFL if previous is None else previous)
    if _interrupted:  # raised where Python swallowed it (a weakref callback): still a Ctrl-C
        status = INTERRUPTED
    if status == INTERRUPTED:
        from resdsl.output import remove_temporaries  # unwinding removed them; belt and braces

        remove_temporaries()
    raise SystemExit(status)


def _status(code) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    _say(str(code))  # sys.exit("message"), as the interpreter would print it
    return 1


def _flush_stdout(status: int) -> int:
    if sys.stdout is None:
        return status
    try:
        sys.stdout.flush()
    except OSError as err:
        return _stream_failed(err.errno)
    except ValueError:  # closed
        return status
    if type(sys.stdout).__name__ == "PacifyFlushWrapper":  # click met EPIPE on its own output
        _silence_stdout()
    return status


def _stream_failed(err: int | None) -> int:
    _silence_stdout()
    if err != errno.EPIPE:
        reason = os.strerror(err) if err else "an I/O error"
        _say(f"resdsl: cannot write to standard output: {reason}")
    return STREAM_FAILED


def _say(line: str) -> None:
    """One line on standard error, if it can still be written."""
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass


def _silence_stdout() -> None:
    """Point the process's file descriptor 1 at /dev/null (only the real standard output)."""
    stream = getattr(sys.stdout, "wrapped", sys.stdout)
    if sys.__stdout__ is None or stream is not sys.__stdout__:
        return  # a test runner's capture, say: there is no descriptor to fix
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
