"""lstm.gradflow.plots: the matplotlib figures are written (atomically) and hold the curves asked for."""
import numpy as np

from lstm import gradflow as gf
from lstm.gradflow.plots import curve_color


def test_norms_and_ablation_plots(tmp_path):
    p = gf.plot_norms(("rnn", "lstm", "lstm1997"), steps=8, forget_biases=(0.0, 1.0), seeds=2,
                      path=str(tmp_path / "n.svg"), n_in=3, n_hidden=4)
    svg = open(p, encoding="utf-8").read()
    for label in ("RNN", "LSTM, forget bias 0", "LSTM, forget bias 1", "1997 LSTM (no forget gate)",
                  "cell path cut"):
        assert label in svg, label
    assert "1997 LSTM (no forget gate), forget bias" not in svg
    a = gf.plot_ablation(steps=8, forget_biases=(1.0,), seeds=2, path=str(tmp_path / "a.png"), n_in=3, n_hidden=4)
    assert open(a, "rb").read(4) == b"\x89PNG"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.png", "n.svg"]  # no temporary files left


def test_every_kind_has_its_own_colours():
    colours = [curve_color(k, fb) for k in ("lstm", "peephole") for fb in (0.0, 1.0, 2.0, 3.0)]
    colours += [curve_color(k) for k in ("rnn", "gru", "lstm1997")]
    assert len(set(colours)) == len(colours)


def test_exploding_plot_with_clipping_runs(tmp_path):
    runs = [gf.clipping_run(c, weight_scale=3.0, lr=0.3, updates=100, length=20) for c in (None, 1.0)]
    p = gf.plot_exploding(scales=(1.0, 3.0), steps=10, seeds=2, runs=runs, path=str(tmp_path / "e.svg"),
                          n_in=3, n_hidden=4)
    svg = open(p, encoding="utf-8").read()
    assert "no clipping" in svg and "clipped at norm 1" in svg and "Pascanu" in svg


def test_flows_plot(tmp_path):
    flows = [gf.gradient_flow("lstm", 6, seed=s, n_in=3, n_hidden=4) for s in (0, 1)]
    flows[0]["title"] = "before"
    p = gf.plot_flows(flows, str(tmp_path / "f.svg"))
    svg = open(p, encoding="utf-8").read()
    assert "before" in svg and np.isfinite(flows[1]["norms"]["h"]).all()
