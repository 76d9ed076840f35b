"""Tests for lstm/reference.py, the numpy forward/BPTT oracle.

Every fast forward is compared with a slow per-step transcription of the documented equations
(written below, independently of the module), and every gradient with central finite
differences of that transcription in float64: along a random direction and along a few
single entries.
"""
from functools import partial

import numpy as np
import pytest

from lstm import reference as R

T, B, I, H, O = 4, 3, 5, 4, 2


# ------------------------------------------------------------------------------------------
# Slow transcriptions of the equations in the module docstring
# ------------------------------------------------------------------------------------------

def logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def naive_lstm(p, X, h0, c0):
    h, c, hs = h0, c0, []
    peep = "p_i" in p
    for x in X:
        a_i, a_f, a_o, a_g = np.split(x @ p["W_x"] + h @ p["W_h"] + p["b"], 4, axis=1)
        i = logistic(a_i + (p["p_i"] * c if peep else 0))
        f = logistic(a_f + (p["p_f"] * c if peep else 0))
        g = np.tanh(a_g)
        c = f * c + i * g
        o = logistic(a_o + (p["p_o"] * c if peep else 0))
        h = o * np.tanh(c)
        hs.append(h)
    return np.stack(hs), {"h0": h, "c0": c}


def naive_rnn(p, X, h0):
    h, hs = h0, []
    for x in X:
        h = np.tanh(x @ p["W_x"] + h @ p["W_h"] + p["b"])
        hs.append(h)
    return np.stack(hs), {"h0": h}


def naive_gru(p, X, h0):
    h, hs = h0, []
    for x in X:
        a_r, a_z, a_n = np.split(x @ p["W_x"] + p["b"], 3, axis=1)
        m_r, m_z, m_n = np.split(h @ p["W_h"], 3, axis=1)
        r = logistic(a_r + m_r)
        z = logistic(a_z + m_z)
        n = np.tanh(a_n + r * (m_n + p["b_hn"]))
        h = (1 - z) * n + z * h
        hs.append(h)
    return np.stack(hs), {"h0": h}


def naive_head_loss(p, h_T, target, loss):
    y = h_T @ p["W_y"] + p["b_y"]
    if loss == "mse":
        return ((y - target) ** 2).mean()
    assert loss == "half_sse"
    return 0.5 * ((y - target) ** 2).sum() / y.shape[0]


def naive_tutorial_cost(p, u, t):
    """The tutorial's recurrent_fn and cost, one line each, batch-free."""
    n_hidden = p["W_hg"].shape[0]
    h, s = np.zeros(n_hidden), np.zeros(n_hidden)
    for u_t in u:
        g = np.tanh(u_t @ p["W_ug"] + h @ p["W_hg"] + p["b_g"])
        i = logistic(u_t @ p["W_ui"] + h @ p["W_hi"] + p["b_i"])
        f = logistic(u_t @ p["W_uf"] + h @ p["W_hf"] + p["b_f"])
        o = logistic(u_t @ p["W_uo"] + h @ p["W_ho"] + p["b_o"])
        s = g * i + s * f
        h = np.tanh(s) * o
    y = h @ p["W_hy"] + p["b_hy"]
    return ((t - y) ** 2).mean(axis=0).sum()


# ------------------------------------------------------------------------------------------
# The one finite-difference checker
# ------------------------------------------------------------------------------------------

def check_gradients(f, inputs, grads, rng, eps=1e-6, rtol=1e-6, atol=1e-8, n_entries=2):
    """Compare grads[name] with central differences of the scalar f(inputs) for every name.

    Each array is probed along one random direction and along ``n_entries`` single entries.
    """
    assert set(grads) >= set(inputs)
    for name, x in inputs.items():
        g = grads[name]
        assert g.shape == x.shape, name
        directions = [rng.standard_normal(x.shape)]
        for flat in rng.choice(x.size, size=min(n_entries, x.size), replace=False):
            e = np.zeros(x.size)
            e[flat] = 1.0
            directions.append(e.reshape(x.shape))
        for v in directions:
            plus = dict(inputs, **{name: x + eps * v})
            minus = dict(inputs, **{name: x - eps * v})
            numeric = (f(plus) - f(minus)) / (2 * eps)
            analytic = np.sum(g * v)
            assert abs(numeric - analytic) <= atol + rtol * abs(numeric), (
                f"d/d{name}: finite differences {numeric!r} vs backward {analytic!r}")


# ------------------------------------------------------------------------------------------
# The cells under test
# ------------------------------------------------------------------------------------------

CELLS = {
    "lstm": dict(init=partial(R.init_lstm_params, peephole=False), naive=naive_lstm,
                 forward=R.lstm_forward, backward=R.lstm_backward,
                 loss_and_grads=R.lstm_loss_and_grads, sgd_step=R.lstm_sgd_step,
                 states=("h0", "c0")),
    "lstm_peephole": dict(init=partial(R.init_lstm_params, peephole=True), naive=naive_lstm,
                          forward=R.lstm_forward, backward=R.lstm_backward,
                          loss_and_grads=R.lstm_loss_and_grads, sgd_step=R.lstm_sgd_step,
                          states=("h0", "c0")),
    "rnn": dict(init=R.init_rnn_params, naive=naive_rnn, forward=R.rnn_forward,
                backward=R.rnn_backward, loss_and_grads=R.rnn_loss_and_grads,
                sgd_step=R.rnn_sgd_step, states=("h0",)),
    "gru": dict(init=R.init_gru_params, naive=naive_gru, forward=R.gru_forward,
                backward=R.gru_backward, loss_and_grads=R.gru_loss_and_grads,
                sgd_step=R.gru_sgd_step, states=("h0",)),
}
FINAL_GRAD = {"h0": "dhT", "c0": "dcT"}  # backward keyword for dL/d(final state)
cell_names = pytest.mark.parametrize("cell", sorted(CELLS))


def make_case(cell, seed=0, dtype=np.float64):
    """Parameters (all entries nonzero, weights large enough to leave the linear regime),
    inputs, nonzero initial states and a target, in float64 then cast to ``dtype``."""
    spec = CELLS[cell]
    rng = np.random.default_rng(seed)
    params = spec["init"](I, H, O, rng, np.float64, scale=0.5)
    for name in params:
        params[name] += 0.3 * rng.standard_normal(params[name].shape)
    X = rng.standard_normal((T, B, I))
    states = {s: 0.5 * rng.standard_normal((B, H)) for s in spec["states"]}
    target = rng.standard_normal((B, O))
    cast = lambda a: a.astype(dtype)  # noqa: E731
    return ({k: cast(v) for k, v in params.items()}, cast(X),
            {k: cast(v) for k, v in states.items()}, cast(target), rng)


def cell_only(params):
    return {k: v for k, v in params.items() if k not in ("W_y", "b_y")}


# ------------------------------------------------------------------------------------------
# Forward and backward
# ------------------------------------------------------------------------------------------

@cell_names
def test_forward_matches_equations(cell):
    params, X, states, _, _ = make_case(cell)
    spec = CELLS[cell]
    H_all, cache = spec["forward"](params, X, **states)
    expected, finals = spec["naive"](params, X, **states)
    assert H_all.shape == (T, B, H)
    np.testing.assert_allclose(H_all, expected, rtol=1e-12, atol=1e-13)
    if "c0" in finals:
        np.testing.assert_allclose(cache["Cs"][-1], finals["c0"], rtol=1e-12, atol=1e-13)


def test_forward_default_states_are_zero():
    params, X, _, _, _ = make_case("lstm_peephole")
    zeros = np.zeros((B, H))
    np.testing.assert_array_equal(R.lstm_forward(params, X)[0],
                                  R.lstm_forward(params, X, zeros, zeros)[0])


@cell_names
def test_backward_matches_finite_differences(cell):
    """dH_all, dhT and (LSTM) dcT all at once: L = <R, H_all> + sum_s <r_s, final state s>."""
    params, X, states, _, rng = make_case(cell, seed=1)
    spec = CELLS[cell]
    cell_params = cell_only(params)
    weights_H = rng.standard_normal((T, B, H))
    weights_final = {s: rng.standard_normal((B, H)) for s in states}

    def objective(inputs):
        p = {k: inputs[k] for k in cell_params}
        H_all, finals = spec["naive"](p, inputs["dX"], **{s: inputs["d" + s] for s in states})
        return np.sum(H_all * weights_H) + sum(np.sum(finals[s] * w)
                                              for s, w in weights_final.items())

    _, cache = spec["forward"](cell_params, X, **states)
    grads = spec["backward"](cell_params, cache, weights_H,
                             **{FINAL_GRAD[s]: w for s, w in weights_final.items()})
    expected_keys = set(cell_params) | {"dX"} | {"d" + s for s in states}
    assert set(grads) == expected_keys
    inputs = dict(cell_params, dX=X, **{"d" + s: v for s, v in states.items()})
    check_gradients(objective, inputs, grads, rng)


@cell_names
def test_backward_leaves_cache_intact(cell):
    params, X, states, _, rng = make_case(cell, seed=2)
    spec = CELLS[cell]
    H_all, cache = spec["forward"](params, X, **states)
    before = {k: v.copy() for k, v in cache.items() if isinstance(v, np.ndarray)}
    dH = rng.standard_normal((T, B, H))
    first = spec["backward"](params, cache, dH)
    second = spec["backward"](params, cache, dH)
    for k, v in before.items():
        np.testing.assert_array_equal(cache[k], v)
    for k in first:
        np.testing.assert_array_equal(first[k], second[k])


def test_lstm_without_dH_all_uses_only_final_gradients():
    params, X, states, _, rng = make_case("lstm", seed=3)
    _, cache = R.lstm_forward(params, X, **states)
    dhT = rng.standard_normal((B, H))
    dH_all = np.zeros((T, B, H))
    dH_all[-1] = dhT
    a = R.lstm_backward(params, cache, None, dhT=dhT)
    b = R.lstm_backward(params, cache, dH_all)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-13, atol=1e-15)


@cell_names
def test_backward_can_skip_the_input_gradient(cell):
    params, X, states, _, rng = make_case(cell, seed=11)
    spec = CELLS[cell]
    _, cache = spec["forward"](params, X, **states)
    dH = rng.standard_normal((T, B, H))
    full = spec["backward"](params, cache, dH)
    lean = spec["backward"](params, cache, dH, input_grad=False)
    assert set(full) - set(lean) == {"dX"}
    for k in lean:
        np.testing.assert_array_equal(lean[k], full[k])


# ------------------------------------------------------------------------------------------
# Loss head and SGD step
# ------------------------------------------------------------------------------------------

@cell_names
@pytest.mark.parametrize("loss", ["mse", "half_sse"])
def test_loss_and_grads_match_finite_differences(cell, loss):
    params, X, states, target, rng = make_case(cell, seed=4)
    spec = CELLS[cell]

    def objective(inputs):
        p = {k: inputs[k] for k in params}
        H_all, _ = spec["naive"](p, inputs["dX"], **states)
        return naive_head_loss(p, H_all[-1], target, loss)

    value, grads = spec["loss_and_grads"](params, X, target, **states, loss=loss)
    inputs = dict(params, dX=X)
    assert value == pytest.approx(objective(inputs), rel=1e-12)
    check_gradients(objective, inputs, grads, rng)


@cell_names
def test_sgd_step_updates_in_place_with_pre_update_loss(cell):
    params, X, states, target, _ = make_case(cell, seed=5)
    spec = CELLS[cell]
    lr = 0.05
    value, grads = spec["loss_and_grads"](params, X, target, **states)
    expected = {k: v - lr * grads[k] for k, v in params.items()}
    arrays = dict(params)
    returned = spec["sgd_step"](params, X, target, lr, **states)
    assert returned == value
    for k, v in params.items():
        assert v is arrays[k], "parameters must be updated in place"
        np.testing.assert_allclose(v, expected[k], rtol=1e-14, atol=1e-15)
    assert spec["loss_and_grads"](params, X, target, **states)[0] < value


# ------------------------------------------------------------------------------------------
# float32 stays float32
# ------------------------------------------------------------------------------------------

@cell_names
def test_float32_in_float32_out(cell):
    spec = CELLS[cell]
    p64, X64, s64, t64, rng = make_case(cell, seed=6)
    p32, X32, s32, t32, _ = make_case(cell, seed=6, dtype=np.float32)

    H_all, cache = spec["forward"](p32, X32, **s32)
    assert H_all.dtype == np.float32
    dH = rng.standard_normal((T, B, H))
    grads32 = spec["backward"](p32, cache, dH.astype(np.float32))
    grads64 = spec["backward"](p64, spec["forward"](p64, X64, **s64)[1], dH)
    for k, g in grads32.items():
        assert g.dtype == np.float32, k
        np.testing.assert_allclose(g, grads64[k], rtol=1e-4, atol=1e-5, err_msg=k)

    value32, lgrads32 = spec["loss_and_grads"](p32, X32, t32, **s32)
    value64, _ = spec["loss_and_grads"](p64, X64, t64, **s64)
    assert value32.dtype == np.float32
    assert value32 == pytest.approx(value64, rel=1e-5)
    assert all(g.dtype == np.float32 for g in lgrads32.values())
    spec["sgd_step"](p32, X32, t32, 0.1, **s32)
    assert all(v.dtype == np.float32 for v in p32.values())


# ------------------------------------------------------------------------------------------
# Argument checking
# ------------------------------------------------------------------------------------------

def test_mismatched_dtypes_raise():
    p32, X32, _, t32, _ = make_case("lstm", dtype=np.float32)
    with pytest.raises(TypeError, match="X has dtype float64"):
        R.lstm_forward(p32, X32.astype(np.float64))
    with pytest.raises(TypeError, match="target has dtype float64"):
        R.lstm_loss_and_grads(p32, X32, t32.astype(np.float64))
    with pytest.raises(TypeError, match="h0 has dtype float64"):
        R.gru_forward(make_case("gru", dtype=np.float32)[0], X32, h0=np.zeros((B, H)))
    mixed = dict(p32, W_h=p32["W_h"].astype(np.float64))
    with pytest.raises(TypeError, match="share one dtype"):
        R.lstm_forward(mixed, X32)
    _, cache32 = R.lstm_forward(p32, X32)
    with pytest.raises(TypeError, match="W_h has dtype float64"):
        R.lstm_backward(mixed, cache32, None)
    with pytest.raises(TypeError, match="dH_all has dtype float64"):
        R.lstm_backward(p32, cache32, np.zeros((T, B, H)))


def test_bad_shapes_and_options_raise():
    params, X, _, target, _ = make_case("lstm")
    with pytest.raises(ValueError, match="target must have shape"):
        R.lstm_loss_and_grads(params, X, target[:, 0])  # (B,) would broadcast to (B, B)
    with pytest.raises(ValueError, match="X must have 3 dimensions"):
        R.lstm_forward(params, X[0])
    with pytest.raises(ValueError, match="W_x must have shape"):
        R.lstm_forward(params, X[:, :, :-1])
    with pytest.raises(ValueError, match="all together"):
        R.lstm_forward(dict(params, p_i=np.zeros(H)), X)
    with pytest.raises(ValueError, match="loss must be one of"):
        R.lstm_loss_and_grads(params, X, target, loss="mae")
    rnn_params, _, _, _, _ = make_case("rnn")
    _, rnn_cache = R.rnn_forward(rnn_params, X)
    with pytest.raises(ValueError, match="rnn_forward"):
        R.lstm_backward(params, rnn_cache, None)


def test_init_lstm_params_layout():
    p = R.init_lstm_params(3, 5, 2, np.random.default_rng(0), np.float32, peephole=True,
                           forget_bias=1.5, scale=0.2)
    shapes = {k: v.shape for k, v in p.items()}
    assert shapes == {"W_x": (3, 20), "W_h": (5, 20), "b": (20,), "W_y": (5, 2), "b_y": (2,),
                      "p_i": (5,), "p_f": (5,), "p_o": (5,)}
    assert all(v.dtype == np.float32 for v in p.values())
    np.testing.assert_array_equal(p["b"], np.r_[np.zeros(5), np.full(5, 1.5), np.zeros(10)])
    assert np.abs(p["W_x"]).max() <= 0.2 and np.abs(p["W_x"]).max() > 0.1


# ------------------------------------------------------------------------------------------
# Numerics of the shared sigmoid
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_accurate_and_never_overflows(dtype):
    x = np.linspace(-30, 30, 601).astype(dtype)
    np.testing.assert_allclose(R.sigmoid(x), logistic(x.astype(np.float64)),
                               rtol=0, atol=4 * np.finfo(dtype).eps)
    extreme = np.array([-1e4, -100.0, 0.0, 100.0, 1e4], dtype)
    with np.errstate(all="raise"):
        s = R.sigmoid(extreme)
    assert s.dtype == dtype
    np.testing.assert_array_equal(s, np.array([0, 0, 0.5, 1, 1], dtype))


# ------------------------------------------------------------------------------------------
# The seed tutorial's model
# ------------------------------------------------------------------------------------------

def tutorial_case(seed=7, n_in=3, n_hidden=5, n_out=2, steps=3):
    rng = np.random.default_rng(seed)
    params = R.tutorial_init_params(n_in, n_hidden, n_out)
    for name in params:  # leave the tiny initial scale so every gate matters
        params[name] = params[name] + 0.5 * rng.standard_normal(params[name].shape)
    return params, rng.standard_normal((steps, n_in)), 0.7, rng


def test_tutorial_init_draws_in_tutorial_order():
    n_in, n_hidden, n_out = 3, 5, 1
    p = R.tutorial_init_params(n_in, n_hidden, n_out)
    rng = np.random.RandomState(1234)
    for gate in "gifo":
        np.testing.assert_array_equal(p["W_u" + gate],
                                      rng.normal(size=(n_in, n_hidden), scale=.01, loc=0.0))
        np.testing.assert_array_equal(p["W_h" + gate],
                                      rng.normal(size=(n_hidden, n_hidden), scale=.01, loc=0.0))
        np.testing.assert_array_equal(p["b_" + gate], np.zeros(n_hidden))
    np.testing.assert_array_equal(p["W_hy"], rng.normal(size=(n_hidden, n_out), scale=.01))
    np.testing.assert_array_equal(p["b_hy"], np.zeros(n_out))
    assert len(p) == 14


def test_tutorial_cost_and_grads_match_transcription():
    params, u, t, rng = tutorial_case()
    cost, grads = R.tutorial_lstm_cost_and_grads(params, u, t)
    assert set(grads) == set(params)
    assert cost == pytest.approx(naive_tutorial_cost(params, u, t), rel=1e-12)
    check_gradients(lambda p: naive_tutorial_cost(p, u, t), params, grads, rng)


def test_tutorial_costs_are_taken_before_each_update():
    rng = np.random.default_rng(8)
    xs = [rng.standard_normal((steps, 3)) for steps in (1, 2, 4)]
    ys = [0.5, -1.0, 2.0]
    lr = 0.3
    costs, final = R.tutorial_lstm_sgd_costs(xs, ys, n_hidden=6, lr=lr)
    p = R.tutorial_init_params(3, 6, 1)
    for u, t, cost in zip(xs, ys, costs):
        assert cost == pytest.approx(naive_tutorial_cost(p, u, t), rel=1e-12)
        _, grads = R.tutorial_lstm_cost_and_grads(p, u, t)
        p = {k: v - lr * grads[k] for k, v in p.items()}
    assert all(isinstance(c, float) for c in costs)
    for k in p:
        np.testing.assert_allclose(final[k], p[k], rtol=1e-14, atol=1e-16)


def test_tutorial_sgd_on_one_sample_decreases_cost():
    u = np.random.default_rng(9).standard_normal((5, 4))
    costs, _ = R.tutorial_lstm_sgd_costs([u] * 60, [1.5] * 60, n_hidden=8, lr=0.05)
    assert np.all(np.diff(costs) < 0)
    assert costs[-1] < 0.01 * costs[0]


def test_tutorial_accepts_rows_and_float32():
    rows = np.random.default_rng(10).standard_normal((4, 3))  # like the tutorial's x
    as_rows, _ = R.tutorial_lstm_sgd_costs(rows, [1.0, 2.0, 0.0, -1.0])
    as_steps, _ = R.tutorial_lstm_sgd_costs([r.reshape(1, 3) for r in rows],
                                            [1.0, 2.0, 0.0, -1.0])
    assert as_rows == as_steps
    c32, p32 = R.tutorial_lstm_sgd_costs(rows, [1.0, 2.0, 0.0, -1.0], dtype=np.float32)
    assert all(v.dtype == np.float32 for v in p32.values())
    np.testing.assert_allclose(c32, as_rows, rtol=1e-5)
