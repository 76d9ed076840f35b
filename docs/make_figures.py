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
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")

from lstm import gradflow  # noqa: E402

IMG = ROOT / "docs" / "img"
STEPS = 50
SEEDS = 5


COLUMNS = 6  # steps drawn in the diagrams: the first three, an ellipsis, the last three


def _diagram(name, cells, dpi=80, **kwargs):
    written = []
    steps = kwargs.pop("steps", STEPS)
    for suffix in ("svg", "png"):
        path = IMG / f"{name}.{suffix}"
        gradflow.render_unrolled(cells, steps=steps, forget_bias=1.0, path=str(path), seed=0, dpi=dpi,
                                 max_columns=COLUMNS, **kwargs)
        written.append(path)
    return written


def gradflow_rnn_vs_lstm():
    """The centrepiece: a plain RNN and an LSTM (forget bias 1), 50 steps, one shared colour scale."""
    return _diagram("gradflow_rnn_vs_lstm", ("rnn", "lstm"), dpi=90)


def gradflow_all_cells():
    """RNN, GRU, LSTM, the peephole LSTM and the 1997 LSTM without a forget gate, on the same input."""
    return _diagram("gradflow_all_cells", ("rnn", "gru", "lstm", "peephole", "lstm1997"), dpi=66)


TRAINED = dict(task="adding", length=20, cell="lstm", forget_bias=0.0, seed=0)  # solved in ~16k sequences


def _trained_flows():
    """The LSTM of TRAINED before and after training (run_task writes the checkpoint, gradflow reads it)."""
    from lstm.tasks import TaskConfig, run_task
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "adding.npz")
        result = run_task(TaskConfig(**TRAINED, checkpoint=path))
        trained = gradflow.read_trained(path)
    x = trained.inputs(TRAINED["length"], seed=0)
    flows = []
    for when, cell in (("before", trained.before), ("after", trained.after)):
        fl = gradflow.gradient_flow("lstm", TRAINED["length"], inputs=x, cell=cell, readout=trained.readout)
        fl.update(panel=when, title=f"LSTM (forget bias 0) {when} training"
                  + (f" ({trained.what}, {'solved' if result.solved else 'not solved'})" if when == "after" else ""))
        flows.append(fl)
    return flows, result


def gradflow_trained():
    """`lstm task adding --length 20 --forget-bias 0 --checkpoint F` then `lstm gradflow --checkpoint F`."""
    flows, _ = _trained_flows()
    return _diagram("gradflow_trained", None, flows=flows, steps=TRAINED["length"])


def exploding():
    """The RNN with W_h scaled, and training with / without norm clipping (Pascanu et al. 2013)."""
    path = IMG / "exploding.png"
    runs = [gradflow.clipping_run(clip) for clip in (None, 1.0)]
    gradflow.plot_exploding(scales=(0.5, 1.0, 2.0, 4.0), steps=STEPS, seeds=SEEDS, runs=runs, path=str(path))
    return [path]


def op_graph():
    """minigraph's gradient graph dL/dc_0 of a 3-step LSTM, the cell-state path in gold (SVG only: a
    bitmap of ~300 nodes would be megabytes)."""
    path = IMG / "op_graph.svg"
    gradflow.render_op_graph(str(path), "lstm", 3)
    return [path]


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


FIGURES = {f.__name__: f for f in (gradflow_rnn_vs_lstm, gradflow_all_cells, gradflow_ablation, gradflow_trained,
                                   norms, ablation, exploding, op_graph, stock)}


def numbers():
    """The measurements quoted in docs/why_lstm.md (seed 0 and the geometric mean over seeds 0..4)."""
    import numpy as np
    out = {}
    for kind, fb in (("rnn", 1.0), ("gru", 1.0), ("lstm", 0.0), ("lstm", 1.0), ("lstm", 3.0), ("peephole", 1.0),
                     ("lstm1997", 1.0), ("lstm-cut", 1.0)):
        runs = [gradflow.gradient_norms(kind, STEPS, forget_bias=fb, seed=s) for s in range(SEEDS)]
        key = kind if kind in ("rnn", "gru", "lstm1997") else f"{kind} fb={fb:g}"
        out[key] = {"seed0_h1": float(runs[0]["h"][0]),
                    "geomean_h1": float(10 ** np.mean([np.log10(r["h"][0]) for r in runs]))}
        if "c" in runs[0]:
            out[key]["seed0_c1"] = float(runs[0]["c"][0])
    out["ratio lstm(fb=1)/rnn seed0"] = out["lstm fb=1"]["seed0_h1"] / out["rnn"]["seed0_h1"]
    out["ratio lstm(fb=1)/rnn geomean"] = out["lstm fb=1"]["geomean_h1"] / out["rnn"]["geomean_h1"]
    out["ratio lstm(fb=1)/lstm-cut seed0"] = out["lstm fb=1"]["seed0_h1"] / out["lstm-cut fb=1"]["seed0_h1"]
    flow = gradflow.gradient_flow("lstm", STEPS, forget_bias=1.0, seed=0)
    out["lstm fb=1 mean f_t"] = float(np.mean(flow["gates"]["f"]))
    for s in (0.5, 2.0, 3.0, 4.0):
        runs = [gradflow.gradient_norms("rnn", STEPS, seed=k, weight_scale=s)["h"][0] for k in range(SEEDS)]
        out[f"rnn W_h x{s:g} h1 per seed"] = [float(v) for v in runs]
    for clip in (None, 1.0):
        run = gradflow.clipping_run(clip)
        out[f"clipping_run clip={clip}"] = {"diverged_at": run["diverged_at"], "last loss": float(run["loss"][-1]),
                                             "max grad norm": float(np.nanmax(run["grad_norm"]))}
    flows, result = _trained_flows()
    out["trained"] = {"solved_at": result.solved_at, "test_correct": result.test_correct}
    for when, fl in zip(("before", "after"), flows):
        out["trained"][when] = {"h1": float(fl["norms"]["h"][0]), "c1": float(fl["norms"]["c"][0]),
                                "mean f": float(np.mean(fl["gates"]["f"])),
                                "gains": {k: round(v, 3) for k, v in gradflow.mean_gains(fl).items()}}
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
