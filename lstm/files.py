"""Files written safely, and the checks of command-line values shared by the ``lstm`` commands.

Every file the package writes (checkpoints, plots) goes through ``write_atomic``: a temporary
file in the same directory, then ``os.replace`` — an interrupted or failed write never leaves a
half-written file, and an existing file stays as it was.
"""
from __future__ import annotations

import argparse
import os
import tempfile

from .data import DataError

__all__ = ["check_output_path", "write_atomic", "positive_int", "nonneg_int", "positive_float"]


def check_output_path(path: str, what: str = "output file") -> None:
    """Fail early, with a clear :class:`OSError`-free message, if ``path`` cannot be written.

    Creates (and removes) a temporary file next to ``path``: that is the only
    reliable test (``os.access`` says yes to root even on read-only places).
    """
    if not path:
        raise DataError(f"the {what} path is empty")
    if os.path.isdir(path):
        raise DataError(f"cannot write the {what} {path}: it is a directory")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise DataError(f"cannot write the {what} {path}: the directory {directory} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise DataError(f"cannot write the {what} {path}: {exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(tmp)


def _new_file_mode(path: str) -> int:
    """The mode a plainly created file would get: the old file's, else 0o666 minus the umask."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_atomic(path: str, write, binary: bool = True) -> str:
    """Write ``path`` via a temporary file in the same directory and ``os.replace``.

    ``write(fh)`` fills the open temporary file.  If it fails, the temporary file is
    removed and an existing file at ``path`` is left exactly as it was.  The new file gets
    ordinary permissions (not the 0600 of ``tempfile.mkstemp``).
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _new_file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


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
positive_float = _number(float, lambda v: 0 < v < float("inf"), "a positive number")
