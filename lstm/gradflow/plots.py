"""Curves of the gradient flow, drawn with matplotlib: norms against the lag, the ablation, and
exploding gradients with and without norm clipping.

Each curve is the geometric mean over several random initialisations (each with its own
input), the band their min..max, on a log y axis.  Every cell kind has its own colour family
(the LSTMs one shade per forget-gate bias), the same in every plot.
"""
from __future__ import annotations

import math

import numpy as np

from ..cells import CELLS
from ..files import save_figure_atomic
from .measure import DEFAULT_N_HIDDEN, DEFAULT_N_IN, gradient_norms, parse_kind

__all__ = ["plot_norms", "plot_ablation", "plot_exploding", "curve_color"]

# per kind: shades for increasing forget-gate bias (lighter = smaller bias); one colour for the others
_SHADES = {
    "lstm": ("#9ecae1", "#3182bd", "#1c5a99", "#08306b"),
    "peephole": ("#c7b9e2", "#8c6bb1", "#6a3d9a", "#3f007d"),
}
_COLORS = {"rnn": "#d62728", "gru": "#2ca02c", "lstm1997": "#8c564b"}
_CUT_COLOR = "#ff7f0e"
_LINESTYLE = {"peephole": "-.", "lstm1997": (0, (5, 1.5))}


def curve_color(kind, forget_bias=1.0):
    """The colour of a kind's curve (for the LSTMs: a shade per forget-gate bias 0, 1, 2, 3)."""
    if kind in _SHADES:
        shades = _SHADES[kind]
        k = {0.0: 0, 1.0: 1, 2.0: 2, 3.0: 3}.get(float(forget_bias))
        return shades[k] if k is not None else shades[min(3, max(0, int(round(forget_bias))))]
    return _COLORS.get(kind, "#555555")


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _seeds(seed, seeds):
    return list(range(int(seed), int(seed) + int(seeds)))


def _norm_curves(kind, steps, forget_bias, seeds, n_in, n_hidden, init, cut=False, weight_scale=1.0):
    """(stack (seeds, steps) of ||dL/dh_t||, same for c or None) reversed so index = lag T - t."""
    hs, cs = [], []
    for s in seeds:
        r = gradient_norms(kind, steps, forget_bias, s, n_in, n_hidden, cut_cell_path=cut, init=init,
                           weight_scale=weight_scale)
        hs.append(r["h"][::-1])
        if "c" in r:
            cs.append(r["c"][::-1])
    return np.array(hs), (np.array(cs) if cs else None)


def _band(ax, data, color, label, linestyle="-"):
    """Geometric mean over seeds (a line) and min..max (a band); returns the band's lowest value."""
    tiny = np.finfo(np.float64).tiny
    logs = np.log10(np.clip(data, tiny, np.finfo(np.float64).max))
    lag = np.arange(data.shape[1])
    ax.plot(lag, 10 ** logs.mean(axis=0), color=color, lw=2, ls=linestyle, label=label)
    if data.shape[0] > 1:
        ax.fill_between(lag, 10 ** logs.min(axis=0), 10 ** logs.max(axis=0), color=color, alpha=0.15, lw=0)
    return float(10 ** logs.min())


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


def _save(fig, path):
    """Write the figure with ``lstm.files.save_figure_atomic`` (format by suffix, our mark in its
    metadata, never over a file this program did not write) and close it."""
    plt = _pyplot()
    try:
        save_figure_atomic(fig, str(path))
    finally:
        plt.close(fig)
    return path


def _plot_kind(axes, kind, steps, forget_biases, seed_list, n_in, n_hidden, init, ablation_fb):
    """The curves of one kind (one per forget bias for the LSTMs); returns (lows, cut curves)."""
    cell = parse_kind(kind).cell
    lows, cuts = [], []
    if not cell.has_cell_state:
        hs, _ = _norm_curves(cell.name, steps, 0.0, seed_list, n_in, n_hidden, init)
        return [_band(axes[0], hs, curve_color(cell.name), cell.label)], cuts
    biases = forget_biases if cell.has_forget_gate else (None,)
    for fb in biases:
        hs, cs = _norm_curves(cell.name, steps, fb or 0.0, seed_list, n_in, n_hidden, init)
        label = cell.label + (f", forget bias {fb:g}" if fb is not None else "")
        style = _LINESTYLE.get(cell.name, "-")
        lows.append(_band(axes[0], hs, curve_color(cell.name, fb or 0.0), label, style))
        lows.append(_band(axes[1], cs, curve_color(cell.name, fb or 0.0), label, style))
    if ablation_fb is not None and cell.name == "lstm":
        hs, cs = _norm_curves(cell.name, steps, ablation_fb, seed_list, n_in, n_hidden, init, cut=True)
        _band(axes[0], hs, _CUT_COLOR, f"LSTM, bias {ablation_fb:g}, cell path cut", "--")
        _band(axes[1], cs, _CUT_COLOR, f"LSTM, bias {ablation_fb:g}, cell path cut", "--")
        cuts += [(axes[0], hs, _CUT_COLOR), (axes[1], cs, _CUT_COLOR)]
    return lows, cuts


def plot_norms(cells=("rnn", "gru", "lstm"), steps=50, forget_biases=(0.0, 1.0, 3.0), seeds=5, path="norms.png",
               seed=0, n_in=DEFAULT_N_IN, n_hidden=DEFAULT_N_HIDDEN, init="glorot", ablation=True):
    """Plot ||dL/dh_t|| (left) and ||dL/dc_t|| (right) against the lag T - t, log y axis.

    Each curve is the geometric mean over ``seeds`` random initialisations (and inputs), the band
    their min..max; the LSTMs with a forget gate are drawn for each of ``forget_biases``; with
    ``ablation`` also the LSTM whose cell path is cut (``disconnected_grad`` on c_{t-1}) at forget
    bias 1 (or the middle one given).  The y range fits the other curves (the cut one falls far
    below: its end value is written in the corner).  Writes ``path`` and returns it.
    """
    plt = _pyplot()
    cells = [cells] if isinstance(cells, str) else list(cells)
    forget_biases = tuple(forget_biases)
    seed_list = _seeds(seed, seeds)
    has_c = any(parse_kind(k).cell.has_cell_state for k in cells)
    fig, axes = plt.subplots(1, 2 if has_c else 1, figsize=(12 if has_c else 7, 4.8), sharey=True, squeeze=False)
    axes = axes[0]
    ab_fb = (1.0 if 1.0 in forget_biases else forget_biases[len(forget_biases) // 2]) if ablation else None
    lows, cuts = [], []
    for kind in cells:
        more_lows, more_cuts = _plot_kind(axes, kind, steps, forget_biases, seed_list, n_in, n_hidden, init, ab_fb)
        lows += more_lows
        cuts += more_cuts
    axes[0].set_title("\u2016\u2202L/\u2202h$_t$\u2016: gradient reaching the hidden state")
    if has_c:
        axes[1].set_title("\u2016\u2202L/\u2202c$_t$\u2016: gradient reaching the LSTM cell state")
    _finish_axes(axes, steps, lows, cuts)
    axes[0].set_ylabel("gradient norm (log)")
    axes[0].legend(fontsize=8, loc="lower left")
    fig.suptitle(f"Gradient of a loss at step T = {steps} ({n_hidden} hidden units, {init} init): "
                 f"geometric mean over {len(seed_list)} seeds, band = min..max", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def plot_ablation(steps=50, forget_biases=(1.0, 3.0), seeds=5, path="ablation.png", seed=0, n_in=DEFAULT_N_IN,
                  n_hidden=DEFAULT_N_HIDDEN, init="glorot"):
    """The ablation: the LSTM with and without its cell path (c_{t-1} through disconnected_grad),
    the plain RNN for reference; same layout as ``plot_norms``."""
    plt = _pyplot()
    seed_list = _seeds(seed, seeds)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    for fb in forget_biases:
        hs, cs = _norm_curves("lstm", steps, fb, seed_list, n_in, n_hidden, init)
        hs_cut, cs_cut = _norm_curves("lstm", steps, fb, seed_list, n_in, n_hidden, init, cut=True)
        col = curve_color("lstm", fb)
        _band(axes[0], hs, col, f"LSTM, forget bias {fb:g}")
        _band(axes[0], hs_cut, col, f"cell path cut, forget bias {fb:g}", "--")
        _band(axes[1], cs, col, f"LSTM, forget bias {fb:g}")
        _band(axes[1], cs_cut, col, f"cell path cut, forget bias {fb:g}", "--")
    rnn, _ = _norm_curves("rnn", steps, 0.0, seed_list, n_in, n_hidden, init)
    _band(axes[0], rnn, curve_color("rnn"), "plain RNN (for reference)", ":")
    axes[0].set_title("\u2016\u2202L/\u2202h$_t$\u2016")
    axes[1].set_title("\u2016\u2202L/\u2202c$_t$\u2016")
    _finish_axes(axes, steps, [], [])
    axes[0].set_ylabel("gradient norm (log)")
    axes[0].legend(fontsize=8, loc="lower left")
    fig.suptitle("Ablation: mg.disconnected_grad(c$_{t-1}$) inside the LSTM step cuts the constant-error carousel "
                 f"(T = {steps}, {len(seed_list)} seeds, band = min..max)", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def plot_exploding(scales=(0.5, 1.0, 2.0, 4.0), steps=50, seeds=5, runs=None, path="exploding.png", seed=0,
                   n_in=DEFAULT_N_IN, n_hidden=DEFAULT_N_HIDDEN, init="glorot", kind="rnn"):
    """Exploding gradients and norm clipping (Pascanu, Mikolov & Bengio 2013).

    Left: ``||dL/dh_t||`` of ``kind`` against the lag, its recurrent weights times each of
    ``scales``.  Right (when ``runs`` -- results of ``exploding.clipping_runs`` -- are given):
    the training loss per update with and without clipping, and the gradient norm before clipping.
    """
    plt = _pyplot()
    seed_list = _seeds(seed, seeds)
    ncols = 3 if runs else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6.2 * ncols, 4.6), squeeze=False)
    axes = axes[0]
    cmap = plt.get_cmap("coolwarm")
    for k, s in enumerate(scales):
        hs, _ = _norm_curves(kind, steps, 1.0, seed_list, n_in, n_hidden, init, weight_scale=s)
        _band(axes[0], hs, cmap(k / max(1, len(scales) - 1)), f"W$_h$ \u00d7 {s:g}")
    axes[0].set_yscale("log")
    axes[0].set_xlim(0, steps - 1)
    axes[0].set_xlabel("time lag T \u2212 t (steps back from the loss)")
    axes[0].set_ylabel("\u2016\u2202L/\u2202h$_t$\u2016 (log)")
    axes[0].set_title(f"{CELLS[kind].label}: scaling W$_h$ turns vanishing into exploding")
    axes[0].grid(True, which="major", alpha=0.3)
    axes[0].legend(fontsize=8, loc="upper left")
    if runs:
        _plot_clipping(axes[1], axes[2], runs)
    fig.suptitle(f"Exploding gradients ({n_hidden} hidden units, {len(seed_list)} seeds, band = min..max) and "
                 "gradient-norm clipping, after Pascanu, Mikolov & Bengio (2013)", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


_CLIP_TOP = 1e6  # the unclipped run climbs to ~1e256: above this it is written, not drawn


def _plot_clipping(ax_loss, ax_norm, runs):
    for run in runs:
        color, name = (("#d62728", "no clipping") if run["clip"] is None else
                       ("#1f77b4", f"clipped at norm {run['clip']:g}"))
        steps = np.arange(1, len(run["loss"]) + 1)
        ax_loss.plot(steps, run["loss"], color=color, lw=1.2, label=name)
        ax_norm.plot(steps, run["grad_norm"], color=color, lw=1.0, label=name)
        for ax, values in ((ax_loss, run["loss"]), (ax_norm, run["grad_norm"])):
            top = np.nanmax(np.where(np.isfinite(values), values, np.nan))
            if top > _CLIP_TOP:
                ax.annotate(f"{name}: up to {top:.1e} (off the scale)", xy=(0.98, 0.96), xycoords="axes fraction",
                            ha="right", va="top", fontsize=8, color=color,
                            bbox=dict(boxstyle="round", fc="white", ec=color, alpha=0.9))
        if run["diverged_at"] is not None:
            ax_loss.axvline(run["diverged_at"], color=color, ls=":", lw=1)
            ax_loss.annotate(f"non-finite after {run['diverged_at']} updates", xy=(run["diverged_at"], 0.5),
                             xycoords=("data", "axes fraction"), rotation=90, fontsize=8, color=color, ha="right")
    r0 = runs[0]
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("update")
    ax_loss.set_ylabel("training loss (MSE, log)")
    ax_loss.set_title(f"adding task T = {r0['length']}, W$_h$ \u00d7 {r0['weight_scale']:g}, SGD lr {r0['lr']:g}")
    ax_norm.set_yscale("log")
    ax_norm.set_xlabel("update")
    ax_norm.set_ylabel("\u2016\u2202L/\u2202\u03b8\u2016 before clipping (log)")
    ax_norm.set_title("gradient norm per update")
    for ax, key in ((ax_loss, "loss"), (ax_norm, "grad_norm")):
        values = np.concatenate([r[key] for r in runs])
        low = np.min(values[np.isfinite(values) & (values > 0)], initial=1.0)
        ax.set_ylim(10.0 ** (math.floor(math.log10(low)) - 0.5), _CLIP_TOP)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8, loc="center right")


def plot_flows(flows, path="flows.png"):
    """The norms of ready ``gradient_flow`` results (e.g. a network before and after training)
    against the lag: ||dL/dh_t|| left, ||dL/dc_t|| right (when a flow has a cell state)."""
    plt = _pyplot()
    has_c = any("c" in fl["norms"] for fl in flows)
    fig, axes = plt.subplots(1, 2 if has_c else 1, figsize=(12 if has_c else 7, 4.8), sharey=True, squeeze=False)
    axes = axes[0]
    palette = ("#9ecae1", "#08306b", "#d62728", "#2ca02c", "#8c564b", "#ff7f0e")
    steps = flows[0]["steps"]
    for k, fl in enumerate(flows):
        label = fl.get("title") or fl["label"]
        for ax, state in zip(axes, ("h", "c")):
            if state in fl["norms"]:
                _band(ax, fl["norms"][state][::-1][None, :], palette[k % len(palette)], label)
    axes[0].set_title("\u2016\u2202L/\u2202h$_t$\u2016")
    if has_c:
        axes[1].set_title("\u2016\u2202L/\u2202c$_t$\u2016")
    _finish_axes(axes, steps, [], [])
    axes[0].set_ylim(None, None)
    axes[0].set_ylabel("gradient norm (log)")
    axes[0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return _save(fig, path)
