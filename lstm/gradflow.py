"""Why the LSTM's cell state keeps gradients alive: measure and draw the gradient flow through time.

A loss at the LAST step of a sequence, ``L = sum_b r_b . h_T[b]`` with a fixed random unit
vector ``r_b`` per example (so ``||dL/dh_T|| = 1``), is differentiated with respect to every
state of every step.  The norms ``||dL/dh_t||`` (and ``||dL/dc_t||`` for the LSTM) against the
lag ``T - t`` show how much of the error signal reaches step ``t``.

How the gradients are obtained: entirely by minigraph.  The cell runs inside ``mg.scan``; the
step adds a zero perturbation ``eps_t`` (a scan *sequence*) to each new state::

    h_t <- h_t + eps_h[t]          c_t <- c_t + eps_c[t]   (before h_t reads c_t)

so ``dL/d eps[t]`` at ``eps = 0`` is the total derivative ``dL/dh_t`` (``dL/dc_t``), and one
``mg.grad(L, eps)`` -- a single backward scan (BPTT) -- gives it for every ``t``.  For the LSTM
the perturbation of ``c_t`` enters before ``h_t = o_t * tanh(c_t)`` is computed, so
``dL/dc_t`` is the delta of BPTT textbooks, ``dL/dc_t = dL/dh_t * dh_t/dc_t + dL/dc_{t+1} * f_{t+1}``.

The diagram additionally needs the *local* Jacobians along the backward edges (``diag(f_t)`` on
the cell path c_{t-1} <- c_t, ``diag(1 - h_t^2) W_h`` on a plain RNN's path); they are computed
numerically by minigraph too (the Jacobian of one step at the forward values, a scan of
``grad``), and each edge is coloured by the gradient that actually flows along it,
``||dL/dstate_t . d state_t / d state'_{t-1}||``.  The edge contributions into a node add up to
the node's measured gradient (the tests check it).

Public functions: ``gradient_norms``, ``gradient_flow``, ``unrolled_dot``, ``render_unrolled``,
``plot_norms``, ``plot_ablation``, ``main`` / ``add_arguments`` (the ``lstm gradflow`` command,
also ``python -m lstm.gradflow``).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

import numpy as np

import minigraph as mg
import minigraph.tensor as T

from .cells import GRUCell, LSTMCell, RNNCell
from .files import finite_float, image_path, positive_int, seed_int

__all__ = ["CELL_KINDS", "EDGE_LABELS", "gradient_norms", "gradient_flow", "make_cell", "make_inputs", "unrolled_dot",
           "render_unrolled", "plot_norms", "plot_ablation", "add_arguments", "run_command", "main"]

CELL_KINDS = ("lstm", "rnn", "gru", "peephole")
TITLES = {"lstm": "LSTM", "rnn": "plain tanh RNN", "gru": "GRU", "peephole": "LSTM with peepholes"}
DEFAULT_N_IN = 4
DEFAULT_N_HIDDEN = 20


# --------------------------------------------------------------------------- cells and inputs

def _parse_kind(kind, cut_cell_path=False):
    """('lstm', False) from 'lstm'; 'lstm-cut' / 'peephole-cut' name the ablation."""
    base, cut = kind, bool(cut_cell_path)
    if kind.endswith("-cut"):
        base, cut = kind[:-4], True
    if base not in CELL_KINDS:
        raise ValueError(f"cell kind must be one of {', '.join(CELL_KINDS)} (optionally with '-cut' for the "
                         f"LSTMs), got {kind!r}")
    if cut and base not in ("lstm", "peephole"):
        raise ValueError(f"cut_cell_path only applies to cells with a cell state (lstm, peephole), not {base!r}")
    return base, cut


def _kind_name(base, cut):
    return base + ("-cut" if cut else "")


def _has_cell_state(base):
    return base in ("lstm", "peephole")


def make_cell(kind, n_in=DEFAULT_N_IN, n_hidden=DEFAULT_N_HIDDEN, forget_bias=1.0, seed=0, init="glorot",
              dtype="float64"):
    """The cell of ``kind`` ('lstm' | 'rnn' | 'gru' | 'peephole') with its weights drawn from ``seed``."""
    base, _ = _parse_kind(kind)
    if base in ("lstm", "peephole"):
        return LSTMCell(n_in, n_hidden, peephole=base == "peephole", forget_bias=forget_bias, init=init, rng=seed,
                        dtype=dtype)
    cls = RNNCell if base == "rnn" else GRUCell
    return cls(n_in, n_hidden, init=init, rng=seed, dtype=dtype)


def make_inputs(steps, batch=1, n_in=DEFAULT_N_IN, n_hidden=DEFAULT_N_HIDDEN, seed=0):
    """(inputs (steps, batch, n_in) ~ N(0, 1), readout r (batch, n_hidden) with unit rows), from ``seed``.

    They depend on the seed and the sizes only, never on the cell: every cell sees the same input.
    """
    rng = np.random.default_rng([int(seed), 271828])
    x = rng.standard_normal((steps, batch, n_in))
    r = rng.standard_normal((batch, n_hidden))
    r /= np.linalg.norm(r, axis=1, keepdims=True)
    return x, r


def _as_inputs(inputs, steps, batch, n_in, n_hidden, seed):
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
    """A cell of one kind/size compiled into (a) the unrolled loss and its gradients with respect to
    every state, and (b) the local Jacobians of one step; weights are loaded per call with set_value."""

    def __init__(self, base, cut, n_in, n_hidden, dtype):
        self.base, self.cut, self.n_in, self.n_hidden, self.dtype = base, cut, n_in, n_hidden, dtype
        self.cell = make_cell(base, n_in, n_hidden, dtype=dtype)
        self.names = tuple(self.cell.state_names)
        self._loss = self._jac = None

    def load(self, cell):
        for mine, theirs in zip(self.cell.params, cell.params):
            mine.set_value(theirs.get_value())

    def _step(self, x_t, states, eps):
        """New states of one step, each with its additive perturbation (c_t's before h_t reads it)."""
        if _has_cell_state(self.base):
            h, c = states
            c_in = mg.disconnected_grad(c) if self.cut else c
            h_new, c_new = self.cell.step(x_t, h, c_in)
            c_pert = c_new + eps[1]
            h_new = mg.clone_replace(h_new, {c_new: c_pert})
            return [h_new + eps[0], c_pert], c_pert
        (h,) = states
        (h_new,) = self.cell.step(x_t, h)
        return [h_new + eps[0]], None

    def loss_fn(self):
        if self._loss is None:
            ns = len(self.names)
            x = T.tensor3("x", dtype=self.dtype)
            r = T.matrix("r", dtype=self.dtype)
            eps = [T.tensor3(f"eps_{n}", dtype=self.dtype) for n in self.names]

            def step(x_t, *rest):
                return self._step(x_t, rest[ns:], rest[:ns])[0]

            states, _ = mg.scan(step, sequences=[x] + eps, outputs_info=self.cell.initial_states(T.shape_i(x, 1)),
                                return_list=True, name=f"{self.base}_unrolled")
            loss = (states[0][-1] * r).sum()
            grads = mg.grad(loss, eps)
            self._loss = mg.function([x, r] + eps, [loss] + list(states) + list(grads),
                                     name=f"gradflow_{self.base}")
        return self._loss

    def jacobian_fn(self):
        """rows (N, n_in), (N, H) previous states -> local Jacobian blocks, each (N, H_out, H_in)."""
        if self._jac is None:
            H = self.n_hidden
            x = T.matrix("x_t", dtype=self.dtype)
            prev = [T.matrix(f"{n}_prev", dtype=self.dtype) for n in self.names]
            eps = [T.matrix(f"eps_{n}", dtype=self.dtype) for n in self.names]
            new, c_pert = self._step(x, prev, eps)
            if _has_cell_state(self.base):
                h_new, c_new = new
                blocks = [
                    _batched_jacobian(c_new, prev[1], H),                      # dc_t/dc_{t-1}
                    _batched_jacobian(c_new, prev[0], H),                      # dc_t/dh_{t-1}
                    _batched_jacobian(h_new, eps[1], H),                       # dh_t/dc_t (same step)
                    _batched_jacobian(h_new, prev[0], H, consider=[c_pert]),   # dh_t/dh_{t-1}, c_t held
                ]
            else:
                blocks = [_batched_jacobian(new[0], prev[0], H)]
            self._jac = mg.function([x] + prev + eps, blocks, name=f"local_jacobians_{self.base}")
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


def _probe(base, cut, n_in, n_hidden, dtype):
    key = (base, cut, n_in, n_hidden, np.dtype(dtype).name)
    if key not in _PROBES:
        _PROBES[key] = _Probe(base, cut, n_in, n_hidden, np.dtype(dtype).name)
    return _PROBES[key]


def _run(kind, steps, forget_bias, seed, n_in, n_hidden, batch, cut_cell_path, inputs, init, dtype):
    base, cut = _parse_kind(kind, cut_cell_path)
    x, r = _as_inputs(inputs, steps, batch, n_in, n_hidden, seed)
    probe = _probe(base, cut, n_in, n_hidden, dtype)
    cell = make_cell(base, n_in, n_hidden, forget_bias=forget_bias, seed=seed, init=init, dtype=dtype)
    probe.load(cell)
    ns = len(probe.names)
    zeros = [np.zeros((x.shape[0], x.shape[1], n_hidden), dtype) for _ in range(ns)]
    out = probe.loss_fn()(x.astype(dtype), r.astype(dtype), *zeros)
    loss, states, grads = out[0], out[1:1 + ns], out[1 + ns:]
    return dict(base=base, cut=cut, probe=probe, cell=cell, x=x, r=r, loss=float(loss),
                states=dict(zip(probe.names, states)), grads=dict(zip(probe.names, grads)))


def gradient_norms(cell_kind, steps=50, forget_bias=1.0, seed=0, n_in=DEFAULT_N_IN, n_hidden=DEFAULT_N_HIDDEN,
                   batch=1, cut_cell_path=False, inputs=None, init="glorot", dtype="float64"):
    """Per-step gradient norms of a loss at the last step, through minigraph's backward scan.

    The cell (``'lstm' | 'rnn' | 'gru' | 'peephole'``, weights from ``seed`` with ``init``; the
    LSTMs' forget-gate bias ``forget_bias``) runs over ``inputs`` ((steps, n_in) or (steps, batch,
    n_in); default N(0, 1) from ``seed``, the same for every cell).  The loss is
    ``L = sum_b r_b . h_T[b]`` with unit vectors ``r_b``.  ``cut_cell_path=True`` (or the kind
    ``'lstm-cut'``) applies ``mg.disconnected_grad`` to ``c_{t-1}`` inside the step: the ablation
    that cuts the constant-error carousel.

    Returns a dict: ``'h'`` -- ``||dL/dh_t||`` for t = 1..T (index t-1; the norm of each example's
    gradient, averaged over the batch), ``'c'`` -- ``||dL/dc_t||`` for cells with a cell state,
    and ``'kind', 'steps', 'forget_bias', 'seed', 'n_in', 'n_hidden', 'batch', 'init', 'loss'``.
    """
    run = _run(cell_kind, steps, forget_bias, seed, n_in, n_hidden, batch, cut_cell_path, inputs, init, dtype)
    result = {name: np.linalg.norm(g, axis=-1).mean(axis=1) for name, g in run["grads"].items()}
    result.update(kind=_kind_name(run["base"], run["cut"]), steps=int(run["x"].shape[0]),
                  forget_bias=float(forget_bias), seed=int(seed), n_in=n_in, n_hidden=n_hidden,
                  batch=int(run["x"].shape[1]), init=init, loss=run["loss"])
    return result


# --------------------------------------------------------------------------- local factors along the edges

# symbolic labels of the backward edges (column-vector convention: h_t = tanh(W_h h_{t-1} + ...))
EDGE_LABELS = {
    "cc": "diag(f_t)",                                       # c_t -> c_{t-1}: the constant-error carousel
    "cc_peep": "diag(f_t) + peepholes",
    "hc": "diag(o_t tanh\u2032(c_t))",                         # h_t -> c_t, inside one step
    "ch": "\u2202c_t/\u2202h_t\u22121",                              # c_t -> h_{t-1}: through the i, f, g gates and W_h
    "hh_lstm": "diag(tanh(c_t) \u03c3\u2032) W_ho",                  # h_t -> h_{t-1}: through the output gate
    "hh_rnn": "diag(1\u2212h_t\u00b2) W_h",
    "hh_gru": "diag(z_t) + \u2026 W_h",
}


def _gates(run):
    """Mean gate activations per step (batch element 0), from the forward values (for the gate nodes)."""
    cell, base = run["cell"], run["base"]
    if base == "rnn":
        return {}
    sig = lambda a: 1.0 / (1.0 + np.exp(-a))  # noqa: E731
    x = run["x"][:, 0]
    H = cell.n_hidden
    h = run["states"]["h"][:, 0]
    h_prev = np.vstack([np.zeros((1, H)), h[:-1]])
    Wx, Wh, b = (p.get_value() for p in (cell.W_x, cell.W_h, cell.b))
    if base == "gru":
        a = x @ Wx + b
        m = h_prev @ Wh
        r = sig(a[:, :H] + m[:, :H])
        z = sig(a[:, H:2 * H] + m[:, H:2 * H])
        return {"r": r.mean(axis=1), "z": z.mean(axis=1)}
    c = run["states"]["c"][:, 0]
    c_prev = np.vstack([np.zeros((1, H)), c[:-1]])
    a = x @ Wx + h_prev @ Wh + b
    a_i, a_f, a_o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H]
    if cell.peephole:
        a_i = a_i + cell.p_i.get_value() * c_prev
        a_f = a_f + cell.p_f.get_value() * c_prev
        a_o = a_o + cell.p_o.get_value() * c
    return {"i": sig(a_i).mean(axis=1), "f": sig(a_f).mean(axis=1), "o": sig(a_o).mean(axis=1)}


def gradient_flow(cell_kind, steps=50, forget_bias=1.0, seed=0, n_in=DEFAULT_N_IN, n_hidden=DEFAULT_N_HIDDEN,
                  cut_cell_path=False, inputs=None, init="glorot", dtype="float64"):
    """Everything the diagram shows, for batch element 0 (batch 1 unless ``inputs`` has more).

    Returns a dict with ``'kind'``, ``'steps'``, ``'norms'`` ({state: ||dL/dstate_t||, t = 1..T}),
    ``'grads'`` ({state: (T, H) gradients}), ``'gates'`` ({gate: mean activation per step}) and
    ``'edges'``: a list of backward edges, each a dict with ``src`` and ``dst`` as (state, t),
    ``key`` (the kind of edge), ``label`` (its local Jacobian, symbolically, e.g. ``'diag(f_t)'``),
    ``jacobian`` (the (H, H) matrix d src / d dst, computed by minigraph at the forward values),
    ``value`` (the mean of the diagonal for diagonal factors, else the spectral norm), ``flow``
    (``||dL/dsrc . jacobian||``: the gradient this edge carries into ``dst``) and ``gain``
    (``flow / ||dL/dsrc||``).  For every node the
    flows' vectors add up to its gradient.
    """
    run = _run(cell_kind, steps, forget_bias, seed, n_in, n_hidden, 1, cut_cell_path, inputs, init, dtype)
    probe, base = run["probe"], run["base"]
    n = run["x"].shape[0]
    H = n_hidden
    x = run["x"][:, 0].astype(dtype)
    grads = {k: g[:, 0] for k, g in run["grads"].items()}
    prev = [np.vstack([np.zeros((1, H)), run["states"][k][:-1, 0]]).astype(dtype) for k in probe.names]
    zeros = [np.zeros((n, H), dtype) for _ in probe.names]
    blocks = probe.jacobian_fn()(x, *prev, *zeros)
    edges = []

    def add(src, dst, key, jac, t, diagonal):
        g = grads[src[0]][src[1] - 1]
        value = float(np.mean(np.diag(jac))) if diagonal else float(np.linalg.norm(jac, 2))
        flow = float(np.linalg.norm(g @ jac))
        size = float(np.linalg.norm(g))
        edges.append(dict(src=src, dst=dst, key=key, label=EDGE_LABELS[key], jacobian=jac, value=value, flow=flow,
                          gain=flow / size if size > 0 else 0.0, t=t))

    for t in range(1, n + 1):
        i = t - 1
        if _has_cell_state(base):
            J_cc, J_ch, D, J_hh = (b[i] for b in blocks)
            add(("h", t), ("c", t), "hc", D, t, True)
            if t > 1:
                add(("c", t), ("c", t - 1), "cc_peep" if base == "peephole" else "cc", J_cc, t, True)
                add(("c", t), ("h", t - 1), "ch", J_ch, t, False)
                add(("h", t), ("h", t - 1), "hh_lstm", J_hh, t, False)
        elif t > 1:
            add(("h", t), ("h", t - 1), "hh_" + base, blocks[0][i], t, False)
    return dict(kind=_kind_name(base, run["cut"]), base=base, cut=run["cut"], steps=n, forget_bias=float(forget_bias),
                seed=int(seed), norms={k: np.linalg.norm(g, axis=1) for k, g in grads.items()}, grads=grads,
                gates=_gates(run), edges=edges, loss=run["loss"])


# --------------------------------------------------------------------------- the diagram

# pale grey-blue (the gradient has died) -> blue -> purple -> red (alive); one scale for all panels
_RAMP = ("#d9dde3", "#9ab4d6", "#4f79b8", "#6b3fa0", "#c2185b", "#d32f2f")


def _colormap():
    from matplotlib.colors import LinearSegmentedColormap
    return LinearSegmentedColormap.from_list("gradflow", _RAMP)


class _Scale:
    """Log-scale colour and pen width for gradient norms, shared by every panel."""

    def __init__(self, values, floor_exp=-16):
        logs = [math.log10(v) for v in values if v > 0 and math.isfinite(v)]
        hi = math.ceil(max(logs)) if logs else 0
        lo = math.floor(min(logs)) if logs else -1
        self.lo, self.hi = max(lo, floor_exp, hi - 16), hi
        if self.lo >= self.hi:
            self.lo = self.hi - 1
        self.cmap = _colormap()

    def frac(self, v):
        if not (v > 0 and math.isfinite(v)):
            return 0.0
        return min(1.0, max(0.0, (math.log10(v) - self.lo) / (self.hi - self.lo)))

    def color(self, v):
        from matplotlib.colors import to_hex
        return to_hex(self.cmap(self.frac(v)))

    def penwidth(self, v):
        return f"{0.6 + 5.4 * self.frac(v):.2f}"

    def font(self, v):
        return "white" if self.frac(v) > 0.45 else "black"

    def legend(self):
        """An HTML-like table: one coloured cell per decade."""
        step = 1 if self.hi - self.lo <= 12 else 2
        cells = []
        for e in range(self.lo, self.hi + 1, step):
            v = 10.0 ** e
            text = f"\u2264 1e{e}" if e == self.lo else f"1e{e}"
            cells.append(f'<TD BGCOLOR="{self.color(v)}" WIDTH="46"><FONT COLOR="{self.font(v)}" '
                         f'POINT-SIZE="10">{text}</FONT></TD>')
        return ('<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">'
                '<TR><TD BORDER="0" ALIGN="RIGHT"><FONT POINT-SIZE="11">gradient norm (log scale): </FONT></TD>'
                + "".join(cells) + '</TR></TABLE>>')


def _columns(n, max_columns, ends=3):
    """The steps drawn: all when n <= max_columns, else the first ``ends``, None (an ellipsis), the last ``ends``."""
    if n <= max_columns:
        return list(range(1, n + 1))
    ends = max(1, min(ends, (max_columns - 1) // 2))
    return list(range(1, ends + 1)) + [None] + list(range(n - ends + 1, n + 1))


def _sub(name, t):
    return f"{name}<SUB>{t}</SUB>"


def _fmt(v):
    return "0" if v == 0 else f"{v:.1e}".replace("e-0", "e-").replace("e+0", "e")


def unrolled_dot(cells=("rnn", "lstm"), steps=50, forget_bias=1.0, seed=0, n_in=DEFAULT_N_IN,
                 n_hidden=DEFAULT_N_HIDDEN, max_columns=12, init="glorot", ends=3, flows=None):
    """The unrolled gradient-flow diagram as a ``graphviz.Digraph`` (see ``render_unrolled``)."""
    import graphviz
    cells = [cells] if isinstance(cells, str) else list(cells)
    if flows is None:
        flows = [gradient_flow(k, steps, forget_bias, seed, n_in, n_hidden, init=init) for k in cells]
    n = flows[0]["steps"]
    cols = _columns(n, max_columns, ends)
    drawn = [t for t in cols if t is not None]
    values = [1.0]
    for fl in flows:
        for v in fl["norms"].values():
            values += [float(v[t - 1]) for t in drawn]
        values += [e["flow"] for e in fl["edges"] if e["src"][1] in drawn and e["dst"][1] in drawn]
    scale = _Scale(values)

    g = graphviz.Digraph(name="gradflow")
    g.attr(rankdir="LR", fontname="Helvetica", nodesep="0.3", ranksep="0.5", newrank="true", labelloc="b",
           label=scale.legend())
    g.attr("node", fontname="Helvetica", fontsize="11")
    g.attr("edge", fontname="Helvetica", fontsize="9", arrowsize="0.7")

    def col_id(t):
        return "gap" if t is None else str(t)

    # time axis: one plaintext header per drawn column, then the loss column
    axis = [f"axis_{col_id(t)}" for t in cols] + ["axis_loss"]
    for name, t in zip(axis, cols + ["L"]):
        text = (f"t = {t}" if isinstance(t, int) else "loss" if t == "L"
                else f"\u22ef {n - len(drawn)} steps \u22ef")
        g.node(name, text, shape="plaintext", fontsize="12", fontcolor="#555555")
    for a_, b_ in zip(axis, axis[1:]):
        g.edge(a_, b_, style="invis")

    column_tops = {t: [] for t in cols + ["L"]}  # per column, the first node of each panel (top to bottom)
    for fl in flows:
        base, cut = fl["base"], fl["cut"]
        p = fl["kind"].replace("-", "_")
        states = ["c", "h"] if _has_cell_state(base) else ["h"]
        rows = states + (["gates"] if fl["gates"] else [])

        def nid(state, t, p=p):
            return f"{p}_{state}_{col_id(t)}"

        title = TITLES[base]
        if _has_cell_state(base):
            title += f", forget-gate bias {fl['forget_bias']:g}"
            title += (" \u2014 cell path CUT by disconnected_grad(c_t\u22121)" if cut else
                      " \u2014 yellow band: the constant-error carousel c_t\u22121 \u2190 c_t")
        title += f".   \u2016\u2202L/\u2202h_1\u2016 = {_fmt(fl['norms']['h'][0])} after {n} steps"
        if _has_cell_state(base):
            title += f"\\lvertical edges h_t \u2192 c_t (inside a step): {EDGE_LABELS['hc']}\\l"
        with g.subgraph(name=f"cluster_{p}") as cl:
            cl.attr(label=title, labeljust="l", labelloc="t", fontsize="14", style="rounded", color="#888888",
                    fontname="Helvetica-Bold")
            def state_row(where, state):
                for t in cols:
                    if t is None:
                        where.node(nid(state, None), "\u22ef", shape="plaintext", fontsize="18")
                        continue
                    v = float(fl["norms"][state][t - 1])
                    where.node(nid(state, t), f'<{_sub(state, t)}<BR/><FONT POINT-SIZE="9">{_fmt(v)}</FONT>>',
                               shape="circle" if state == "h" else "box", style="filled" if state == "h" else
                               "filled,rounded", fillcolor=scale.color(v), fontcolor=scale.font(v),
                               color="#333333", penwidth="1.2", width="0.6")

            if "c" in states:  # the cell path on its band: the constant-error carousel
                with cl.subgraph(name=f"cluster_{p}_cec") as band:
                    band.attr(label="", style="rounded,filled", fillcolor="#eeeeee" if cut else "#fff4d6",
                              color="#bbbbbb" if cut else "#e0b040", penwidth="1.5")
                    state_row(band, "c")
            state_row(cl, "h")
            if fl["gates"]:  # compact gate activations (forward values), one small box per step
                for t in cols:
                    if t is None:
                        cl.node(nid("gates", None), "", shape="point", style="invis")
                        continue
                    text = "  ".join(f"{k} {v[t - 1]:.2f}".replace("0.", ".") for k, v in fl["gates"].items())
                    cl.node(nid("gates", t), text, shape="box", style="rounded,filled", fillcolor="#f3f3f3",
                            fontsize="9", color="#cccccc", fontcolor="#555555", height="0.22", margin="0.06,0.02")
        for state in rows:  # straight rows
            for a_, b_ in zip(cols, cols[1:]):
                g.edge(nid(state, a_), nid(state, b_), style="invis", weight="10")
        for t in cols:
            column_tops[t].append([nid(r, t) for r in rows])

        # the loss
        loss_id = f"{p}_loss"
        g.node(loss_id, f"<L = r\u00b7h<SUB>{n}</SUB>>", shape="doubleoctagon", style="filled",
               fillcolor="#f9d3cd", color="#c0504d", fontsize="10")
        column_tops["L"].append([loss_id])
        g.edge(nid("h", n), loss_id, dir="back", label="r  (\u2016r\u2016 = 1)", color=scale.color(1.0),
               penwidth=scale.penwidth(1.0))

        # backward edges; drawn with tail = the earlier step and dir=back, so the layout runs left to right
        for e in fl["edges"]:
            (s_state, s_t), (d_state, d_t) = e["src"], e["dst"]
            if s_t not in drawn or d_t not in drawn or (s_t != d_t and cols.index(s_t) != cols.index(d_t) + 1):
                continue
            diagonal = e["key"] in ("cc", "cc_peep", "hc")
            if diagonal:
                value = f"mean {e['value']:.2f}"
            else:  # the factor's spectral norm, and the gain it actually applies to this gradient
                value = f"\u2016\u00b7\u2016 {e['value']:.2f}, gain {e['gain']:.2f}"
            attrs = dict(dir="back", color=scale.color(e["flow"]), penwidth=scale.penwidth(e["flow"]),
                         label=f"{e['label']}\n{value}", fontcolor="#333333")
            if e["key"] in ("cc", "cc_peep"):
                attrs.update(weight="20")
                if cut:
                    attrs.update(style="dashed", color="#999999", penwidth="1", arrowtail="tee",
                                 label=f"{e['label']}\nCUT")
            if s_t == d_t:  # h_t -> c_t inside one step: its label is in the panel's title
                attrs.update(constraint="false")
                del attrs["label"]
            g.edge(nid(d_state, d_t), nid(s_state, s_t), **attrs)
        if None in cols:  # the ellipsis: dashed, coloured by the gradient at the hidden step next to it
            gi = cols.index(None)
            before, after = cols[gi - 1], cols[gi + 1]
            for state in states:
                v_in = float(fl["norms"][state][after - 2])   # step after - 1, the last hidden one
                v_out = float(fl["norms"][state][before])     # step before + 1, the first hidden one
                g.edge(nid(state, None), nid(state, after), dir="back", style="dashed", color=scale.color(v_in),
                       penwidth=scale.penwidth(v_in))
                g.edge(nid(state, before), nid(state, None), dir="back", style="dashed", color=scale.color(v_out),
                       penwidth=scale.penwidth(v_out))

    # every column on one rank, the axis above the panels, the panels in the order given
    for t in cols + ["L"]:
        order = [f"axis_{col_id(t)}" if t != "L" else "axis_loss"] + [x for grp in column_tops[t] for x in grp]
        with g.subgraph() as s_:
            s_.attr(rank="same")
            for x in order:
                s_.node(x)
        for a_, b_ in zip(order, order[1:]):
            g.edge(a_, b_, style="invis")
    return g


def render_unrolled(cells=("rnn", "lstm"), steps=50, forget_bias=1.0, path="flow.svg", seed=0, n_in=DEFAULT_N_IN,
                    n_hidden=DEFAULT_N_HIDDEN, max_columns=12, init="glorot", format=None, dpi=80, ends=3):
    """Draw the unrolled backward pass of each cell in ``cells``, one panel (cluster) per cell, to ``path``.

    One column per time step (with more than ``max_columns`` steps: the first few, an ellipsis and
    the last few; the norms are always computed over all ``steps``).  Nodes are the states h_t (and
    c_t), filled by ``||dL/dstate_t||``; backward edges are labelled with their local Jacobian
    (``diag(f_t)`` on the LSTM's cell path, ``diag(1-h_t^2) W_h`` on the RNN's) and its measured size,
    and coloured and thickened by the gradient they carry, on one log scale for every panel (the
    legend at the bottom).  The LSTM's cell path c_{t-1} <- c_t, the constant-error carousel, sits on a
    highlighted band.  Rendered with Graphviz's ``dot``; the format is the suffix of ``path``
    (svg, png, pdf, ...); ``dpi`` sets the resolution of bitmap formats.  Returns ``path``.
    """
    from minigraph.graphviz import render
    g = unrolled_dot(cells, steps, forget_bias, seed, n_in, n_hidden, max_columns, init, ends)
    if (format or os.path.splitext(str(path))[1][1:].lower()) in ("png", "jpg", "jpeg", "gif", "bmp"):
        g.attr(dpi=str(dpi))
    return render(g, path, format=format)


# --------------------------------------------------------------------------- plots

def _norm_curves(kind, steps, forget_bias, seeds, n_in, n_hidden, init, cut=False):
    """(stack (seeds, steps) of ||dL/dh_t||, same for c or None) reversed so index = lag T - t."""
    hs, cs = [], []
    for s in seeds:
        r = gradient_norms(kind, steps, forget_bias, s, n_in, n_hidden, cut_cell_path=cut, init=init)
        hs.append(r["h"][::-1])
        if "c" in r:
            cs.append(r["c"][::-1])
    return np.array(hs), (np.array(cs) if cs else None)


def _band(ax, data, color, label, linestyle="-"):
    """Geometric mean over seeds (a line) and min..max (a band); returns the band's lowest value."""
    tiny = np.finfo(np.float64).tiny
    logs = np.log10(np.maximum(data, tiny))
    lag = np.arange(data.shape[1])
    ax.plot(lag, 10 ** logs.mean(axis=0), color=color, lw=2, ls=linestyle, label=label)
    if data.shape[0] > 1:
        ax.fill_between(lag, 10 ** logs.min(axis=0), 10 ** logs.max(axis=0), color=color, alpha=0.15, lw=0)
    return float(10 ** logs.min())


def _fb_color(fb):
    """One colour per forget-gate bias, the same in every plot: the larger the bias, the darker."""
    shades = {0.0: "#9ecae1", 1.0: "#3182bd", 2.0: "#1c5a99", 3.0: "#08306b"}
    return shades.get(float(fb), "#555555")


_PNG_METADATA = {"Software": None}  # no matplotlib version in the file: regenerating gives the same bytes
_CELL_COLORS = {"rnn": "#d62728", "gru": "#2ca02c"}
_CUT_COLOR = "#ff7f0e"


def _seeds(seed, seeds):
    return list(range(int(seed), int(seed) + int(seeds)))


def _finish_axes(axes, steps, lows, cut_curves):
    """Log y axes whose range fits the ordinary curves; a cut curve that falls below it is noted, not drawn
    out to 1e-30 (it would squash everything else into the top of the plot)."""
    bottom = 10.0 ** (math.floor(math.log10(max(min(lows), 1e-300))) - 1) if lows else None
    for ax in axes:
        ax.set_yscale("log")
        ax.set_xlabel("time lag T \u2212 t (steps back from the loss)")
        ax.grid(True, which="major", alpha=0.3)
        ax.set_xlim(0, steps - 1)
        if bottom is not None:
            ax.set_ylim(bottom, 10.0)
    for ax, data, color in cut_curves:
        end = 10 ** np.log10(np.maximum(data[:, -1], np.finfo(np.float64).tiny)).mean()
        if bottom is not None and end < bottom:
            ax.annotate(f"cell path cut: {end:.0e} at lag {steps - 1}\n(off the bottom of the scale)",
                        xy=(0.98, 0.04), xycoords="axes fraction", ha="right", va="bottom", fontsize=8,
                        color=color, bbox=dict(boxstyle="round", fc="white", ec=color, alpha=0.9))


def plot_norms(cells=("rnn", "gru", "lstm"), steps=50, forget_biases=(0.0, 1.0, 3.0), seeds=5, path="norms.png",
               seed=0, n_in=DEFAULT_N_IN, n_hidden=DEFAULT_N_HIDDEN, init="glorot", ablation=True):
    """Plot ||dL/dh_t|| (left) and ||dL/dc_t|| (right) against the lag T - t, log y axis.

    Each curve is the geometric mean over ``seeds`` random initialisations (and inputs), the band
    their min..max; the LSTMs are drawn for each of ``forget_biases``; with ``ablation`` also the
    LSTM whose cell path is cut (``disconnected_grad`` on c_{t-1}) at forget bias 1 (or the middle
    one given).  The y range fits the other curves (the cut one falls far below: its end value is
    written in the corner).  Writes ``path`` with matplotlib's Agg backend and returns it.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cells = [cells] if isinstance(cells, str) else list(cells)
    seed_list = _seeds(seed, seeds)
    has_c = any(_has_cell_state(_parse_kind(k)[0]) for k in cells)
    fig, axes = plt.subplots(1, 2 if has_c else 1, figsize=(12 if has_c else 7, 4.8), sharey=True, squeeze=False)
    axes = axes[0]
    ab_fb = 1.0 if 1.0 in forget_biases else forget_biases[len(forget_biases) // 2]
    lows, cuts = [], []
    for kind in cells:
        base, _ = _parse_kind(kind)
        if _has_cell_state(base):
            name = "LSTM" if base == "lstm" else "peephole LSTM"
            ls = "-" if base == "lstm" else "-."
            for fb in forget_biases:
                hs, cs = _norm_curves(base, steps, fb, seed_list, n_in, n_hidden, init)
                lows.append(_band(axes[0], hs, _fb_color(fb), f"{name}, forget bias {fb:g}", ls))
                lows.append(_band(axes[1], cs, _fb_color(fb), f"{name}, forget bias {fb:g}", ls))
            if ablation and base == "lstm":
                hs, cs = _norm_curves(base, steps, ab_fb, seed_list, n_in, n_hidden, init, cut=True)
                _band(axes[0], hs, _CUT_COLOR, f"LSTM, bias {ab_fb:g}, cell path cut", "--")
                _band(axes[1], cs, _CUT_COLOR, f"LSTM, bias {ab_fb:g}, cell path cut", "--")
                cuts += [(axes[0], hs, _CUT_COLOR), (axes[1], cs, _CUT_COLOR)]
        else:
            hs, _ = _norm_curves(base, steps, 0.0, seed_list, n_in, n_hidden, init)
            lows.append(_band(axes[0], hs, _CELL_COLORS[base], TITLES[base]))
    axes[0].set_title("\u2016\u2202L/\u2202h$_t$\u2016: gradient reaching the hidden state")
    if has_c:
        axes[1].set_title("\u2016\u2202L/\u2202c$_t$\u2016: gradient reaching the LSTM cell state")
    _finish_axes(axes, steps, lows, cuts)
    axes[0].set_ylabel("gradient norm (log)")
    axes[0].legend(fontsize=8, loc="lower left")
    fig.suptitle(f"Gradient of a loss at step T = {steps} ({n_hidden} hidden units, {init} init): "
                 f"geometric mean over {len(seed_list)} seeds, band = min..max", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata=_PNG_METADATA if str(path).lower().endswith(".png") else None)
    plt.close(fig)
    return path


def plot_ablation(steps=50, forget_biases=(1.0, 3.0), seeds=5, path="ablation.png", seed=0, n_in=DEFAULT_N_IN,
                  n_hidden=DEFAULT_N_HIDDEN, init="glorot"):
    """The ablation: the LSTM with and without its cell path (c_{t-1} through disconnected_grad),
    the plain RNN for reference; same layout as ``plot_norms``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    seed_list = _seeds(seed, seeds)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    for fb in forget_biases:
        hs, cs = _norm_curves("lstm", steps, fb, seed_list, n_in, n_hidden, init)
        hs_cut, cs_cut = _norm_curves("lstm", steps, fb, seed_list, n_in, n_hidden, init, cut=True)
        col = _fb_color(fb)
        _band(axes[0], hs, col, f"LSTM, forget bias {fb:g}")
        _band(axes[0], hs_cut, col, f"cell path cut, forget bias {fb:g}", "--")
        _band(axes[1], cs, col, f"LSTM, forget bias {fb:g}")
        _band(axes[1], cs_cut, col, f"cell path cut, forget bias {fb:g}", "--")
    rnn, _ = _norm_curves("rnn", steps, 0.0, seed_list, n_in, n_hidden, init)
    _band(axes[0], rnn, _CELL_COLORS["rnn"], "plain RNN (for reference)", ":")
    axes[0].set_title("\u2016\u2202L/\u2202h$_t$\u2016")
    axes[1].set_title("\u2016\u2202L/\u2202c$_t$\u2016")
    _finish_axes(axes, steps, [], [])
    axes[0].set_ylabel("gradient norm (log)")
    axes[0].legend(fontsize=8, loc="lower left")
    fig.suptitle("Ablation: mg.disconnected_grad(c$_{t-1}$) inside the LSTM step cuts the constant-error carousel "
                 f"(T = {steps}, {len(seed_list)} seeds, band = min..max)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata=_PNG_METADATA if str(path).lower().endswith(".png") else None)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- command line

def _cell_list(text):
    items = [s.strip() for s in text.split(",") if s.strip()]
    if items == ["all"]:
        return ["rnn", "gru", "lstm", "peephole"]
    for s in items:
        try:
            _parse_kind(s)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    if not items:
        raise argparse.ArgumentTypeError("give at least one cell")
    return items


DIAGRAM_FORMATS = ("svg", "png", "pdf", "jpg", "jpeg", "gif", "ps", "eps")  # what graphviz writes for --out


def add_arguments(parser):
    """The options of ``lstm gradflow`` (also ``python -m lstm.gradflow``)."""
    parser.add_argument("--cell", type=_cell_list, default=["rnn", "lstm"], metavar="KIND",
                        help="lstm | rnn | gru | peephole | all, or a comma-separated list (default: rnn,lstm)")
    parser.add_argument("--steps", type=positive_int, default=50, help="sequence length T (default 50)")
    parser.add_argument("--forget-bias", type=finite_float, default=1.0, help="LSTM forget-gate bias (default 1.0)")
    parser.add_argument("--seed", type=seed_int, default=0, help="seed of the weights and the input (default 0)")
    parser.add_argument("--seeds", type=positive_int, default=5, help="initialisations averaged in --plot (default 5)")
    parser.add_argument("--hidden", type=positive_int, default=DEFAULT_N_HIDDEN, help="hidden units (default 20)")
    parser.add_argument("--inputs", type=positive_int, default=DEFAULT_N_IN, help="input size (default 4)")
    parser.add_argument("--init", choices=("glorot", "orthogonal", "tutorial"), default="glorot",
                        help="weight initialisation (default glorot)")
    parser.add_argument("--out", default="flow.svg", type=image_path(DIAGRAM_FORMATS, "diagram"),
                        help="the unrolled diagram; .svg, .png, .pdf ... by suffix (default flow.svg)")
    parser.add_argument("--columns", type=positive_int, default=12,
                        help="most time steps drawn in the diagram before an ellipsis (default 12)")
    parser.add_argument("--json", action="store_true",
                        help="print the per-step norms as one JSON object instead of drawing")
    parser.add_argument("--plot", metavar="PNG", help="also plot the norms against the lag to this file")
    parser.add_argument("--ablation", action="store_true",
                        help="add the LSTM with its cell path cut (disconnected_grad on c_t-1)")
    return parser


def run_command(args, out=None):
    """Carry out parsed ``lstm gradflow`` arguments; returns the exit status."""
    out = out or sys.stdout
    cells = list(dict.fromkeys(args.cell))
    if args.ablation:
        for k in list(cells):
            if k in ("lstm", "peephole") and k + "-cut" not in cells:
                cells.append(k + "-cut")
        if not any(k.endswith("-cut") for k in cells):
            cells.append("lstm-cut")
    kw = dict(steps=args.steps, forget_bias=args.forget_bias, seed=args.seed, n_in=args.inputs,
              n_hidden=args.hidden, init=args.init)
    if args.json:
        result = {}
        for k in cells:
            r = gradient_norms(k, **kw)
            result[k] = {s: [float(v) for v in r[s]] for s in ("h", "c") if s in r}
        out.write(json.dumps(result) + "\n")
        return 0
    render_unrolled(cells, path=args.out, max_columns=args.columns, **kw)
    out.write(f"wrote {args.out}: gradient flow of a loss at step T = {args.steps} "
              f"({', '.join(cells)}; forget-gate bias {args.forget_bias:g}, seed {args.seed})\n")
    norms = {k: gradient_norms(k, **kw) for k in dict.fromkeys(cells + ["rnn", "lstm"])}
    for k in cells:
        r = norms[k]
        extra = f"   ||dL/dc_1|| = {r['c'][0]:.3e}" if "c" in r else ""
        out.write(f"  {k:<12} ||dL/dh_1|| = {r['h'][0]:.3e}{extra}\n")
    ratio = norms["lstm"]["h"][0] / max(norms["rnn"]["h"][0], np.finfo(float).tiny)
    out.write(f"  ||dL/dh_1|| LSTM (forget bias {args.forget_bias:g}) / RNN, same input: {ratio:.3g} "
              f"(10^{math.log10(ratio):.1f})\n")
    if args.plot:
        plot_norms([k for k in cells if not k.endswith("-cut")], args.steps, seeds=args.seeds, path=args.plot,
                   seed=args.seed, n_in=args.inputs, n_hidden=args.hidden, init=args.init,
                   ablation=args.ablation or "lstm" in cells)
        out.write(f"wrote {args.plot}\n")
    return 0


def main(argv=None):
    """``lstm gradflow ...``: draw / print the gradient flow of RNN and LSTM cells."""
    parser = add_arguments(argparse.ArgumentParser(
        prog="lstm gradflow",
        description="Why the LSTM's cell state keeps gradients alive: per-step gradient norms of a loss at the "
                    "last step, computed by minigraph's backward scan, drawn as an unrolled diagram."))
    args = parser.parse_args(argv)
    try:
        return run_command(args)
    except (OSError, RuntimeError, ValueError) as exc:
        print(f"lstm gradflow: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
