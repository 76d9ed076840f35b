"""Layers built on the cells: a scan-driven ``Recurrent`` layer, ``Dense``, ``StackedRNN``
(the deep-RNN constructions of Pascanu et al. 2013), ``SequenceModel`` and losses.

Sequences are TIME-MAJOR: ``X`` has shape (T, B, n_in) (steps, batch, features), as
Theano's scan wants them; pass ``batch_first=True`` to give and get (B, T, ...) instead.

Masks: ``mask`` has shape (T, B) (or (B, T) with batch_first) with 1.0 for real steps and 0.0
for padding.  Where the mask is 0 the states are carried over unchanged, so for sequences
padded at the end the state at the last step is each sequence's own final state -- a padded
batch gives the same last state as running each sequence alone.
"""
import numpy as np

import minigraph as theano
import minigraph.tensor as T

from .cells import CELLS, cell_kind, make_rng

__all__ = ["Recurrent", "Dense", "StackedRNN", "SequenceModel", "make_cell", "CELLS", "MODES", "HEADS",
           "mse", "cross_entropy", "binary_cross_entropy"]

MODES = ("stack", "skip", "deep_output")
HEADS = ("many_to_one", "many_to_many")


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


class Recurrent:
    """Runs a cell over a time-major sequence with ``minigraph.scan``.

    ``layer(X, mask=None, h0=None, go_backwards=False)`` returns one sequence per state of the
    cell (``[H, C]`` for the LSTM, ``[H]`` otherwise), each (T, B, n_hidden): entry t is the
    state after reading step t.  ``h0``: None (zeros), or the initial states -- one (B, H)
    variable per state name, or a single variable for ``h`` alone (other states start at 0).
    With ``go_backwards=True`` the sequence (and mask) are read from the last step to the first
    and the outputs come in that processing order (Theano's convention): entry -1 is the state
    after reading X[0].  ``truncate_gradient`` is passed to scan (truncated BPTT).
    """

    def __init__(self, cell, batch_first=False, truncate_gradient=-1):
        self.cell = cell
        self.batch_first = batch_first
        self.truncate_gradient = truncate_gradient

    @property
    def params(self):
        return list(self.cell.params)

    def _initial(self, X, h0):
        cell = self.cell
        zeros = cell.initial_states(T.shape_i(X, 1))
        if h0 is None:
            return zeros
        given = _as_list(h0)
        if len(given) > len(cell.state_names):
            raise ValueError(f"{cell.name}: got {len(given)} initial states, the cell has {cell.state_names}")
        init = [T.cast(T.as_tensor_variable(v), cell.dtype) for v in given] + zeros[len(given):]
        for name, v in zip(cell.state_names, init):
            if v.ndim != 2:
                raise ValueError(f"{cell.name}: initial state {name} must be (batch, {cell.n_hidden}), "
                                 f"got {v.describe()}")
        return init

    def __call__(self, X, mask=None, h0=None, go_backwards=False, batch_first=None):
        cell = self.cell
        batch_first = self.batch_first if batch_first is None else batch_first
        X = T.as_tensor_variable(X)
        if X.ndim != 3:
            raise ValueError(f"{cell.name}: X must be 3-d ({'batch, time' if batch_first else 'time, batch'}, "
                             f"features), got {X.describe()}")
        if X.dtype != cell.dtype:
            X = T.cast(X, cell.dtype)
        if batch_first:
            X = X.dimshuffle(1, 0, 2)
        seqs = [X]
        if mask is not None:
            mask = T.as_tensor_variable(mask)
            if mask.ndim != 2:
                raise ValueError(f"{cell.name}: mask must be 2-d (time, batch), got {mask.describe()}")
            mask = T.cast(mask, cell.dtype)
            seqs.append(mask.dimshuffle(1, 0) if batch_first else mask)
        n_states = len(cell.state_names)

        def step(x_t, *rest):
            if mask is None:
                return cell.step(x_t, *rest)
            m_t, old = rest[0], rest[1:1 + n_states]
            new = cell.step(x_t, *old)
            m = m_t.dimshuffle(0, "x")
            # masked steps keep the previous state (exactly: 0 * new + 1 * old == old)
            return [m * n + (1.0 - m) * o for n, o in zip(new, old)]

        outs, _ = theano.scan(step, sequences=seqs, outputs_info=self._initial(X, h0), go_backwards=go_backwards,
                              truncate_gradient=self.truncate_gradient, name=cell.name, return_list=True)
        outs = list(outs)
        if batch_first:
            outs = [o.dimshuffle(1, 0, 2) for o in outs]
        return outs


class Dense:
    """``y = x W + b``; W (n_in, n_out) glorot-uniform (N(0, 0.01) for init="tutorial"), b zeros.

    Works on (B, n_in) and on sequences (T, B, n_in)."""

    def __init__(self, n_in, n_out, rng=None, name="dense", init="glorot", dtype=None):
        rng = make_rng(rng, init)
        self.n_in, self.n_out, self.name = int(n_in), int(n_out), name
        self.dtype = np.dtype(dtype or theano.config.floatX).name
        if init == "tutorial":
            W = rng.normal(size=(n_in, n_out), scale=0.01, loc=0.0)
        else:
            limit = np.sqrt(6.0 / (n_in + n_out))
            W = rng.uniform(-limit, limit, size=(n_in, n_out))
        self.W = theano.shared(np.asarray(W, self.dtype), name=f"{name}.W")
        self.b = theano.shared(np.zeros(n_out, self.dtype), name=f"{name}.b")
        self.params = [self.W, self.b]

    def __call__(self, x):
        return T.dot(x, self.W) + self.b


class StackedRNN:
    """Deep RNNs from Pascanu, Gulcehre, Cho & Bengio (2013), "How to construct deep RNNs".

    ``mode``:

    * ``"stack"`` (stacked RNN, their sRNN): layer k reads layer k-1's h sequence; layer 0 reads
      the input.  Needs ``cells[k].n_in == cells[k-1].n_hidden``.  Output: the top layer's h.
    * ``"skip"`` (shortcut connections from the input): layer k > 0 reads the concatenation
      ``[h_{k-1}, x]`` along the features, so ``cells[k].n_in == cells[k-1].n_hidden + n_input``.
      Output: the top layer's h.
    * ``"deep_output"`` (every layer feeds the output, their DO-RNN-style readout): wired as
      "stack", but the output is the concatenation ``[h_0, h_1, ..., h_{L-1}]`` of all layers'
      h sequences, so the head sees every level of abstraction (``output_size`` = sum of H).

    ``stacked(X, mask=None)`` returns the output sequence (T, B, output_size);
    ``stacked.run(X, mask=None)`` returns, per layer, the list of that layer's state sequences.
    """

    def __init__(self, cells, mode="stack", batch_first=False):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.cells = list(cells)
        if not self.cells:
            raise ValueError("StackedRNN needs at least one cell")
        self.mode, self.batch_first = mode, batch_first
        self.n_in = self.cells[0].n_in
        for k in range(1, len(self.cells)):
            want = self.cells[k - 1].n_hidden + (self.n_in if mode == "skip" else 0)
            if self.cells[k].n_in != want:
                what = "n_hidden of layer %d" % (k - 1) + (" + n_in of the input" if mode == "skip" else "")
                raise ValueError(f"{mode} mode: layer {k} ({self.cells[k].name}) has n_in={self.cells[k].n_in}, "
                                 f"but it reads {want} features ({what})")
        self.layers = [Recurrent(c) for c in self.cells]

    @property
    def params(self):
        return [p for c in self.cells for p in c.params]

    @property
    def output_size(self):
        if self.mode == "deep_output":
            return sum(c.n_hidden for c in self.cells)
        return self.cells[-1].n_hidden

    def run(self, X, mask=None, h0=None):
        """Per layer, the list of its state sequences (time-major unless batch_first).

        ``h0``: None or one entry per layer (each as ``Recurrent``'s ``h0``)."""
        X = T.as_tensor_variable(X)
        if self.batch_first:
            X = X.dimshuffle(1, 0, 2)
            mask = None if mask is None else T.as_tensor_variable(mask).dimshuffle(1, 0)
        h0 = [None] * len(self.layers) if h0 is None else list(h0)
        results, inp = [], X
        for k, layer in enumerate(self.layers):
            if k > 0 and self.mode == "skip":
                inp = T.concatenate([inp, T.cast(X, inp.dtype)], axis=2)
            states = layer(inp, mask=mask, h0=h0[k])
            results.append(states)
            inp = states[0]
        if self.batch_first:
            results = [[s.dimshuffle(1, 0, 2) for s in states] for states in results]
        return results

    def __call__(self, X, mask=None, h0=None):
        per_layer = self.run(X, mask, h0)
        if self.mode == "deep_output":
            return T.concatenate([states[0] for states in per_layer], axis=2)
        return per_layer[-1][0]


def make_cell(cell, n_in, n_hidden, peephole=False, forget_bias=1.0, init="glorot", rng=None, dtype=None,
              name=None):
    """A cell by kind name (a key of ``lstm.cells.CELLS``); ``peephole=True`` turns "lstm" into
    "peephole"; forget_bias applies to the cells with a forget gate only."""
    kind = cell_kind(cell)
    if peephole and cell != "peephole":
        if cell != "lstm":
            raise ValueError(f"peephole connections exist only for the LSTM, not for cell={cell!r}")
        kind = CELLS["peephole"]
    return kind.make(n_in, n_hidden, forget_bias=forget_bias, init=init, rng=rng, dtype=dtype, name=name or cell)


class SequenceModel:
    """A (deep) recurrent network with a linear head.

    ``n_hidden``: an int (every layer) or one int per layer.  Layers are named "<cell><k>"
    (parameters "lstm0.W_x", ...), the head "out" ("out.W", "out.b").  All parameters are
    drawn from one generator seeded with ``seed`` (cells first, then the head); with
    ``init="tutorial", seed=1234, forget_bias=0.0`` a one-layer LSTM holds exactly the seed
    tutorial's initial weights.

    ``build(X, mask=None)``: X (T, B, n_in) (or (B, T, n_in) with ``batch_first``) ->
    predictions: ``head="many_to_one"``: (B, n_out) from the last step (with a mask, the last
    real step of each sequence, since padded steps carry the state over); ``"many_to_many"``:
    one prediction per step, (T, B, n_out) (or (B, T, n_out)).  Predictions are raw (linear
    outputs / logits): pair them with ``mse``, ``cross_entropy`` or ``binary_cross_entropy``.
    """

    def __init__(self, cell="lstm", n_in=1, n_hidden=20, n_out=1, n_layers=1, peephole=False, forget_bias=1.0,
                 mode="stack", head="many_to_one", init="glorot", seed=0, dtype=None, batch_first=False):
        if head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {head!r}")
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        hidden = list(n_hidden) if isinstance(n_hidden, (list, tuple)) else [n_hidden] * n_layers
        if len(hidden) != n_layers:
            raise ValueError(f"n_hidden lists {len(hidden)} sizes for {n_layers} layers")
        self.cell_kind, self.n_in, self.n_out, self.n_layers = cell, int(n_in), int(n_out), int(n_layers)
        self.n_hidden = n_hidden if isinstance(n_hidden, int) else [int(h) for h in hidden]
        self.peephole, self.forget_bias, self.mode, self.head_kind = bool(peephole), float(forget_bias), mode, head
        self.init, self.seed, self.batch_first = init, seed, bool(batch_first)
        self.dtype = np.dtype(dtype or theano.config.floatX).name
        rng = make_rng(seed, init)
        cells, n_prev = [], self.n_in
        for k, h in enumerate(hidden):
            n_k = n_prev + (self.n_in if mode == "skip" and k > 0 else 0)
            cells.append(make_cell(cell, n_k, h, peephole, forget_bias, init, rng, self.dtype, name=f"{cell}{k}"))
            n_prev = h
        self.stack = StackedRNN(cells, mode=mode)
        self.cells = cells
        self.head = Dense(self.stack.output_size, self.n_out, rng=rng, name="out", init=init, dtype=self.dtype)

    @property
    def params(self):
        return self.stack.params + self.head.params

    def hparams(self):
        return {"cell": self.cell_kind, "n_in": self.n_in, "n_hidden": self.n_hidden, "n_out": self.n_out,
                "n_layers": self.n_layers, "peephole": self.peephole, "forget_bias": self.forget_bias,
                "mode": self.mode, "head": self.head_kind, "init": self.init, "seed": self.seed,
                "dtype": self.dtype, "batch_first": self.batch_first}

    def features(self, X, mask=None):
        """The stack's output sequence, time-major (T, B, output_size)."""
        X = T.as_tensor_variable(X)
        if self.batch_first:
            X = X.dimshuffle(1, 0, 2)
            mask = None if mask is None else T.as_tensor_variable(mask).dimshuffle(1, 0)
        return self.stack(X, mask)

    def build(self, X, mask=None):
        seq = self.features(X, mask)
        if self.head_kind == "many_to_one":
            return self.head(seq[-1])
        out = self.head(seq)
        return out.dimshuffle(1, 0, 2) if self.batch_first else out


# --------------------------------------------------------------------------- losses

def _weights(mask, like_ndim, dtype):
    """The mask as floats of ``dtype``, with a trailing axis when the loss terms have one more dim."""
    m = T.cast(T.as_tensor_variable(mask), dtype)
    while m.ndim < like_ndim:
        m = m.dimshuffle(*range(m.ndim), "x")
    return m


def _masked_mean(terms, mask):
    if mask is None:
        return terms.mean()
    m = _weights(mask, terms.ndim, terms.dtype)
    # mean over the real entries: padded steps count neither in the sum nor in the count
    return (terms * m).sum() / (m * T.ones_like(terms)).sum()


def mse(pred, target, mask=None):
    """Mean squared error over all (unmasked) entries; ``mask`` (T, B) for (T, B, n_out) predictions."""
    pred = T.as_tensor_variable(pred)
    target = T.cast(T.as_tensor_variable(target), pred.dtype)
    return _masked_mean(T.sqr(pred - target), mask)


def cross_entropy(logits, labels_int, mask=None):
    """Mean negative log-likelihood of integer class labels under softmax(logits).

    ``logits`` (..., C) and ``labels_int`` (...) of an int dtype; computed with ``log_softmax``
    so confidently wrong predictions give large finite losses.  ``mask`` has the labels' shape."""
    logits = T.as_tensor_variable(logits)
    labels = T.as_tensor_variable(labels_int)
    if labels.dtype[:3] not in ("int", "uin"):
        raise TypeError(f"cross_entropy: labels must be integers, got {labels.describe()}")
    if labels.ndim != logits.ndim - 1:
        raise ValueError(f"cross_entropy: labels {labels.describe()} must have one dim fewer than the logits "
                         f"{logits.describe()}")
    logp = T.nnet.log_softmax(logits, axis=-1)
    n_classes = T.shape_i(logits, logits.ndim - 1)
    onehot = T.eq(labels.dimshuffle(*range(labels.ndim), "x"), T.arange(n_classes))
    nll = -(T.cast(onehot, logp.dtype) * logp).sum(axis=-1)
    return _masked_mean(nll, mask)


def binary_cross_entropy(logits, targets, mask=None):
    """Mean of -(t log sigm(z) + (1 - t) log(1 - sigm(z))), computed stably as softplus(z) - t z."""
    logits = T.as_tensor_variable(logits)
    targets = T.cast(T.as_tensor_variable(targets), logits.dtype)
    return _masked_mean(T.nnet.sigmoid_binary_crossentropy(logits, targets), mask)
