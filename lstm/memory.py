"""Refuse a model too large for this machine before allocating it.

Why: ``--hidden 1000000000`` used to end in a numpy allocation traceback several GiB into the
run.  :func:`check_model_fits` estimates the bytes a recurrent model needs for training (its
parameters, their gradients, two Adam moments and a copy of the best parameters, in float64) and
compares them with the memory the operating system says is available, so the user gets one line
before anything is built.  The estimate is an upper bound for every cell kind (four gates plus
peepholes), since a rough bound is all this check needs.
"""
from __future__ import annotations

import os

__all__ = ["model_bytes", "available_memory", "check_model_fits", "ModelTooLarge"]

_COPIES = 6  # parameters, gradients, Adam m and v, best parameters, one update temporary


class ModelTooLarge(MemoryError):
    """The model would not fit in the available memory."""


def model_bytes(hidden: int, layers: int = 1, n_in: int = 1, n_out: int = 1) -> int:
    """Upper bound on the bytes needed to train such a model (see the module doc)."""
    n, size_in = 0, n_in
    for _ in range(layers):
        n += 4 * hidden * (size_in + hidden + 1) + 3 * hidden
        size_in = hidden
    n += hidden * n_out + n_out
    return 8 * _COPIES * n


def available_memory() -> int | None:
    """Bytes the OS reports as available (Linux ``MemAvailable``), else physical memory, else None."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_model_fits(hidden: int, layers: int = 1, n_in: int = 1, n_out: int = 1, available=None) -> int:
    """Raise :class:`ModelTooLarge` naming the sizes when the model cannot fit; returns the estimate."""
    need = model_bytes(hidden, layers, n_in, n_out)
    have = available_memory() if available is None else available
    if have is not None and need > have:
        raise ModelTooLarge(f"a model with {hidden} hidden units x {layers} layer(s) needs about "
                            f"{need / 2 ** 30:.1f} GiB to train, but only {have / 2 ** 30:.1f} GiB of memory "
                            "is available; use a smaller --hidden")
    return need
