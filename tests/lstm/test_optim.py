"""Optimisers against hand-computed numpy steps, dtype preservation, clipping and the schedule."""
import numpy as np
import pytest

import minigraph as theano
import minigraph.tensor as T

from lstm.optim import OptimState, StepDecay, adam, clip_grad_norm, global_norm, momentum, rmsprop, sgd

RNG = np.random.default_rng(0)
P0 = [RNG.normal(size=(3, 2)), RNG.normal(size=(2,))]
GRADS = [[RNG.normal(size=(3, 2)), RNG.normal(size=(2,))] for _ in range(2)]  # two steps


def run_two_steps(make, dtype="float64", lr_kind="float", lr=0.1, **kw):
    """Apply the optimiser for two steps with the fixed gradients GRADS; returns (params, state values)."""
    params = [theano.shared(p.astype(dtype), name=f"p{i}") for i, p in enumerate(P0)]
    gs = [T.tensor(dtype, (None,) * p.ndim, f"g{i}") for i, p in enumerate(P0)]
    inputs = list(gs)
    if lr_kind == "float":
        lr_arg = lr
    elif lr_kind == "symbolic":
        lr_arg = T.dscalar("lr")
        inputs.append(lr_arg)
    else:
        lr_arg = theano.shared(np.float64(lr), name="lr")
    opt = make(params, gs, lr_arg, **kw)
    assert isinstance(opt, OptimState)
    updates, state = opt  # unpacks as a pair, too
    f = theano.function(inputs, [], updates=updates)
    for g in GRADS:
        args = [x.astype(dtype) for x in g] + ([lr] if lr_kind == "symbolic" else [])
        f(*args)
    return [p.get_value() for p in params], {s.name: s.get_value() for s in state}


def np_sgd(lr=0.1):
    p = [x.copy() for x in P0]
    for g in GRADS:
        p = [a - lr * b for a, b in zip(p, g)]
    return p


def np_momentum(lr=0.1, mu=0.9, nesterov=False):
    p, v = [x.copy() for x in P0], [np.zeros_like(x) for x in P0]
    for g in GRADS:
        for k in range(2):
            v[k] = mu * v[k] - lr * g[k]
            p[k] = p[k] + mu * v[k] - lr * g[k] if nesterov else p[k] + v[k]
    return p, v


def np_rmsprop(lr=0.1, rho=0.9, eps=1e-8):
    p, a = [x.copy() for x in P0], [np.zeros_like(x) for x in P0]
    for g in GRADS:
        for k in range(2):
            a[k] = rho * a[k] + (1 - rho) * g[k] ** 2
            p[k] = p[k] - lr * g[k] / (np.sqrt(a[k]) + eps)
    return p, a


def np_adam(lr=0.1, b1=0.9, b2=0.999, eps=1e-8):
    p, m, v = [x.copy() for x in P0], [np.zeros_like(x) for x in P0], [np.zeros_like(x) for x in P0]
    for t, g in enumerate(GRADS, start=1):
        for k in range(2):
            m[k] = b1 * m[k] + (1 - b1) * g[k]
            v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
            m_hat = m[k] / (1 - b1 ** t)
            v_hat = v[k] / (1 - b2 ** t)
            p[k] = p[k] - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p, m, v


def close(a, b):
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("lr_kind", ["float", "symbolic", "shared"])
def test_sgd(lr_kind):
    p, state = run_two_steps(sgd, lr_kind=lr_kind)
    close(p, np_sgd())
    assert state == {}


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum(nesterov):
    p, state = run_two_steps(momentum, mu=0.8, nesterov=nesterov)
    want_p, want_v = np_momentum(mu=0.8, nesterov=nesterov)
    close(p, want_p)
    close([state["momentum.v.p0"], state["momentum.v.p1"]], want_v)


def test_nesterov_differs_from_classical():
    a, _ = run_two_steps(momentum, nesterov=False)
    b, _ = run_two_steps(momentum, nesterov=True)
    assert not np.allclose(a[0], b[0])


def test_rmsprop():
    p, state = run_two_steps(rmsprop, rho=0.8, eps=1e-6)
    want_p, want_a = np_rmsprop(rho=0.8, eps=1e-6)
    close(p, want_p)
    close([state["rmsprop.a.p0"], state["rmsprop.a.p1"]], want_a)


@pytest.mark.parametrize("lr_kind", ["float", "symbolic", "shared"])
def test_adam_with_bias_correction(lr_kind):
    p, state = run_two_steps(adam, lr_kind=lr_kind, b1=0.8, b2=0.99)
    want_p, want_m, want_v = np_adam(b1=0.8, b2=0.99)
    close(p, want_p)
    close([state["adam.m.p0"], state["adam.m.p1"]], want_m)
    close([state["adam.v.p0"], state["adam.v.p1"]], want_v)
    assert state["adam.t"] == 2 and state["adam.t"].dtype == np.int64


def test_adam_first_step_moves_every_entry_by_lr():
    """With bias correction m_hat = g and v_hat = g^2 after one step, so |dp| = lr |g| / (|g| + eps)."""
    W = theano.shared(np.zeros(4), name="W")
    g = np.array([1e-3, -2.0, 50.0, -0.3])
    step = theano.function([], [], updates=adam([W], [T.constant(g)], lr=0.01, b1=0.8, b2=0.99).updates)
    step()
    np.testing.assert_allclose(W.get_value(), -0.01 * np.sign(g), rtol=1e-4)


@pytest.mark.parametrize("make", [sgd, momentum, rmsprop, adam])
@pytest.mark.parametrize("lr_kind", ["float", "symbolic", "shared"])
def test_float32_params_stay_float32(make, lr_kind):
    """A float64 lr (symbolic or shared) must not turn float32 updates into float64."""
    p, state = run_two_steps(make, dtype="float32", lr_kind=lr_kind, lr=0.01)
    assert all(x.dtype == np.float32 for x in p)
    assert all(v.dtype == np.float32 for k, v in state.items() if k != "adam.t")
    ref, _ = run_two_steps(make, dtype="float64", lr_kind=lr_kind, lr=0.01)
    close_enough = [np.allclose(a, b, rtol=1e-4, atol=1e-5) for a, b in zip(p, ref)]
    assert all(close_enough)


def test_optimizers_train_a_quadratic():
    """Each optimiser minimises 0.5 ||W - target||^2 through theano.grad."""
    target = np.arange(6.0).reshape(3, 2)
    for make, kw in ((sgd, {}), (momentum, {"nesterov": True}), (rmsprop, {}), (adam, {})):
        W = theano.shared(np.zeros((3, 2)), name="W")
        cost = 0.5 * T.sqr(W - target).sum()
        step = theano.function([], cost, updates=make([W], theano.grad(cost, [W]), 0.05, **kw).updates)
        first = float(step())
        for _ in range(300):
            last = float(step())
        assert last < 1e-2 * first, make.__name__


def test_mismatched_lengths():
    with pytest.raises(ValueError, match="2 params but 1 gradients"):
        sgd([theano.shared(np.zeros(2), name="a"), theano.shared(np.zeros(2), name="b")], [T.vector()], 0.1)


# --------------------------------------------------------------------------- clipping

def clip_np(grads, max_norm):
    norm = np.sqrt(sum((g ** 2).sum() for g in grads))
    return [g * (max_norm / norm if norm > max_norm else 1.0) for g in grads], norm


@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm(max_norm):
    gs = [T.matrix("a"), T.vector("b")]
    clipped, norm = clip_grad_norm(gs, max_norm, return_norm=True)
    f = theano.function(gs, clipped + [norm])
    vals = [RNG.normal(size=(3, 2)), RNG.normal(size=(2,))]
    *out, n = f(*vals)
    want, want_norm = clip_np(vals, max_norm)
    np.testing.assert_allclose(n, want_norm, rtol=1e-12)
    close(out, want)
    new_norm = np.sqrt(sum((g ** 2).sum() for g in out))
    assert new_norm <= max_norm * (1 + 1e-12)
    if max_norm > want_norm:
        for a, b in zip(out, vals):
            np.testing.assert_array_equal(a, b)  # untouched below the threshold
    else:
        np.testing.assert_allclose(new_norm, max_norm, rtol=1e-12)
        np.testing.assert_allclose(out[0] / vals[0], out[1][0] / vals[1][0])  # one common factor


def test_clip_zero_gradients_and_symbolic_threshold():
    gs = [T.vector("a")]
    mx = T.scalar("mx")
    f = theano.function(gs + [mx], clip_grad_norm(gs, mx))
    np.testing.assert_array_equal(f(np.zeros(3), 1.0)[0], 0.0)  # no 0/0
    np.testing.assert_allclose(f(np.array([3.0, 4.0]), 1.0)[0], [0.6, 0.8])


def test_clip_keeps_float32():
    gs = [T.fmatrix("a"), T.fvector("b")]
    out = clip_grad_norm(gs, 1.0)
    assert all(g.dtype == "float32" for g in out)
    res = theano.function(gs, out)(np.ones((2, 2), "float32") * 10, np.ones(2, "float32"))
    assert all(r.dtype == np.float32 for r in res)


def test_global_norm():
    a, b = T.matrix("a"), T.vector("b")
    assert np.isclose(theano.function([a, b], global_norm([a, b]))(np.full((2, 2), 2.0), np.array([1.0, 2.0])),
                      np.sqrt(16 + 5))


# --------------------------------------------------------------------------- schedule

def test_step_decay():
    s = StepDecay(0.1, drop=0.5, every=3)
    assert [s(e) for e in range(7)] == [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025]
    assert s.lr(9) == pytest.approx(0.0125)
    with pytest.raises(ValueError):
        StepDecay(0.1, every=0)


def test_step_decay_drives_a_shared_lr():
    W = theano.shared(np.zeros(1), name="W")
    lr = theano.shared(np.float64(0.0), name="lr")
    step = theano.function([], [], updates=sgd([W], [T.ones_like(W)], lr).updates)
    sched = StepDecay(1.0, drop=0.1, every=1)
    for epoch in range(3):
        lr.set_value(np.float64(sched(epoch)))
        step()
    np.testing.assert_allclose(W.get_value(), [-(1 + 0.1 + 0.01)])
