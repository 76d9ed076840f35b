"""Bugs found while building minigraph, each pinned by a test."""
import re

import numpy as np
import pytest

import minigraph as theano
import minigraph.tensor as T


def test_concatenate_gradient_keeps_static_shape_of_each_part():
    v, m = T.vector("v"), T.matrix("m")
    g = theano.grad((T.concatenate([T.expand_dims(v, 0), m]) ** 2).sum(), v)
    out = theano.function([v, m], g)(np.array([1.0, 2.0, 3.0]), np.ones((2, 3)))
    np.testing.assert_allclose(out, [2.0, 4.0, 6.0])


def test_python_ints_fit_narrow_integer_inputs_and_overflow_is_refused():
    n = T.iscalar("n")
    f = theano.function([n], n * 2)
    assert f(4) == 8 and f(4).dtype == np.int32
    with pytest.raises(TypeError, match="n"):
        f(2**40)


def test_debugprint_inner_graph_ids_continue_the_outer_ones():
    x, h0 = T.matrix("x"), T.vector("h0")
    hs, _ = theano.scan(lambda x_t, h: T.tanh(x_t + h), sequences=x, outputs_info=h0)
    text = theano.debugprint(hs, file="str")
    outer, inner = text.split("Inner graph", 1)
    outer_ids = set(re.findall(r"\[id (\w+)\]", outer))
    inner_ids = set(re.findall(r"\[id (\w+)\]", inner.split("\n", 1)[1]))
    assert inner_ids and inner_ids.isdisjoint(outer_ids)  # no inner node reuses an outer id


def test_specify_shape_states_and_checks_a_shape():
    x = T.matrix("x")
    y = T.specify_shape(x, (None, 3))
    assert y.type.shape == (None, 3)
    f = theano.function([x], y * 2)
    assert f(np.ones((2, 3))).shape == (2, 3)
    with pytest.raises(ValueError, match="specify_shape"):
        f(np.ones((2, 4)))
    with pytest.raises(ValueError, match="axis 1"):
        T.specify_shape(T.tensor("float64", (2, 3)), (2, 4))


def test_generated_loop_stores_an_output_that_is_the_previous_state():
    # the fast loop once stored the *new* carry for an output that is the step's incoming state
    x, h0 = T.matrix("x"), T.vector("h0")
    (hs, prev), _ = theano.scan(lambda x_t, h: [T.tanh(x_t + h), h], sequences=x, outputs_info=[h0, None])
    f = theano.function([x, h0], [hs, prev])
    xv = np.random.default_rng(0).standard_normal((6, 3))
    got_h, got_prev = f(xv, np.zeros(3))
    np.testing.assert_allclose(got_prev[1:], got_h[:-1])
    np.testing.assert_allclose(got_prev[0], np.zeros(3))


def test_piecewise_constant_ops_have_zero_gradients_not_disconnected():
    x = T.vector("x")
    for op in (T.floor, T.ceil, T.sign, T.round):
        g = theano.function([x], theano.grad(op(x).sum() + 0 * x.sum(), x))(np.array([0.3, -1.7]))
        np.testing.assert_array_equal(g, [0.0, 0.0])
        g = theano.function([x], theano.grad(op(x).sum(), x))(np.array([0.3, -1.7]))
        np.testing.assert_array_equal(g, [0.0, 0.0])


def test_mean_honours_its_dtype():
    assert T.mean(T.imatrix("m"), dtype="float32").dtype == "float32"


# ---- issue 10, numerics
@pytest.mark.parametrize("z, t, want", [(40.0, 1.0, 4.248354255291589e-18), (-40.0, 0.0, 4.248354255291589e-18),
                                        (-40.0, 1.0, 40.0), (40.0, 0.0, 40.0), (0.0, 1.0, np.log(2.0))])
def test_binary_crossentropy_of_sigmoid_keeps_tiny_losses(z, t, want):
    zs, ts = T.dscalar("z"), T.dscalar("t")
    loss = T.nnet.binary_crossentropy(T.nnet.sigmoid(zs), ts)
    got, g = theano.function([zs, ts], [loss, T.grad(loss, zs)])(z, t)
    assert got == pytest.approx(want, rel=1e-12, abs=0)
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    assert g == pytest.approx((1 - t) - sig(-z) if z >= 0 else sig(z) - t, rel=1e-12, abs=0)  # stably
    const_target = theano.function([zs], T.nnet.binary_crossentropy(T.nnet.sigmoid(zs), t))(z)
    assert const_target == pytest.approx(want, rel=1e-12, abs=0)


def test_float16_sigmoid_is_computed_in_float32():
    x = T.vector("x", dtype="float16")
    v = np.array([-12.0, -11.5, 0.0, 3.0, 12.0], dtype="float16")
    got = theano.function([x], T.nnet.sigmoid(x))(v)
    assert got.dtype == np.float16
    want = (1 / (1 + np.exp(-v.astype(np.float64)))).astype(np.float16)
    np.testing.assert_array_equal(got, want)  # sigmoid(-12) = 6.14e-06, not 1.67e-05
