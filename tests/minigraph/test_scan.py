"""``scan`` against a plain unrolled Python loop built from the same step function with ordinary
minigraph ops: values and gradients (float64, to 1e-10), and against numpy where that is easy.

The unrolled loop (``unrolled_scan``) spells out Theano's semantics in a few lines, so it is the
reference for taps, ``go_backwards``, ``n_steps`` and ``truncate_gradient``.  Scans are built on
inputs of unknown shape and run both with and without rewrites; the unrolled reference is built on
inputs with static shapes (it needs the lengths to unroll).
"""
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minigraph as theano
import minigraph.tensor as T
from minigraph import ExecutionError
from minigraph.graph import TensorType
from minigraph.scan import ScanError
from minigraph.testing import check_grad

RTOL, ATOL = 1e-10, 1e-12
rng = np.random.default_rng(20240612)


def N(*shape, scale=1.0):
    return rng.standard_normal(shape) * scale


# --------------------------------------------------------------------------- the reference

def _seq_spec(s):
    if isinstance(s, dict):
        return s["input"], list(s.get("taps", [0]))
    return s, [0]


def unrolled_scan(fn, sequences=(), outputs_info=(), non_sequences=(), n_steps=None, go_backwards=False,
                  truncate_gradient=-1):
    """Theano's scan as a Python loop over ordinary graph ops; sequences need static lengths.

    Step t reads tap k of a sequence of length L at index ``t + k - lo`` (forwards) or
    ``L - 1 - hi + k - t`` (go_backwards), with lo = min(taps, 0), hi = max(taps, 0); a state with
    taps [-d, ...] starts from ``initial[0] .. initial[d-1]`` (the values at t-d .. t-1).  With
    ``truncate_gradient=k`` the outputs of the steps before the last k go through disconnected_grad:
    the gradient flows through the last k steps only.
    """
    def as_list(x):
        return list(x) if isinstance(x, (list, tuple)) else ([] if x is None else [x])
    sequences, outputs_info, non_sequences = as_list(sequences), as_list(outputs_info), as_list(non_sequences)
    seqs = []
    for s in sequences:
        v, taps = _seq_spec(s)
        seqs.append((v, taps, v.type.shape[0], min(min(taps), 0), max(max(taps), 0)))
    n = n_steps if n_steps is not None else min(L - (hi - lo) for _, _, L, lo, hi in seqs)
    states = []
    for o in outputs_info:
        if o is None:
            states.append(None)
        elif isinstance(o, dict) and o.get("taps", [-1]) != [-1]:
            taps = list(o["taps"])
            states.append((taps, [o["initial"][k] for k in range(-min(taps))]))
        else:
            states.append(([-1], [o["initial"] if isinstance(o, dict) else o]))
    outs = None
    for t in range(n):
        args = []
        for v, taps, L, lo, hi in seqs:
            args += [v[L - 1 - hi + k - t] if go_backwards else v[t + k - lo] for k in taps]
        for state in states:
            if state is not None:
                args += [state[1][k] for k in state[0]]
        res = fn(*args, *non_sequences)
        if isinstance(res, tuple) and len(res) == 2 and isinstance(res[1], dict):
            res = res[0]
        res = list(res) if isinstance(res, (list, tuple)) else [res]
        if 0 <= truncate_gradient and t < n - truncate_gradient:
            res = [theano.disconnected_grad(r) for r in res]
        outs = outs or [[] for _ in res]
        for i, r in enumerate(res):
            outs[i].append(r)
            if states and states[i] is not None:
                states[i][1].append(r)
    return [T.stack(o) for o in outs]


def _cost(outputs):
    """A scalar that exercises every entry of every output, nonlinearly."""
    total = 0.0
    for i, o in enumerate(outputs):
        total = total + (T.sin(o * (1.0 + 0.25 * i)) + 0.3 * o * o).sum()
    return total


def compare_with_unrolled(fn, values, spec, n_steps=None, go_backwards=False, truncate_gradient=-1,
                          cost=_cost, rewrites=(True, False), static=()):
    """Build scan(fn, **spec(*inputs)) and the unrolled loop; compare outputs, cost and gradients.
    The scan's inputs have unknown shapes, except those listed in ``static``."""
    values = [np.asarray(v) for v in values]
    dyn = [TensorType(v.dtype, v.shape if i in static else (None,) * v.ndim)(f"in{i}") for i, v in enumerate(values)]
    sta = [TensorType(v.dtype, v.shape)(f"in{i}") for i, v in enumerate(values)]
    outs, updates = theano.scan(fn, n_steps=n_steps, go_backwards=go_backwards,
                                truncate_gradient=truncate_gradient, return_list=True, **spec(*dyn))
    ref = unrolled_scan(fn, n_steps=n_steps, go_backwards=go_backwards, truncate_gradient=truncate_gradient,
                        **spec(*sta))
    floats = [i for i, v in enumerate(values) if v.dtype.kind == "f"]

    def program(inputs, outputs):
        c = cost(outputs)
        gs = theano.grad(c, [inputs[i] for i in floats], disconnected_inputs="ignore")
        return list(outputs) + [c] + gs

    expected = theano.function(sta, program(sta, ref), on_unused_input="ignore")(*values)
    for rewrite in rewrites:
        got = theano.function(dyn, program(dyn, outs), on_unused_input="ignore", rewrite=rewrite)(*values)
        assert len(got) == len(expected)
        for k, (a, b) in enumerate(zip(got, expected)):
            what = f"output {k}" if k < len(outs) else ("cost" if k == len(outs) else
                                                          f"gradient of input {floats[k - len(outs) - 1]}")
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=f"{what} (rewrite={rewrite})")
    return expected


def rnn_step(x_t, h_tm1, W, U, b):
    return T.tanh(T.dot(x_t, W) + T.dot(h_tm1, U) + b)


# --------------------------------------------------------------------------- plain RNN vs numpy

def test_rnn_values_and_gradients_match_numpy_bptt():
    X, h0, W, U, b = N(6, 3), N(4), N(3, 4), N(4, 4, scale=0.5), N(4)
    r = N(6, 4)
    xs = [T.matrix("X"), T.vector("h0"), T.matrix("W"), T.matrix("U"), T.vector("b")]
    hs, updates = theano.scan(rnn_step, sequences=xs[0], outputs_info=xs[1], non_sequences=xs[2:])
    assert not updates
    cost = (hs * T.constant(r)).sum()
    f = theano.function(xs, [hs, cost] + theano.grad(cost, xs))
    got = f(X, h0, W, U, b)

    H, h = [], h0
    for t in range(6):
        h = np.tanh(X[t] @ W + h @ U + b)
        H.append(h)
    H = np.array(H)
    gX, gW, gU, gb, gh = np.zeros_like(X), np.zeros_like(W), np.zeros_like(U), np.zeros_like(b), np.zeros(4)
    for t in reversed(range(6)):
        da = (r[t] + gh) * (1 - H[t] ** 2)
        h_prev = H[t - 1] if t else h0
        gX[t], gW, gU, gb = da @ W.T, gW + np.outer(X[t], da), gU + np.outer(h_prev, da), gb + da
        gh = da @ U.T
    expected = [H, (H * r).sum(), gX, gh, gW, gU, gb]
    for a, e in zip(got, expected):
        np.testing.assert_allclose(a, e, rtol=RTOL, atol=ATOL)


def test_rnn_matches_unrolled():
    compare_with_unrolled(rnn_step, [N(5, 3), N(4), N(3, 4), N(4, 4, scale=0.5), N(4)],
                          lambda X, h0, W, U, b: dict(sequences=X, outputs_info=h0, non_sequences=[W, U, b]))


def test_matrix_states_and_batched_sequences():
    compare_with_unrolled(rnn_step, [N(4, 2, 3), N(2, 5), N(3, 5), N(5, 5, scale=0.4), N(5)],
                          lambda X, h0, W, U, b: dict(sequences=X, outputs_info=h0, non_sequences=[W, U, b]))


# --------------------------------------------------------------------------- taps, directions, lengths

def _tap_step(x_m2, x_0, x_p1, y_t, h_tm1, W):
    return T.tanh(x_m2 * y_t + T.dot(x_p1, W) - 0.5 * x_0 * h_tm1)


@pytest.mark.parametrize("go_backwards", [False, True])
def test_sequence_taps_negative_and_positive(go_backwards):
    compare_with_unrolled(
        _tap_step, [N(7, 3), N(7, 3), N(3), N(3, 3)],
        lambda X, Y, h0, W: dict(sequences=[dict(input=X, taps=[-2, 0, 1]), Y], outputs_info=h0, non_sequences=W),
        go_backwards=go_backwards)


@pytest.mark.parametrize("taps", [[1, 2], [-3, -1], [2], [-1]])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_sequence_taps_all_on_one_side(taps, go_backwards):
    """As in Theano, tap 0 counts even when unused: taps [1, 2] read x[t+1], x[t+2] and give L-2 steps."""
    def step(*args):
        *xs, h = args
        out = h
        for i, x in enumerate(xs):
            out = T.tanh(out * x + (i + 1.0) * x)
        return out
    expected = compare_with_unrolled(step, [N(6, 2), N(2)],
                                     lambda X, h0: dict(sequences=dict(input=X, taps=taps), outputs_info=h0),
                                     go_backwards=go_backwards)
    assert expected[0].shape == (6 - (max(max(taps), 0) - min(min(taps), 0)), 2)


def test_taps_values_against_numpy():
    x = np.arange(8.0)
    X = T.vector("X")
    ys, _ = theano.scan(lambda a, b, c: a + 10 * b + 100 * c, sequences=dict(input=X, taps=[-2, 0, 1]))
    np.testing.assert_array_equal(theano.function([X], ys)(x), x[0:5] + 10 * x[2:7] + 100 * x[3:8])
    ys, _ = theano.scan(lambda a, b, c: a + 10 * b + 100 * c, sequences=dict(input=X, taps=[-2, 0, 1]),
                        go_backwards=True)
    np.testing.assert_array_equal(theano.function([X], ys)(x), (x[0:5] + 10 * x[2:7] + 100 * x[3:8])[::-1])


def test_several_sequences_with_different_taps_use_one_length():
    """Sequences of one length, the longest tap span sets the number of steps (as in Theano)."""
    compare_with_unrolled(
        lambda a, b, c, d, h: T.tanh(h * a + b * c - d),
        [N(7, 3), N(7, 3), N(7, 3), N(3)],
        lambda X, Y, Z, h0: dict(sequences=[dict(input=X, taps=[-1]), dict(input=Y, taps=[0, 2]), Z],
                                 outputs_info=h0))
    compare_with_unrolled(
        lambda a, b, c, d, h: T.tanh(h * a + b * c - d),
        [N(7, 3), N(7, 3), N(7, 3), N(3)],
        lambda X, Y, Z, h0: dict(sequences=[dict(input=X, taps=[-1]), dict(input=Y, taps=[0, 2]), Z],
                                 outputs_info=h0), go_backwards=True)


def test_multiple_states_and_none_outputs():
    def step(x_t, h_tm1, c_tm1, W):
        h = T.tanh(T.dot(h_tm1, W) + x_t * c_tm1)
        c = 0.5 * c_tm1 + T.sin(h)
        return h, T.exp(-h * h) * x_t, c, (h * c).sum()
    compare_with_unrolled(step, [N(5, 3), N(3), N(3), N(3, 3, scale=0.5)],
                          lambda X, h0, c0, W: dict(sequences=X, outputs_info=[h0, None, c0, None],
                                                    non_sequences=W))


def test_integer_state_next_to_float_states():
    def step(x_t, h_tm1, i_tm1, W):
        return T.tanh(T.dot(h_tm1, W) * T.cast(i_tm1, "float64") + x_t), i_tm1 + 1
    expected = compare_with_unrolled(step, [N(4, 3), N(3), np.int64(1), N(3, 3, scale=0.3)],
                                     lambda X, h0, i0, W: dict(sequences=X, outputs_info=[h0, i0], non_sequences=W),
                                     cost=lambda outs: _cost(outs[:1]))
    np.testing.assert_array_equal(expected[1], [2, 3, 4, 5])


def test_none_outputs_are_not_fed_back():
    X = T.vector("X")
    h0 = T.scalar("h0")
    (s, y), _ = theano.scan(lambda x, s: (s + x, 2 * s), sequences=X, outputs_info=[h0, None])
    x = np.array([1.0, 2.0, 3.0])
    got_s, got_y = theano.function([X, h0], [s, y])(x, 10.0)
    np.testing.assert_array_equal(got_s, [11, 13, 16])
    np.testing.assert_array_equal(got_y, [20, 22, 26])  # y_t = 2 * s_{t-1}: its own value never comes back


@pytest.mark.parametrize("go_backwards", [False, True])
def test_go_backwards(go_backwards):
    compare_with_unrolled(rnn_step, [N(5, 3), N(4), N(3, 4), N(4, 4, scale=0.5), N(4)],
                          lambda X, h0, W, U, b: dict(sequences=X, outputs_info=h0, non_sequences=[W, U, b]),
                          go_backwards=go_backwards)


def test_go_backwards_values_against_numpy():
    X = T.vector("X")
    acc, _ = theano.scan(lambda x, a: 2 * a + x, sequences=X, outputs_info=T.constant(0.0), go_backwards=True)
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(theano.function([X], acc)(x), [3.0, 8.0, 17.0])


# --------------------------------------------------------------------------- multi-tap states

def test_fibonacci_values():
    x0 = T.vector("x0")
    n = T.lscalar("n")
    fib, _ = theano.scan(lambda a, b: a + b, outputs_info=dict(initial=x0, taps=[-2, -1]), n_steps=n)
    np.testing.assert_array_equal(theano.function([x0, n], fib)([0.0, 1.0], 8), [1, 2, 3, 5, 8, 13, 21, 34])


def test_multi_tap_state_order():
    """initial[0] is the value at t-2, initial[1] at t-1 (Theano's convention)."""
    x0 = T.vector("x0")
    out, _ = theano.scan(lambda a, b: a - 2 * b, outputs_info=dict(initial=x0, taps=[-2, -1]), n_steps=3)
    # x_{-2} = 1, x_{-1} = 10: x_0 = 1 - 20 = -19, x_1 = 10 + 38 = 48, x_2 = -19 - 96 = -115
    np.testing.assert_array_equal(theano.function([x0], out)([1.0, 10.0]), [-19, 48, -115])


def test_multi_tap_state_matches_unrolled():
    def step(x_t, s_m3, s_m1, W):
        return T.tanh(T.dot(s_m1, W) + 0.7 * s_m3 * x_t)
    compare_with_unrolled(step, [N(6, 3), N(3, 3), N(3, 3, scale=0.5)],
                          lambda X, S0, W: dict(sequences=X, outputs_info=dict(initial=S0, taps=[-3, -1]),
                                                non_sequences=W))


def test_multi_tap_state_without_sequences():
    compare_with_unrolled(lambda a, b: 0.5 * a + T.sin(b), [N(2, 3)],
                          lambda S0: dict(outputs_info=[dict(initial=S0, taps=[-2, -1])]), n_steps=6)
    compare_with_unrolled(lambda a: 0.5 * a + T.sin(a), [N(2, 3)],
                          lambda S0: dict(outputs_info=[dict(initial=S0, taps=[-2])]), n_steps=5)


# --------------------------------------------------------------------------- n_steps

def test_n_steps_without_sequences():
    compare_with_unrolled(lambda h, W: T.tanh(T.dot(h, W) + 0.1), [N(3), N(3, 3)],
                          lambda h0, W: dict(outputs_info=h0, non_sequences=W), n_steps=5)


def _symbolic_n_steps_case(steps):
    h0, W, n = T.vector("h0"), T.matrix("W"), T.lscalar("n")
    hs, _ = theano.scan(lambda h, W: T.tanh(T.dot(h, W) + 0.1), outputs_info=h0, non_sequences=W, n_steps=n)
    cost = (hs * hs).sum() + (h0 * h0).sum()
    f = theano.function([h0, W, n], [hs, cost] + theano.grad(cost, [h0, W]))
    h, w = N(3), N(3, 3)
    sh0, sW = TensorType("float64", (3,))("h0"), TensorType("float64", (3, 3))("W")
    ref = unrolled_scan(lambda h, W: T.tanh(T.dot(h, W) + 0.1), outputs_info=[sh0], non_sequences=[sW],
                        n_steps=steps)[0] if steps else T.zeros((0, 3))
    rcost = (ref * ref).sum() + (sh0 * sh0).sum()
    expected = theano.function([sh0, sW], [ref, rcost] + theano.grad(rcost, [sh0, sW], disconnected_inputs="ignore"),
                               on_unused_input="ignore")(h, w)
    for a, e in zip(f(h, w, steps), expected):
        assert np.shape(a) == np.shape(e)
        np.testing.assert_allclose(a, e, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("steps", [1, 4])
def test_symbolic_n_steps(steps):
    _symbolic_n_steps_case(steps)


def test_zero_steps_values():
    h0, n, X = T.vector("h0"), T.lscalar("n"), T.matrix("X")
    (hs, ys), _ = theano.scan(lambda h: (h * 2, T.outer(h, h)), outputs_info=[h0, None], n_steps=n)
    got_h, got_y = theano.function([h0, n], [hs, ys])(N(3), 0)
    assert got_h.shape == (0, 3) and got_y.shape == (0, 3, 3)
    zs, _ = theano.map(lambda x: T.outer(x, x), X)
    assert theano.function([X], zs)(np.zeros((0, 4))).shape == (0, 4, 4)


def test_zero_steps_gradient():
    _symbolic_n_steps_case(0)


@pytest.mark.parametrize("go_backwards", [False, True])
def test_n_steps_smaller_than_sequence(go_backwards):
    compare_with_unrolled(rnn_step, [N(7, 3), N(4), N(3, 4), N(4, 4, scale=0.5), N(4)],
                          lambda X, h0, W, U, b: dict(sequences=X, outputs_info=h0, non_sequences=[W, U, b]),
                          n_steps=4, go_backwards=go_backwards)
    compare_with_unrolled(
        _tap_step, [N(7, 3), N(9, 3), N(3), N(3, 3)],
        lambda X, Y, h0, W: dict(sequences=[dict(input=X, taps=[-2, 0, 1]), Y], outputs_info=h0, non_sequences=W),
        n_steps=3, go_backwards=go_backwards)


def test_symbolic_n_steps_smaller_than_sequence_values():
    X, n = T.vector("X"), T.lscalar("n")
    s, _ = theano.scan(lambda x, a: a + x, sequences=X, outputs_info=T.constant(0.0), n_steps=n)
    g = theano.grad(s[-1], X)
    f = theano.function([X, n], [s, g])
    got_s, got_g = f(np.array([1.0, 2.0, 3.0, 4.0]), 2)
    np.testing.assert_array_equal(got_s, [1.0, 3.0])
    np.testing.assert_array_equal(got_g, [1.0, 1.0, 0.0, 0.0])  # the steps that did not run get no gradient


# --------------------------------------------------------------------------- nested scans

def _inner_loop(x_t, h, W):
    inner, _ = theano.scan(lambda a, c, W: T.tanh(a * c + T.dot(c, W)), sequences=T.stack([x_t, h, x_t * h]),
                           outputs_info=h, non_sequences=W)
    return inner[-1]


def _inner_unrolled(x_t, h, W):
    c = h
    for a in (x_t, h, x_t * h):
        c = T.tanh(a * c + T.dot(c, W))
    return c


def test_nested_scan_matches_unrolled():
    x, h, w = N(4, 3), N(3), N(3, 3, scale=0.5)
    values = [x, h, w]
    dyn = [T.matrix("X"), T.vector("h0"), T.matrix("W")]
    sta = [TensorType("float64", v.shape)(n) for v, n in zip(values, "XhW")]
    hs, _ = theano.scan(lambda x_t, h, W: 0.9 * _inner_loop(x_t, h, W) + x_t, sequences=dyn[0],
                        outputs_info=dyn[1], non_sequences=dyn[2])
    ref = unrolled_scan(lambda x_t, h, W: 0.9 * _inner_unrolled(x_t, h, W) + x_t, sequences=[sta[0]],
                        outputs_info=[sta[1]], non_sequences=[sta[2]])[0]
    got = theano.function(dyn, [hs] + theano.grad(_cost([hs]), dyn))(*values)
    expected = theano.function(sta, [ref] + theano.grad(_cost([ref]), sta))(*values)
    for a, e in zip(got, expected):
        np.testing.assert_allclose(a, e, rtol=RTOL, atol=ATOL)


def test_nested_scan_over_rows_of_a_matrix_sequence():
    """The outer loop walks a 3-d sequence; the inner loop walks each matrix (a sum of prefix products)."""
    def outer(m, acc):
        prods, _ = theano.scan(lambda row, p: p * row, sequences=m, outputs_info=T.ones_like(m[0]))
        return acc + prods.sum(axis=0)
    compare_with_unrolled(outer, [N(3, 4, 2), N(2)], lambda X, a0: dict(sequences=X, outputs_info=a0))


# --------------------------------------------------------------------------- captured variables

def test_captured_shared_variable_gets_gradient():
    x, h, w = N(5, 3), N(3), N(3, 3, scale=0.5)
    Ws = theano.shared(w, "Ws")
    X, h0 = T.matrix("X"), T.vector("h0")
    hs, _ = theano.scan(lambda x_t, h: T.tanh(T.dot(h, Ws) + x_t), sequences=X, outputs_info=h0)
    got = theano.function([X, h0], [hs, theano.grad(_cost([hs]), Ws)])(x, h)

    sX, W = TensorType("float64", (5, 3))("X"), TensorType("float64", (3, 3))("W")
    ref = unrolled_scan(lambda x_t, h: T.tanh(T.dot(h, W) + x_t), sequences=[sX], outputs_info=[h0])[0]
    expected = theano.function([sX, h0, W], [ref, theano.grad(_cost([ref]), W)])(x, h, w)
    for a, e in zip(got, expected):
        np.testing.assert_allclose(a, e, rtol=RTOL, atol=ATOL)
    Ws.set_value(w * 0.5)  # the compiled loop reads the shared value at call time
    f = theano.function([X, h0], hs)
    assert not np.allclose(f(x, h), got[0])


def test_captured_outer_variables_leaf_and_computed():
    """The step uses W (a leaf) and W2 = 2 * W (computed outside) without receiving them."""
    x, h, w = N(5, 3), N(3), N(3, 3, scale=0.3)
    X, h0, W = T.matrix("X"), T.vector("h0"), T.matrix("W")
    W2 = 2.0 * W + 0.1
    hs, _ = theano.scan(lambda x_t, h: T.tanh(T.dot(h, W2) + T.dot(x_t, W)), sequences=X, outputs_info=h0)
    cost = _cost([hs])
    gW, gW2 = theano.grad(cost, [W, W2])  # W2 itself is a variable of the outer graph: it has a gradient
    got = theano.function([X, h0, W], [hs, gW, gW2])(x, h, w)

    sX, sW = TensorType("float64", (5, 3))("X"), TensorType("float64", (3, 3))("W")
    sW2 = 2.0 * sW + 0.1
    ref = unrolled_scan(lambda x_t, h: T.tanh(T.dot(h, sW2) + T.dot(x_t, sW)), sequences=[sX],
                        outputs_info=[h0])[0]
    rc = _cost([ref])
    expected = theano.function([sX, h0, sW], [ref] + theano.grad(rc, [sW, sW2]))(x, h, w)
    for a, e in zip(got, expected):
        np.testing.assert_allclose(a, e, rtol=RTOL, atol=ATOL)


def test_strict_refuses_captured_variables():
    X, W = T.matrix("X"), T.matrix("W")
    with pytest.raises(ScanError, match=r"strict=True.*W.*non_sequences"):
        theano.scan(lambda x: T.dot(x, W), sequences=X, strict=True)
    ys, _ = theano.scan(lambda x, W: T.dot(x, W), sequences=X, non_sequences=W, strict=True)
    np.testing.assert_allclose(theano.function([X, W], ys)(np.eye(2), np.ones((2, 2))), np.ones((2, 2)))


# --------------------------------------------------------------------------- shared-variable updates

def test_updates_returned_by_the_step():
    count = theano.shared(np.float64(0.0), "count")
    total = theano.shared(np.zeros(3), "total")
    X = T.matrix("X")

    def step(x_t, h):  # each step sees the values updated by the steps before it
        return h + count * x_t, {count: count + 1.0, total: total + x_t}
    hs, updates = theano.scan(step, sequences=X, outputs_info=T.zeros((3,)))
    assert set(updates) == {count, total}
    f = theano.function([X], hs, updates=updates)
    x = N(4, 3)
    expected = np.cumsum(np.arange(4.0)[:, None] * x, axis=0)
    np.testing.assert_allclose(f(x), expected, rtol=RTOL, atol=ATOL)
    assert count.get_value() == 4.0
    np.testing.assert_allclose(total.get_value(), x.sum(axis=0), rtol=RTOL)
    np.testing.assert_allclose(f(x), np.cumsum((4.0 + np.arange(4.0))[:, None] * x, axis=0), rtol=RTOL)
    assert count.get_value() == 8.0
    # without the updates the shared variables keep their values
    theano.function([X], hs)(x)
    assert count.get_value() == 8.0


def test_updated_shared_variable_passed_as_non_sequence():
    """Theano's idiom: the shared variable is also a non-sequence; the step reads the carried value."""
    count = theano.shared(np.float64(1.0), "count")
    X = T.vector("X")
    ys, updates = theano.scan(lambda x, c: (c * x, {c: c + 1.0}), sequences=X, non_sequences=count)
    f = theano.function([X], ys, updates=updates)
    np.testing.assert_array_equal(f(np.array([1.0, 1.0, 2.0])), [1.0, 2.0, 6.0])
    assert count.get_value() == 4.0
    ys, updates = theano.scan(lambda x, c: (c * x, {c: c * 2.0}), sequences=X, non_sequences=[count], strict=True)
    np.testing.assert_array_equal(theano.function([X], ys, updates=updates)(np.ones(2)), [4.0, 8.0])


def test_updates_only_step():
    acc = theano.shared(np.float64(1.0), "acc")
    X = T.vector("X")
    _, updates = theano.scan(lambda x: {acc: acc * x}, sequences=X)
    theano.function([X], [], updates=updates)(np.array([2.0, 3.0, 4.0]))
    assert acc.get_value() == 24.0


def test_updates_after_zero_steps_keep_the_shared_values():
    acc = theano.shared(np.float64(1.0), "acc")
    count = theano.shared(np.int32(0), "count")
    X = T.vector("X")
    _, updates = theano.scan(lambda x: {acc: acc * x, count: count + np.int32(1)}, sequences=X)
    f = theano.function([X], [], updates=updates)
    f(np.array([2.0, 3.0]))
    f(np.zeros(0))
    assert acc.get_value() == 6.0 and count.get_value() == 2 and count.get_value().dtype == np.int32


# --------------------------------------------------------------------------- truncated BPTT

@pytest.mark.parametrize("k", [0, 1, 3, 6, 9])
def test_truncate_gradient(k):
    compare_with_unrolled(rnn_step, [N(6, 3), N(4), N(3, 4), N(4, 4, scale=0.5), N(4)],
                          lambda X, h0, W, U, b: dict(sequences=X, outputs_info=h0, non_sequences=[W, U, b]),
                          truncate_gradient=k)


def test_truncate_gradient_with_taps_and_several_outputs():
    def step(x_m1, x_0, s_m2, s_m1, h_tm1, W):
        s = T.tanh(T.dot(s_m1, W) + x_0 * s_m2)
        h = T.sin(h_tm1 + x_m1 * s)
        return s, h, h * s
    compare_with_unrolled(step, [N(7, 3), N(2, 3), N(3), N(3, 3, scale=0.5)],
                          lambda X, S0, h0, W: dict(sequences=dict(input=X, taps=[-1, 0]),
                                                    outputs_info=[dict(initial=S0, taps=[-2, -1]), h0, None],
                                                    non_sequences=W),
                          truncate_gradient=3)


@pytest.mark.parametrize("taps", [[-2, -1], [-3, -1], [-2]])
@pytest.mark.parametrize("k", [1, 2])
def test_truncate_gradient_reaches_initial_values_read_inside_the_window(taps, k):
    """With taps [-2, -1] the last step still reads initial[1] when there are 2 steps: truncation to k=1
    keeps that gradient (only outputs of the truncated steps are cut off)."""
    def step(x_t, *state):
        return T.tanh(state[-1] * x_t + 0.3 * state[0]), state[0] * x_t
    for steps in (1, 2, 3):
        compare_with_unrolled(step, [N(steps, 3), N(-min(taps), 3)],
                              lambda X, S0: dict(sequences=X, outputs_info=[dict(initial=S0, taps=taps), None]),
                              truncate_gradient=k, rewrites=(True,))


def test_truncate_gradient_going_backwards():
    compare_with_unrolled(rnn_step, [N(6, 3), N(4), N(3, 4), N(4, 4, scale=0.5), N(4)],
                          lambda X, h0, W, U, b: dict(sequences=X, outputs_info=h0, non_sequences=[W, U, b]),
                          truncate_gradient=2, go_backwards=True)


def test_second_order_of_truncated_gradient_matches_unrolled():
    x, h, w, u = N(6, 3), N(3), N(3, 3, scale=0.5), N(3, 3)
    step = lambda x_t, h, W: T.tanh(T.dot(h, W) + x_t)  # noqa: E731
    X, h0, W = T.matrix("X"), T.vector("h0"), T.matrix("W")
    hs, _ = theano.scan(step, sequences=X, outputs_info=h0, non_sequences=W, truncate_gradient=3)
    g = theano.grad(_cost([hs]), W)
    got = theano.function([X, h0, W], [g] + theano.grad((g * T.constant(u)).sum(), [X, h0, W]))(x, h, w)
    sta = [TensorType("float64", v.shape)(n) for v, n in zip((x, h, w), "XhW")]
    ref = unrolled_scan(step, sequences=[sta[0]], outputs_info=[sta[1]], non_sequences=[sta[2]],
                        truncate_gradient=3)[0]
    rg = theano.grad(_cost([ref]), sta[2])
    expected = theano.function(sta, [rg] + theano.grad((rg * T.constant(u)).sum(), sta,
                                                       disconnected_inputs="ignore"))(x, h, w)
    for a, e in zip(got, expected):
        np.testing.assert_allclose(a, e, rtol=RTOL, atol=ATOL)
    assert np.any(got[1][3:] != 0) and np.all(got[1][:3] == 0)


def test_truncate_gradient_last_output_only_matches_numpy():
    """With the cost on the last state only, truncation to k keeps exactly the last k factors."""
    X, h0 = T.vector("X"), T.scalar("h0")
    hs, _ = theano.scan(lambda x, h: 0.5 * h + x * x, sequences=X, outputs_info=h0, truncate_gradient=2)
    f = theano.function([X, h0], theano.grad(hs[-1], [X, h0]))
    gx, gh = f(np.array([1.0, 2.0, 3.0, 4.0]), 1.0)
    np.testing.assert_allclose(gx, [0.0, 0.0, 0.5 * 2 * 3.0, 2 * 4.0])
    assert gh == 0.0


# --------------------------------------------------------------------------- second order

def _rnn_loss(X, h0, W):
    hs, _ = theano.scan(lambda x_t, h, W: T.tanh(T.dot(h, W) + x_t), sequences=X, outputs_info=h0,
                        non_sequences=W)
    return (hs * hs).sum()


def test_second_order_check_grad():
    check_grad(_rnn_loss, [N(4, 3), N(3), N(3, 3, scale=0.5)], order=2)


def test_hessian_vector_product_matches_unrolled_and_finite_differences():
    x, h, w, u = N(5, 3), N(3), N(3, 3, scale=0.5), N(3, 3)
    X, h0, W = T.matrix("X"), T.vector("h0"), T.matrix("W")
    g = theano.grad(_rnn_loss(X, h0, W), W)
    hvp = theano.grad((g * T.constant(u)).sum(), [X, h0, W])
    got = theano.function([X, h0, W], hvp)(x, h, w)

    sta = [TensorType("float64", v.shape)(n) for v, n in zip((x, h, w), "XhW")]
    ref_hs = unrolled_scan(lambda x_t, h, W: T.tanh(T.dot(h, W) + x_t), sequences=[sta[0]], outputs_info=[sta[1]],
                           non_sequences=[sta[2]])[0]
    rg = theano.grad((ref_hs * ref_hs).sum(), sta[2])
    expected = theano.function(sta, theano.grad((rg * T.constant(u)).sum(), sta))(x, h, w)
    for a, e in zip(got, expected):
        np.testing.assert_allclose(a, e, rtol=RTOL, atol=ATOL)

    # and against central differences of the gradient along u
    f_g = theano.function([X, h0, W], g)
    eps = 1e-5
    fd = (f_g(x, h, w + eps * u) - f_g(x, h, w - eps * u)) / (2 * eps)
    np.testing.assert_allclose(got[2], fd, rtol=1e-6, atol=1e-8)


def test_second_order_with_taps_and_go_backwards():
    def fun(X, S0, W):
        out, _ = theano.scan(lambda a, b, s2, s1, W: T.tanh(T.dot(s1, W) + a * s2 - b),
                             sequences=dict(input=X, taps=[-1, 1]), outputs_info=dict(initial=S0, taps=[-2, -1]),
                             non_sequences=W, go_backwards=True)
        return out
    check_grad(fun, [N(6, 3), N(2, 3), N(3, 3, scale=0.5)], order=2)


def test_second_order_through_nested_scan():
    check_grad(lambda X, h0, W: _inner_loop(X[0], h0, W), [N(2, 3), N(3), N(3, 3, scale=0.5)], order=2)


# --------------------------------------------------------------------------- jacobian / hessian

def test_jacobian_matches_hand_derivative():
    v = T.vector("v")
    vv = N(4)
    J = theano.function([v], T.jacobian(T.tanh(v) * v.sum(), v))(vv)
    expected = np.diag(1 - np.tanh(vv) ** 2) * vv.sum() + np.tanh(vv)[:, None]
    np.testing.assert_allclose(J, expected, rtol=RTOL, atol=ATOL)


def test_jacobian_of_matrix_vector_product_and_list_of_wrt():
    x, A = T.vector("x"), T.matrix("A")
    xv, Av = N(3), N(4, 3)
    Jx, JA = theano.function([x, A], T.jacobian(T.dot(A, x) ** 2, [x, A]))(xv, Av)
    y = Av @ xv
    np.testing.assert_allclose(Jx, 2 * y[:, None] * Av, rtol=RTOL, atol=ATOL)
    expected_A = np.zeros((4, 4, 3))
    for i in range(4):
        expected_A[i, i] = 2 * y[i] * xv
    np.testing.assert_allclose(JA, expected_A, rtol=RTOL, atol=ATOL)


def test_hessian_matches_hand_derivative():
    v = T.vector("v")
    vv = N(4)
    H = theano.function([v], T.hessian((v ** 3).sum() + v.sum() ** 2 + T.sin(v[0] * v[1]), v))(vv)
    expected = np.diag(6 * vv) + 2
    s = -np.sin(vv[0] * vv[1])
    expected[0, 0] += s * vv[1] ** 2
    expected[1, 1] += s * vv[0] ** 2
    expected[0, 1] += s * vv[0] * vv[1] + np.cos(vv[0] * vv[1])
    expected[1, 0] = expected[0, 1]
    np.testing.assert_allclose(H, expected, rtol=RTOL, atol=ATOL)


def test_jacobian_of_an_rnn_state():
    """jacobian of the last state of a scan: a scan (over rows) of a scan's gradient; checked by columns
    of finite differences."""
    X, h0, W = T.matrix("X"), T.vector("h0"), T.matrix("W")
    hs, _ = theano.scan(lambda x_t, h, W: T.tanh(T.dot(h, W) + x_t), sequences=X, outputs_info=h0,
                        non_sequences=W)
    x, h, w = N(4, 3), N(3), N(3, 3, scale=0.5)
    J = theano.function([X, h0, W], T.jacobian(hs[-1], h0))(x, h, w)
    f = theano.function([X, h0, W], hs[-1])
    eps = 1e-6
    fd = np.stack([(f(x, h + eps * e, w) - f(x, h - eps * e, w)) / (2 * eps) for e in np.eye(3)], axis=1)
    np.testing.assert_allclose(J, fd, rtol=1e-7, atol=1e-9)


# --------------------------------------------------------------------------- map / reduce / foldl / foldr

def test_map_reduce_foldl_foldr_values_and_gradients():
    v, w = T.vector("v"), T.vector("w")
    a, b = N(5), N(5)
    m, _ = theano.map(lambda x, y: x * T.sin(y), [v, w])
    r, _ = theano.reduce(lambda x, acc: acc * 0.5 + x * x, v, T.constant(0.0))
    fl, _ = theano.foldl(lambda x, acc: acc * 2.0 + x, v, T.constant(0.0))
    fr, _ = theano.foldr(lambda x, acc: acc * 2.0 + x, v, T.constant(0.0))
    outs = [m, r, fl, fr]
    grads = [theano.grad(o.sum(), v) for o in outs]
    got = theano.function([v, w], outs + grads)(a, b)

    acc_r, acc_l, acc_rr = 0.0, 0.0, 0.0
    for x in a:
        acc_r, acc_l = acc_r * 0.5 + x * x, acc_l * 2.0 + x
    for x in a[::-1]:
        acc_rr = acc_rr * 2.0 + x
    p = 2.0 ** np.arange(4, -1, -1)
    expected = [a * np.sin(b), acc_r, acc_l, acc_rr,
                np.sin(b), 2 * a * 0.5 ** np.arange(4, -1, -1), p, p[::-1]]
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=RTOL, atol=ATOL)


def test_reduce_with_several_states():
    v = T.vector("v")
    (s, q), _ = theano.reduce(lambda x, s, q: (s + x, q + x * x), v, [T.constant(0.0), T.constant(0.0)])
    a = N(6)
    got = theano.function([v], [s, q])(a)
    np.testing.assert_allclose(got, [a.sum(), (a * a).sum()], rtol=RTOL)


# --------------------------------------------------------------------------- fusion when scan builds the step

def _step_ops(hs):
    """Op type names in the step graph of the scan that computed ``hs``."""
    from minigraph.graph import toposort
    op = hs.owner.op if hs.owner.op.__class__.__name__ == "Scan" else hs.owner.inputs[0].owner.op
    return [type(n.op).__name__ for n in toposort(op.inner_outputs)]


def _per_gate_lstm(x_t, h, c, *w):
    """The seed tutorial's way: one input weight, one recurrent weight and one bias per gate."""
    (Wi, Wf, Wo, Wg), (Ui, Uf, Uo, Ug), (bi, bf, bo, bg) = w[0:4], w[4:8], w[8:12]
    i = T.nnet.sigmoid(T.dot(x_t, Wi) + T.dot(h, Ui) + bi)
    f = T.nnet.sigmoid(T.dot(x_t, Wf) + T.dot(h, Uf) + bf)
    o = T.nnet.sigmoid(T.dot(x_t, Wo) + T.dot(h, Uo) + bo)
    g = T.tanh(T.dot(x_t, Wg) + T.dot(h, Ug) + bg)
    c_new = f * c + i * g
    return [o * T.tanh(c_new), c_new]


def test_per_gate_lstm_becomes_the_fused_one_and_matches_unrolled():
    r = np.random.default_rng(5)
    I, H = 2, 3
    weights = [0.5 * r.standard_normal((I, H)) for _ in range(4)] \
        + [0.5 * r.standard_normal((H, H)) for _ in range(4)] + [0.1 * r.standard_normal(H) for _ in range(4)]
    X, h0, c0 = r.standard_normal((4, 2, I)), r.standard_normal((2, H)), r.standard_normal((2, H))
    compare_with_unrolled(_per_gate_lstm, [X, h0, c0] + weights,  # static weight shapes: fusion applies
                          lambda X, h0, c0, *w: dict(sequences=X, outputs_info=[h0, c0], non_sequences=list(w)),
                          static=range(3, 15))
    Xs, hs0, cs0 = T.tensor3("X"), T.matrix("h0"), T.matrix("c0")
    ws = [TensorType("float64", w.shape)(f"w{k}") for k, w in enumerate(weights)]
    (hs, _), _ = theano.scan(_per_gate_lstm, sequences=Xs, outputs_info=[hs0, cs0], non_sequences=ws)
    ops = _step_ops(hs)
    # two products (x and h), one sum of them, one bias add, one sigmoid for the three sigmoid gates
    assert ops.count("Dot") == 2 and ops.count("Sigmoid") == 1 and ops.count("Add") == 3, ops


def test_blocks_whose_other_operand_changes_every_step_are_not_joined():
    """Joining a carry block by block would copy it every step: such blocks stay apart (same values)."""
    r = np.random.default_rng(6)

    def step(x_t, h, c, U):
        z = T.dot(h, U)
        return [T.tanh(z[:, :2] * c + x_t), z[:, 2:] * c]

    compare_with_unrolled(step, [r.standard_normal((3, 1, 2)), r.standard_normal((1, 2)), r.standard_normal((1, 2)),
                                 0.5 * r.standard_normal((2, 4))],
                          lambda X, h0, c0, U: dict(sequences=X, outputs_info=[h0, c0], non_sequences=U),
                          static=range(4))
    Xs, h0, c0, U = T.tensor3("X"), T.matrix("h0"), T.matrix("c0"), TensorType("float64", (2, 4))("U")
    (hs, _), _ = theano.scan(step, sequences=Xs, outputs_info=[h0, c0], non_sequences=U)
    assert _step_ops(hs).count("Mul") == 2


# --------------------------------------------------------------------------- random step functions

_LEAVES = ("x", "h", "xW", "hW", "x2", "h2")
_UNARY = ("tanh", "sin", "sigmoid", "half", "neg", "sq")
_BINARY = ("add", "sub", "mul")


def _expr():
    leaf = st.sampled_from(_LEAVES)
    return st.recursive(
        leaf,
        lambda sub: st.one_of(st.tuples(st.sampled_from(_UNARY), sub),
                              st.tuples(st.sampled_from(_BINARY), sub, sub),
                              st.tuples(st.just("dotW"), sub)),
        max_leaves=6)


def _build(e, xs, hs, W):
    """xs: the sequence taps' slices, hs: the state taps' values (the last is t-1)."""
    if isinstance(e, str):
        return {"x": xs[0], "h": hs[-1], "xW": T.dot(xs[0], W), "hW": T.dot(hs[-1], W),
                "x2": xs[-1], "h2": hs[0]}[e]
    args = [_build(a, xs, hs, W) for a in e[1:]]
    op = e[0]
    if op == "dotW":
        return T.dot(args[0], W)
    if op in _BINARY:
        return {"add": T.add, "sub": T.sub, "mul": T.mul}[op](*args)
    a = args[0]
    return {"tanh": T.tanh, "sin": T.sin, "sigmoid": T.nnet.sigmoid, "half": lambda z: 0.5 * z,
            "neg": T.neg, "sq": lambda z: z * z}[op](a)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expr=_expr(), extra=_expr(), steps=st.integers(1, 4), go_backwards=st.booleans(),
       seq_taps=st.sampled_from([[0], [-1, 0], [0, 2], [-2, 1], [1]]),
       state_taps=st.sampled_from([[-1], [-2, -1], [-2]]), truncate=st.sampled_from([-1, -1, 1, 2]),
       seed=st.integers(0, 2**16))
def test_random_step_functions_match_unrolled(expr, extra, steps, go_backwards, seq_taps, state_taps, truncate,
                                              seed):
    r = np.random.default_rng(seed)
    n_seq = len(seq_taps)

    def step(*args):  # tanh keeps the state bounded whatever the tree
        xs, hs, W = args[:n_seq], args[n_seq:-1], args[-1]
        return T.tanh(_build(expr, xs, hs, W)), _build(extra, xs, hs, W)
    span = max(max(seq_taps), 0) - min(min(seq_taps), 0)
    depth = -min(state_taps)
    init = r.standard_normal((depth, 3) if state_taps != [-1] else (3,))
    compare_with_unrolled(step, [r.standard_normal((steps + span, 3)), init, 0.5 * r.standard_normal((3, 3))],
                          lambda X, h0, W: dict(sequences=dict(input=X, taps=seq_taps),
                                                outputs_info=[dict(initial=h0, taps=state_taps), None],
                                                non_sequences=W),
                          go_backwards=go_backwards, truncate_gradient=truncate, rewrites=(True,))


# --------------------------------------------------------------------------- errors

def test_dtype_mismatch_is_a_build_time_error_naming_output_and_fix():
    X, h0 = T.matrix("X"), T.vector("h0")
    with pytest.raises(ScanError) as err:
        theano.scan(lambda x, h: T.cast(h + x, "float32"), sequences=X, outputs_info=h0)
    msg = str(err.value)
    assert "output 0" in msg and "float32" in msg and "float64" in msg and "h0" in msg
    assert "T.cast" in msg  # says how to fix it


def test_ndim_mismatch_is_a_build_time_error():
    X, h0 = T.matrix("X"), T.vector("h0")
    with pytest.raises(ScanError, match=r"output 0 .* 2 dimensions .* has 1"):
        theano.scan(lambda x, h: T.outer(h, x), sequences=X, outputs_info=h0)


def test_broadcastable_initial_state_names_the_axis():
    X = T.tensor3("X")
    with pytest.raises(ScanError) as err:
        theano.scan(lambda x, h: h + x, sequences=X, outputs_info=T.zeros((1, 3)))
    msg = str(err.value)
    assert "axis 0" in msg and "broadcastable" in msg and "Fix" in msg


def test_sequences_of_different_lengths_fail_clearly_at_run_time_when_asked():
    """Theano runs for the shortest sequence; equal_lengths=True refuses a difference instead."""
    X, Y, h0 = T.matrix("X"), T.matrix("Y"), T.vector("h0")
    hs, _ = theano.scan(lambda x, y, h: T.tanh(h * x + y), sequences=[X, Y], outputs_info=h0, equal_lengths=True)
    f = theano.function([X, Y, h0], hs)
    with pytest.raises(ExecutionError, match=r"same length") as err:
        f(N(4, 3), N(5, 3), N(3))
    assert re.search(r"\b4\b", str(err.value)) and re.search(r"\b5\b", str(err.value))


def test_map_over_sequences_of_different_lengths_fails_clearly():
    """A step without state (which rewrites may lift out of the loop) must still refuse ragged sequences,
    even when one of them has length 1 (numpy would broadcast it)."""
    X, Y = T.matrix("X"), T.matrix("Y")
    ys, _ = theano.map(lambda a, b: a * b, [X, Y], equal_lengths=True)
    for rewrite in (False, True):
        f = theano.function([X, Y], ys, rewrite=rewrite)
        with pytest.raises(ExecutionError, match=r"same length"):
            f(N(3, 2), N(1, 2))


def test_n_steps_larger_than_a_sequence():
    X, h0, n = T.matrix("X"), T.vector("h0"), T.lscalar("n")
    hs, _ = theano.scan(lambda x, h: T.tanh(h + x), sequences=X, outputs_info=h0, n_steps=n)
    f = theano.function([X, h0, n], hs)
    assert f(N(5, 3), N(3), 5).shape == (5, 3)
    with pytest.raises(ExecutionError, match=r"5 steps but the loop runs 7"):
        f(N(5, 3), N(3), 7)


def test_negative_n_steps():
    h0, n = T.vector("h0"), T.lscalar("n")
    with pytest.raises(ScanError, match=r"n_steps must be >= 0, got -2"):
        theano.scan(lambda h: h * 2, outputs_info=h0, n_steps=-2)
    hs, _ = theano.scan(lambda h: h * 2, outputs_info=h0, n_steps=n)
    f = theano.function([h0, n], hs)
    with pytest.raises(ExecutionError, match=r"n_steps must be >= 0, got -1"):
        f(N(3), -1)


@pytest.mark.numpy_executor  # an index out of range at run time: numpy raises and replays the step; XLA clamps
def test_failure_inside_the_step_names_the_step_and_the_node():
    I, h0, W = T.lvector("I"), T.vector("h0"), T.matrix("W")
    hs, _ = theano.scan(lambda i, h, W: T.tanh(h * W[i]), sequences=I, outputs_info=h0, non_sequences=W)
    f = theano.function([I, h0, W], hs)
    with pytest.raises(ExecutionError) as err:
        f(np.array([0, 1, 5, 0]), N(3), N(2, 3))
    msg = str(err.value)
    assert "step 2" in msg and "subtensor" in msg and "IndexError" in msg
    assert "test_scan.py" in msg  # where the failing inner node was built


@pytest.mark.numpy_executor  # an index out of range at run time: numpy raises and replays the step; XLA clamps
def test_failure_inside_a_nested_step_names_both_steps():
    I, h0, W = T.lmatrix("I"), T.vector("h0"), T.matrix("W")

    def outer(row, h, W):
        inner, _ = theano.scan(lambda i, c, W: T.tanh(c * W[i]), sequences=row, outputs_info=h, non_sequences=W)
        return inner[-1]
    hs, _ = theano.scan(outer, sequences=I, outputs_info=h0, non_sequences=W)
    f = theano.function([I, h0, W], hs)
    with pytest.raises(ExecutionError) as err:
        f(np.array([[0, 1], [1, 0], [1, 7]]), N(3), N(2, 3))
    msg = str(err.value)
    assert "step 2" in msg and "step 1" in msg and "IndexError" in msg


def test_initial_state_of_the_wrong_shape_at_run_time():
    X, h0 = T.matrix("X"), T.vector("h0")
    hs, _ = theano.scan(lambda x, h: h + x, sequences=X, outputs_info=h0)
    f = theano.function([X, h0], hs)
    with pytest.raises(ExecutionError, match=r"carry 0 .*shape \(1,\).*\(3,\)"):
        f(N(2, 3), N(1))


def test_step_without_sequences_or_n_steps():
    with pytest.raises(ScanError, match="n_steps"):
        theano.scan(lambda h: h, outputs_info=T.vector("h0"))


def test_outputs_info_length_mismatch():
    with pytest.raises(ScanError, match=r"returned 2 output\(s\) but outputs_info has 1"):
        theano.scan(lambda x, h: (h, h), sequences=T.matrix("X"), outputs_info=T.vector("h0"))


# --------------------------------------------------------------------------- printing

def test_debugprint_shows_the_inner_graph():
    X, h0, W = T.matrix("X"), T.vector("h0"), T.matrix("W")
    hs, _ = theano.scan(lambda x, h, W: T.tanh(T.dot(h, W) + x), sequences=X, outputs_info=h0, non_sequences=W,
                        name="rnn")
    text = theano.debugprint(hs, file="str")
    top, _, inner = text.partition("Inner graph")
    assert "scan{rnn" in top and inner
    assert "scan{rnn" in inner.splitlines()[0]
    for name in ("tanh", "add", "dot", "h0[t-1]", "X[t]"):
        assert name in inner, name
    assert "tanh" not in top


# ---- issue 10 #6: the buffer planner on a scan node (Scan is an Op: it says it writes into no buffer)
def test_scan_over_a_shared_sequence_joined_with_it_compiles():
    W = theano.shared(np.ones((4, 3)), "W")
    hs, _ = theano.scan(lambda r, h: T.tanh(r + h), sequences=[W], outputs_info=[T.zeros((3,))])
    got = theano.function([], T.concatenate([hs, W], 0))()
    h, want = np.zeros(3), []
    for r in np.ones((4, 3)):
        h = np.tanh(r + h)
        want.append(h)
    np.testing.assert_allclose(got, np.concatenate([want, np.ones((4, 3))]))


def test_scan_with_static_initial_state_joined_with_it_compiles():
    h0 = T.constant(np.full(3, 0.5))
    hs, _ = theano.scan(lambda h: T.tanh(h + 1), outputs_info=[h0], n_steps=5)
    got = theano.function([], T.concatenate([h0.dimshuffle("x", 0), hs]))()
    want = [np.full(3, 0.5)]
    for _ in range(5):
        want.append(np.tanh(want[-1] + 1))
    np.testing.assert_allclose(got, want)


# ---- issue 10 #8: grad through a scan over a sequence whose time axis is statically 1
def test_grad_through_a_one_step_sequence():
    x = T.dvector("x")
    hs, _ = theano.scan(lambda r, h: T.tanh(r + h), sequences=[x.dimshuffle("x", 0)], outputs_info=[T.zeros_like(x)])
    g = T.grad(hs.sum(), x)
    v = np.array([0.1, -0.4, 2.0])
    np.testing.assert_allclose(theano.function([x], g)(v), 1 - np.tanh(v) ** 2)
