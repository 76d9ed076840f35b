"""lstm.gradflow: per-step gradient norms through minigraph's backward scan, the unrolled diagram, the CLI.

The gradients are checked against central finite differences of an independent numpy forward
pass (perturbing h_t or c_t of one step), so both the zero-perturbation trick and minigraph's
BPTT are tested.
"""
import json
import re
import shutil

import numpy as np
import pytest

from lstm import gradflow as gf

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")


# --------------------------------------------------------------------------- an independent numpy forward

def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def _numpy_loss(cell, X, r, perturb=None, frozen_c=None):
    """L = sum(r * h_T) by the cells' documented equations; ``perturb = (state, t, vector)`` adds
    the vector to h_t (after the step) or to c_t (before h_t reads it), t counted from 1.

    ``frozen_c`` (the unperturbed c_1..c_T) makes every step read its c_{t-1} from there: the
    function whose derivative the ablation (disconnected_grad on c_{t-1}) computes.
    Returns (loss, [c_1..c_T])."""
    P = {p.name.split(".", 1)[1]: p.get_value() for p in cell.params}
    H = cell.n_hidden
    B = X.shape[1]
    h = np.zeros((B, H))
    c = np.zeros((B, H))
    cs = []

    def bump(state, t, v):
        if perturb is not None and perturb[0] == state and perturb[1] == t:
            return v + perturb[2]
        return v

    for t in range(1, X.shape[0] + 1):
        x = X[t - 1]
        if cell.kind == "rnn":
            h = np.tanh(x @ P["W_x"] + h @ P["W_h"] + P["b"])
        elif cell.kind == "gru":
            a = x @ P["W_x"] + P["b"]
            m = h @ P["W_h"]
            rr = _sig(a[:, :H] + m[:, :H])
            z = _sig(a[:, H:2 * H] + m[:, H:2 * H])
            n = np.tanh(a[:, 2 * H:] + rr * (m[:, 2 * H:] + P["b_hn"]))
            h = (1 - z) * n + z * h
        else:
            if frozen_c is not None and t > 1:
                c = frozen_c[t - 2]
            a = x @ P["W_x"] + h @ P["W_h"] + P["b"]
            a_i, a_f, a_o, a_g = (a[:, k * H:(k + 1) * H] for k in range(4))
            if cell.peephole:
                a_i = a_i + P["p_i"] * c
                a_f = a_f + P["p_f"] * c
            c = bump("c", t, _sig(a_f) * c + _sig(a_i) * np.tanh(a_g))
            o = _sig(a_o + P["p_o"] * c if cell.peephole else a_o)
            h = o * np.tanh(c)
            cs.append(c)
        h = bump("h", t, h)
    return float((h * r).sum()), cs


def _fd_gradient(cell, X, r, state, t, delta=1e-6, cut=False):
    H = cell.n_hidden
    frozen = _numpy_loss(cell, X, r)[1] if cut else None
    g = np.zeros(H)
    for j in range(H):
        e = np.zeros((X.shape[1], H))
        e[0, j] = delta
        up = _numpy_loss(cell, X, r, (state, t, e), frozen)[0]
        down = _numpy_loss(cell, X, r, (state, t, -e), frozen)[0]
        g[j] = (up - down) / (2 * delta)
    return g


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm", "peephole", "lstm-cut", "peephole-cut"])
def test_gradients_match_finite_differences(kind):
    """For the ablation ('-cut') the oracle is the forward pass in which each step reads the
    unperturbed c_{t-1}: what disconnected_grad(c_{t-1}) differentiates."""
    steps, n_in, H, seed = 7, 3, 4, 3
    flow = gf.gradient_flow(kind, steps, forget_bias=1.0, seed=seed, n_in=n_in, n_hidden=H)
    norms = gf.gradient_norms(kind, steps, forget_bias=1.0, seed=seed, n_in=n_in, n_hidden=H)
    cell = gf.make_cell(kind.replace("-cut", ""), n_in, H, forget_bias=1.0, seed=seed)
    X, r = gf.make_inputs(steps, 1, n_in, H, seed)
    assert np.isclose(_numpy_loss(cell, X, r)[0], norms["loss"], rtol=1e-12)
    states = ("h", "c") if kind.startswith(("lstm", "peephole")) else ("h",)
    assert set(norms) >= set(states) and ("c" in norms) == ("c" in states)
    for state in states:
        for t in (1, 4, steps - 1, steps):
            fd = _fd_gradient(cell, X, r, state, t, cut=kind.endswith("-cut"))
            np.testing.assert_allclose(flow["grads"][state][t - 1], fd, rtol=1e-6, atol=1e-9)
            assert np.isclose(norms[state][t - 1], np.linalg.norm(fd), rtol=1e-6)
    assert np.isclose(norms["h"][-1], 1.0)  # dL/dh_T = r, a unit vector


def test_batch_and_given_inputs():
    X = np.random.default_rng(5).standard_normal((6, 3, 4))
    res = gf.gradient_norms("lstm", inputs=X, n_in=4, n_hidden=5)
    assert res["steps"] == 6 and res["batch"] == 3 and res["h"].shape == (6,) and res["c"].shape == (6,)
    np.testing.assert_allclose(res["h"][-1], 1.0)
    one = gf.gradient_norms("rnn", inputs=X[:, 0], n_in=4, n_hidden=5)  # (steps, n_in) is one sequence
    assert one["batch"] == 1 and one["steps"] == 6
    with pytest.raises(ValueError, match="inputs must have shape"):
        gf.gradient_norms("rnn", inputs=np.zeros((6, 2)), n_in=4)
    with pytest.raises(ValueError, match="cell kind"):
        gf.gradient_norms("transformer")
    with pytest.raises(ValueError, match="cut_cell_path"):
        gf.gradient_norms("rnn", cut_cell_path=True)


def test_lstm_keeps_the_gradient_the_rnn_loses():
    """50 steps, seed 0, the same input: measured ||dL/dh_1|| 1.2e-3 (LSTM, forget bias 1) vs
    1.9e-8 (RNN), a ratio of about 6e4."""
    rnn = gf.gradient_norms("rnn", 50, seed=0)
    lstm = gf.gradient_norms("lstm", 50, forget_bias=1.0, seed=0)
    ratio = lstm["h"][0] / rnn["h"][0]
    assert ratio > 1e3, ratio
    assert 1e-4 < lstm["h"][0] < 1e-2 and rnn["h"][0] < 1e-6
    # the forget-gate bias is what keeps the carousel running: 0 -> 1 -> 3 at t = 1
    h1 = [gf.gradient_norms("lstm", 50, forget_bias=fb, seed=0)["h"][0] for fb in (0.0, 1.0, 3.0)]
    assert h1[0] < h1[1] < h1[2]


def test_lstm_advantage_over_seeds():
    """Seeds 0-4: ratio LSTM(bias 1) / RNN = 6.3e4, 0.47, 9.1e3, 1.4e3, 9.6 (geometric mean 3.2e2);
    with forget bias 3 it is 4e3 .. 1.5e6 on every seed."""
    logs1, logs3 = [], []
    for seed in range(5):
        rnn = gf.gradient_norms("rnn", 50, seed=seed)["h"][0]
        logs1.append(np.log10(gf.gradient_norms("lstm", 50, forget_bias=1.0, seed=seed)["h"][0] / rnn))
        logs3.append(np.log10(gf.gradient_norms("lstm", 50, forget_bias=3.0, seed=seed)["h"][0] / rnn))
    assert np.mean(logs1) > 2
    assert min(logs3) > 3


def test_ablation_cuts_the_carousel():
    """disconnected_grad on c_{t-1}: ||dL/dh_1|| falls from 1.2e-3 to 6e-32 (28 orders of magnitude)."""
    full = gf.gradient_norms("lstm", 50, seed=0)
    cut = gf.gradient_norms("lstm", 50, seed=0, cut_cell_path=True)
    same = gf.gradient_norms("lstm-cut", 50, seed=0)
    np.testing.assert_array_equal(cut["h"], same["h"])
    assert cut["kind"] == "lstm-cut"
    assert cut["h"][0] < 1e-10 * full["h"][0] and cut["c"][0] < 1e-10 * full["c"][0]
    assert np.isclose(cut["loss"], full["loss"])  # the forward pass is unchanged
    assert np.isclose(cut["h"][-1], 1.0)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm", "peephole", "lstm-cut"])
def test_edge_flows_add_up_to_the_measured_gradients(kind):
    flow = gf.gradient_flow(kind, 8, seed=1, n_in=3, n_hidden=5)
    total = {}
    for e in flow["edges"]:
        contrib = flow["grads"][e["src"][0]][e["src"][1] - 1] @ e["jacobian"]
        total[e["dst"]] = total.get(e["dst"], 0) + contrib
        assert np.isclose(e["flow"], np.linalg.norm(contrib))
    for (state, t), g in total.items():
        np.testing.assert_allclose(g, flow["grads"][state][t - 1], atol=1e-12)
    assert len(total) == sum(len(v) for v in flow["norms"].values()) - 1  # every node but h_T (fed by the loss)


def test_local_factors_are_the_textbook_jacobians():
    flow = gf.gradient_flow("lstm", 6, seed=2, n_in=3, n_hidden=4)
    cc = [e for e in flow["edges"] if e["key"] == "cc"]
    assert len(cc) == 5 and all(e["label"] == "diag(f_t)" for e in cc)
    for e in cc:  # dc_t/dc_{t-1} = diag(f_t) exactly
        J = e["jacobian"]
        np.testing.assert_allclose(J, np.diag(np.diag(J)), atol=1e-15)
        assert np.isclose(e["value"], flow["gates"]["f"][e["t"] - 1])
    rnn = gf.gradient_flow("rnn", 6, seed=2, n_in=3, n_hidden=4)
    W_h = gf.make_cell("rnn", 3, 4, seed=2).W_h.get_value()
    cell = gf.make_cell("rnn", 3, 4, seed=2)
    X, _ = gf.make_inputs(6, 1, 3, 4, 2)
    h = np.zeros(4)
    hs = []
    for x in X[:, 0]:
        h = np.tanh(x @ cell.W_x.get_value() + h @ W_h)
        hs.append(h)
    for e in rnn["edges"]:  # dh_t/dh_{t-1} = diag(1 - h_t^2) W_h^T  (h_t = tanh(h_{t-1} @ W_h + ...))
        np.testing.assert_allclose(e["jacobian"], np.diag(1 - hs[e["t"] - 1] ** 2) @ W_h.T, atol=1e-12)
        assert e["label"] == "diag(1\u2212h_t\u00b2) W_h"


def test_main_json(capsys):
    assert gf.main(["--json", "--cell", "all", "--steps", "6", "--ablation", "--hidden", "5"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    data = json.loads(out)
    assert set(data) == {"rnn", "gru", "lstm", "peephole", "lstm-cut", "peephole-cut"}
    for kind, d in data.items():
        assert set(d) == ({"h", "c"} if kind.startswith(("lstm", "peephole")) else {"h"})
        assert all(len(v) == 6 for v in d.values())
        assert abs(d["h"][-1] - 1.0) < 1e-12
    assert gf.main(["--json", "--cell", "rnn", "--steps", "3"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {"rnn"}


def test_main_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit):
        gf.main(["--cell", "bogus"])
    with pytest.raises(SystemExit):
        gf.main(["--steps", "0"])
    assert "bogus" in capsys.readouterr().err


def _node_defs(source, name):
    return re.findall(rf"^\s*{re.escape(name)} \[", source, re.M)


def test_dot_structure_full_columns():
    g = gf.unrolled_dot(("rnn", "lstm"), steps=6, n_in=3, n_hidden=4)
    src = g.source
    assert "subgraph cluster_rnn {" in src and "subgraph cluster_lstm {" in src
    assert "subgraph cluster_lstm_cec {" in src  # the highlighted constant-error carousel
    for t in range(1, 7):
        for name in (f"rnn_h_{t}", f"lstm_h_{t}", f"lstm_c_{t}", f"lstm_gates_{t}"):
            assert len(_node_defs(src, name)) == 1, name
    assert not _node_defs(src, "rnn_c_1")
    assert src.count('label="diag(f_t)') == 5
    assert src.count('label="diag(1\u2212h_t\u00b2) W_h') == 5
    assert src.count("\u2202c_t/\u2202h_t\u22121") == 5
    assert "gradient norm (log scale)" in src  # the legend
    # the backward edges run from t to t-1: drawn tail = earlier step, dir=back
    assert re.search(r"lstm_c_1 -> lstm_c_2 \[[^\]]*dir=back", src)


def test_dot_elides_long_sequences():
    g = gf.unrolled_dot(("rnn", "lstm-cut"), steps=30, n_in=3, n_hidden=4, max_columns=12)
    src = g.source
    drawn = [1, 2, 3, 28, 29, 30]
    for t in drawn:
        assert len(_node_defs(src, f"rnn_h_{t}")) == 1
        assert len(_node_defs(src, f"lstm_cut_c_{t}")) == 1
    assert not _node_defs(src, "rnn_h_15") and len(_node_defs(src, "rnn_h_gap")) == 1
    assert "24 steps" in src
    assert "CUT" in src and "subgraph cluster_lstm_cut {" in src
    assert len(_node_defs(gf.unrolled_dot("rnn", steps=12, n_in=3, n_hidden=4).source, "rnn_h_12")) == 1


@needs_dot
def test_render_svg_and_png(tmp_path):
    svg = gf.render_unrolled(("rnn", "lstm"), steps=5, path=str(tmp_path / "flow.svg"), n_in=3, n_hidden=4)
    text = open(svg, encoding="utf-8").read()
    assert "<svg" in text and "diag(f_t)" in text
    png = gf.render_unrolled(("rnn", "lstm"), steps=20, path=str(tmp_path / "flow.png"), n_in=3, n_hidden=4)
    data = open(png, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and 10_000 < len(data) < 1_000_000


@needs_dot
def test_main_draws_and_reports_the_ratio(tmp_path, capsys):
    out = tmp_path / "flow.svg"
    plot = tmp_path / "norms.png"
    assert gf.main(["--steps", "50", "--out", str(out), "--plot", str(plot), "--seeds", "2"]) == 0
    text = capsys.readouterr().out
    m = re.search(r"LSTM \(forget bias 1\) / RNN, same input: ([0-9.e+]+)", text)
    assert m and float(m.group(1)) > 1e3
    assert out.read_text(encoding="utf-8").lstrip().startswith("<?xml")
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert gf.main(["--out", str(tmp_path / "missing" / "x.svg"), "--steps", "3"]) == 1
    assert "lstm gradflow: error:" in capsys.readouterr().err


def test_plots(tmp_path):
    p = gf.plot_norms(("rnn", "lstm"), steps=8, forget_biases=(0.0, 1.0), seeds=2, path=str(tmp_path / "n.png"),
                      n_in=3, n_hidden=4)
    a = gf.plot_ablation(steps=8, forget_biases=(1.0,), seeds=2, path=str(tmp_path / "a.png"), n_in=3, n_hidden=4)
    for path in (p, a):
        assert open(path, "rb").read(4) == b"\x89PNG"
