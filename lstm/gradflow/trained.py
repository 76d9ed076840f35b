"""A trained network's recurrent cell, and the same cell as it was before training, from a checkpoint.

Training changes what the diagram shows: on a long-time-lag task the forget gates learn to
stay open where the answer needs memory.  A checkpoint written by ``lstm task ... --checkpoint``
(or ``lstm stock --checkpoint``) holds the model's hyperparameters, among them the seed its
weights were drawn from -- so the network *before* training is rebuilt exactly from them, and
the network *after* is the same model with the saved parameters loaded.  Both are measured on
the same input: a sequence of the task the network was trained on (when the checkpoint names
one), else N(0, 1) inputs; and the loss reads the last state through the trained output
weights (when there is one output), so the gradient is the one the network's own answer sends
back.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

from ..cells import CELLS
from ..checkpoint import CheckpointError, load_checkpoint, read_checkpoint
from ..data import DataError
from ..layers import SequenceModel

__all__ = ["Trained", "read_trained"]


@dataclass
class Trained:
    """What ``read_trained`` returns: the cell ``kind`` (a name of ``lstm.cells.CELLS``), the first
    recurrent layer's cell ``before`` and ``after`` training, the ``task`` and ``length`` it was
    trained on (None for a checkpoint without a task), and ``what`` -- a few words on the training."""

    path: str
    kind: str
    before: object
    after: object
    task: str | None
    length: int | None
    what: str
    readout: np.ndarray | None = None   # the trained output weights (one output), else None

    def inputs(self, steps, seed=0):
        """(steps, 1, n_in) inputs: one sequence of the task (exactly ``steps`` long) or N(0, 1)."""
        rng = np.random.default_rng([int(seed), 314159])
        if self.task is None:
            return rng.standard_normal((steps, 1, self.after.n_in))
        from ..tasks import _make_batch
        try:
            return np.asarray(_make_batch(self.task, rng, 1, steps)[0], dtype=np.float64)
        except ValueError as exc:
            raise DataError(f"{self.path}: cannot draw {steps} steps of the {self.task} task it was trained on: "
                            f"{exc}") from None


def _model_kwargs(hparams, path):
    accepted = set(inspect.signature(SequenceModel).parameters)
    kwargs = {k: v for k, v in hparams.items() if k in accepted}
    if "cell" not in kwargs:
        raise CheckpointError(f"checkpoint {path!r} names no cell kind in its hyperparameters; it was not written "
                              "by the lstm commands")
    if kwargs.get("n_layers", 1) != 1:
        raise CheckpointError(f"checkpoint {path!r} holds {kwargs['n_layers']} recurrent layers; gradflow draws "
                              "one-layer networks")
    if kwargs.get("arch", "shallow") != "shallow":
        raise CheckpointError(f"checkpoint {path!r} holds a deep {kwargs['arch']!r} network; gradflow draws "
                              "one-layer networks")
    if kwargs.get("mode", "stack") != "stack":
        raise CheckpointError(f"checkpoint {path!r} holds a {kwargs['mode']!r} network; gradflow draws plain "
                              "one-layer networks")
    kwargs.update(batch_first=False)
    return kwargs


def _kind_name(hparams):
    cell = hparams["cell"]
    if cell == "lstm" and hparams.get("peephole"):
        return "peephole"
    return cell


def read_trained(path) -> Trained:
    """The recurrent cell in checkpoint ``path`` before and after training; a ``CheckpointError``
    (one line) if the file is not a checkpoint of a one-layer network of a registered cell kind."""
    path = str(path)
    saved = read_checkpoint(path)
    kwargs = _model_kwargs(saved.hparams, path)
    kind = _kind_name(saved.hparams)
    if kind not in CELLS:
        raise CheckpointError(f"checkpoint {path!r} holds a cell of kind {kind!r}; known kinds: {', '.join(CELLS)}")
    try:
        before, after = SequenceModel(**kwargs), SequenceModel(**kwargs)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path!r} has hyperparameters no model accepts: {exc}") from None
    load_checkpoint(path, after.params)
    task, length = saved.hparams.get("task"), saved.hparams.get("length")
    meta = saved.meta or {}
    if task:
        seen = meta.get("sequences_seen")
        what = f"{task} T={length}" + (f", {int(seen):,} sequences" if isinstance(seen, (int, float)) else "")
    else:
        epoch = meta.get("epoch")
        what = f"{int(epoch)} epoch{'' if int(epoch) == 1 else 's'}" if isinstance(epoch, (int, float)) else "trained"
    W = after.head.W.get_value()
    readout = W[:, 0] if W.shape[1] == 1 and np.any(W) else None
    return Trained(path, kind, before.cells[0], after.cells[0], task, int(length) if length else None, what, readout)
