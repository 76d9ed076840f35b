"""The gradient driver: hand-derived values, higher order, gradient controls, Lop/Rop, errors, dtypes, scale."""
import math
import sys
import warnings

import numpy as np
import pytest

import minigraph as theano
import minigraph.tensor as T
from minigraph.grad import DisconnectedInputError
from minigraph.graph import NonDifferentiable
from minigraph.rewrite import count_nodes

from .helpers import run


@pytest.fixture(params=["float64", "float32"])
def floatx(request):
    old = theano.config.floatX
    theano.config.floatX = request.param
    yield request.param
    theano.config.floatX = old


def _sigmoid(v):
    return 1.0 / (1.0 + math.exp(-v))


def test_theano_logistic_example_hand_derived(floatx):
    x = T.matrix("x")
    w = theano.shared(np.zeros((3, 2), dtype=theano.config.floatX), "w")
    cost = T.nnet.sigmoid(T.dot(x, w)).sum()
    gw = T.grad(cost, w)
    step = theano.function([x], cost, updates=[(w, w - 0.1 * gw)], allow_input_downcast=True)
    data = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]  # a list of Python floats, downcast as allowed
    tol = 1e-6 if floatx == "float32" else 1e-12
    # w = 0: each of the 4 sigmoids is 1/2, so cost = 2; d cost / d w[i, j] = sum_n x[n, i] * 1/4,
    # so one step of 0.1 moves both columns of w to -0.025 * column sums of x = -0.025 * [5, 7, 9]
    c1 = step(data)
    assert c1 == pytest.approx(2.0) and c1.dtype == floatx
    w1 = -0.025 * np.array([5.0, 7.0, 9.0])
    np.testing.assert_allclose(w.get_value(), np.stack([w1, w1], axis=1), rtol=tol)
    assert w.get_value().dtype == floatx
    # second step: x @ w1 = [-1.15, -2.725] in both columns
    z = np.array([-1.15, -2.725])
    np.testing.assert_allclose(np.array(data) @ w1, z)
    c2 = step(data)
    assert float(c2) == pytest.approx(2 * (_sigmoid(z[0]) + _sigmoid(z[1])), rel=tol)
    s = np.array([_sigmoid(v) for v in z])
    w2 = w1 - 0.1 * (np.array(data).T @ (s * (1 - s)))
    np.testing.assert_allclose(w.get_value(), np.stack([w2, w2], axis=1), rtol=tol)


def test_grad_of_grad():
    x = T.dscalar("x")
    d1 = T.grad(x ** 3, x)
    d2 = T.grad(d1, x)
    d3 = T.grad(d2, x)
    f = theano.function([x], [d1, d2, d3])
    for v in (-1.5, 0.0, 2.0):
        np.testing.assert_allclose(f(v), [3 * v ** 2, 6 * v, 6.0])
    s = T.grad(T.grad(T.sin(x) * T.exp(x), x), x)  # (sin x e^x)'' = 2 cos x e^x
    assert run(s, [x], [0.7]) == pytest.approx(2 * math.cos(0.7) * math.exp(0.7))


def test_grad_list_and_fan_out_accumulate():
    x = T.dvector("x")
    y = T.dscalar("y")
    cost = (x * x + x).sum() * y + y ** 2
    gx, gy = T.grad(cost, [x, y])
    vx, vy = run([gx, gy], [x, y], [np.array([1.0, -2.0]), 3.0])
    np.testing.assert_allclose(vx, (2 * np.array([1.0, -2.0]) + 1) * 3.0)
    assert vy == pytest.approx((1 + 1) + (4 - 2) + 6.0)


def test_givens_replace_inputs_and_shared_variables():
    x = T.dvector("x")
    y = T.dvector("y")
    f = theano.function([y], (x ** 2).sum(), givens={x: y * 2})
    assert f(np.array([1.0, 2.0])) == pytest.approx(20.0)
    # Theano's minibatch pattern: a slice of a shared dataset chosen by an integer input
    data = theano.shared(np.arange(12.0).reshape(6, 2), "data")
    i = T.lscalar("i")
    batch = theano.function([i], x.sum(), givens=[(x, data[i * 2:(i + 1) * 2].sum(axis=1))])
    assert batch(1) == pytest.approx(4 + 5 + 6 + 7)
    w = theano.shared(np.ones(2), "w")
    g = theano.function([y], T.grad((w * y).sum(), w), givens={w: y})  # a shared variable replaced
    np.testing.assert_allclose(g(np.array([3.0, 4.0])), [3.0, 4.0])


def test_updates_are_simultaneous():
    a = theano.shared(np.array([1.0, 2.0]), "a")
    b = theano.shared(np.array([10.0, 20.0]), "b")
    swap = theano.function([], [], updates=[(a, b), (b, a)])
    assert swap() == []
    np.testing.assert_array_equal(a.get_value(), [10.0, 20.0])
    np.testing.assert_array_equal(b.get_value(), [1.0, 2.0])
    n = theano.shared(np.int64(0), "n")
    count = theano.function([], n, updates={n: n + 1, a: a + b})
    assert [int(count()) for _ in range(3)] == [0, 1, 2]
    np.testing.assert_array_equal(a.get_value(), [13.0, 26.0])


def test_consider_constant():
    x = T.dvector("x")
    y = x * 2
    cost = (x * y).sum()
    v = np.array([1.0, 3.0])
    np.testing.assert_allclose(run(T.grad(cost, x), [x], [v]), 4 * v)
    np.testing.assert_allclose(run(T.grad(cost, x, consider_constant=[y]), [x], [v]), 2 * v)


def test_zero_grad_disconnected_grad_and_grad_clip():
    x = T.dvector("x")
    v = np.array([1.0, -2.0, 3.0])
    # forward values are unchanged
    np.testing.assert_array_equal(run([T.zero_grad(x), T.disconnected_grad(x), T.grad_clip(x, -1, 1)], [x], [v]),
                                  [v, v, v])
    np.testing.assert_allclose(run(T.grad((T.zero_grad(x) * x).sum(), x), [x], [v]), v)
    np.testing.assert_allclose(run(T.grad(T.zero_grad(x).sum(), x), [x], [v]), 0 * v)
    np.testing.assert_allclose(run(T.grad((T.disconnected_grad(x) * x).sum(), x), [x], [v]), v)
    with pytest.raises(DisconnectedInputError):
        T.grad(T.disconnected_grad(x).sum(), x)
    clipped = T.grad((T.grad_clip(x, -1.5, 2.5) * np.array([5.0, -5.0, 2.0])).sum(), x)
    np.testing.assert_allclose(run(clipped, [x], [v]), [2.5, -1.5, 2.0])
    assert theano.gradient.zero_grad is T.zero_grad  # Theano spells it theano.gradient.*


def test_lop_matches_numpy():
    x = T.dvector("x")
    W = T.dmatrix("W")
    u = T.dvector("u")
    xv, Wv, uv = np.array([0.5, -1.0, 2.0]), np.arange(6.0).reshape(2, 3) / 5, np.array([1.0, -3.0])
    f = T.tanh(T.dot(W, x))
    lx, lw = T.Lop(f, [x, W], u)
    got_x, got_w = run([lx, lw], [x, W, u], [xv, Wv, uv])
    d = uv * (1 - np.tanh(Wv @ xv) ** 2)
    np.testing.assert_allclose(got_x, Wv.T @ d)
    np.testing.assert_allclose(got_w, np.outer(d, xv))


@pytest.mark.parametrize("fn", [
    lambda x, W: T.tanh(T.dot(W, x)),
    lambda x, W: T.nnet.softmax(T.dot(W, x) * x[:2]),
    lambda x, W: T.concatenate([x ** 3, (W * x).sum(axis=1)]),
], ids=["tanh-dot", "softmax", "concat"])
def test_rop_matches_finite_difference_jvp(fn):
    rng = np.random.default_rng(3)
    x, W = T.dvector("x"), T.dmatrix("W")
    vx, vW = T.dvector("vx"), T.dmatrix("vW")
    xv, Wv = rng.standard_normal(3), rng.standard_normal((2, 3))
    dx, dW = rng.standard_normal(3), rng.standard_normal((2, 3))
    jv = T.Rop(fn(x, W), [x, W], [vx, vW])
    got = run(jv, [x, W, vx, vW], [xv, Wv, dx, dW])
    f = theano.function([x, W], fn(x, W))
    eps = 1e-6
    expected = (f(xv + eps * dx, Wv + eps * dW) - f(xv - eps * dx, Wv - eps * dW)) / (2 * eps)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)
    single = T.Rop(fn(x, W), x, vx)  # one wrt, one eval point
    np.testing.assert_allclose(run(single, [x, W, vx], [xv, Wv, dx]),
                               (f(xv + eps * dx, Wv) - f(xv - eps * dx, Wv)) / (2 * eps), rtol=1e-6, atol=1e-9)


def test_known_grads():
    x = T.dvector("x")
    y = x ** 2
    g = T.dvector("g")
    gx = T.grad(None, x, known_grads={y: g})
    np.testing.assert_allclose(run(gx, [x, g], [np.array([1.0, 2.0]), np.array([3.0, 5.0])]), [6.0, 20.0])
    # a cost and known gradients of an intermediate add up
    both = T.grad(x.sum(), x, known_grads={y: g})
    np.testing.assert_allclose(run(both, [x, g], [np.array([1.0, 2.0]), np.array([3.0, 5.0])]), [7.0, 21.0])
    with pytest.raises(TypeError, match="wrong number of dims"):
        T.grad(None, x, known_grads={y: T.dmatrix()})


def test_disconnected_inputs_raise_warn_ignore():
    x, y = T.dvector("x"), T.dvector("y")
    cost = (x ** 2).sum()
    with pytest.raises(DisconnectedInputError, match=r"does not depend on y"):
        T.grad(cost, [x, y])
    with pytest.warns(UserWarning, match="does not depend on y"):
        _, gy = T.grad(cost, [x, y], disconnected_inputs="warn")
    np.testing.assert_array_equal(run(gy, [y], [np.array([1.0, 2.0])]), [0.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, gy = T.grad(cost, [x, y], disconnected_inputs="ignore")
    np.testing.assert_array_equal(run(gy, [y], [np.array([4.0])]), [0.0])
    assert T.grad(cost, [x, y], disconnected_inputs="ignore", return_disconnected="none")[1] is None
    with pytest.raises(ValueError, match="disconnected_inputs"):
        T.grad(cost, x, disconnected_inputs="sometimes")


def test_grad_of_non_scalar_cost_is_an_error():
    x = T.dvector("x")
    with pytest.raises(TypeError, match=r"cost must be a scalar.*float64\(\?\)"):
        T.grad(x * 2, x)


def test_grad_through_int_ops():
    """Theano's rule: a step with an integer result passes a zero gradient (the input stays connected)."""
    x = T.dvector("x")
    through_int = T.cast(T.cast(x, "int64"), "float64").sum()
    gx = T.grad(through_int, x)
    np.testing.assert_array_equal(run(gx, [x], [np.array([1.5, -2.0])]), [0.0, 0.0])
    # an integer mask multiplies the gradient of the float path
    mixed = (x * T.cast(x > 0, "int32")).sum()
    np.testing.assert_array_equal(run(T.grad(mixed, x), [x], [np.array([1.5, -2.0])]), [1.0, 0.0])
    # an integer cost: zero gradients through its integer steps
    np.testing.assert_array_equal(run(T.grad(T.gt(x, 0).sum(), x), [x], [np.array([1.5, -2.0])]), [0.0, 0.0])


def test_grad_with_respect_to_integers_as_in_theano():
    """The gradient with respect to an integer is the one it would have as a real number (Theano's
    test_grad_int); d x / d x is 1 for an integer x; the cost may be an integer."""
    xi, xf = T.imatrix("xi"), T.dmatrix("xf")
    w = T.dmatrix("w")
    vx, vw = np.array([[1, -2], [3, 0]], dtype="int32"), np.array([[0.5, -1.0], [0.25, 2.0]])
    gi = run(T.grad(T.nnet.sigmoid(T.dot(xi, w)).sum(), xi), [xi, w], [vx, vw])
    gf = run(T.grad(T.nnet.sigmoid(T.dot(xf, w)).sum(), xf), [xf, w], [vx.astype("float64"), vw])
    np.testing.assert_allclose(gi, gf)
    i = T.iscalar("i")
    assert float(T.grad(i, i).eval({i: np.int32(12)})) == 1.0
    j = T.iscalar("j")
    g_int_sum = T.grad(i + j, [i, j])  # integer arithmetic: connected, zero
    assert [float(g.eval({i: np.int32(1), j: np.int32(2)})) for g in g_int_sum] == [0.0, 0.0]
    assert all(g.dtype == theano.config.floatX for g in g_int_sum)
    known = T.grad(None, i, known_grads={i: T.constant(0.6)})
    assert float(known.eval()) == pytest.approx(0.6)
    with pytest.raises(DisconnectedInputError):
        T.grad(x_sum := T.dvector("x").sum(), i)
    assert float(T.grad(x_sum, i, disconnected_inputs="ignore").eval({i: np.int32(3)})) == 0.0


def test_non_differentiable_op_names_the_op():
    x = T.dvector("x")
    with pytest.raises(NonDifferentiable, match=r"cannot differentiate through argsort.*test_grad\.py"):
        T.grad(_argsort_op()(x).sum(), x)


def _argsort_op():
    """An op with no pullback (the base class default), standing for any non-differentiable op."""
    from minigraph.graph import Apply, Op, op

    @op
    class Argsort(Op):
        def make_node(self, x):
            return Apply(self, [x], [x.type])

        def perform(self, x):
            return np.argsort(x).astype(x.dtype)

        def __str__(self):
            return "argsort"
    return Argsort()


def test_float32_graph_keeps_float32_gradients():
    x = T.fmatrix("x")
    w = theano.shared(np.ones((3, 2), dtype="float32"), "w")
    b = theano.shared(np.zeros(2, dtype="float32"), "b")
    h = T.tanh(T.dot(x, w) + b) * 0.5 + 1.0
    cost = (T.nnet.softmax(h).max(axis=1) - h.mean() / 3 + h.var(axis=0).sum() + (h ** 2).std()
            + T.nnet.sigmoid(h).prod() + T.clip(h, 0.1, 2).sum() + T.sqrt(h).sum())
    assert cost.dtype == "float32"
    grads = T.grad(cost.sum(), [x, w, b])
    assert [g.dtype for g in grads] == ["float32"] * 3
    second = T.grad(grads[1].sum(), w)
    assert second.dtype == "float32"
    values = run(grads + [second], [x], [np.random.default_rng(0).standard_normal((4, 3)).astype("float32")])
    assert [v.dtype for v in values] == [np.float32] * 4
    assert all(np.all(np.isfinite(v)) for v in values)


def test_grad_wrt_intermediate_variable():
    x = T.dvector("x")
    y = T.exp(x)
    cost = (y * 3).sum() + y.sum() ** 2
    v = np.array([0.0, 1.0])
    ey = np.exp(v)
    np.testing.assert_allclose(run(T.grad(cost, y), [x], [v]), 3 + 2 * ey.sum())


def test_jacobian():
    x = T.dvector("x")
    J = theano.gradient.jacobian(x ** 2, x)
    np.testing.assert_allclose(run(J, [x], [np.array([1.0, 2.0])]), np.diag([2.0, 4.0]))


def test_hessian():
    x = T.dvector("x")
    H = theano.gradient.hessian((x ** 3).sum(), x)
    np.testing.assert_allclose(run(H, [x], [np.array([1.0, 2.0])]), np.diag([6.0, 12.0]))


def test_hundred_thousand_node_chain_builds_differentiates_and_compiles():
    limit = sys.getrecursionlimit()
    x0 = T.dvector("x")
    x = x0
    for _ in range(50_000):  # two nodes per step
        x = x * 1.0001 + 0.0
    assert count_nodes(x) == 100_000
    cost = x.sum()
    g = T.grad(cost, x0)
    n_built = count_nodes([cost, g])
    f = theano.function([x0], [cost, g])
    v, gv = f(np.array([1.0, 2.0]))
    scale = 1.0001 ** 50_000
    assert v == pytest.approx(3.0 * scale, rel=1e-9)
    np.testing.assert_allclose(gv, [scale, scale], rtol=1e-9)
    assert count_nodes(f.outputs) <= n_built - 50_000  # the + 0.0 nodes were rewritten away
    assert sys.getrecursionlimit() == limit
