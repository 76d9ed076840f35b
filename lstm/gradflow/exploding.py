"""Exploding gradients, and what norm clipping does about them (Pascanu, Mikolov & Bengio 2013).

The backward factor of a plain RNN is ``diag(1 - h_t^2) W_h``.  With small recurrent weights
its product over many steps vanishes; scaled up (``weight_scale``) it can grow instead: the
gradient *explodes*, and one SGD step along it throws the weights far off -- the "cliff" of
Pascanu et al.  Their remedy rescales the whole gradient ``g`` to norm ``theta`` when
``||g|| > theta`` (``lstm.optim.clip_grad_norm``): the direction is kept, the step is bounded.

``clipping_run`` trains the same RNN (weights scaled, plain SGD) on the adding task once with
and once without clipping and records, per update, the loss and the gradient norm before
clipping.  A run that becomes non-finite stops there and says when.
"""
from __future__ import annotations

import math

import numpy as np

import minigraph as mg
import minigraph.tensor as T

from ..layers import SequenceModel, mse
from ..optim import clip_grad_norm, global_norm, sgd
from ..tasks import adding_batch

__all__ = ["clipping_run"]


def _train_step(model, lr, clip):
    X, y = T.tensor3("X", dtype=model.dtype), T.matrix("y", dtype=model.dtype)
    loss = mse(model.build(X), y)
    grads = mg.grad(loss, model.params)
    norm = global_norm(grads)
    if clip is not None:
        grads = clip_grad_norm(grads, clip)
    return mg.function([X, y], [loss, norm], updates=sgd(model.params, grads, lr).updates,
                       name="clipping_step")


def clipping_run(clip=None, weight_scale=2.0, length=50, updates=500, lr=0.1, batch=32, n_hidden=20, seed=0,
                 kind="rnn"):
    """Train ``kind`` (recurrent weights times ``weight_scale``) on the adding task of ``length``
    with SGD, clipping the gradient norm at ``clip`` (None: no clipping).

    Returns a dict: ``loss`` and ``grad_norm`` (the norm before clipping) per update, ``diverged_at``
    (the update at which the loss or gradient became non-finite, else None) and the settings.
    The batches come from ``seed`` and are the same with and without clipping.
    """
    model = SequenceModel(kind, n_in=2, n_hidden=n_hidden, n_out=1, seed=seed, dtype="float64")
    W_h = model.cells[0].W_h
    W_h.set_value(W_h.get_value() * weight_scale)
    step = _train_step(model, lr, clip)
    rng = np.random.default_rng([int(seed), 2013])
    losses, norms, diverged = [], [], None
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(updates):
            X, y, _ = adding_batch(rng, batch, length)
            loss, norm = (float(v) for v in step(X, y))
            losses.append(loss)
            norms.append(norm)
            if not (math.isfinite(loss) and math.isfinite(norm)):
                diverged = k + 1
                break
    return dict(loss=np.array(losses), grad_norm=np.array(norms), diverged_at=diverged, clip=clip,
                weight_scale=float(weight_scale), length=int(length), lr=float(lr), kind=kind)
