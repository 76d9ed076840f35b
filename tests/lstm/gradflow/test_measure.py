"""lstm.gradflow.measure: per-step gradient norms through minigraph's backward scan, local Jacobians, gates.

The gradients are checked against central finite differences of an independent numpy forward
pass (perturbing h_t or c_t of one step), so both the zero-perturbation trick and minigraph's
BPTT are tested.
"""
import numpy as np
import pytest

from lstm import gradflow as gf
from lstm.cells import CELLS


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
        elif not cell.forget_gate:  # the 1997 LSTM: blocks [i, o, g], c_t = c_{t-1} + i g
            if frozen_c is not None and t > 1:
                c = frozen_c[t - 2]
            a = x @ P["W_x"] + h @ P["W_h"] + P["b"]
            a_i, a_o, a_g = (a[:, k * H:(k + 1) * H] for k in range(3))
            c = bump("c", t, c + _sig(a_i) * np.tanh(a_g))
            h = _sig(a_o) * np.tanh(c)
            cs.append(c)
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


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm", "peephole", "lstm1997", "lstm-cut", "peephole-cut",
                                  "lstm1997-cut"])
def test_gradients_match_finite_differences(kind):
    """For the ablation ('-cut') the oracle is the forward pass in which each step reads the
    unperturbed c_{t-1}: what disconnected_grad(c_{t-1}) differentiates."""
    steps, n_in, H, seed = 7, 3, 4, 3
    flow = gf.gradient_flow(kind, steps, forget_bias=1.0, seed=seed, n_in=n_in, n_hidden=H)
    norms = gf.gradient_norms(kind, steps, forget_bias=1.0, seed=seed, n_in=n_in, n_hidden=H)
    cell = gf.make_cell(kind.replace("-cut", ""), n_in, H, forget_bias=1.0, seed=seed)
    X, r = gf.make_inputs(steps, 1, n_in, H, seed)
    assert np.isclose(_numpy_loss(cell, X, r)[0], norms["loss"], rtol=1e-12)
    states = ("h", "c") if CELLS[kind.replace("-cut", "")].has_cell_state else ("h",)
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


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm", "peephole", "lstm1997", "lstm-cut"])
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


def test_the_1997_lstm_carries_the_gradient_unchanged_along_its_cell_path():
    """No forget gate: dc_t/dc_{t-1} is exactly the identity, and its gradient at t = 1 stays large
    where the LSTM with forget bias 1 loses orders of magnitude (seed 0, 50 steps: 4e-2 vs 2e-3)."""
    flow = gf.gradient_flow("lstm1997", 6, seed=2, n_in=3, n_hidden=4)
    cc = [e for e in flow["edges"] if e["key"] == "cc_1997"]
    assert len(cc) == 5
    for e in cc:
        np.testing.assert_allclose(e["jacobian"], np.eye(4), atol=1e-15)
    assert set(flow["gates"]) == {"i", "o"}
    old = gf.gradient_norms("lstm1997", 50, seed=0)
    new = gf.gradient_norms("lstm", 50, forget_bias=1.0, seed=0)
    assert old["c"][0] > 10 * new["c"][0]


def _np_gates(cell, X):
    """Mean gate activations per step of batch element 0 by the documented equations (the oracle)."""
    P = {p.name.split(".", 1)[1]: p.get_value() for p in cell.params}
    H = cell.n_hidden
    h, c = np.zeros(H), np.zeros(H)
    out = {}
    for x in X[:, 0]:
        if cell.kind == "gru":
            a, m = x @ P["W_x"] + P["b"], h @ P["W_h"]
            r, z = _sig(a[:H] + m[:H]), _sig(a[H:2 * H] + m[H:2 * H])
            h = (1 - z) * np.tanh(a[2 * H:] + r * (m[2 * H:] + P["b_hn"])) + z * h
            gates = {"r": r, "z": z}
        else:
            a = x @ P["W_x"] + h @ P["W_h"] + P["b"]
            i, f, o, g = (_sig(a[k * H:(k + 1) * H]) for k in range(4))
            c = f * c + i * np.tanh(a[3 * H:])
            h = o * np.tanh(c)
            gates = {"i": i, "f": f, "o": o}
        for k, v in gates.items():
            out.setdefault(k, []).append(v.mean())
    return out


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gate_activations_come_from_the_compiled_cell(kind):
    flow = gf.gradient_flow(kind, 7, seed=4, n_in=3, n_hidden=5)
    cell = gf.make_cell(kind, 3, 5, seed=4)
    X, _ = gf.make_inputs(7, 1, 3, 5, 4)
    expected = _np_gates(cell, X)
    assert set(flow["gates"]) == set(expected)
    for k, v in expected.items():
        np.testing.assert_allclose(flow["gates"][k], v, rtol=1e-12)


def test_weight_scale_turns_vanishing_into_exploding():
    """The RNN's recurrent weights times 3 (seed 0, 50 steps): ||dL/dh_1|| grows from 1.9e-8 to 0.25,
    and on seed 2 to 1.5e5 -- far above the 1 it starts from at the loss."""
    base = gf.gradient_norms("rnn", 50, seed=2)
    big = gf.gradient_norms("rnn", 50, seed=2, weight_scale=3.0)
    assert base["h"][0] < 1e-5 and big["h"][0] > 1e3
    cell = gf.make_cell("rnn", seed=2, weight_scale=3.0)
    np.testing.assert_allclose(cell.W_h.get_value(), 3.0 * gf.make_cell("rnn", seed=2).W_h.get_value())
    with pytest.raises(ValueError, match="weight_scale"):
        gf.gradient_norms("rnn", 5, cell=cell, weight_scale=2.0)


def test_given_cell_and_readout():
    """A given cell is measured as it is; the readout replaces the random unit vector r."""
    cell = gf.make_cell("lstm", 3, 4, seed=9)
    X = np.random.default_rng(1).standard_normal((5, 1, 3))
    w = np.array([3.0, 0.0, 4.0, 0.0])
    res = gf.gradient_flow("lstm", 5, inputs=X, cell=cell, readout=w)
    np.testing.assert_allclose(res["grads"]["h"][-1], w / 5.0, atol=1e-15)  # dL/dh_T = r = w / ||w||
    same = gf.gradient_flow("lstm", 5, inputs=X, seed=9, n_in=3, n_hidden=4, readout=w)
    np.testing.assert_allclose(res["grads"]["c"], same["grads"]["c"], rtol=1e-14)
    with pytest.raises(ValueError, match="readout"):
        gf.gradient_norms("lstm", 5, inputs=X, cell=cell, readout=np.zeros(4))
