"""Recurrent cells: LSTM (optionally with peepholes, or without a forget gate), tanh RNN and GRU,
and ``CELLS``, the one registry of cell kinds every command reads.

A cell owns its parameters (minigraph shared variables) and describes ONE time step
symbolically; ``lstm.layers.Recurrent`` runs it over a sequence with ``minigraph.scan``.

Common interface::

    cell.params          list of shared variables, named "<name>.<param>" (e.g. "lstm.W_x")
    cell.state_names     ("h", "c") for the LSTM, ("h",) for the others
    cell.n_in, cell.n_hidden, cell.dtype, cell.name
    cell.step(x_t, *states) -> [new states]     x_t (B, n_in), states (B, H); pure symbolic
    cell.step_with_gates(x_t, *states) -> ([new states], {gate: (B, H)})   with the sigmoid gates
    cell.initial_states(batch_size) -> [zeros (batch_size, H) per state]
    cell.hparams() -> JSON-able dict

Gate weights are FUSED: one ``W_x (n_in, k*H)``, one ``W_h (H, k*H)`` and one ``b (k*H,)``
per cell, the k gate blocks side by side (H columns each).  A step is then one matrix product
for the recurrent part; the input part ``x_t W_x`` depends only on the sequence, so minigraph's
scan rewrites hoist it out of the loop as a single ``X W_x`` product.

Initialisations (``init=``):

* ``"glorot"`` (default): each gate block uniform in +-sqrt(6 / (fan_in + fan_out)) of that
  block (so W_x and W_h blocks get their own scale), biases zero.
* ``"orthogonal"``: W_x blocks as glorot, each (H, H) recurrent block an orthogonal matrix
  (Saxe et al. 2014: keeps the recurrent Jacobian well conditioned at the start).
* ``"tutorial"``: N(0, 0.01) like the seed Theano tutorial, from ``np.random.RandomState``
  (seed 1234 when ``rng`` is None, as the tutorial).  For the LSTM the blocks are drawn in the
  tutorial's order (W_ug, W_hg, W_ui, W_hi, W_uf, W_hf, W_uo, W_ho), so with ``forget_bias=0``
  the cell holds exactly the tutorial's initial weights.

Cell kinds: ``CELLS`` maps each kind's name to a ``CellKind`` (name, label, constructor).  The
commands (``lstm task``, ``lstm gradflow``, the stock report) and ``lstm.layers.make_cell`` read
their names, labels and constructors from there and nowhere else::

    lstm       LSTM with a forget gate                  LSTMCell()
    peephole   LSTM with peepholes                      LSTMCell(peephole=True)
    lstm1997   the 1997 LSTM: no forget gate (f = 1)    LSTMCell(forget_gate=False)
    rnn        tanh RNN                                 RNNCell()
    gru        GRU                                      GRUCell()

``rng``: None (a fixed default seed: 0, or 1234 for "tutorial"), an int seed, or a numpy
``RandomState`` / ``Generator`` (shared between layers to draw one reproducible stream).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import minigraph as theano
import minigraph.tensor as T

__all__ = ["LSTMCell", "RNNCell", "GRUCell", "make_rng", "INITS", "CellKind", "CELLS", "cell_kind"]

INITS = ("glorot", "orthogonal", "tutorial")


def make_rng(rng, init="glorot"):
    """A numpy random generator from None / an int seed / an existing generator."""
    if isinstance(rng, (np.random.RandomState, np.random.Generator)):
        return rng
    if rng is not None and not isinstance(rng, (int, np.integer)):
        raise TypeError(f"rng must be None, an int seed or a numpy RandomState/Generator, got {type(rng).__name__}")
    if init == "tutorial":  # the tutorial draws from RandomState(1234)
        return np.random.RandomState(1234 if rng is None else int(rng))
    return np.random.default_rng(0 if rng is None else int(rng))


def _normal(rng, shape, scale):
    return rng.normal(size=shape, scale=scale, loc=0.0)


def _glorot(rng, fan_in, fan_out):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))


def _orthogonal(rng, n):
    """A random (n, n) orthogonal matrix (QR of a Gaussian, signs fixed so it is Haar-distributed)."""
    q, r = np.linalg.qr(_normal(rng, (n, n), 1.0))
    return q * np.sign(np.diag(r))


class _Cell:
    """Shared machinery: parameter creation, initial states, hparams."""

    kind = None
    state_names = ("h",)
    n_blocks = 1

    def __init__(self, n_in, n_hidden, init="glorot", rng=None, dtype=None, name=None):
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        for what, v in (("n_in", n_in), ("n_hidden", n_hidden)):
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{what} must be a positive int, got {v!r}")
        self.n_in, self.n_hidden = int(n_in), int(n_hidden)
        self.init = init
        self.dtype = np.dtype(dtype or theano.config.floatX).name
        if np.dtype(self.dtype).kind != "f":
            raise ValueError(f"dtype must be a float dtype, got {self.dtype}")
        self.name = name or self.kind
        self.params = []
        self._rng = make_rng(rng, init)

    def _shared(self, pname, value):
        v = theano.shared(np.asarray(value, dtype=self.dtype), name=f"{self.name}.{pname}")
        self.params.append(v)
        setattr(self, pname, v)
        return v

    def _fused_weights(self):
        """W_x (n_in, k*H) and W_h (H, k*H), block by block for glorot/orthogonal."""
        rng, I, H, k = self._rng, self.n_in, self.n_hidden, self.n_blocks
        W_x = np.concatenate([_glorot(rng, I, H) for _ in range(k)], axis=1)
        if self.init == "orthogonal":
            W_h = np.concatenate([_orthogonal(rng, H) for _ in range(k)], axis=1)
        else:
            W_h = np.concatenate([_glorot(rng, H, H) for _ in range(k)], axis=1)
        return W_x, W_h

    def _tutorial_weights(self):
        rng, I, H, k = self._rng, self.n_in, self.n_hidden, self.n_blocks
        wx, wh = [], []
        for _ in range(k):
            wx.append(_normal(rng, (I, H), 0.01))
            wh.append(_normal(rng, (H, H), 0.01))
        return np.concatenate(wx, axis=1), np.concatenate(wh, axis=1)

    def initial_states(self, batch_size):
        """Zero states of shape (batch_size, H); ``batch_size`` an int or a symbolic int scalar."""
        return [T.zeros((batch_size, self.n_hidden), dtype=self.dtype) for _ in self.state_names]

    def hparams(self):
        return {"cell": self.kind, "n_in": self.n_in, "n_hidden": self.n_hidden, "init": self.init,
                "dtype": self.dtype, "name": self.name}

    def _split(self, a):
        H = self.n_hidden
        return [a[..., k * H:(k + 1) * H] for k in range(self.n_blocks)]

    def step(self, x_t, *states):
        """The new states after reading ``x_t`` (see ``step_with_gates``)."""
        return self.step_with_gates(x_t, *states)[0]

    def __repr__(self):
        return f"{type(self).__name__}({self.n_in}, {self.n_hidden}, name={self.name!r})"


class LSTMCell(_Cell):
    """Long short-term memory (Hochreiter & Schmidhuber 1997, forget gate of Gers et al. 2000).

    Exactly the seed tutorial's cell, with the four gates fused in the order [i, f, o, g]::

        a   = x_t W_x + h_{t-1} W_h + b                (B, 4H) -> a_i, a_f, a_o, a_g
        i   = sigm(a_i [+ p_i * c_{t-1}])              input gate
        f   = sigm(a_f [+ p_f * c_{t-1}])              forget gate
        g   = tanh(a_g)                                candidate
        c_t = f * c_{t-1} + i * g
        o   = sigm(a_o [+ p_o * c_t])                  output gate
        h_t = o * tanh(c_t)

    The bracketed terms are the diagonal peepholes of Gers & Schmidhuber (2000), present with
    ``peephole=True`` (parameters ``p_i, p_f, p_o`` of shape (H,)): the input and forget gates
    look at the previous cell state, the output gate at the new one.

    ``forget_gate=False`` is the original LSTM of 1997: no forget block (three fused blocks
    [i, o, g]), ``c_t = c_{t-1} + i * g`` -- the pure constant-error carousel, whose cell state
    can only grow; ``forget_bias`` does not apply to it.

    ``forget_bias`` initialises the forget block of ``b`` (default 1.0: Jozefowicz et al. 2015,
    the cell remembers by default early in training; 0.0 reproduces the tutorial).
    """

    kind = "lstm"
    state_names = ("h", "c")
    n_blocks = 4
    GATES = ("i", "f", "o", "g")
    _TUTORIAL_ORDER = ("g", "i", "f", "o")  # the order in which the tutorial draws its weights

    def __init__(self, n_in, n_hidden, peephole=False, forget_bias=1.0, init="glorot", rng=None, dtype=None,
                 name="lstm", forget_gate=True):
        self.forget_gate = bool(forget_gate)
        if not self.forget_gate:
            self.GATES, self.n_blocks = ("i", "o", "g"), 3
        super().__init__(n_in, n_hidden, init, rng, dtype, name)
        self.peephole = bool(peephole)
        self.forget_bias = float(forget_bias) if self.forget_gate else 0.0
        H = self.n_hidden
        if init == "tutorial":
            # the tutorial draws g, i, f, o (W_u then W_h each); store them in the fused order
            W_x, W_h = self._tutorial_weights()
            drawn = [k for k in self._TUTORIAL_ORDER if k in self.GATES]
            order = [drawn.index(k) for k in self.GATES]
            W_x = np.concatenate([W_x[:, k * H:(k + 1) * H] for k in order], axis=1)
            W_h = np.concatenate([W_h[:, k * H:(k + 1) * H] for k in order], axis=1)
        else:
            W_x, W_h = self._fused_weights()
        b = np.zeros(self.n_blocks * H)
        if self.forget_gate:
            b[H:2 * H] = self.forget_bias
        self._shared("W_x", W_x)
        self._shared("W_h", W_h)
        self._shared("b", b)
        if self.peephole:
            for p in ("p_i", "p_f", "p_o") if self.forget_gate else ("p_i", "p_o"):
                value = _normal(self._rng, (H,), 0.01) if init == "tutorial" else self._rng.uniform(-0.1, 0.1, H)
                self._shared(p, value)

    def step_with_gates(self, x_t, h, c):
        a = dict(zip(self.GATES, self._split(T.dot(x_t, self.W_x) + T.dot(h, self.W_h) + self.b)))
        if self.peephole:
            a["i"] = a["i"] + self.p_i * c
            if self.forget_gate:
                a["f"] = a["f"] + self.p_f * c
        i = T.nnet.sigmoid(a["i"])
        g = T.tanh(a["g"])
        gates = {"i": i}
        if self.forget_gate:
            gates["f"] = f = T.nnet.sigmoid(a["f"])
            c_new = f * c + i * g
        else:
            c_new = c + i * g
        gates["o"] = o = T.nnet.sigmoid(a["o"] + self.p_o * c_new if self.peephole else a["o"])
        h_new = o * T.tanh(c_new)
        return [h_new, c_new], gates

    def hparams(self):
        hp = dict(super().hparams(), peephole=self.peephole, forget_bias=self.forget_bias)
        if not self.forget_gate:
            hp["forget_gate"] = False
        return hp


class RNNCell(_Cell):
    """Elman RNN: ``h_t = tanh(x_t W_x + h_{t-1} W_h + b)``; W_x (n_in, H), W_h (H, H), b (H,)."""

    kind = "rnn"
    n_blocks = 1

    def __init__(self, n_in, n_hidden, init="glorot", rng=None, dtype=None, name="rnn"):
        super().__init__(n_in, n_hidden, init, rng, dtype, name)
        W_x, W_h = self._tutorial_weights() if init == "tutorial" else self._fused_weights()
        self._shared("W_x", W_x)
        self._shared("W_h", W_h)
        self._shared("b", np.zeros(self.n_hidden))

    def step_with_gates(self, x_t, h):
        return [T.tanh(T.dot(x_t, self.W_x) + T.dot(h, self.W_h) + self.b)], {}


class GRUCell(_Cell):
    """Gated recurrent unit (Cho et al. 2014) in the PyTorch / cuDNN formulation.

    Fused blocks in the order [r, z, n]: W_x (n_in, 3H), W_h (H, 3H), b (3H,) and a separate
    recurrent bias ``b_hn`` (H,) for the candidate::

        a   = x_t W_x + b             m = h_{t-1} W_h          (both (B, 3H))
        r   = sigm(a_r + m_r)         z = sigm(a_z + m_z)
        n   = tanh(a_n + r * (m_n + b_hn))
        h_t = (1 - z) * n + z * h_{t-1}

    The reset gate multiplies the recurrent part *after* the product (PyTorch, not Cho's
    original r * h_{t-1} before it), so the three recurrent products are still one fused matmul.
    Same equations as ``lstm.reference.gru_forward``.
    """

    kind = "gru"
    n_blocks = 3

    def __init__(self, n_in, n_hidden, init="glorot", rng=None, dtype=None, name="gru"):
        super().__init__(n_in, n_hidden, init, rng, dtype, name)
        W_x, W_h = self._tutorial_weights() if init == "tutorial" else self._fused_weights()
        self._shared("W_x", W_x)
        self._shared("W_h", W_h)
        self._shared("b", np.zeros(3 * self.n_hidden))
        self._shared("b_hn", np.zeros(self.n_hidden))

    def step_with_gates(self, x_t, h):
        a_r, a_z, a_n = self._split(T.dot(x_t, self.W_x) + self.b)
        m_r, m_z, m_n = self._split(T.dot(h, self.W_h))
        r = T.nnet.sigmoid(a_r + m_r)
        z = T.nnet.sigmoid(a_z + m_z)
        n = T.tanh(a_n + r * (m_n + self.b_hn))
        return [(1.0 - z) * n + z * h], {"r": r, "z": z}


# ---------------------------------------------------------------------------------------------
# The registry of cell kinds
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CellKind:
    """One kind of cell: its ``name`` (what the commands accept), its ``label`` (what reports and
    pictures print) and its constructor: ``cls`` called with ``options`` fixed."""

    name: str
    label: str
    cls: type
    options: dict = field(default_factory=dict)

    @property
    def has_cell_state(self) -> bool:
        return "c" in self.cls.state_names

    @property
    def has_forget_gate(self) -> bool:
        return self.cls is LSTMCell and self.options.get("forget_gate", True)

    def make(self, n_in, n_hidden, forget_bias=1.0, init="glorot", rng=None, dtype=None, name=None):
        """A new cell of this kind; ``forget_bias`` reaches the cells that have a forget gate only."""
        kw = dict(self.options, init=init, rng=rng, dtype=dtype, name=name or self.name)
        if self.has_forget_gate:
            kw["forget_bias"] = forget_bias
        return self.cls(n_in, n_hidden, **kw)


CELLS: dict[str, CellKind] = {k.name: k for k in (
    CellKind("lstm", "LSTM", LSTMCell),
    CellKind("peephole", "peephole LSTM", LSTMCell, {"peephole": True}),
    CellKind("lstm1997", "1997 LSTM (no forget gate)", LSTMCell, {"forget_gate": False}),
    CellKind("rnn", "RNN", RNNCell),
    CellKind("gru", "GRU", GRUCell),
)}


def cell_kind(name) -> CellKind:
    """The registered kind called ``name``; a ValueError naming the choices otherwise."""
    if name not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {name!r}")
    return CELLS[name]
