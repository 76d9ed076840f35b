"""scan lowered to lax.scan: values and BPTT gradients against the numpy executor, taps, go_backwards,
save-memory, nested loops and shared updates (the whole scan suite also runs with MINIGRAPH_MODE=JAX)."""
import re

import numpy as np
import pytest

import minigraph as theano
import minigraph.tensor as T
from minigraph.testing import assert_same, check_backend

pytest.importorskip("jax")

rng = np.random.default_rng(3)
H = 5


def _lstm(X, W_x, W_h, b):
    def step(x_t, h, c, W_x, W_h, b):
        z = T.dot(x_t, W_x) + T.dot(h, W_h) + b
        i, f, o = (T.nnet.sigmoid(z[:, k * H:(k + 1) * H]) for k in range(3))
        c_new = f * c + i * T.tanh(z[:, 3 * H:])
        return [o * T.tanh(c_new), c_new]
    h0 = T.zeros((X.shape[1], H), dtype=X.dtype)
    (hs, cs), _ = theano.scan(step, sequences=X, outputs_info=[h0, T.zeros_like(h0)], non_sequences=[W_x, W_h, b])
    return hs, cs


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lstm_values_and_bptt_gradients_match_numpy(dtype):
    values = [rng.standard_normal(s).astype(dtype) * 0.5 for s in [(7, 3, 4), (4, 4 * H), (H, 4 * H), (4 * H,)]]
    check_backend(lambda *a: [(_lstm(*a)[0][-1] ** 2).sum(), _lstm(*a)[1]], values)


@pytest.mark.parametrize("go_backwards", [False, True])
def test_taps_on_sequences_and_states(go_backwards):
    def fun(x, s0, w):
        out, _ = theano.scan(lambda xm1, x0, xp2, sm2, sm1, w: T.tanh(w * sm1 + xm1 * x0 - xp2 * sm2),
                             sequences=dict(input=x, taps=[-1, 0, 2]), outputs_info=dict(initial=s0, taps=[-2, -1]),
                             non_sequences=w, go_backwards=go_backwards)
        return out
    check_backend(fun, [rng.standard_normal((9, 3)), rng.standard_normal((2, 3)), rng.standard_normal(3)])


def test_none_outputs_integer_states_and_n_steps():
    def fun(x, a):
        (ys, count, acc), _ = theano.scan(lambda x_t, k, s, a: [x_t * a, k + 1, s + x_t.sum() * a],
                                          sequences=x, outputs_info=[None, np.int64(0), T.zeros((), "float64")],
                                          non_sequences=a, n_steps=4)
        return [ys, count, acc[-1]]
    check_backend(fun, [rng.standard_normal((6, 2)), np.float64(1.5)])


def test_nested_scan_and_its_gradient():
    def fun(m, v):
        def row(r, acc):
            inner, _ = theano.scan(lambda e, s: s * 0.5 + T.sin(e), sequences=r, outputs_info=acc)
            return inner[-1]
        out, _ = theano.scan(row, sequences=m, outputs_info=v)
        return out.sum()
    check_backend(fun, [rng.standard_normal((3, 4)), rng.standard_normal(())])


def test_truncated_gradient_and_zero_steps():
    def fun(x, w):
        hs, _ = theano.scan(lambda x_t, h, w: T.tanh(x_t + w * h), sequences=x, outputs_info=T.zeros_like(x[0]),
                            non_sequences=w, truncate_gradient=3)
        return hs.sum()
    check_backend(fun, [rng.standard_normal((8, 2)), rng.standard_normal(2)])
    check_backend(lambda x, w: theano.scan(lambda x_t, h, w: h * w + x_t, sequences=x, outputs_info=w,
                                           non_sequences=w)[0].sum(), [np.zeros((0, 2)), rng.standard_normal(2)])


def test_shared_updates_returned_by_the_step():
    results = {}
    for mode in ("FAST_RUN", "JAX"):
        count = theano.shared(np.float64(0.0), "count")
        x = T.dvector("x")
        out, upd = theano.scan(lambda x_t: (x_t * count, {count: count + x_t}), sequences=x)
        f = theano.function([x], out, updates=upd, mode=mode)
        results[mode] = [f(np.arange(4.0)), f(np.ones(2)), count.get_value()]
    for want, got in zip(*results.values()):
        assert_same(want, got, "scan updates")


def test_save_memory_keeps_only_the_last_state_in_the_program():
    """A many-to-one model reads only hs[-1]: the lowered loop stacks no (T, B, H) trace of h or c."""
    X = T.tensor3("X")
    W_x, W_h, b = (theano.shared(rng.standard_normal(s) * 0.3) for s in [(4, 4 * H), (H, 4 * H), (4 * H,)])
    hs, _ = _lstm(X, W_x, W_h, b)
    f = theano.function([X], hs[-1].sum(), mode="JAX")
    Xv = rng.standard_normal((6, 3, 4))
    text = f.jaxpr(Xv)
    assert "scan[" in text
    assert "reverse=True" not in text  # no backward loop: nothing is differentiated
    assert not re.search(r"f64\[6,3,5\]", text), "a full trace of a state is still stored"
    want = theano.function([X], hs[-1].sum(), mode="FAST_RUN")(Xv)
    assert_same(want, f(Xv), "save-memory")


def test_step_shape_mismatch_names_the_carry():
    x = T.dmatrix("x")
    out, _ = theano.scan(lambda x_t, h: T.concatenate([x_t, h]), sequences=x, outputs_info=T.zeros((x.shape[1],)))
    f = theano.function([x], out, mode="JAX")
    with pytest.raises(theano.ExecutionError, match="carry 0 .* shape"):
        f(np.ones((3, 2)))


def test_backward_loops_run_with_reverse_true():
    """go_backwards and the BPTT loop read reversed sequences: both become lax.scan(reverse=True)."""
    x = T.dmatrix("x")
    w = theano.shared(np.full(2, 0.5), "w")
    back, _ = theano.scan(lambda x_t, h: T.tanh(x_t + w * h), sequences=x, outputs_info=T.zeros((2,)),
                          go_backwards=True)
    f = theano.function([x], [back, T.grad(back.sum(), w)], mode="JAX")
    xv = rng.standard_normal((5, 2))
    assert f.jaxpr(xv).count("reverse=True") >= 1
    want = theano.function([x], [back, T.grad(back.sum(), w)], mode="FAST_RUN")(xv)
    for a, b in zip(want, f(xv)):
        assert_same(a, b, "go_backwards")
