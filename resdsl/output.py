"""Writing output files: atomically, never over an input, never leaving a temporary behind.

Every file resdsl writes (`resdsl build|summary|compare|draw -o`, `resdsl.export`,
`Diagram.write`) goes through `write_atomic`, which promises:

- Atomic: the data goes to a temporary file beside the target (`.NAME.XXXX.tmp`), which is
  renamed over the target only once complete. A failure leaves an existing file untouched.
- No leftovers: temporaries are in a registry while they live. An exception removes its own;
  SIGTERM and SIGHUP, whose default action would kill the process between write and rename,
  are caught while a temporary lives (if nobody else handles them): the handler removes every
  live temporary and exits with status 128 + signum. An atexit hook removes any still listed.
- Inputs are safe: inside `reading_inputs()`, every file passed to `note_input` (the CLI notes
  the spec and the prelude it compiles) is protected. A target that is the same file (same
  device and inode, so `./a/../spec.res` and hard links count) is refused with `OutputError`.
- Symbolic links are written through: `-o link` replaces the file the link points to (resolved
  fully, atomically) and keeps the link; a dangling link creates its target.
- A read-only existing file (no write permission bit, or not writable by this user) is refused
  with `OutputError`, not replaced: renaming over it would silently defeat the permission.
  An existing target keeps its permission bits; a new one gets 0666 & ~umask.
- Special files (/dev/null, a FIFO, a terminal) are written through, never replaced.

`OutputError` is an `OSError`: code that caught OSError from a failed write still does.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import os
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path


class OutputError(OSError):
    """An output file that was not written: refused (`refused`), or the system said no.

    `path` is the output as named; `reason` says why, and `other` names the input it would
    have destroyed, if that is why. `str()` is one line.
    """

    def __init__(self, path: str | Path, reason: str, *, other: str | Path | None = None, refused: bool = False, errno: int | None = None):
        super().__init__(errno, reason, str(path))
        self.path, self.reason, self.other, self.refused = str(path), reason, None if other is None else str(other), refused

    def __str__(self) -> str:
        verb = "refusing to write" if self.refused else "cannot write"
        return f"{verb} {self.path}: {self.reason}" + (f" {self.other}" if self.other else "")


# --- inputs that outputs must not overwrite -------------------------------------------------

_inputs: contextvars.ContextVar[list[tuple[str, str]] | None] = contextvars.ContextVar("resdsl_inputs", default=None)


@contextlib.contextmanager
def reading_inputs() -> Iterator[None]:
    """A scope (one command) in which the files given to `note_input` cannot be written."""
    token = _inputs.set([])
    try:
        yield
    finally:
        _inputs.reset(token)


def note_input(path: str | Path, role: str) -> None:
    """Protect `path` (`role`: "the spec", "the prelude") from outputs in the current scope."""
    noted = _inputs.get()
    if noted is not None:
        noted.append((str(path), role))


def _check_not_an_input(target: Path, named: str | Path) -> None:
    try:
        out = os.stat(target)
    except OSError:
        return  # does not exist (yet): it cannot be an input
    for path, role in _inputs.get() or ():
        try:
            st = os.stat(path)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (out.st_dev, out.st_ino):
            raise OutputError(named, f"it is the same file as {role}", other=path, refused=True)


# --- temporaries, and the signals that would strand them --------------------------------------

_live: set[str] = set()
_lock = threading.RLock()  # re-entrant: a signal handler may run while this thread holds it
CLEANUP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def remove_temporaries() -> None:
    """Remove every live temporary file (signal handlers and atexit call this)."""
    with _lock:
        paths = list(_live)
    for tmp in paths:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


atexit.register(remove_temporaries)


def _terminate(signum: int, frame) -> None:
    remove_temporaries()
    sys.exit(128 + signum)


@contextlib.contextmanager
def _stranding_signals_handled() -> Iterator[None]:
    """While the body runs, SIGTERM/SIGHUP left at their default remove temporaries, then exit."""
    installed = {}
    if threading.current_thread() is threading.main_thread():
        for signum in CLEANUP_SIGNALS:
            if signal.getsignal(signum) is signal.SIG_DFL:
                installed[signum] = signal.signal(signum, _terminate)
    try:
        yield
    finally:
        for signum, previous in installed.items():
            signal.signal(signum, previous)


@contextlib.contextmanager
def _temporary_beside(target: Path) -> Iterator[tuple[int, str]]:
    """A new temporary file in `target`'s folder, in the registry while the body runs."""
    with _stranding_signals_handled():
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with _lock:
            _live.add(tmp)
        try:
            yield fd, tmp
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        finally:
            with _lock:
                _live.discard(tmp)


# --- writing ---------------------------------------------------------------------------------


def resolve_target(path: str | Path) -> Path:
    """The file an output named `path` writes: `path`, or the end of its chain of symlinks."""
    path = Path(path)
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write `data` to `path` as the module docstring promises, or raise `OutputError`."""
    if str(path) == "":
        raise OutputError(path, "the output path is empty", refused=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        target = resolve_target(path)
        _check_not_an_input(target, path)
        try:
            st = os.stat(target)
        except FileNotFoundError:
            st = None
    except OutputError:
        raise
    except OSError as err:  # a name too long, a folder we may not search
        raise OutputError(path, err.strerror or str(err), errno=err.errno) from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise OutputError(path, "it is a directory", refused=True)
    if st is not None and not stat.S_ISREG(st.st_mode):  # /dev/null, a FIFO: write through, never replace
        try:
            with open(target, "wb") as f:
                f.write(raw)
        except OSError as err:
            raise OutputError(path, err.strerror or str(err), errno=err.errno) from None
        return
    if st is not None and (not st.st_mode & 0o222 or not os.access(target, os.W_OK)):
        raise OutputError(path, "it is read-only (make it writable, or choose another output)", refused=True)
    if st is not None:
        mode = stat.S_IMODE(st.st_mode)
    else:
        umask = os.umask(0)  # mkstemp makes 0600 files; new outputs get the usual 0666 & ~umask
        os.umask(umask)
        mode = 0o666 & ~umask
    try:
        with _temporary_beside(target) as (fd, tmp):
            with os.fdopen(fd, "wb") as f:
                f.write(raw)
            os.chmod(tmp, mode)
            os.replace(tmp, target)
    except OSError as err:
        raise OutputError(path, err.strerror or str(err), errno=err.errno) from None
