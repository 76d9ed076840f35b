"""Deep recurrent networks after Pascanu, Gulcehre, Cho & Bengio (2014), "How to Construct Deep
Recurrent Neural Networks" (ICLR 2014), for every cell kind.

Why a module of its own: an RNN has three places that can be made deep -- the input-to-hidden
function, the hidden-to-hidden transition and the hidden-to-output function -- and stacking
recurrent layers is a fourth, older construction.  Each construction here has ONE name (the
:data:`ARCHS` table is the single source of truth, the command line's ``--arch`` reads it) and
works with any cell (``lstm``, ``rnn``, ``gru``, the peephole LSTM, ...): the recurrent part is
always a ``minigraph.scan`` whose step calls ``cell.step``.

Notation: ``cell(u, r, *s)`` is one step of the cell with input ``u`` (read by its ``W_x``) and
recurrent input ``r`` (read by its ``W_h``), other states ``s`` (the LSTM's ``c``);
``MLP`` is a stack of tanh layers (:class:`MLP`); ``L`` is ``depth``.

============  =================  =====================================================================
name          Pascanu's name     what is deep
============  =================  =====================================================================
shallow       RNN                nothing: ``h_t = cell(x_t, h_{t-1})``, ``y_t = h_t V``
stacked       sRNN               L recurrent layers; layer k reads layer k-1's ``h_t``
deep-input    (deep input-to-    ``h_t = cell(MLP(x_t), h_{t-1})``: L-1 tanh layers on each input
              hidden function)
dt            DT-RNN             the transition: ``h_t = cell(x_t, MLP(h_{t-1}))`` -- L-1 tanh layers
                                 between ``h_{t-1}`` and the cell, whose recurrent weights read
                                 their output (so the last one has the hidden size)
dts           DT(S)-RNN          DT plus the shortcut that bypasses the deep transition:
                                 ``h_t = cell([x_t, MLP(h_{t-1})], h_{t-1})`` -- the cell's input
                                 weights read the deep path, its recurrent weights ``h_{t-1}``
                                 directly (for the tanh RNN exactly
                                 ``tanh(U x_t + W_L z_t + W h_{t-1} + b)``, the paper's Fig. 2b*)
do            DO-RNN             the output: ``y_t = MLP(h_t) V`` -- L-1 tanh layers between h and y
dot           DOT-RNN            DT and DO together
============  =================  =====================================================================

The input enters the deep transition at the cell (its usual place), not at the first
intermediate layer as in the paper's equation for the plain RNN; with a gated cell this keeps
every gate reading ``x_t`` directly.  For the LSTM the memory path ``c_{t-1} -> c_t`` stays the
shallow constant-error carousel in every construction; what DT deepens is the path through ``h``.

Depth and widths: ``depth`` counts the nonlinear layers on the path that is made deep (the
cell or the linear readout included), so ``depth=1`` is the shallow network; ``widths`` gives
the widths of the ``depth - 1`` intermediate layers (default: the hidden size).  In DT (and DOT)
the last transition layer feeds the cell's recurrent weights and so has the hidden size: a single
int width applies to the other layers, a list must end with the hidden size.

The older variants of stacking live in :class:`lstm.layers.StackedRNN` (``mode="input_to_all"``,
Graves 2013's skip connections from the input to every layer; ``mode="all_to_output"``, every
layer's h read by the output).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import minigraph.tensor as T

from .layers import Dense, Recurrent, StackedRNN, make_cell

__all__ = ["ARCHS", "Arch", "DeepSpec", "MLP", "DeepTransitionCell", "DeepRNN", "arch_label", "input_gradient_norms"]


@dataclass(frozen=True)
class Arch:
    """One construction: its name here, Pascanu et al.'s name, and which paths are deep."""

    name: str
    paper: str
    title: str
    deep_input: bool = False
    transition: bool = False
    shortcut: bool = False
    deep_output: bool = False
    stacked: bool = False


ARCHS = {a.name: a for a in (
    Arch("shallow", "RNN", "shallow (one recurrent layer)"),
    Arch("stacked", "sRNN", "stacked recurrent layers", stacked=True),
    Arch("deep-input", "deep input-to-hidden", "deep input-to-hidden function", deep_input=True),
    Arch("dt", "DT-RNN", "deep transition", transition=True),
    Arch("dts", "DT(S)-RNN", "deep transition with shortcut", transition=True, shortcut=True),
    Arch("do", "DO-RNN", "deep output", deep_output=True),
    Arch("dot", "DOT-RNN", "deep output and deep transition", transition=True, deep_output=True),
)}


def arch_label(name: str, depth: int) -> str:
    """Short text for tables: 'DT-RNN (depth 2)', 'RNN' for the shallow network."""
    a = ARCHS[name]
    return a.paper if name == "shallow" else f"{a.paper} (depth {depth})"


@dataclass(frozen=True)
class DeepSpec:
    """Which construction, how deep, how wide.  ``widths``: None (every intermediate layer as wide
    as the hidden layer), an int (all of them), or one int per intermediate layer."""

    arch: str = "shallow"
    depth: int = 2
    widths: int | tuple | None = None

    def __post_init__(self):
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        if isinstance(self.depth, bool) or not isinstance(self.depth, (int, np.integer)) or self.depth < 1:
            raise ValueError(f"depth must be a positive int, got {self.depth!r}")
        if self.arch != "shallow" and self.depth < 2:
            raise ValueError(f"arch {self.arch!r} needs depth >= 2 (depth 1 is the shallow network)")

    @property
    def effective_depth(self) -> int:
        return 1 if self.arch == "shallow" else int(self.depth)

    def intermediate(self, n_hidden: int) -> list[int]:
        """Widths of the ``depth - 1`` intermediate layers."""
        n = self.effective_depth - 1
        w = self.widths
        if w is None:
            return [int(n_hidden)] * n
        if isinstance(w, (int, np.integer)):
            return [int(w)] * n
        w = [int(v) for v in w]
        if len(w) != n:
            raise ValueError(f"{self.arch}: depth {self.depth} has {n} intermediate layers, "
                             f"but {len(w)} widths were given ({w})")
        return w

    def hparams(self) -> dict:
        w = self.widths
        return {"arch": self.arch, "depth": self.effective_depth,
                "widths": w if w is None or isinstance(w, int) else [int(v) for v in w]}


class MLP:
    """tanh layers ``x -> tanh(x W_1 + b_1) -> ... `` of the given widths (none: the identity).

    Works on (B, n) and on sequences (T, B, n); parameters ``<name>0.W``, ``<name>0.b``, ..."""

    def __init__(self, n_in, widths, rng, name, init="glorot", dtype=None):
        for w in widths:
            if not isinstance(w, (int, np.integer)) or w < 1:
                raise ValueError(f"{name}: layer widths must be positive ints, got {list(widths)}")
        self.layers, n = [], int(n_in)
        for k, w in enumerate(widths):
            self.layers.append(Dense(n, w, rng=rng, name=f"{name}{k}", init=init, dtype=dtype))
            n = w
        self.n_in, self.n_out = int(n_in), n

    @property
    def params(self):
        return [p for layer in self.layers for p in layer.params]

    def __call__(self, x):
        for layer in self.layers:
            x = T.tanh(layer(x))
        return x


class DeepTransitionCell:
    """A cell whose transition ``h_{t-1} -> h_t`` passes through an MLP (DT), optionally with the
    shortcut of DT(S).  It has the cell interface (``step``, ``state_names``, ``params``,
    ``initial_states``, ...) so :class:`lstm.layers.Recurrent` runs it with one scan.

    ``cell``: the cell of the last layer.  DT: built with ``n_in`` = the input size; the MLP's
    last width must be its hidden size.  DT(S): built with ``n_in`` = input size + the MLP's last
    width (its input weights read ``[x_t, z_t]``, its recurrent weights ``h_{t-1}``)."""

    def __init__(self, cell, mlp, shortcut, n_in):
        self.cell, self.mlp, self.shortcut = cell, mlp, bool(shortcut)
        H = cell.n_hidden
        if mlp.n_in != H:
            raise ValueError(f"{cell.name}: the transition MLP reads h (size {H}), but takes {mlp.n_in} inputs")
        want_in = n_in + (mlp.n_out if shortcut else 0)
        if cell.n_in != want_in:
            raise ValueError(f"{cell.name}: the cell reads {want_in} input features, it was built for {cell.n_in}")
        if not shortcut and mlp.n_out != H:
            raise ValueError(f"dt: the last transition layer feeds the cell's recurrent weights, so its width "
                             f"must be the hidden size {H}, got {mlp.n_out}")
        self.n_in, self.n_hidden, self.dtype, self.name = int(n_in), H, cell.dtype, cell.name
        self.state_names = cell.state_names

    @property
    def params(self):
        return list(self.cell.params) + self.mlp.params

    def initial_states(self, batch_size):
        return self.cell.initial_states(batch_size)

    def step(self, x_t, h, *others):
        z = self.mlp(h)
        if self.shortcut:
            return self.cell.step(T.concatenate([x_t, z], axis=1), h, *others)
        return self.cell.step(x_t, z, *others)


class DeepRNN:
    """The recurrent body of a construction: input MLP (deep-input), the recurrent scan(s), and the
    output MLP (DO/DOT) -- everything between the input and the final linear readout.

    ``body(X, mask=None)`` maps a time-major (T, B, n_in) sequence to features (T, B, n_features);
    the readout (a ``Dense``) is the caller's.  ``cells``: the cells in order (for stacked, one
    per layer); ``params``: all parameters, cells first."""

    def __init__(self, spec: DeepSpec, cell, n_in, hidden, peephole, forget_bias, init, rng, dtype):
        a = ARCHS[spec.arch]
        self.spec, self.arch = spec, a
        self.input_mlp = self.output_mlp = None
        n_layers = spec.effective_depth if a.stacked else 1
        hidden = list(hidden) if isinstance(hidden, (list, tuple)) else [int(hidden)] * n_layers
        if len(hidden) != n_layers:
            raise ValueError(f"{spec.arch}: {len(hidden)} hidden sizes given for {n_layers} recurrent layers")
        widths = spec.intermediate(hidden[-1])
        if a.deep_input:
            self.input_mlp = MLP(n_in, widths, rng, "in", init, dtype)
            n_in_cell = self.input_mlp.n_out
        else:
            n_in_cell = n_in
        if a.transition:
            H = hidden[0]
            tw = widths if a.shortcut else widths[:-1] + [H]
            if not a.shortcut and isinstance(spec.widths, (list, tuple)) and widths[-1] != H:
                raise ValueError(f"dt/dot: the last transition layer feeds the cell's recurrent weights, so its "
                                 f"width must be the hidden size {H}, got {widths[-1]}")
            c = make_cell(cell, n_in_cell + (tw[-1] if a.shortcut else 0), H, peephole, forget_bias, init, rng,
                          dtype, name=f"{cell}0")
            mlp = MLP(H, tw, rng, f"{cell}0.T", init, dtype)
            self.cells = [c]
            self.recurrent = [DeepTransitionCell(c, mlp, a.shortcut, n_in_cell)]
        else:
            self.cells, prev = [], n_in_cell
            for k, h in enumerate(hidden):
                self.cells.append(make_cell(cell, prev, h, peephole, forget_bias, init, rng, dtype, name=f"{cell}{k}"))
                prev = h
            self.recurrent = self.cells
        self.stack = StackedRNN(self.recurrent, mode="stack")
        if a.deep_output:
            self.output_mlp = MLP(hidden[-1], widths, rng, "out_h", init, dtype)
        self.n_features = self.output_mlp.n_out if self.output_mlp else hidden[-1]

    @property
    def params(self):
        ps = [p for c in self.recurrent for p in c.params]
        for mlp in (self.input_mlp, self.output_mlp):
            if mlp is not None:
                ps += mlp.params
        return ps

    def states(self, X, mask=None):
        """The top recurrent layer's h sequence (T, B, H) -- before the output MLP."""
        if self.input_mlp is not None:
            X = self.input_mlp(T.as_tensor_variable(X))
        return self.stack(X, mask)

    def __call__(self, X, mask=None):
        h = self.states(X, mask)
        return self.output_mlp(h) if self.output_mlp is not None else h


def input_gradient_norms(model, steps, seed=0, batch=1):
    """How much of an error signal at the last step reaches each input: ``||dL/dx_t||`` for t = 1..T.

    ``L = sum_b r_b . f_T[b]`` with ``f_T`` what the readout of ``model`` (a ``SequenceModel``) reads
    at the last step and ``r_b`` a fixed random unit vector per example.  One backward scan of
    minigraph's ``grad`` gives every step's gradient; the result is an array of ``steps`` norms
    (entry 0: the first input, lag T - 1).  Works for every construction, since every one of them
    reads the input -- unlike the state norms of ``lstm.gradflow``, which need a single cell."""
    import minigraph as mg

    rng = np.random.default_rng(seed)
    Xv = rng.normal(size=(steps, batch, model.n_in))
    X = T.tensor3("X")
    f_T = model.features(X)[-1]
    r = rng.normal(size=(batch, int(model.head.n_in)))
    r /= np.linalg.norm(r, axis=1, keepdims=True)
    loss = (f_T * T.constant(r.astype(model.dtype))).sum()
    g = mg.function([X], mg.grad(loss, X), allow_input_downcast=True)(Xv)
    return np.sqrt(np.sum(np.square(g), axis=(1, 2)))
