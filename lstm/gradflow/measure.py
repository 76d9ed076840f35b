"""Measure the gradient flow through time: per-step gradient norms and the local factors along it.

A loss at the LAST step of a sequence, ``L = sum_b r_b . h_T[b]`` with a fixed random unit
vector ``r_b`` per example (so ``||dL/dh_T|| = 1``), is differentiated with respect to every
state of every step.  The norms ``||dL/dh_t||`` (and ``||dL/dc_t||`` for the LSTMs) against the
lag ``T - t`` show how much of the error signal reaches step ``t``.

How the gradients are obtained: entirely by minigraph.  The cell runs inside ``mg.scan``; the
step adds a zero perturbation ``eps_t`` (a scan *sequence*) to each new state::

    h_t <- h_t + eps_h[t]          c_t <- c_t + eps_c[t]   (before h_t reads c_t)

so ``dL/d eps[t]`` at ``eps = 0`` is the total derivative ``dL/dh_t`` (``dL/dc_t``), and one
``mg.grad(L, eps)`` -- a single backward scan (BPTT) -- gives it for every ``t``.  For the LSTM
the perturbation of ``c_t`` enters before ``h_t = o_t * tanh(c_t)`` is computed, so
``dL/dc_t`` is the delta of BPTT textbooks, ``dL/dc_t = dL/dh_t * dh_t/dc_t + dL/dc_{t+1} * f_{t+1}``.

The diagram also needs the *local* Jacobians along the backward edges (``diag(f_t)`` on the
cell path c_{t-1} <- c_t, ``diag(1 - h_t^2) W_h`` on a plain RNN's path); minigraph computes
them too (the Jacobian of one step at the forward values, a scan of ``grad``).  The gate
activations come from the same compiled scan: the cell's own ``step_with_gates``, never a
numpy copy of its equations.

The cells are the registered kinds of ``lstm.cells.CELLS``; a kind name ending in ``-cut`` is
the ablation (``disconnected_grad`` on ``c_{t-1}``) of a kind with a cell state.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import minigraph as mg
import minigraph.tensor as T

from ..cells import CELLS, CellKind

__all__ = ["Kind", "parse_kind", "make_cell", "make_inputs", "gradient_norms", "gradient_flow", "mean_gains",
           "EDGE_LABELS", "DEFAULT_N_IN", "DEFAULT_N_HIDDEN"]

DEFAULT_N_IN = 4
DEFAULT_N_HIDDEN = 20


# --------------------------------------------------------------------------- kinds, cells and inputs

@dataclass(frozen=True)
class Kind:
    """What one panel measures: a registered cell kind, optionally with its cell path cut."""

    cell: CellKind
    cut: bool = False

    @property
    def name(self) -> str:
        return self.cell.name + ("-cut" if self.cut else "")

    @property
    def label(self) -> str:
        return self.cell.label + (", cell path cut" if self.cut else "")


def parse_kind(kind, cut_cell_path=False) -> Kind:
    """``Kind`` from 'lstm', 'lstm-cut' (the ablation), or a ``Kind``; a ValueError names the choices."""
    if isinstance(kind, Kind):
        return Kind(kind.cell, kind.cut or bool(cut_cell_path))
    base, cut = str(kind), bool(cut_cell_path)
    if base.endswith("-cut"):
        base, cut = base[:-4], True
    if base not in CELLS:
        raise ValueError(f"cell kind must be one of {', '.join(CELLS)} (optionally with '-cut' for the cells "
                         f"with a cell state), got {kind!r}")
    if cut and not CELLS[base].has_cell_state:
        cells = ", ".join(k for k, v in CELLS.items() if v.has_cell_state)
        raise ValueError(f"cut_cell_path only applies to cells with a cell state ({cells}), not {base!r}")
    return Kind(CELLS[base], cut)


def make_cell(kind, n_in=DEFAULT_N_IN, n_hidden=DEFAULT_N_HIDDEN, forget_bias=1.0, seed=0, init="glorot",
              dtype="float64", weight_scale=1.0):
    """The cell of ``kind`` (a name in ``lstm.cells.CELLS``) with its weights drawn from ``seed``;
    ``weight_scale`` multiplies its recurrent weights ``W_h`` (above ~1.5 a plain RNN explodes)."""
    cell = parse_kind(kind).cell.make(n_in, n_hidden, forget_bias=forget_bias, init=init, rng=seed, dtype=dtype)
    if weight_scale != 1.0:
        cell.W_h.set_value(cell.W_h.get_value() * weight_scale)
    return cell


def make_inputs(steps, batch=1, n_in=DEFAULT_N_IN, n_hidden=DEFAULT_N_HIDDEN, seed=0):
    """(inputs (steps, batch, n_in) ~ N(0, 1), readout r (batch, n_hidden) with unit rows), from ``seed``.

    They depend on the seed and the sizes only, never on the cell: every cell sees the same input.
    """
    rng = np.random.default_rng([int(seed), 271828])
    x = rng.standard_normal((steps, batch, n_in))
    r = rng.standard_normal((batch, n_hidden))
    r /= np.linalg.norm(r, axis=1, keepdims=True)
    return x, r


def _as_inputs(inputs, steps, batch, n_in, n_hidden, seed, readout=None):
    x, r = _given_inputs(inputs, steps, batch, n_in, n_hidden, seed)
    if readout is not None:
        w = np.asarray(readout, dtype=np.float64).reshape(-1)
        if w.shape != (n_hidden,) or not np.all(np.isfinite(w)) or not np.any(w):
            raise ValueError(f"readout must be a finite, non-zero vector of {n_hidden} values, got shape {w.shape}")
        r = np.tile(w / np.linalg.norm(w), (x.shape[1], 1))
    return x, r


def _given_inputs(inputs, steps, batch, n_in, n_hidden, seed):
    x, r = make_inputs(steps, batch, n_in, n_hidden, seed)
    if inputs is None:
        return x, r
    x = np.asarray(inputs, dtype=np.float64)
    if x.ndim == 2:
        x = x[:, None, :]
    if x.ndim != 3 or x.shape[2] != n_in or x.shape[0] < 1:
        raise ValueError(f"inputs must have shape (steps, n_in) or (steps, batch, n_in) with n_in={n_in}, "
                         f"got {np.shape(inputs)}")
    _, r = make_inputs(x.shape[0], x.shape[1], n_in, n_hidden, seed)
    return x, r


# --------------------------------------------------------------------------- the probes (compiled once, cached)

class _Probe:
    """A cell of one kind/size compiled into (a) the unrolled loss, its gradients with respect to
    every state and the gate activations, and (b) the local Jacobians of one step; weights are
    loaded per call with set_value."""

    def __init__(self, kind: Kind, n_in, n_hidden, dtype):
        self.kind, self.n_in, self.n_hidden, self.dtype = kind, n_in, n_hidden, dtype
        self.cell = kind.cell.make(n_in, n_hidden, dtype=dtype)
        self.names = tuple(self.cell.state_names)
        self.gate_names = ()
        self._loss = self._jac = None

    def load(self, cell):
        for mine, theirs in zip(self.cell.params, cell.params):
            mine.set_value(np.asarray(theirs.get_value(), dtype=self.dtype))

    def _step(self, x_t, states, eps):
        """(new states, each with its additive perturbation, c_t's before h_t reads it; the
        perturbed c_t or None; the gates)."""
        if self.kind.cell.has_cell_state:
            h, c = states
            c_in = mg.disconnected_grad(c) if self.kind.cut else c
            (h_new, c_new), gates = self.cell.step_with_gates(x_t, h, c_in)
            c_pert = c_new + eps[1]
            h_new = mg.clone_replace(h_new, {c_new: c_pert})
            return [h_new + eps[0], c_pert], c_pert, gates
        (h,) = states
        (h_new,), gates = self.cell.step_with_gates(x_t, h)
        return [h_new + eps[0]], None, gates

    def loss_fn(self):
        """(x, r, *eps) -> [loss, *state sequences, *gradients, *gate sequences]."""
        if self._loss is None:
            ns = len(self.names)
            x = T.tensor3("x", dtype=self.dtype)
            r = T.matrix("r", dtype=self.dtype)
            eps = [T.tensor3(f"eps_{n}", dtype=self.dtype) for n in self.names]
            # the gates this cell reports, in its order (scan needs the number of outputs up front)
            probe_gates = self._step(T.matrix(dtype=self.dtype), [T.matrix(dtype=self.dtype)] * ns,
                                     [T.matrix(dtype=self.dtype)] * ns)[2]
            self.gate_names = tuple(probe_gates)

            def step(x_t, *rest):
                new, _, gates = self._step(x_t, rest[ns:], rest[:ns])
                return new + [gates[k] for k in self.gate_names]

            init = self.cell.initial_states(T.shape_i(x, 1)) + [None] * len(self.gate_names)
            outs, _ = mg.scan(step, sequences=[x] + eps, outputs_info=init, return_list=True,
                              name=f"{self.kind.cell.name}_unrolled")
            states, gates = outs[:ns], outs[ns:]
            loss = (states[0][-1] * r).sum()
            grads = mg.grad(loss, eps)
            self._loss = mg.function([x, r] + eps, [loss] + list(states) + list(grads) + list(gates),
                                     name=f"gradflow_{self.kind.cell.name}")
        return self._loss

    def jacobian_fn(self):
        """rows (N, n_in), (N, H) previous states -> local Jacobian blocks, each (N, H_out, H_in)."""
        if self._jac is None:
            H = self.n_hidden
            x = T.matrix("x_t", dtype=self.dtype)
            prev = [T.matrix(f"{n}_prev", dtype=self.dtype) for n in self.names]
            eps = [T.matrix(f"eps_{n}", dtype=self.dtype) for n in self.names]
            new, c_pert, _ = self._step(x, prev, eps)
            if self.kind.cell.has_cell_state:
                h_new, c_new = new
                blocks = [
                    _batched_jacobian(c_new, prev[1], H),                      # dc_t/dc_{t-1}
                    _batched_jacobian(c_new, prev[0], H),                      # dc_t/dh_{t-1}
                    _batched_jacobian(h_new, eps[1], H),                       # dh_t/dc_t (same step)
                    _batched_jacobian(h_new, prev[0], H, consider=[c_pert]),   # dh_t/dh_{t-1}, c_t held
                ]
            else:
                blocks = [_batched_jacobian(new[0], prev[0], H)]
            self._jac = mg.function([x] + prev + eps, blocks, name=f"local_jacobians_{self.kind.cell.name}")
        return self._jac


def _batched_jacobian(y, x, n_out, consider=None):
    """d y[n, :] / d x[n, :] for every row n (rows do not interact), as (N, n_out, n_in).

    A scan over the output units j of grad(sum_n y[n, j], x): row n of that gradient is
    d y[n, j] / d x[n, :] because row n of y depends on row n of x only.
    """
    def row(j):
        return mg.grad(y[:, j].sum(), x, consider_constant=consider, disconnected_inputs="ignore")

    rows, _ = mg.scan(row, sequences=T.arange(n_out), name="jacobian_rows")
    return rows.dimshuffle(1, 0, 2)


_PROBES = {}


def _probe(kind: Kind, n_in, n_hidden, dtype):
    key = (kind.name, n_in, n_hidden, np.dtype(dtype).name)
    if key not in _PROBES:
        _PROBES[key] = _Probe(kind, n_in, n_hidden, np.dtype(dtype).name)
    return _PROBES[key]


@dataclass
class _Run:
    """One forward and backward pass: the inputs, the cell, the loss, states, gradients and gates."""

    kind: Kind
    probe: _Probe
    cell: object
    x: np.ndarray
    r: np.ndarray
    loss: float
    states: dict
    grads: dict
    gates: dict


def _run(kind, steps, forget_bias, seed, n_in, n_hidden, batch, cut_cell_path, inputs, init, dtype,
         weight_scale=1.0, cell=None, readout=None):
    kind = parse_kind(kind, cut_cell_path)
    if cell is None:
        cell = make_cell(kind.cell.name, n_in, n_hidden, forget_bias, seed, init, dtype, weight_scale)
    elif weight_scale != 1.0:
        raise ValueError("weight_scale applies to cells drawn from a seed, not to a given cell")
    n_in, n_hidden = cell.n_in, cell.n_hidden
    x, r = _as_inputs(inputs, steps, batch, n_in, n_hidden, seed, readout)
    probe = _probe(kind, n_in, n_hidden, dtype)
    probe.load(cell)
    ns = len(probe.names)
    zeros = [np.zeros((x.shape[0], x.shape[1], n_hidden), dtype) for _ in range(ns)]
    out = probe.loss_fn()(x.astype(dtype), r.astype(dtype), *zeros)
    states, grads, gates = out[1:1 + ns], out[1 + ns:1 + 2 * ns], out[1 + 2 * ns:]
    return _Run(kind, probe, cell, x, r, float(out[0]), dict(zip(probe.names, states)),
                dict(zip(probe.names, grads)), dict(zip(probe.gate_names, gates)))


def gradient_norms(cell_kind, steps=50, forget_bias=1.0, seed=0, n_in=DEFAULT_N_IN, n_hidden=DEFAULT_N_HIDDEN,
                   batch=1, cut_cell_path=False, inputs=None, init="glorot", dtype="float64", weight_scale=1.0,
                   cell=None, readout=None):
    """Per-step gradient norms of a loss at the last step, through minigraph's backward scan.

    The cell (a kind of ``lstm.cells.CELLS``: ``'lstm' | 'peephole' | 'lstm1997' | 'rnn' | 'gru'``,
    weights from ``seed`` with ``init``, recurrent weights times ``weight_scale``; the LSTMs'
    forget-gate bias ``forget_bias``) -- or the given ``cell``, e.g. a trained one -- runs over
    ``inputs`` ((steps, n_in) or (steps, batch, n_in); default N(0, 1) from ``seed``, the same for
    every cell).  The loss is ``L = sum_b r_b . h_T[b]`` with unit vectors ``r_b``: random from
    ``seed``, or ``readout`` normalised (e.g. a trained network's output weights).
    ``cut_cell_path=True`` (or the kind ``'lstm-cut'``) applies ``mg.disconnected_grad`` to
    ``c_{t-1}`` inside the step: the ablation that cuts the constant-error carousel.

    Returns a dict: ``'h'`` -- ``||dL/dh_t||`` for t = 1..T (index t-1; the norm of each example's
    gradient, averaged over the batch), ``'c'`` -- ``||dL/dc_t||`` for cells with a cell state,
    and ``'kind', 'steps', 'forget_bias', 'seed', 'n_in', 'n_hidden', 'batch', 'init', 'loss'``.
    """
    run = _run(cell_kind, steps, forget_bias, seed, n_in, n_hidden, batch, cut_cell_path, inputs, init, dtype,
               weight_scale, cell, readout)
    result = {name: np.linalg.norm(g, axis=-1).mean(axis=1) for name, g in run.grads.items()}
    result.update(kind=run.kind.name, steps=int(run.x.shape[0]), forget_bias=float(forget_bias), seed=int(seed),
                  n_in=run.cell.n_in, n_hidden=run.cell.n_hidden, batch=int(run.x.shape[1]), init=init,
                  loss=run.loss)
    return result


# --------------------------------------------------------------------------- local factors along the edges

# symbolic labels of the backward edges (column-vector convention: h_t = tanh(W_h h_{t-1} + ...))
EDGE_LABELS = {
    "cc": "diag(f_t)",                             # c_t -> c_{t-1}: the constant-error carousel
    "cc_peep": "diag(f_t) + peepholes",
    "cc_1997": "I  (no forget gate)",             # the 1997 LSTM: c_t = c_{t-1} + i_t g_t
    "hc": "diag(o_t tanh′(c_t))",                   # h_t -> c_t, inside one step
    "ch": "∂c_t/∂h_t−1",                            # c_t -> h_{t-1}: through the i, f, g gates and W_h
    "hh_lstm": "diag(tanh(c_t) σ′) W_ho",           # h_t -> h_{t-1}: through the output gate
    "hh_rnn": "diag(1−h_t²) W_h",
    "hh_gru": "diag(z_t) + … W_h",
}

DIAGONAL_EDGES = ("cc", "cc_peep", "cc_1997", "hc")


def _cell_path_key(kind: Kind) -> str:
    if not kind.cell.has_forget_gate:
        return "cc_1997"
    return "cc_peep" if kind.cell.options.get("peephole") else "cc"


def _edge(grads, src, dst, key, jac, t):
    """One backward edge: the gradient at ``src`` times the local Jacobian ``jac`` (d src / d dst)."""
    g = grads[src[0]][src[1] - 1]
    value = float(np.mean(np.diag(jac))) if key in DIAGONAL_EDGES else float(np.linalg.norm(jac, 2))
    flow = float(np.linalg.norm(g @ jac))
    size = float(np.linalg.norm(g))
    return dict(src=src, dst=dst, key=key, label=EDGE_LABELS[key], jacobian=jac, value=value, flow=flow,
                gain=flow / size if size > 0 else 0.0, t=t)


def _edges(kind: Kind, grads, blocks, n):
    edges = []
    for t in range(1, n + 1):
        i = t - 1
        if kind.cell.has_cell_state:
            J_cc, J_ch, D, J_hh = (b[i] for b in blocks)
            edges.append(_edge(grads, ("h", t), ("c", t), "hc", D, t))
            if t > 1:
                edges.append(_edge(grads, ("c", t), ("c", t - 1), _cell_path_key(kind), J_cc, t))
                edges.append(_edge(grads, ("c", t), ("h", t - 1), "ch", J_ch, t))
                edges.append(_edge(grads, ("h", t), ("h", t - 1), "hh_lstm", J_hh, t))
        elif t > 1:
            edges.append(_edge(grads, ("h", t), ("h", t - 1), "hh_" + kind.cell.name, blocks[0][i], t))
    return edges


def gradient_flow(cell_kind, steps=50, forget_bias=1.0, seed=0, n_in=DEFAULT_N_IN, n_hidden=DEFAULT_N_HIDDEN,
                  cut_cell_path=False, inputs=None, init="glorot", dtype="float64", weight_scale=1.0, cell=None,
                  readout=None):
    """Everything the diagram shows, for batch element 0 (batch 1 unless ``inputs`` has more).

    ``readout``, ``cell`` and the other arguments as for ``gradient_norms``.  Returns a dict with
    ``'kind'``, ``'label'``, ``'steps'``, ``'norms'`` ({state: ||dL/dstate_t||,
    t = 1..T}), ``'grads'`` ({state: (T, H) gradients}), ``'gates'`` ({gate: mean activation per
    step}, from the cell's own compiled step) and ``'edges'``: a list of backward edges, each a
    dict with ``src`` and ``dst`` as (state, t), ``key`` (the kind of edge), ``label`` (its local
    Jacobian, symbolically, e.g. ``'diag(f_t)'``), ``jacobian`` (the (H, H) matrix d src / d dst,
    computed by minigraph at the forward values), ``value`` (the mean of the diagonal for diagonal
    factors, else the spectral norm), ``flow`` (``||dL/dsrc . jacobian||``: the gradient this edge
    carries into ``dst``) and ``gain`` (``flow / ||dL/dsrc||``).  For every node the flows'
    vectors add up to its gradient.
    """
    run = _run(cell_kind, steps, forget_bias, seed, n_in, n_hidden, 1, cut_cell_path, inputs, init, dtype,
               weight_scale, cell, readout)
    probe, n, H = run.probe, run.x.shape[0], run.cell.n_hidden
    grads = {k: g[:, 0] for k, g in run.grads.items()}
    prev = [np.vstack([np.zeros((1, H)), run.states[k][:-1, 0]]).astype(dtype) for k in probe.names]
    zeros = [np.zeros((n, H), dtype) for _ in probe.names]
    blocks = probe.jacobian_fn()(run.x[:, 0].astype(dtype), *prev, *zeros)
    return dict(kind=run.kind.name, label=run.kind.label, cell=run.kind.cell, cut=run.kind.cut, steps=n,
                forget_bias=float(getattr(run.cell, "forget_bias", forget_bias)), seed=int(seed),
                weight_scale=float(weight_scale), norms={k: np.linalg.norm(g, axis=1) for k, g in grads.items()},
                grads=grads, gates={k: g[:, 0].mean(axis=1) for k, g in run.gates.items()},
                edges=_edges(run.kind, grads, blocks, n), loss=run.loss)


def mean_gains(flow):
    """{edge key: geometric mean of the gains of the edges of that kind} for a ``gradient_flow``
    result: the per-step factor each path applies to the gradient (e.g. ``'cc'``, the carousel)."""
    by_key = {}
    for e in flow["edges"]:
        by_key.setdefault(e["key"], []).append(max(e["gain"], np.finfo(np.float64).tiny))
    return {k: float(np.exp(np.mean(np.log(v)))) for k, v in by_key.items()}
