"""Where compiled code writes its results (minigraph/buffers.py): dead inputs, loop slots, scratch
buffers and in-place joins must never change a value.  Each test checks values against numpy and,
where the point is that a buffer is (or is not) reused, the generated source."""
import numpy as np
import pytest

import minigraph as theano
import minigraph.tensor as T
from minigraph.scan import Scan

pytestmark = pytest.mark.numpy_executor


def _loop_sources(f):
    """Sources of the generated loops of every scan in compiled function ``f``."""
    return [src for name, src in f.sources().items() if " loop " in name]


def _numpy_lstm_step(x, h, c, W, U, b):
    H = h.shape[-1]
    z = x @ W + h @ U + b
    s = 1 / (1 + np.exp(-z[:, :3 * H]))
    c = s[:, H:2 * H] * c + s[:, :H] * np.tanh(z[:, 3 * H:])
    return s[:, 2 * H:] * np.tanh(c), c


def _lstm(B, T_=6, I=3, H=4, seed=0):
    rng = np.random.default_rng(seed)
    W, U, b = rng.standard_normal((I, 4 * H)), rng.standard_normal((H, 4 * H)) * 0.5, rng.standard_normal(4 * H)
    X = rng.standard_normal((T_, B, I))
    Xs, Ws, Us, bs = T.tensor3("X"), theano.shared(W, "W"), theano.shared(U, "U"), theano.shared(b, "b")

    def step(x, h, c):
        z = T.dot(x, Ws) + T.dot(h, Us) + bs
        i, f, o = (T.nnet.sigmoid(z[:, k * H:(k + 1) * H]) for k in range(3))
        c_new = f * c + i * T.tanh(z[:, 3 * H:])
        return [o * T.tanh(c_new), c_new]

    zeros = T.zeros((Xs.shape[1], H))  # the batch length is known at run time only (so B = 1 is no broadcast)
    (hs, cs), _ = theano.scan(step, sequences=Xs, outputs_info=[zeros, zeros])
    loss = (hs[-1] ** 2).sum() + cs.sum()
    f = theano.function([Xs], [hs, cs, loss] + theano.grad(loss, [Ws, Us, bs]))
    # numpy: forward, then finite differences of the loss for one weight entry
    h, c, H_all, C_all = np.zeros((B, H)), np.zeros((B, H)), [], []
    for t in range(T_):
        h, c = _numpy_lstm_step(X[t], h, c, W, U, b)
        H_all.append(h)
        C_all.append(c)
    return f, X, np.array(H_all), np.array(C_all), (W, U, b)


def test_lstm_loops_use_slots_and_scratch_buffers_and_stay_exact():
    for B in (1, 5):  # B = 1: the gate joins are contiguous, so they are built in place too
        f, X, H_all, C_all, (W, U, b) = _lstm(B)
        hs, cs, loss, gW, gU, gb = f(X)
        np.testing.assert_allclose(hs, H_all, rtol=1e-12)
        np.testing.assert_allclose(cs, C_all, rtol=1e-12)
        hs2, cs2, *_ = f(X)  # a second call reuses nothing from the first one's results
        np.testing.assert_array_equal(hs, hs2)
        sources = "\n".join(_loop_sources(f))
        assert "out=TR" in sources and "out=Y" in sources and "= _empty(" in sources
        if B == 1:
            assert "[_ix" in sources
        # gradient of one weight against central differences of the numpy forward
        eps, (i, j) = 1e-6, (1, 2)

        def numpy_loss(Wd):
            h, c, csum = np.zeros((B, 4)), np.zeros((B, 4)), 0.0
            for t in range(len(X)):
                h, c = _numpy_lstm_step(X[t], h, c, Wd, U, b)
                csum += c.sum()
            return (h ** 2).sum() + csum
        Wp, Wm = W.copy(), W.copy()
        Wp[i, j] += eps
        Wm[i, j] -= eps
        assert abs(gW[i, j] - (numpy_loss(Wp) - numpy_loss(Wm)) / (2 * eps)) < 1e-6


def test_no_scratch_buffer_for_a_value_a_carry_views_and_the_next_step_reads_late():
    """Carry h1 is a reversed view of step-local s; the next step recomputes s before it reads h1."""
    x = T.matrix("x")

    def step(x_t, h1, h2):
        s = h2 * 2.0 + x_t
        return [s[::-1], h2 + h1]

    X = np.arange(12.0).reshape(4, 3) / 10
    (h1s, h2s), _ = theano.scan(step, sequences=x, outputs_info=[T.zeros((3,)), T.ones((3,))])
    got = theano.function([x], h2s)(X)
    h1, h2, want = np.zeros(3), np.ones(3), []
    for t in range(4):
        h1, h2 = (h2 * 2.0 + X[t])[::-1], h2 + h1
        want.append(h2)
    np.testing.assert_allclose(got, want)


def test_a_stored_output_that_views_a_step_local_value_is_stored_before_the_next_step():
    """The y is a transpose (a view) of a step-local product: its row must be copied out before the
    next step writes that product's buffer again."""
    x = T.tensor3("x")

    def step(x_t, h):
        p = T.dot(x_t, h)            # fresh, step-local ...
        return [h * 0.5 + x_t[0], p.T]  # ... but the stored y is its transpose: a view of it

    X = np.random.default_rng(1).standard_normal((5, 2, 2))
    (hs, ys), _ = theano.scan(step, sequences=x, outputs_info=[T.constant(np.eye(2)), None])
    hs_v, ys_v = theano.function([x], [hs, ys])(X)
    h, want = np.eye(2), []
    for t in range(5):
        want.append((X[t] @ h).T)
        h = h * 0.5 + X[t][0]
    np.testing.assert_allclose(ys_v, want)


def test_a_trace_read_only_at_its_end_seeds_the_backward_carry():
    """grad of hs[-1] needs no per-step zero cotangent sequence: the backward scan reads fewer
    sequences than for grad of hs.sum(), and the gradients agree with numpy."""
    x, w = T.matrix("x"), theano.shared(np.array([0.3, -0.2, 0.5]), "w")
    hs, _ = theano.scan(lambda x_t, h: T.tanh(x_t + h * w), sequences=x, outputs_info=T.zeros((3,)))

    def n_back_seqs(cost):
        f = theano.function([x], theano.grad(cost, w))
        return f, [n.op.n_seqs for n in f.program.nodes if isinstance(n.op, Scan) and "grad" in n.op.name][0]

    f_last, n_last = n_back_seqs(hs[-1].sum())
    _, n_all = n_back_seqs(hs.sum())
    assert n_last < n_all
    X = np.random.default_rng(2).standard_normal((6, 3))
    wv, eps = np.array([0.3, -0.2, 0.5]), 1e-6

    def last(wd):
        h = np.zeros(3)
        for t in range(6):
            h = np.tanh(X[t] + h * wd)
        return h.sum()
    fd = [(last(wv + eps * e) - last(wv - eps * e)) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(f_last(X), fd, rtol=1e-6)


def test_transposed_weights_in_a_loop_give_the_same_values():
    """A transposed (F-ordered) non-sequence is copied to C order once per call; values unchanged."""
    x, W = T.matrix("x"), T.matrix("W")
    hs, _ = theano.scan(lambda x_t, h, Wt: T.tanh(T.dot(h, Wt) + x_t), sequences=x,
                        outputs_info=T.zeros((3,)), non_sequences=W.T)
    f = theano.function([x, W], hs)
    X, Wv = np.random.default_rng(3).standard_normal((4, 3)), np.random.default_rng(4).standard_normal((3, 3))
    h, want = np.zeros(3), []
    for t in range(4):
        h = np.tanh(h @ Wv.T + X[t])
        want.append(h)
    np.testing.assert_allclose(f(X, Wv), want)
