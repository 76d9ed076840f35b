"""Cells: gradients against finite differences, scan against an unrolled loop, peepholes against
hand-written equations, and forward values against lstm.reference's numpy networks."""
import json

import numpy as np
import pytest

import minigraph as theano
import minigraph.tensor as T
from minigraph.testing import GradientError, check_grad

from lstm.cells import CELLS as REGISTRY
from lstm.cells import GRUCell, LSTMCell, RNNCell, cell_kind
from lstm.layers import Recurrent

try:
    from lstm import reference
except ImportError:  # pragma: no cover - written by another helper
    reference = None

needs_reference = pytest.mark.skipif(reference is None or not hasattr(reference, "lstm_forward"),
                                     reason="lstm/reference.py (lstm_forward) is not available yet")

I, H, B = 3, 4, 2


def sigm(x):
    return 1.0 / (1.0 + np.exp(-x))


def randomize(cell, seed=0, scale=0.5):
    """Give every parameter (biases and peepholes included) random non-zero values."""
    rng = np.random.default_rng(seed)
    for p in cell.params:
        p.set_value(rng.normal(0, scale, p.get_value().shape))
    return {p.name.split(".", 1)[1]: p.get_value() for p in cell.params}


def step_fn(cell):
    """A function of (x, *states, *params) -> concatenated new states, for check_grad."""
    n_states = len(cell.state_names)

    def fun(x, *rest):
        states, params = rest[:n_states], rest[n_states:]
        new = cell.step(x, *states)
        new = theano.clone_replace(new, dict(zip(cell.params, params)))
        return T.concatenate(new, axis=1) if len(new) > 1 else new[0]
    return fun


def step_points(cell, seed=1):
    rng = np.random.default_rng(seed)
    pts = [rng.normal(size=(B, cell.n_in))] + [rng.normal(size=(B, cell.n_hidden)) for _ in cell.state_names]
    return pts + [p.get_value() for p in cell.params]


CELLS = {
    "lstm": lambda: LSTMCell(I, H, dtype="float64"),
    "lstm_peephole": lambda: LSTMCell(I, H, peephole=True, dtype="float64"),
    "rnn": lambda: RNNCell(I, H, dtype="float64"),
    "gru": lambda: GRUCell(I, H, dtype="float64"),
    "lstm1997": lambda: LSTMCell(I, H, forget_gate=False, dtype="float64"),
}


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_step_gradient_first_order(kind):
    cell = CELLS[kind]()
    randomize(cell)
    check_grad(step_fn(cell), step_points(cell), order=1)


def test_rnn_step_gradient_second_order():
    cell = RNNCell(2, 2, dtype="float64")
    randomize(cell)
    check_grad(step_fn(cell), step_points(cell), order=2, rtol=1e-4, atol=1e-7)


def test_gradient_check_can_fail():
    """The checker is not vacuous: a step with a gradient blocked on purpose is caught."""
    cell = LSTMCell(I, H, dtype="float64")
    randomize(cell)
    good = step_fn(cell)

    def wrong(x, *rest):  # same values, but no gradient flows to x
        return good(theano.zero_grad(x), *rest)
    with pytest.raises(GradientError):
        check_grad(wrong, step_points(cell), order=1)


# --------------------------------------------------------------------------- numpy equations

def np_lstm_step(p, x, h, c, peephole=False):
    """One LSTM step written out gate by gate (the seed tutorial, plus Gers & Schmidhuber peepholes)."""
    Hn = h.shape[1]
    a = x @ p["W_x"] + h @ p["W_h"] + p["b"]
    a_i, a_f, a_o, a_g = (a[:, k * Hn:(k + 1) * Hn] for k in range(4))
    i = sigm(a_i + (p["p_i"] * c if peephole else 0))
    f = sigm(a_f + (p["p_f"] * c if peephole else 0))
    g = np.tanh(a_g)
    c_new = f * c + i * g
    o = sigm(a_o + (p["p_o"] * c_new if peephole else 0))
    return o * np.tanh(c_new), c_new


def run_step(cell, x, *states):
    xs = [T.matrix("x")] + [T.matrix(n) for n in cell.state_names]
    return theano.function(xs, cell.step(*xs))(x, *states)


@pytest.mark.parametrize("peephole", [False, True])
def test_lstm_step_matches_hand_equations(peephole):
    cell = LSTMCell(I, H, peephole=peephole, dtype="float64")
    p = randomize(cell, seed=3)
    rng = np.random.default_rng(4)
    x, h, c = rng.normal(size=(B, I)), rng.normal(size=(B, H)), rng.normal(size=(B, H))
    h_new, c_new = run_step(cell, x, h, c)
    h_ref, c_ref = np_lstm_step(p, x, h, c, peephole)
    np.testing.assert_allclose(h_new, h_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c_new, c_ref, rtol=1e-12, atol=1e-14)


def test_peephole_terms_matter_and_look_at_the_right_cell_state():
    """Only p_i / p_f see c_{t-1}; p_o sees c_t: check each peephole alone against the equations."""
    cell = LSTMCell(I, H, peephole=True, dtype="float64")
    p = randomize(cell, seed=5)
    rng = np.random.default_rng(6)
    x, h, c = rng.normal(size=(B, I)), rng.normal(size=(B, H)), 2.0 * rng.normal(size=(B, H))
    for name in ("p_i", "p_f", "p_o"):
        q = dict(p, p_i=np.zeros(H), p_f=np.zeros(H), p_o=np.zeros(H))
        q[name] = p[name]
        for k in ("p_i", "p_f", "p_o"):
            getattr(cell, k).set_value(q[k])
        h_new, c_new = run_step(cell, x, h, c)
        h_ref, c_ref = np_lstm_step(q, x, h, c, peephole=True)
        np.testing.assert_allclose(h_new, h_ref, rtol=1e-12)
        np.testing.assert_allclose(c_new, c_ref, rtol=1e-12)
        h_plain, _ = np_lstm_step(q, x, h, c, peephole=False)
        assert np.abs(h_new - h_plain).max() > 1e-3  # the peephole changed the result
        if name == "p_o":  # wrong variant: output gate looking at c_{t-1}
            a_o = (x @ q["W_x"] + h @ q["W_h"] + q["b"])[:, 2 * H:3 * H]
            wrong = sigm(a_o + q["p_o"] * c) * np.tanh(c_ref)
            assert np.abs(h_new - wrong).max() > 1e-3


def np_gru_step(p, x, h):
    Hn = h.shape[1]
    a = x @ p["W_x"] + p["b"]
    m = h @ p["W_h"]
    r = sigm(a[:, :Hn] + m[:, :Hn])
    z = sigm(a[:, Hn:2 * Hn] + m[:, Hn:2 * Hn])
    n = np.tanh(a[:, 2 * Hn:] + r * (m[:, 2 * Hn:] + p["b_hn"]))
    return (1 - z) * n + z * h


def test_gru_and_rnn_steps_match_equations():
    rng = np.random.default_rng(7)
    x, h = rng.normal(size=(B, I)), rng.normal(size=(B, H))
    gru = GRUCell(I, H, dtype="float64")
    p = randomize(gru, seed=8)
    np.testing.assert_allclose(run_step(gru, x, h)[0], np_gru_step(p, x, h), rtol=1e-12)
    rnn = RNNCell(I, H, dtype="float64")
    p = randomize(rnn, seed=9)
    np.testing.assert_allclose(run_step(rnn, x, h)[0], np.tanh(x @ p["W_x"] + h @ p["W_h"] + p["b"]), rtol=1e-12)


# --------------------------------------------------------------------------- scan vs unrolled loop

@pytest.mark.parametrize("peephole", [False, True])
def test_lstm_scan_equals_unrolled_loop_values_and_grads(peephole):
    n_steps = 5
    cell = LSTMCell(I, H, peephole=peephole, dtype="float64")
    randomize(cell, seed=10)
    rng = np.random.default_rng(11)
    Xv = rng.normal(size=(n_steps, B, I))
    R1, R2 = rng.normal(size=(n_steps, B, H)), rng.normal(size=(B, H))

    X = T.tensor3("X")
    Hs, Cs = Recurrent(cell)(X)
    h, c = cell.initial_states(B)
    hs = []
    for t in range(n_steps):
        h, c = cell.step(X[t], h, c)
        hs.append(h)
    H_unrolled = T.stack(hs, axis=0)

    def cost(Hseq, c_last):
        return (Hseq * R1).sum() + (c_last * R2).sum()

    wrt = cell.params + [X]
    scan_cost, loop_cost = cost(Hs, Cs[-1]), cost(H_unrolled, c)
    f = theano.function([X], [Hs, Cs[-1], scan_cost] + theano.grad(scan_cost, wrt))
    g = theano.function([X], [H_unrolled, c, loop_cost] + theano.grad(loop_cost, wrt))
    for a, b in zip(f(Xv), g(Xv)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_lstm_scan_gradient_matches_finite_differences():
    cell = LSTMCell(2, 3, peephole=True, dtype="float64")
    randomize(cell, seed=12)
    layer = Recurrent(cell)

    def fun(X, *params):
        Hs, Cs = layer(X)
        return theano.clone_replace(T.concatenate([Hs, Cs], axis=2), dict(zip(cell.params, params)))
    X = np.random.default_rng(13).normal(size=(4, 2, 2))
    check_grad(fun, [X] + [p.get_value() for p in cell.params])


# --------------------------------------------------------------------------- against lstm.reference

@needs_reference
@pytest.mark.parametrize("peephole", [False, True])
def test_lstm_forward_matches_reference(peephole):
    cell = LSTMCell(I, H, peephole=peephole, dtype="float64")
    p = randomize(cell, seed=14)
    rng = np.random.default_rng(15)
    Xv, h0, c0 = rng.normal(size=(6, B, I)), rng.normal(size=(B, H)), rng.normal(size=(B, H))
    X, h0s, c0s = T.tensor3("X"), T.matrix("h0"), T.matrix("c0")
    Hs, Cs = Recurrent(cell)(X, h0=[h0s, c0s])
    ours_H, ours_C = theano.function([X, h0s, c0s], [Hs, Cs])(Xv, h0, c0)
    ref_H, cache = reference.lstm_forward(p, Xv, h0=h0, c0=c0)
    np.testing.assert_allclose(ours_H, ref_H, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours_C, cache["Cs"][1:], rtol=1e-10, atol=1e-12)


@needs_reference
def test_gru_and_rnn_forward_match_reference():
    rng = np.random.default_rng(16)
    Xv = rng.normal(size=(5, B, I))
    X = T.tensor3("X")
    for cell, fwd in ((GRUCell(I, H, dtype="float64"), reference.gru_forward),
                      (RNNCell(I, H, dtype="float64"), reference.rnn_forward)):
        p = randomize(cell, seed=17)
        ours = theano.function([X], Recurrent(cell)(X)[0])(Xv)
        np.testing.assert_allclose(ours, fwd(p, Xv)[0], rtol=1e-10, atol=1e-12)


@needs_reference
def test_tutorial_init_reproduces_the_seed_tutorial_weights():
    cell = LSTMCell(3, 5, forget_bias=0.0, init="tutorial", rng=1234, dtype="float64")
    tut = reference.tutorial_init_params(3, 5, 1)
    order = ("i", "f", "o", "g")
    np.testing.assert_array_equal(cell.W_x.get_value(), np.concatenate([tut["W_u" + k] for k in order], axis=1))
    np.testing.assert_array_equal(cell.W_h.get_value(), np.concatenate([tut["W_h" + k] for k in order], axis=1))
    np.testing.assert_array_equal(cell.b.get_value(), np.zeros(20))


# --------------------------------------------------------------------------- construction

def test_params_names_shapes_and_state_names():
    lstm = LSTMCell(3, 5, peephole=True, name="enc")
    assert [p.name for p in lstm.params] == ["enc.W_x", "enc.W_h", "enc.b", "enc.p_i", "enc.p_f", "enc.p_o"]
    assert [p.get_value().shape for p in lstm.params] == [(3, 20), (5, 20), (20,), (5,), (5,), (5,)]
    assert lstm.state_names == ("h", "c") and (lstm.n_in, lstm.n_hidden) == (3, 5)
    gru = GRUCell(3, 5)
    assert [p.name for p in gru.params] == ["gru.W_x", "gru.W_h", "gru.b", "gru.b_hn"]
    assert [p.get_value().shape for p in gru.params] == [(3, 15), (5, 15), (15,), (5,)]
    rnn = RNNCell(3, 5)
    assert [p.get_value().shape for p in rnn.params] == [(3, 5), (5, 5), (5,)] and rnn.state_names == ("h",)
    for cell in (lstm, gru, rnn):
        json.dumps(cell.hparams())


def test_forget_bias_sets_only_the_forget_block():
    H_ = 4
    b = LSTMCell(2, H_).b.get_value()
    np.testing.assert_array_equal(b, np.r_[np.zeros(H_), np.ones(H_), np.zeros(2 * H_)])
    assert not LSTMCell(2, H_, forget_bias=0.0).b.get_value().any()
    np.testing.assert_array_equal(LSTMCell(2, H_, forget_bias=2.5).b.get_value()[H_:2 * H_], 2.5)


def test_inits_and_seeds():
    H_ = 6
    orth = LSTMCell(3, H_, init="orthogonal", rng=1).W_h.get_value()
    for k in range(4):
        blk = orth[:, k * H_:(k + 1) * H_]
        np.testing.assert_allclose(blk @ blk.T, np.eye(H_), atol=1e-12)
    glo = LSTMCell(3, H_, init="glorot", rng=1)
    assert np.abs(glo.W_x.get_value()).max() <= np.sqrt(6 / (3 + H_))
    assert np.abs(glo.W_h.get_value()).max() <= np.sqrt(6 / (2 * H_))
    tut = LSTMCell(3, H_, init="tutorial").W_x.get_value()
    assert 0.003 < tut.std() < 0.03
    np.testing.assert_array_equal(LSTMCell(3, H_, rng=7).W_x.get_value(), LSTMCell(3, H_, rng=7).W_x.get_value())
    assert not np.array_equal(LSTMCell(3, H_, rng=7).W_x.get_value(), LSTMCell(3, H_, rng=8).W_x.get_value())
    with pytest.raises(ValueError, match="init"):
        LSTMCell(3, H_, init="xavier")


def test_float32_cell_stays_float32():
    cell = LSTMCell(2, 3, peephole=True, dtype="float32")
    assert all(p.dtype == "float32" for p in cell.params)
    X = T.ftensor3("X")
    Hs, Cs = Recurrent(cell)(X)
    assert Hs.dtype == Cs.dtype == "float32"
    cost = Hs.sum()
    grads = theano.grad(cost, cell.params)
    assert all(g.dtype == "float32" for g in grads)
    out = theano.function([X], [Hs] + grads)(np.ones((3, 2, 2), "float32"))
    assert all(o.dtype == np.float32 for o in out)


def test_initial_states_with_symbolic_batch():
    cell = LSTMCell(2, 3)
    X = T.tensor3("X")
    h0, c0 = cell.initial_states(X.shape[1])
    out = theano.function([X], [h0, c0])(np.zeros((4, 5, 2)))
    assert [o.shape for o in out] == [(5, 3), (5, 3)] and not any(o.any() for o in out)


# --------------------------------------------------------------------------- the registry of cell kinds

def test_registry_names_labels_and_constructors():
    assert list(REGISTRY) == ["lstm", "peephole", "lstm1997", "rnn", "gru"]
    assert len({k.label for k in REGISTRY.values()}) == len(REGISTRY)
    for name, kind in REGISTRY.items():
        assert kind.name == name and cell_kind(name) is kind
        cell = kind.make(I, H, forget_bias=2.0, rng=0, dtype="float64")
        assert cell.name == name and (cell.n_in, cell.n_hidden) == (I, H)
        assert kind.has_cell_state == ("c" in cell.state_names)
        if kind.has_forget_gate:
            assert cell.forget_bias == 2.0
            np.testing.assert_array_equal(cell.b.get_value()[H:2 * H], 2.0)
    assert REGISTRY["peephole"].make(I, H).peephole and not REGISTRY["lstm"].make(I, H).peephole
    assert not REGISTRY["lstm1997"].has_forget_gate and not REGISTRY["rnn"].has_forget_gate
    with pytest.raises(ValueError, match="cell must be one of lstm, peephole, lstm1997, rnn, gru"):
        cell_kind("transformer")


@pytest.mark.parametrize("name", list(REGISTRY))
def test_step_with_gates_gives_the_step_and_its_gates(name):
    """The gates a step reports are the sigmoids the step used: checked against the equations."""
    cell = REGISTRY[name].make(I, H, dtype="float64")
    p = randomize(cell, seed=5)
    rng = np.random.default_rng(6)
    x = rng.normal(size=(B, I))
    states = [rng.normal(size=(B, H)) for _ in cell.state_names]
    xs = [T.matrix("x")] + [T.matrix(n) for n in cell.state_names]
    new, gates = cell.step_with_gates(*xs)
    out = theano.function(xs, new + list(gates.values()))(x, *states)
    np.testing.assert_allclose(out[:len(new)], run_step(cell, x, *states), rtol=1e-14)
    got = dict(zip(gates, out[len(new):]))
    expected = {"lstm": {"i", "f", "o"}, "peephole": {"i", "f", "o"}, "lstm1997": {"i", "o"}, "rnn": set(),
                "gru": {"r", "z"}}[name]
    assert set(got) == expected
    if name == "lstm":
        a = x @ p["W_x"] + states[0] @ p["W_h"] + p["b"]
        for k, gate in enumerate("ifo"):
            np.testing.assert_allclose(got[gate], sigm(a[:, k * H:(k + 1) * H]), rtol=1e-12)


def test_lstm1997_has_no_forget_gate():
    """Hochreiter & Schmidhuber (1997): c_t = c_{t-1} + i_t g_t, three fused blocks [i, o, g]."""
    cell = LSTMCell(I, H, forget_gate=False, forget_bias=5.0, dtype="float64")
    assert cell.W_x.get_value().shape == (I, 3 * H) and cell.b.get_value().shape == (3 * H,)
    assert cell.forget_bias == 0.0 and cell.hparams()["forget_gate"] is False
    p = randomize(cell, seed=7)
    rng = np.random.default_rng(8)
    x, h, c = rng.normal(size=(B, I)), rng.normal(size=(B, H)), rng.normal(size=(B, H))
    h_new, c_new = run_step(cell, x, h, c)
    a = x @ p["W_x"] + h @ p["W_h"] + p["b"]
    a_i, a_o, a_g = (a[:, k * H:(k + 1) * H] for k in range(3))
    c_ref = c + sigm(a_i) * np.tanh(a_g)
    np.testing.assert_allclose(c_new, c_ref, rtol=1e-12)
    np.testing.assert_allclose(h_new, sigm(a_o) * np.tanh(c_ref), rtol=1e-12)


def test_lstm1997_tutorial_init_draws_in_the_tutorial_order():
    """init="tutorial" draws g, i, o blocks (the tutorial's order, without f) and stores them as [i, o, g]."""
    cell = LSTMCell(I, H, forget_gate=False, init="tutorial", rng=3, dtype="float64")
    rng = np.random.RandomState(3)
    drawn = [(rng.normal(0, 0.01, (I, H)), rng.normal(0, 0.01, (H, H))) for _ in range(3)]  # g, i, o
    W_x = cell.W_x.get_value()
    for block, k in zip((1, 2, 0), range(3)):  # fused i, o, g = drawn 1, 2, 0
        np.testing.assert_array_equal(W_x[:, k * H:(k + 1) * H], drawn[block][0])
