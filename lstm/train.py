"""A generic minibatch training loop for minigraph models.

:class:`Trainer` compiles two functions once, from a symbolic loss built by the
caller:

* ``step(*batch)`` -- returns the batch loss and the global gradient norm (before clipping)
  and applies the optimiser's updates (the parameters and the optimiser's own state
  variables); ``train_step(*batch)`` returns the loss only;
* ``eval_loss(*batch)`` -- the loss only, for validation.

:meth:`Trainer.fit` then runs epochs of shuffled minibatches with

* a progress display on stderr (:class:`ProgressBar`): a live bar when stderr
  is a terminal, one line per epoch otherwise (or forced either way);
* early stopping on the validation loss (``patience``) and, at the end,
  restoring the parameters of the best validation epoch;
* a learning-rate schedule (anything callable as ``schedule(i) -> lr`` with
  ``i`` the 0-based epoch index, e.g. :class:`lstm.optim.StepDecay`) and optional gradient-norm clipping;
* a checkpoint written (atomically) after every epoch, and ``resume=True`` to
  continue from it.  The checkpoint holds the parameters, the optimiser state,
  the epoch, the shuffling RNG's state, the history and the best parameters so
  far, so an interrupted-and-resumed run ends with exactly the same parameters
  as an uninterrupted one with the same seed.

Data are tuples of numpy arrays, one per symbolic input, that share a batch
axis (``batch_axes``, 0 by default; 1 for time-major sequences ``(T, B, ...)``).
"""
from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np

import minigraph as theano
import minigraph.tensor as T

from . import checkpoint as _ckpt
from . import diverge as _div
from . import optim as _optim
from .files import check_outputs
from .resume import read_resume_state

__all__ = ["ProgressBar", "History", "Trainer", "minibatch_indices", "format_seconds"]

_OPTIMISERS = tuple(_optim.OPTIMIZERS)


def format_seconds(seconds: float) -> str:
    """``75.3 -> '1:15'``, ``3725 -> '1:02:05'``; short times keep a decimal (``'4.2s'``)."""
    if not math.isfinite(seconds):
        return "?"
    if seconds < 10:
        return f"{seconds:.1f}s"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressBar:
    """A small progress display for one training run, written to ``stream`` (stderr).

    ``mode``:

    * ``"auto"`` -- a live bar if ``stream`` is a terminal, else ``"epoch"``;
    * ``"bar"``  -- a live bar redrawn in place (``\\r``), whatever the stream;
    * ``"epoch"`` -- one plain line per finished epoch (good for log files);
    * ``"off"``  -- nothing.

    The bar shows the epoch, batch ``i/n``, the running mean training loss of
    the epoch, the elapsed time of the run and the estimated time left in the
    epoch.  At the end of each epoch (in both visible modes) a summary line is
    left behind: train and validation loss, learning rate, time, and ``*`` when
    the validation loss is the best so far.  With ``scale=(a, b)`` the shown training and
    validation losses are divided by ``a`` and ``b`` (the stock example shows them relative to
    the loss of a no-skill forecast, the scale of its report and plot).
    """

    MODES = ("auto", "bar", "epoch", "off")

    def __init__(self, n_epochs: int, stream=None, mode: str = "auto", width: int = 24,
                 min_interval: float = 0.1, scale: tuple = (1.0, 1.0)):
        if mode not in self.MODES:
            raise ValueError(f"progress mode must be one of {self.MODES}, got {mode!r}")
        self.stream = sys.stderr if stream is None else stream
        if mode == "auto":
            isatty = getattr(self.stream, "isatty", None)
            mode = "bar" if isatty is not None and isatty() else "epoch"
        self.mode = mode
        self.n_epochs = n_epochs
        self.width = width
        self.min_interval = min_interval
        self.scale = scale  # shown losses are divided by these (train, validation), e.g. a no-skill MSE
        self.start = time.perf_counter()
        self._epoch_start = self.start
        self._last_draw = 0.0
        self._drawn = 0

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed pipe must not kill training
            self.mode = "off"

    def begin_epoch(self, epoch: int, n_batches: int) -> None:
        self.epoch, self.n_batches = epoch, n_batches
        self._epoch_start = time.perf_counter()
        self._last_draw = 0.0

    def update(self, batch: int, loss: float) -> None:
        """Batch ``batch`` (1-based) of the epoch is done; ``loss`` is the epoch's running mean."""
        if self.mode != "bar":
            return
        now = time.perf_counter()
        if batch < self.n_batches and now - self._last_draw < self.min_interval:
            return
        self._last_draw = now
        done = batch / max(self.n_batches, 1)
        filled = int(round(self.width * done))
        spent = now - self._epoch_start
        eta = spent / batch * (self.n_batches - batch) if batch else float("nan")
        line = (f"epoch {self.epoch}/{self.n_epochs} [{'#' * filled}{'.' * (self.width - filled)}] "
                f"{batch}/{self.n_batches} loss {loss / self.scale[0]:.4f} elapsed {format_seconds(now - self.start)} "
                f"ETA {format_seconds(eta)}")
        pad = max(self._drawn - len(line), 0)
        self._drawn = len(line)
        self._write("\r" + line + " " * pad)

    def end_epoch(self, train_loss: float, val_loss: float | None, lr: float, best: bool) -> None:
        if self.mode == "off":
            return
        now = time.perf_counter()
        parts = [f"epoch {self.epoch}/{self.n_epochs}", f"train {train_loss / self.scale[0]:.4f}"]
        if val_loss is not None:
            parts.append(f"val {val_loss / self.scale[1]:.4f}")
        parts += [f"lr {lr:.3g}", f"{format_seconds(now - self._epoch_start)}",
                  f"total {format_seconds(now - self.start)}"]
        line = "  ".join(parts) + ("  *" if best else "")
        if self.mode == "bar":
            blank = "\r" + " " * self._drawn if self._drawn else ""
            self._drawn = 0
            self._write(blank + "\r" + line + "\n")
        else:
            self._write(line + "\n")

    def message(self, text: str) -> None:
        if self.mode != "off":
            self._write(text + "\n")


@dataclass
class History:
    """What happened in :meth:`Trainer.fit` (also stored in the checkpoint)."""

    train_loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    best_epoch: int = 0
    best_val: float = math.inf
    epochs_run: int = 0
    stopped_early: bool = False
    resumed_from: int = 0
    elapsed: float = 0.0

    def to_state(self) -> dict:
        return {"train_loss": list(map(float, self.train_loss)),
                "val_loss": list(map(float, self.val_loss)),
                "lr": list(map(float, self.lr)),
                "best_epoch": int(self.best_epoch),
                "best_val": float(self.best_val) if math.isfinite(self.best_val) else None,
                "epochs_run": int(self.epochs_run),
                "stopped_early": bool(self.stopped_early)}

    @classmethod
    def from_state(cls, state: dict) -> "History":
        best_val = state.get("best_val")
        return cls(train_loss=list(state["train_loss"]), val_loss=list(state["val_loss"]),
                   lr=list(state["lr"]), best_epoch=int(state["best_epoch"]),
                   best_val=math.inf if best_val is None else float(best_val),
                   epochs_run=int(state["epochs_run"]), stopped_early=bool(state["stopped_early"]))


def minibatch_indices(n: int, batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Split ``range(n)`` into batches of ``batch_size`` (the last may be smaller).

    With ``rng`` the order is a fresh permutation drawn from it; with ``None``
    it is ``0..n-1`` in order.
    """
    order = np.arange(n) if rng is None else rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def _take(arrays, idx, axes):
    return [np.take(a, idx, axis=ax) for a, ax in zip(arrays, axes)]


def _floatx(value) -> np.ndarray:
    return np.asarray(value, dtype=theano.config.floatX)


class Trainer:
    """Compile a training step and an evaluation function for ``loss`` once.

    ``inputs``: the symbolic inputs the loss depends on (in the order the data
    arrays are given); ``loss``: a symbolic scalar; ``params``: the shared
    variables to train.  ``optimizer`` is one of ``sgd``, ``momentum``,
    ``rmsprop``, ``adam`` (from :mod:`lstm.optim`; ``optimizer_kwargs`` are
    passed through), ``lr`` the initial learning rate and ``clip`` an optional
    maximum global gradient norm.  ``batch_axes`` gives, per input, the axis
    along which examples are stacked (default 0 for all).

    The learning rate is a shared variable (:attr:`lr`) so a schedule can
    change it between epochs without recompiling.
    """

    def __init__(self, inputs, loss, params, optimizer: str = "adam", lr: float = 1e-3,
                 clip: float | None = None, optimizer_kwargs: dict | None = None,
                 batch_axes=None, name: str = "train"):
        if optimizer not in _OPTIMISERS:
            raise ValueError(f"optimizer must be one of {_OPTIMISERS}, got {optimizer!r}")
        self.inputs = list(inputs)
        self.params = list(params)
        self.batch_axes = [0] * len(self.inputs) if batch_axes is None else list(batch_axes)
        if len(self.batch_axes) != len(self.inputs):
            raise ValueError("batch_axes needs one entry per input")
        self.lr0 = float(lr)
        self.lr = theano.shared(_floatx(lr), name="lr")
        grads = T.grad(loss, self.params)
        grad_norm = _optim.global_norm(grads)  # before clipping: an infinite gradient must be seen
        if clip is not None:
            grads = _optim.clip_grad_norm(grads, clip)
        opt = _optim.OPTIMIZERS[optimizer](self.params, grads, self.lr, **(optimizer_kwargs or {}))
        self.optimizer = optimizer
        self.opt_state = list(opt.state)  # moments, velocities, Adam's step count (named shared variables)
        self.step = theano.function(self.inputs, [loss, grad_norm], updates=list(opt.updates),
                                    allow_input_downcast=True, name=f"{name}_step")
        self.eval_loss = theano.function(self.inputs, loss, allow_input_downcast=True, name=f"{name}_eval")

    def train_step(self, *batch):
        """One update on ``batch``; returns the loss before it (``step`` also returns the gradient norm)."""
        return self.step(*batch)[0]

    # ------------------------------------------------------------------ state

    def get_param_values(self) -> list[np.ndarray]:
        return [np.array(p.get_value()) for p in self.params]

    def set_param_values(self, values) -> None:
        for p, v in zip(self.params, values):
            p.set_value(np.array(v, dtype=p.dtype))

    def evaluate(self, data, batch_size: int = 256) -> float:
        """Mean loss over ``data`` (batches weighted by their size)."""
        data = list(data)
        n = data[0].shape[self.batch_axes[0]]
        total = 0.0
        for idx in minibatch_indices(n, batch_size, None):
            total += float(self.eval_loss(*_take(data, idx, self.batch_axes))) * len(idx)
        return total / n

    def _save(self, path, hparams, epoch, rng, history, best_params, bad_epochs):
        """Write the checkpoint: params, optimiser state, lr, best params (arrays) + loop state (meta)."""
        state = {s.name: s.get_value() for s in self.opt_state}
        state["train.lr"] = np.asarray(self.lr.get_value())
        if best_params is not None:
            state.update({"best." + p.name: v for p, v in zip(self.params, best_params)})
        meta = {"epoch": int(epoch), "rng": rng.bit_generator.state, "history": history.to_state(),
                "bad_epochs": int(bad_epochs), "optimizer": self.optimizer}
        _ckpt.save_checkpoint(path, self.params, hparams, state=state, meta=meta)

    def _load(self, path, hparams, rng):
        """Restore everything :meth:`_save` wrote; return (epoch, history, best params, bad epochs).

        Everything is checked (see :mod:`lstm.resume`) before anything is changed: a checkpoint
        that does not fit raises :class:`lstm.checkpoint.CheckpointError` and leaves the model as it was.
        """
        st = read_resume_state(path, hparams, [p.name for p in self.params], self.optimizer)
        _ckpt.load_checkpoint(path, self.params, hparams, state=self.opt_state)  # checks shapes, then loads
        self.lr.set_value(_floatx(st.lr))
        rng.bit_generator.state = st.rng_state
        best = None if st.best is None else [st.best[p.name] for p in self.params]
        return st.epoch, History.from_state(st.history), best, st.bad_epochs

    # ------------------------------------------------------------------ loop

    def _diverged(self, what, value, where, loss=None):
        return _div.diagnose(what, value, where, self.params, float(self.lr.get_value()), loss)

    def _train_epoch(self, epoch, train, batches, bar) -> float:
        """One epoch of updates; stops at the first non-finite loss or gradient norm."""
        total, seen = 0.0, 0
        for i, idx in enumerate(batches, start=1):
            loss, norm = (float(v) for v in self.step(*_take(train, idx, self.batch_axes)))
            where = f"in epoch {epoch}, batch {i}"
            if not math.isfinite(loss):
                raise self._diverged("the training loss", loss, where)
            if not math.isfinite(norm):
                raise self._diverged("the gradient norm", norm, where, loss)
            total += loss * len(idx)
            seen += len(idx)
            bar.update(i, total / seen)
        return total / seen

    def _check_state(self, epoch, val_loss) -> None:
        """Before a checkpoint: parameters, optimiser state and the validation loss are finite."""
        bad = _div.first_non_finite(self.params + self.opt_state)
        if bad is not None:
            raise self._diverged(f"the value of {bad}", "non-finite", f"after epoch {epoch}")
        if val_loss is not None and not math.isfinite(val_loss):
            raise self._diverged("the validation loss", val_loss, f"after epoch {epoch}")

    def _resume(self, checkpoint, hparams, rng, epochs, bar):
        """Load ``checkpoint`` for :meth:`fit`; returns (start epoch, history, best params, bad epochs)."""
        if checkpoint is None:
            raise ValueError("resume=True needs a checkpoint path")
        if not os.path.exists(checkpoint):
            raise _ckpt.CheckpointError(f"{checkpoint}: no checkpoint to resume from (the file does not exist)")
        start_epoch, history, best_params, bad_epochs = self._load(checkpoint, hparams, rng)
        history.resumed_from = start_epoch
        if history.stopped_early:
            bar.message(f"{checkpoint}: that run had already stopped early after epoch {start_epoch}")
            start_epoch = epochs  # nothing left to do
        elif start_epoch >= epochs:
            bar.message(f"{checkpoint} is already at epoch {start_epoch} (epochs={epochs}); nothing to train")
        else:
            bar.message(f"resumed from {checkpoint} after epoch {start_epoch}")
        return start_epoch, history, best_params, bad_epochs

    def fit(self, train, val=None, epochs: int = 10, batch_size: int = 32, seed: int = 0,
            patience: int | None = None, schedule=None, checkpoint: str | os.PathLike | None = None,
            hparams: dict | None = None, resume: bool = False, restore_best: bool = True,
            progress: str | ProgressBar = "auto", shuffle: bool = True,
            on_epoch=None) -> History:
        """Train for up to ``epochs`` epochs and return a :class:`History`.

        ``train`` and ``val`` are tuples of arrays (one per input).  The batch
        order of every epoch is drawn from ``numpy.random.default_rng(seed)``.
        ``patience``: stop after that many epochs without a new best
        validation loss (None: never stop early).  ``schedule(i)`` (``i`` = epoch - 1,
        counting from 0 like :class:`lstm.optim.StepDecay`) sets the learning rate at the start of each epoch.
        With ``checkpoint`` a checkpoint is written after every epoch;
        ``resume=True`` first loads it (it must exist) and continues after
        its last epoch.  ``hparams`` are stored in the checkpoint and checked
        on resume.  ``restore_best``: with validation data, finish with the
        parameters of the best validation epoch.  ``on_epoch(epoch, history)``
        is called after each epoch.

        Non-finite data are refused before training; a non-finite loss, gradient norm,
        parameter, optimiser state or validation loss stops the run with a
        :class:`lstm.diverge.DivergenceError` before that epoch's checkpoint is written.
        """
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # non-finite values are
            return self._fit(train, val, epochs, batch_size, seed, patience, schedule,  # caught and named
                             checkpoint, hparams, resume, restore_best, progress, shuffle, on_epoch)

    def _fit(self, train, val, epochs, batch_size, seed, patience, schedule, checkpoint, hparams, resume,
             restore_best, progress, shuffle, on_epoch) -> History:
        train = list(train)
        val = None if val is None else list(val)
        n = train[0].shape[self.batch_axes[0]]
        if n == 0:
            raise ValueError("no training examples")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        _div.check_data(train, "training")
        _div.check_data(val or (), "validation")
        if checkpoint is not None and not resume:
            check_outputs([_ckpt.checkpoint_output(os.fspath(checkpoint))])  # refused before any work
        bar = progress if isinstance(progress, ProgressBar) else ProgressBar(epochs, mode=progress)
        bar.n_epochs = epochs
        hparams = dict(hparams or {})
        rng = np.random.default_rng(seed)
        history, best_params, bad_epochs, start_epoch = History(), None, 0, 0
        t0 = time.perf_counter()
        if resume:
            start_epoch, history, best_params, bad_epochs = self._resume(checkpoint, hparams, rng, epochs, bar)
        bad = _div.first_non_finite(self.params)
        if bad is not None:
            raise _div.DivergenceError(f"parameter {bad} holds NaN or infinity before training; check the "
                                       "values it was initialised from (e.g. --forget-bias)")
        for epoch in range(start_epoch + 1, epochs + 1):
            if schedule is not None:
                self.lr.set_value(_floatx(schedule(epoch - 1)))  # StepDecay counts epochs from 0
            batches = minibatch_indices(n, batch_size, rng if shuffle else None)
            bar.begin_epoch(epoch, len(batches))
            train_loss = self._train_epoch(epoch, train, batches, bar)
            val_loss = self.evaluate(val) if val is not None else None
            self._check_state(epoch, val_loss)
            history.train_loss.append(train_loss)
            history.lr.append(float(self.lr.get_value()))
            history.epochs_run = epoch
            improved = False
            if val_loss is not None:
                history.val_loss.append(val_loss)
                if val_loss < history.best_val:
                    history.best_val, history.best_epoch = val_loss, epoch
                    best_params = self.get_param_values()
                    bad_epochs, improved = 0, True
                else:
                    bad_epochs += 1
                history.stopped_early = patience is not None and bad_epochs >= patience
            bar.end_epoch(train_loss, val_loss, float(self.lr.get_value()), improved)
            if checkpoint is not None:
                self._save(checkpoint, hparams, epoch, rng, history, best_params, bad_epochs)
            if on_epoch is not None:
                on_epoch(epoch, history)
            if history.stopped_early:
                bar.message(f"early stop: no better validation loss for {bad_epochs} epochs; "
                            f"best was epoch {history.best_epoch}")
                break
        if restore_best and best_params is not None:
            self.set_param_values(best_params)
        history.elapsed = time.perf_counter() - t0
        return history
