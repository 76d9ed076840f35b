"""Stop a diverging training run before it is saved, and say why it diverged.

Why a module of its own: a NaN or infinity in training has several causes (bad input data, a
damaged checkpoint, initial values such as a NaN forget bias, a learning rate that makes the
parameters overflow, an overflowing gradient), and the user can only fix it if the message
names the one we can see.  :class:`lstm.train.Trainer` calls these checks on the data before
training, on every batch's loss and gradient norm, and on the parameters and optimiser state
before every checkpoint; the first failure raises :class:`DivergenceError` and nothing is
written, so the last good checkpoint stays as it was.
"""
from __future__ import annotations

import numpy as np

from .data import DataError

__all__ = ["DivergenceError", "check_data", "first_non_finite", "diagnose", "LARGE_PARAMETER"]

LARGE_PARAMETER = 1e6  # parameters beyond this size mean the step size has run away


class DivergenceError(FloatingPointError):
    """Training produced NaN or infinity; the message names the cause that can be seen."""


def check_data(arrays, part: str) -> None:
    """Refuse NaN/infinity in the ``part`` ("training", "validation") data, naming where."""
    for k, a in enumerate(arrays):
        a = np.asarray(a)
        if a.dtype.kind != "f":
            continue
        bad = np.argwhere(~np.isfinite(a))
        if len(bad):
            where = tuple(int(i) for i in bad[0])
            raise DataError(f"the {part} data hold {len(bad)} non-finite value(s) (input {k + 1}, first "
                            f"{a[where]} at index {where}); nothing was trained")


def first_non_finite(variables):
    """The name of the first shared variable holding NaN/infinity, or None."""
    for v in variables:
        value = np.asarray(v.get_value(borrow=True))
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            return v.name or "(unnamed)"
    return None


def _largest(params):
    """(max |value|, name) over ``params``, ignoring non-finite entries."""
    best = (0.0, None)
    for p in params:
        v = np.abs(np.asarray(p.get_value(borrow=True), dtype=np.float64))
        v = v[np.isfinite(v)]
        if v.size and v.max() > best[0]:
            best = (float(v.max()), p.name)
    return best


def diagnose(what: str, value: float, where: str, params, lr: float, loss: float | None = None) -> DivergenceError:
    """The error for ``what`` (the loss, the gradient norm, a parameter ...) having become
    ``value`` at ``where``, with the cause read off the current parameters and learning rate."""
    head = f"training diverged: {what} became {value} {where}; nothing was saved for this epoch"
    bad = first_non_finite(params)
    size, name = _largest(params)
    if bad is not None or size > LARGE_PARAMETER:
        grown = f"parameter {bad} is not finite" if bad is not None else f"parameter {name} reached {size:.3g}"
        return DivergenceError(f"{head}: the learning rate {lr:.3g} overflows ({grown}); use a smaller --lr")
    if what.startswith("the gradient norm") and loss is not None:
        return DivergenceError(f"{head}: the gradient overflowed while the loss was finite ({loss:.4g}); "
                               "clipping cannot rescale an infinite gradient: use a smaller --lr or "
                               "smaller inputs")
    return DivergenceError(f"{head}: the parameters are finite and below {LARGE_PARAMETER:g}, so the "
                           "overflow happened inside the model; try a smaller --lr or gradient clipping")
