"""What a checkpoint must hold for :class:`lstm.train.Trainer` to resume from it, checked field by field.

Why: a checkpoint is input like any other file, and a crafted or damaged one (``epoch = -5``, a
negative learning rate, a history longer than the epochs run, a negative Adam step count) would
otherwise resume silently into nonsense.  :func:`read_resume_state` reads the file with
:func:`lstm.checkpoint.read_checkpoint` (which already refuses non-numeric, misshapen and
non-finite arrays) and then checks every training field's type and range; the first problem is
one :class:`lstm.checkpoint.CheckpointError` line naming the field.  Nothing is loaded into the
model here.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

import numpy as np

from . import checkpoint as _ckpt

__all__ = ["ResumeState", "read_resume_state", "NONNEGATIVE_STATE"]

NONNEGATIVE_STATE = ("adam.t", "adam.v.", "rmsprop.a.")  # optimiser state that cannot be negative


@dataclass(frozen=True)
class ResumeState:
    """The checked training state of a checkpoint (``history`` is the dict History.from_state reads)."""

    epoch: int
    bad_epochs: int
    history: dict
    rng_state: dict
    lr: float
    best: dict | None  # {param name: array} of the best validation epoch, if any


def _fail(where, text):
    raise _ckpt.CheckpointError(f"checkpoint {where}: {text}; it was not written by this program "
                                "or was damaged")


def _int(value, name, where, lo, hi):
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        _fail(where, f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    return value


def _floats(values, name, where, length, positive=False):
    if not isinstance(values, list) or len(values) != length:
        _fail(where, f"{name} must be a list of {length} numbers")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or (positive and v <= 0):
            _fail(where, f"{name} holds {v!r}, expected finite{' positive' if positive else ''} numbers")
    return values


def _history(h, epoch, where):
    if not isinstance(h, dict):
        _fail(where, "meta.history must be an object")
    _int(h.get("epochs_run"), "history.epochs_run", where, epoch, epoch)
    _floats(h.get("train_loss"), "history.train_loss", where, epoch)
    _floats(h.get("lr"), "history.lr", where, epoch, positive=True)
    val = h.get("val_loss")
    _floats(val, "history.val_loss", where, len(val) if isinstance(val, list) and len(val) in (0, epoch) else epoch)
    _int(h.get("best_epoch"), "history.best_epoch", where, 0, epoch)
    best = h.get("best_val")
    if best is not None:
        _floats([best], "history.best_val", where, 1)
    if not isinstance(h.get("stopped_early"), bool):
        _fail(where, "history.stopped_early must be true or false")
    return h


def _state_ranges(state, where):
    for name, arr in state.items():
        if name.startswith(NONNEGATIVE_STATE) and np.any(arr < 0):
            _fail(where, f"state {name} holds negative values")


def read_resume_state(path, hparams: dict, param_names, optimizer: str) -> ResumeState:
    """Read ``path`` and check it can resume a run with ``hparams``, ``param_names`` and ``optimizer``."""
    where = repr(os.fspath(path))
    saved = _ckpt.read_checkpoint(path)
    wanted = json.loads(json.dumps(hparams))  # tuples -> lists, as stored
    diffs = [f"{k}={_show(saved.hparams[k])} (now {_show(v)})" for k, v in wanted.items()
             if k in saved.hparams and saved.hparams[k] != v]
    if diffs:
        raise _ckpt.CheckpointError(
            f"checkpoint {where} was written with different settings: {', '.join(diffs)}; "
            "use the same settings to resume, or start afresh without resuming")
    meta = saved.meta
    if meta.get("optimizer", optimizer) != optimizer:
        raise _ckpt.CheckpointError(f"checkpoint {where} was written with the {meta['optimizer']} optimiser, "
                                    f"not {optimizer}")
    epoch = _int(meta.get("epoch"), "meta.epoch", where, 1, 10 ** 9)
    bad_epochs = _int(meta.get("bad_epochs"), "meta.bad_epochs", where, 0, epoch)
    history = _history(meta.get("history"), epoch, where)
    lr = saved.state.get("train.lr")
    if lr is None or np.ndim(lr) != 0 or not float(lr) > 0:
        _fail(where, f"state train.lr must be one positive number, got {lr!r}")
    _state_ranges(saved.state, where)
    rng_state = meta.get("rng")
    try:
        np.random.Generator(np.random.PCG64()).bit_generator.state = dict(rng_state)
    except (TypeError, ValueError, KeyError) as exc:
        _fail(where, f"meta.rng is not a random generator state ({type(exc).__name__}: {exc})")
    names = list(param_names)
    best = None
    if any("best." + n in saved.state for n in names):
        missing = [n for n in names if "best." + n not in saved.state]
        if missing:
            _fail(where, f"the best parameters lack {', '.join(missing)}")
        best = {n: saved.state["best." + n] for n in names}
    return ResumeState(epoch, bad_epochs, history, dict(rng_state), float(lr), best)


def _show(value) -> str:
    return json.dumps(value) if isinstance(value, str) else str(value)
