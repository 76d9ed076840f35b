"""``minigraph.gradient``: Theano's ``theano.gradient`` names and behaviour (from Theano's test_gradient.py and
its documentation): consider_constant, grad_clip/grad_scale, add_names, known_grads, subgraph_grad, gradients
with respect to constants, Rop/Lop/grad on tuples, and verify_grad in float32."""
from collections import OrderedDict

import numpy as np
import pytest

import minigraph as theano
import minigraph.tensor as T
from minigraph import gradient
from minigraph.testing import check_grad

from .helpers import run


def test_module_has_theano_names():
    for name in ("grad", "Lop", "Rop", "jacobian", "hessian", "consider_constant", "zero_grad", "disconnected_grad",
                 "grad_clip", "grad_scale", "subgraph_grad", "verify_grad", "numeric_grad", "DisconnectedInputError",
                 "GradientError", "NullTypeGradError"):
        assert hasattr(gradient, name), name
    from minigraph.gradient import DisconnectedInputError
    assert DisconnectedInputError is theano.DisconnectedInputError


def test_grad_names_its_result():
    """Theano's test_grad_name: the gradient of f with respect to x is named (df/dx)."""
    A, x = T.matrix("A"), T.vector("x")
    f = T.dot(x, T.dot(A, x))
    f.name = "f"
    assert T.grad(f, x).name == "(df/dx)"
    assert gradient.grad(f, x, add_names=False).name != "(df/dx)"


def test_consider_constant_blocks_the_gradient_but_not_the_value():
    x = T.dscalar("x")
    y = gradient.consider_constant(x) * x  # d/dx = x (the first factor is held constant)
    value, g = run([y, T.grad(y, x)], [x], [np.float64(3.0)])
    assert value == 9.0 and g == 3.0
    assert T.grad(x * x, x, consider_constant=[x]).eval({x: np.float64(2.0)}) == 4.0  # Theano: d(x*x)/dx still


def test_grad_with_respect_to_a_constant():
    """Theano's test_grad_constant: the gradient with respect to a Constant equals that with respect to a
    variable held constant by consider_constant."""
    x, y = T.dscalar("x"), T.dscalar("y")
    one = T.constant(1.0)
    g_x = T.grad(x + y, x, consider_constant=[x])
    g_one = T.grad(one + y, one)
    np.testing.assert_array_equal(run([g_x, g_one], [x, y], [np.float64(1.0), np.float64(0.5)],
                                      on_unused_input="ignore"), [1.0, 1.0])


def test_grad_clip_and_grad_scale():
    """Theano's test_grad_clip: the forward value is unchanged, the gradient is clipped (or scaled)."""
    x = T.dscalar("x")
    z = T.grad(gradient.grad_clip(x, -1, 1) ** 2, x)
    z2 = T.grad(x ** 2, x)
    f = theano.function([x], [z, z2])
    np.testing.assert_array_equal(f(np.float64(2.0)), [1.0, 4.0])
    s = T.grad(gradient.grad_scale(x, 0.5) ** 2, x)
    assert run(s, [x], [np.float64(3.0)]) == 3.0


def test_known_grads_matches_the_full_gradient():
    """Theano's test_known_grads: seeding any layer of the graph with its own gradient gives the same
    gradients of the inputs."""
    full_range = T.arange(10)
    x, t, coeffs = T.scalar("x"), T.iscalar("t"), T.vector("c")
    ft = full_range[t]
    ct = coeffs[t]
    p = x ** ft
    y = ct * p
    cost = T.sqr(y)
    layers = [[cost], [y], [ct, p], [ct, x, ft], [coeffs, t, full_range, x]]
    inputs = [coeffs, t, x]
    rng = np.random.RandomState([2012, 11, 15])
    values = [rng.randn(10).astype(theano.config.floatX), np.int32(rng.randint(10)),
              np.asarray(rng.randn(), dtype=theano.config.floatX)]
    true = theano.function(inputs, T.grad(cost, inputs, disconnected_inputs="ignore"))(*values)
    for layer in layers:
        first = T.grad(cost, layer, disconnected_inputs="ignore")
        known = OrderedDict(zip(layer, first))
        full = T.grad(cost=None, known_grads=known, wrt=inputs, disconnected_inputs="ignore")
        got = theano.function(inputs, full)(*values)
        for a, b in zip(true, got):
            np.testing.assert_allclose(a, b)


def test_subgraph_grad_matches_the_full_gradient():
    """Theano's test_subgraph_grad: successive subgraph_grad calls give the gradients of one grad call."""
    x, t = T.fvector("x"), T.fvector("t")
    w1 = theano.shared(np.random.RandomState(0).randn(3, 4), "w1")
    w2 = theano.shared(np.random.RandomState(1).randn(4, 2), "w2")
    a1 = T.tanh(T.dot(x, w1))
    a2 = T.tanh(T.dot(a1, w2))
    cost2 = T.sqr(a2 - t).sum() + T.sqr(w2.sum())
    cost1 = T.sqr(w1.sum())
    params, costs, ends = [[w2], [w1]], [cost2, cost1], [[a1], [x]]
    inputs = [t, x]
    values = [np.float32([0.5, -0.25]), np.float32([0.1, 0.2, -0.3])]
    true = theano.function(inputs, T.grad(cost2 + cost1, [w2, w1]))(*values)
    next_grad, param_grads = None, []
    for i in range(2):
        param_grad, next_grad = theano.subgraph_grad(wrt=params[i], end=ends[i], start=next_grad, cost=costs[i])
        next_grad = OrderedDict(zip(ends[i], next_grad))
        param_grads.extend(param_grad)
    got = theano.function(inputs, param_grads)(*values)
    for a, b in zip(true, got):
        np.testing.assert_allclose(a, b, rtol=1e-5)


def test_grad_lop_rop_keep_tuples():
    x = T.dvector("x")
    w = T.dvector("w")
    y1, y2 = x * w, T.sin(x)
    v = T.dvector("v")
    r = T.Rop((y1, y2), x, v)
    assert isinstance(r, tuple) and len(r) == 2
    got = run(list(r), [x, w, v], [np.array([1.0, 2.0]), np.array([3.0, 4.0]), np.array([1.0, -1.0])])
    np.testing.assert_allclose(got[0], [3.0, -4.0])
    np.testing.assert_allclose(got[1], np.cos([1.0, 2.0]) * [1.0, -1.0])
    assert isinstance(T.Rop([y1, y2], x, v), list)
    g = T.grad((x * w).sum(), (x, w))
    assert isinstance(g, tuple) and len(g) == 2


def test_disconnected_inputs_modes():
    x, y = T.dvector("x"), T.dvector("y")
    with pytest.raises(gradient.DisconnectedInputError):
        T.grad(x.sum(), y)
    with pytest.warns(UserWarning):
        T.grad(x.sum(), y, disconnected_inputs="warn")
    assert T.grad(x.sum(), y, disconnected_inputs="ignore", return_disconnected="None") is None
    with pytest.raises(gradient.DisconnectedInputError):  # a shape carries no gradient in Theano
        T.grad(T.cast(x.shape[0], "float64"), x)


def test_verify_grad_on_float32_points_perturbs_in_float32():
    rng = np.random.RandomState(42)
    pt = rng.rand(3, 4).astype("float32")
    gradient.verify_grad(lambda a: T.tanh(a) * a, [pt], rng=rng)
    gradient.verify_grad(lambda a, b: T.dot(a, b), [pt, rng.rand(4, 2).astype("float32")], rng=rng)


def test_verify_grad_catches_a_wrong_gradient_in_float32():
    from minigraph.graph import Apply, Op, op

    @op
    class Twice(Op):  # forward 2x, gradient deliberately 3x
        def make_node(self, x):
            x = T.as_tensor_variable(x)
            return Apply(self, [x], [x.type])

        def perform(self, x):
            return 2 * x

        def pullback(self, inputs, outputs, gz):
            return [3 * gz[0]]

    rng = np.random.RandomState(0)
    with pytest.raises(gradient.verify_grad.E_grad):
        gradient.verify_grad(lambda a: Twice()(a), [rng.rand(5).astype("float32")], rng=rng)


def test_check_grad_second_order_still_holds_for_new_rules():
    check_grad(lambda a, b: a ** b, [np.array([0.5, 1.5]), np.array([2.0, -0.5])], order=2)
