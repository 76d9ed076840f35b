"""Regenerate every committed figure under docs/img/ (and print the numbers quoted in the docs).

    python docs/make_figures.py                 # all figures, then the numbers
    python docs/make_figures.py norms ablation  # only the named ones (see FIGURES)
    python docs/make_figures.py numbers         # only the numbers quoted in docs/why_lstm.md

The figures are deterministic (fixed seeds, float64); PNGs are kept small (< ~300 KB) by their
dpi.  Each figure is one function in FIGURES, so a new one is one more entry.
"""
import json
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")

from lstm import gradflow  # noqa: E402

IMG = ROOT / "docs" / "img"
STEPS = 50
SEEDS = 5


def _diagram(name, cells, dpi=80):
    written = []
    for suffix in ("svg", "png"):
        path = IMG / f"{name}.{suffix}"
        gradflow.render_unrolled(cells, steps=STEPS, forget_bias=1.0, path=str(path), seed=0, dpi=dpi)
        written.append(path)
    return written


def gradflow_rnn_vs_lstm():
    """The centrepiece: a plain RNN and an LSTM (forget bias 1), 50 steps, one shared colour scale."""
    return _diagram("gradflow_rnn_vs_lstm", ("rnn", "lstm"), dpi=90)


def gradflow_all_cells():
    """RNN, GRU, LSTM and the peephole LSTM on the same input."""
    return _diagram("gradflow_all_cells", ("rnn", "gru", "lstm", "peephole"))


def gradflow_ablation():
    """The LSTM next to the same LSTM with disconnected_grad on c_{t-1}."""
    return _diagram("gradflow_ablation", ("lstm", "lstm-cut"))


def norms():
    path = IMG / "norms.png"
    gradflow.plot_norms(("rnn", "gru", "lstm"), STEPS, forget_biases=(0.0, 1.0, 3.0), seeds=SEEDS, path=str(path))
    return [path]


def ablation():
    path = IMG / "ablation.png"
    gradflow.plot_ablation(STEPS, forget_biases=(1.0, 3.0), seeds=SEEDS, path=str(path))
    return [path]


def stock():
    """docs/img/stock.png, as docs/stock.md describes: the stock example's plot (a ~10-40 s training run)."""
    import subprocess
    path = IMG / "stock.png"
    subprocess.run([sys.executable, "-m", "lstm", "stock", "--out", str(path)], cwd=ROOT, check=True,
                   env=dict(os.environ, PYTHONPATH=str(ROOT)))
    return [path]


FIGURES = {f.__name__: f for f in (gradflow_rnn_vs_lstm, gradflow_all_cells, gradflow_ablation, norms, ablation,
                                   stock)}


def numbers():
    """The measurements quoted in docs/why_lstm.md (seed 0 and the geometric mean over seeds 0..4)."""
    import numpy as np
    out = {}
    for kind, fb in (("rnn", 1.0), ("gru", 1.0), ("lstm", 0.0), ("lstm", 1.0), ("lstm", 3.0), ("peephole", 1.0),
                     ("lstm-cut", 1.0)):
        runs = [gradflow.gradient_norms(kind, STEPS, forget_bias=fb, seed=s) for s in range(SEEDS)]
        key = kind if kind in ("rnn", "gru") else f"{kind} fb={fb:g}"
        out[key] = {"seed0_h1": float(runs[0]["h"][0]),
                    "geomean_h1": float(10 ** np.mean([np.log10(r["h"][0]) for r in runs]))}
        if "c" in runs[0]:
            out[key]["seed0_c1"] = float(runs[0]["c"][0])
    out["ratio lstm(fb=1)/rnn seed0"] = out["lstm fb=1"]["seed0_h1"] / out["rnn"]["seed0_h1"]
    out["ratio lstm(fb=1)/rnn geomean"] = out["lstm fb=1"]["geomean_h1"] / out["rnn"]["geomean_h1"]
    out["ratio lstm(fb=1)/lstm-cut seed0"] = out["lstm fb=1"]["seed0_h1"] / out["lstm-cut fb=1"]["seed0_h1"]
    flow = gradflow.gradient_flow("lstm", STEPS, forget_bias=1.0, seed=0)
    out["lstm fb=1 mean f_t"] = float(np.mean(flow["gates"]["f"]))
    return out


def main(argv=None):
    names = list(argv if argv is not None else sys.argv[1:]) or list(FIGURES)
    unknown = [n for n in names if n not in FIGURES and n != "numbers"]
    if unknown:
        raise SystemExit(f"unknown figure(s) {', '.join(unknown)}; choose from {', '.join(FIGURES)}, numbers")
    IMG.mkdir(parents=True, exist_ok=True)
    for name in names:
        if name == "numbers":
            continue
        for path in FIGURES[name]():
            print(f"{path.relative_to(ROOT)}  {path.stat().st_size / 1024:.0f} KB")
    print(json.dumps(numbers(), indent=2))


if __name__ == "__main__":
    main()
