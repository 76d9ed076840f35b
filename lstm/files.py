"""Files read and written safely, and the checks of command-line values shared by the ``lstm`` commands.

Why one module: every command reads user files and writes checkpoints, plots and tables, and
each of those must obey the same rules, so the rules live here once.

Reading (:func:`open_input`): only regular files below a stated size are opened -- ``/dev/zero``
or a FIFO with no writer would otherwise exhaust memory or hang.

Writing (:func:`check_outputs`, then :func:`write_atomic`):

* an output may not be one of the inputs, nor the same file as another output;
* an existing output must be a regular file that this program wrote, recognised by its content
  (a checkpoint by its structure, a plot or table by the mark :data:`MARK` we put in it), so a
  user's file is never overwritten;
* plots are saved by :func:`save_figure_atomic`, which puts :data:`MARK` in their metadata;
* a symbolic link is written through: its target is replaced, atomically;
* the write goes to a temporary file in the target's folder, named
  ``.<name>.<random>.<pid>.lstm-partial.tmp``, which is fsynced and moved over the target with
  ``os.replace``; a process killed during the write leaves only that file, and the next run
  writing into the folder removes such files whose process is gone.
"""
from __future__ import annotations

import argparse
import math
import os
import re
import stat
import tempfile
import warnings
from dataclasses import dataclass
from typing import Callable

from .data import DataError

__all__ = ["MARK", "Output", "LeftoverRemoved", "check_outputs", "check_output_path", "write_atomic", "has_mark",
           "clean_orphans", "open_input", "check_image_suffix", "image_path", "save_figure_atomic",
           "check_plot_format", "PLOT_FORMATS", "positive_int", "nonneg_int",
           "positive_float", "finite_float", "seed_int", "seed_list", "MAX_INPUT_BYTES"]

class LeftoverRemoved(UserWarning):
    """A temporary file of a killed run of this program was removed (reported, never silent)."""


MARK = "minigraph-lstm"             # put into every plot and table we write (metadata or a comment)
MAX_INPUT_BYTES = 256 * 1024 ** 2    # CSV and pickle inputs larger than this are refused unread
_PARTIAL = ".lstm-partial.tmp"
_PARTIAL_RE = re.compile(r"^\..+\.(\d+)" + re.escape(_PARTIAL) + "$")


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def _size(n: int) -> str:
    return f"{n / 2 ** 20:.1f} MiB" if n >= 2 ** 20 else f"{n} bytes"


def open_input(path, what: str = "input file", binary: bool = False, max_bytes: int | None = None):
    """Open ``path`` for reading after checking it is a regular file of at most ``max_bytes``.

    The file is opened without blocking (a FIFO with no writer cannot hang us) and checked on
    the open descriptor, so what is checked is what is read.  Problems raise :class:`DataError`.
    ``max_bytes`` defaults to :data:`MAX_INPUT_BYTES`.
    """
    max_bytes = MAX_INPUT_BYTES if max_bytes is None else max_bytes
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise DataError(f"{path}: is {_kind(info.st_mode)}, expected a regular {what}")
        if info.st_size > max_bytes:
            raise DataError(f"{path}: the {what} is {_size(info.st_size)}, more than the "
                            f"{_size(max_bytes)} this program reads")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb") if binary else os.fdopen(fd, encoding="utf-8-sig", newline="")
    except BaseException:
        os.close(fd)
        raise


# ---------------------------------------------------------------------------------------------
# Recognising our own files
# ---------------------------------------------------------------------------------------------


def has_mark(path: str, span: int = 1 << 16) -> bool:
    """True when :data:`MARK` occurs in the first or last ``span`` bytes of ``path``
    (where image metadata and our table comments sit)."""
    mark = MARK.encode()
    with open(path, "rb") as fh:
        head = fh.read(span)
        size = os.fstat(fh.fileno()).st_size
        fh.seek(max(size - span, 0))
        tail = fh.read(span)
    return mark in head or mark in tail


@dataclass(frozen=True)
class Output:
    """A file a command will write: its ``path``, ``what`` it is (for messages) and how to
    ``recognise`` an existing file as one this program wrote (default: it holds :data:`MARK`)."""

    path: str
    what: str
    recognise: Callable[[str], bool] = has_mark


# ---------------------------------------------------------------------------------------------
# Checking outputs
# ---------------------------------------------------------------------------------------------


def _same_file(a: str, b: str) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _probe_directory(path: str, what: str) -> str:
    """The folder the real file of ``path`` goes into; fails unless we can create files there."""
    directory = os.path.dirname(os.path.realpath(path))
    if not os.path.isdir(directory):
        raise DataError(f"cannot write the {what} {path}: the directory {directory} does not exist")
    try:
        fd, tmp = _mkstemp(os.path.realpath(path))
    except OSError as exc:
        raise DataError(f"cannot write the {what} {path}: {exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(tmp)
    return directory


def _check_existing(out: Output) -> None:
    """Refuse an existing ``out.path`` that is not a regular file we wrote."""
    try:
        info = os.stat(out.path)  # follows a symlink: the target is what gets replaced
    except FileNotFoundError:
        return
    except OSError as exc:
        raise DataError(f"cannot write the {out.what} {out.path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise DataError(f"cannot write the {out.what} {out.path}: it is {_kind(info.st_mode)}, "
                        "not a regular file")
    try:
        ours = out.recognise(out.path)
    except OSError as exc:
        raise DataError(f"cannot check the existing {out.what} {out.path}: {exc.strerror or exc}") from None
    if not ours:
        raise DataError(f"refusing to overwrite {out.path}: it exists and is not a {out.what} this program "
                        "wrote; remove it or choose another path")


def check_outputs(outputs, inputs=()) -> list[str]:
    """Check every :class:`Output` before any work is done (see the module doc); returns the
    orphaned temporary files removed from their folders."""
    outputs = [o for o in outputs if o.path]
    inputs = [os.fspath(p) for p in inputs if p]
    for i, out in enumerate(outputs):
        if os.path.isdir(out.path):
            raise DataError(f"cannot write the {out.what} {out.path}: it is a directory")
        for src in inputs:
            if _same_file(out.path, src):
                raise DataError(f"the {out.what} {out.path} is also an input ({src}); "
                                "writing it would destroy that input")
        for other in outputs[:i]:
            if _same_file(out.path, other.path):
                raise DataError(f"the {out.what} and the {other.what} are the same file ({out.path}); "
                                "give them different paths")
        _check_existing(out)
    removed = []
    for directory in dict.fromkeys(_probe_directory(o.path, o.what) for o in outputs):
        removed += clean_orphans(directory)
    return removed


def check_output_path(path: str, what: str = "output file", recognise=has_mark, inputs=()) -> list[str]:
    """:func:`check_outputs` for one output ``path``."""
    if not path:
        raise DataError(f"the {what} path is empty")
    return check_outputs([Output(os.fspath(path), what, recognise)], inputs)


def clean_orphans(directory: str) -> list[str]:
    """Remove temporary files that a killed writer of this program left in ``directory``
    (only ours, by name, and only those whose process no longer runs); returns their paths."""
    removed = []
    for name in os.listdir(directory):
        match = _PARTIAL_RE.match(name)
        if match is None or _alive(int(match.group(1))):
            continue
        full = os.path.join(directory, name)
        try:
            os.unlink(full)
        except FileNotFoundError:
            continue  # another run cleaned it first
        removed.append(full)
        warnings.warn(f"removed {full}, a temporary file left by an interrupted run", LeftoverRemoved,
                      stacklevel=2)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's running process
    return True


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


def _mkstemp(target: str):
    directory, base = os.path.split(target)
    return tempfile.mkstemp(prefix=f".{base}.", suffix=f".{os.getpid()}{_PARTIAL}", dir=directory)


def _new_file_mode(path: str) -> int:
    """The mode a plainly created file would get: the old file's, else 0o666 minus the umask."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_atomic(path: str, write, binary: bool = True, what: Output | None = None) -> str:
    """Write ``path`` via a temporary file in the same directory and ``os.replace``.

    With ``what`` (an :class:`Output` for ``path``) the target is first checked as
    :func:`check_outputs` does, so no writer can replace a file this program did not write.
    ``write(fh)`` fills the open temporary file.  If it fails, the temporary file is
    removed and an existing file at ``path`` is left exactly as it was.  A symlink is written
    through (its target is replaced).  The new file gets ordinary permissions (not the 0600 of
    ``tempfile.mkstemp``).  Returns ``path``.
    """
    if what is not None:
        check_outputs([what])
    target = os.path.realpath(path)
    fd, tmp = _mkstemp(target)
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _new_file_mode(target))
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


PLOT_FORMATS = ("png", "svg", "pdf", "ps", "eps")  # matplotlib formats that carry our mark


def save_figure_atomic(fig, path: str) -> str:
    """Save a matplotlib figure to ``path`` atomically (see :func:`write_atomic`), with
    :data:`MARK` in its metadata so that a later run may replace it.  The format comes from the
    extension (one of :data:`PLOT_FORMATS`)."""
    ext = os.path.splitext(path)[1].lower().lstrip(".") or "png"
    key = "Software" if ext == "png" else "Creator"  # where each format keeps who wrote it
    return write_atomic(path, lambda fh: fig.savefig(fh, format=ext, metadata={key: MARK}),
                        what=Output(path, "plot"))


def check_plot_format(path: str) -> None:
    """Refuse a plot path whose extension is not one of :data:`PLOT_FORMATS`."""
    check_image_suffix(path, PLOT_FORMATS, "plot")


def check_image_suffix(path: str, formats, what: str = "image") -> None:
    """Refuse ``path`` unless its suffix is one of ``formats`` (e.g. what graphviz or matplotlib
    can write), naming the choices."""
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in formats:
        shown = "." + ext if ext else "(no extension)"
        raise DataError(f"cannot write the {what} {path}: unknown image format {shown}; "
                        f"use one of {', '.join('.' + e for e in sorted(formats))}")


# ---------------------------------------------------------------------------------------------
# Command-line values
# ---------------------------------------------------------------------------------------------


def image_path(formats, what: str = "image"):
    """An argparse type: a path whose suffix is one of ``formats`` (see :func:`check_image_suffix`)."""
    def parse(text):
        try:
            check_image_suffix(text, formats, what)
        except DataError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text
    return parse


def _number(convert, ok, wanted):
    """An argparse type: ``convert`` the text, and refuse values for which ``ok`` is false."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text}")
        return value
    return parse


positive_int = _number(int, lambda v: v >= 1, "a positive integer")
nonneg_int = _number(int, lambda v: v >= 0, "an integer >= 0")
positive_float = _number(float, lambda v: 0 < v < math.inf, "a positive finite number")
finite_float = _number(float, math.isfinite, "a finite number")
seed_int = _number(int, lambda v: 0 <= v < 2 ** 32, "a seed between 0 and 2**32 - 1")


def seed_list(text: str) -> list[int]:
    """An argparse type: comma-separated seeds, each checked as :func:`seed_int` (for ``--seeds``)."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected at least one seed")
    return [seed_int(t) for t in items]
