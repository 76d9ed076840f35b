"""The ``theano.tensor`` API as Theano code uses it: constructors, dtype rules, reductions, products and
broadcast patterns.  Each expectation is Theano's documented behaviour (its docs and its own tests)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigraph as theano
import minigraph.tensor as T
from minigraph.graph import TensorType
from minigraph.testing import check_grad

from .helpers import assert_static_matches, run


# --------------------------------------------------------------------------- wrong results now right

@pytest.mark.parametrize("lo_hi", ["0,x", "x,0", "0-x-x", "x,x"])
def test_clip_gradient_when_a_bound_is_the_input(lo_hi):
    """d/dx clip(x, 0, x) is 1 where the output is x (also for x < 0, where numpy's clip returns x)."""
    x = T.dvector("x")
    out = {"0,x": T.clip(x, 0, x), "x,0": T.clip(x, x, 0), "0-x-x": T.clip(0, x, x), "x,x": T.clip(x, x, x)}[lo_hi]
    v = np.array([-2.0, -0.5, 0.5, 3.0])
    value = run(out, [x], [v])
    g = run(T.grad(out.sum(), x), [x], [v])
    expected_value = {"0,x": np.clip(v, 0, v), "x,0": np.clip(v, v, 0), "0-x-x": v, "x,x": v}[lo_hi]
    np.testing.assert_array_equal(value, expected_value)
    np.testing.assert_array_equal(g, (value == v).astype(float))  # 1 exactly where the output is x
    check_grad(lambda a: T.clip(a, 0, a), [v])


def test_clip_gradient_matches_theano_where_bounds_are_ordered():
    """Theano's test_clip_repeat_grad: with min < x < max the gradient is 1 for all three forms."""
    x, y = T.dvector("x"), T.dvector("y")
    rng = np.random.default_rng(1)
    xv = rng.random(50)
    for out, yv in ((T.clip(x, y, x), xv - 1.0), (T.clip(x, x, y), xv + 1.0), (T.clip(x, x, x), xv)):
        g = theano.function([x, y], T.grad(out.sum(), x), on_unused_input="ignore")(xv, yv)
        np.testing.assert_array_equal(g, 1.0)


def test_pow_exponent_gradient_at_zero_base_is_zero():
    x, y = T.dvector("x"), T.dvector("y")
    gy = run(T.grad((x ** y).sum(), y), [x, y], [np.array([0.0, 0.0, 2.0]), np.array([2.0, 0.5, 3.0])])
    np.testing.assert_allclose(gy, [0.0, 0.0, 8.0 * np.log(2.0)])
    assert np.all(np.isfinite(gy))


def test_float32_mean_accumulates_in_float64():
    x = T.fvector("x")
    m = T.mean(x)
    assert m.dtype == "float32"
    got = run(m, [x], [np.array([1e8, 1, -1e8], dtype="float32")])
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, np.float32(1 / 3), rtol=1e-6)


def test_float16_mean_of_many_ones_is_one():
    x = T.vector("x", dtype="float16")
    got = run(T.mean(x), [x], [np.ones(100_000, dtype="float16")])
    assert got.dtype == np.float16 and got == 1.0


def test_sum_acc_dtype_and_dtype():
    x = T.fvector("x")
    big = np.array([1e8, 1, -1e8], dtype="float32")
    assert run(T.sum(x), [x], [big]) == 1.0  # float64 accumulator by default
    assert T.sum(x).dtype == "float32"
    assert T.sum(x, dtype="float64").dtype == "float64"
    assert T.sum(T.bvector()).dtype == "int64" and T.sum(T.vector(dtype="uint8")).dtype == "uint64"
    with pytest.raises(TypeError, match="losing precision"):
        T.sum(T.dvector(), acc_dtype="float32")
    assert run(T.prod(x, acc_dtype="float64"), [x], [np.array([2, 3], dtype="float32")]) == 6.0


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from([True, False]), min_size=0, max_size=4),
       st.sampled_from(["float32", "float64", "int32"]))
def test_broadcastable_patterns_are_never_read_as_shapes(pattern, dtype):
    expected = tuple(1 if b else None for b in pattern)
    assert TensorType(dtype, tuple(pattern)).shape == expected
    assert TensorType(dtype, list(pattern)).shape == expected
    assert TensorType(dtype, broadcastable=pattern).shape == expected
    assert TensorType(dtype, tuple(np.bool_(b) for b in pattern)).shape == expected
    assert TensorType(dtype, tuple(pattern)).broadcastable == tuple(pattern)
    assert T.tensor(dtype, broadcastable=pattern).type.shape == expected


def test_theano_positional_tensortype_builds_a_variable_of_any_length():
    t3 = TensorType("float64", (False,) * 3)("t3")
    assert t3.type.shape == (None, None, None)
    value = np.ones((2, 3, 4))
    np.testing.assert_array_equal(run(t3 * 2, [t3], [value]), 2 * value)
    assert TensorType("float64", (1, None)).shape == (1, None)  # minigraph's static shapes still work
    with pytest.raises(TypeError, match="broadcastable pattern holds only booleans"):
        TensorType("float64", (True, 3))


@pytest.mark.parametrize("a_shape,b_shape", [((3, 5, 7), (3, 7)), ((3, 5, 7), (3, 7, 2)), ((3, 7), (3, 7, 2)),
                                             ((3, 7), (3, 7))])
def test_batched_dot_is_dot_per_batch_entry(a_shape, b_shape):
    rng = np.random.default_rng(3)
    av, bv = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    a, b = T.tensor(shape=(None,) * len(a_shape)), T.tensor(shape=(None,) * len(b_shape))
    out = T.batched_dot(a, b)
    got = run(out, [a, b], [av, bv])
    np.testing.assert_allclose(got, np.stack([np.dot(x, y) for x, y in zip(av, bv)]), rtol=1e-12)
    assert_static_matches(out, got)
    check_grad(T.batched_dot, [av, bv])


# --------------------------------------------------------------------------- constructors and names

def test_plural_constructors():
    x, y = T.vectors("x", "y")
    assert (x.name, y.name, x.ndim) == ("x", "y", 1)
    a, b = T.matrices("ab")  # one per letter, as Theano does with a single string
    assert (a.name, b.name, a.ndim) == ("a", "b", 2)
    i, j, k = T.iscalars(3)
    assert i.dtype == "int32" and i.ndim == 0 and k is not i
    single = T.dmatrices("m")
    assert single.name == "m" and single.dtype == "float64"
    assert [v.dtype for v in T.fvectors("p", "q")] == ["float32", "float32"]
    assert T.tensor3s("uv")[0].ndim == 3 and T.lrows("r").type.shape == (1, None)


def test_dtype_groups_and_constant_value():
    assert "int8" in T.discrete_dtypes and "bool" in T.discrete_dtypes and "float32" not in T.discrete_dtypes
    assert set(T.float_dtypes) == {"float16", "float32", "float64"}
    assert set(T.continuous_dtypes) == set(T.float_dtypes) | set(T.complex_dtypes)
    assert set(T.all_dtypes) == set(T.discrete_dtypes) | set(T.continuous_dtypes)
    assert T.int_dtypes + T.uint_dtypes == T.integer_dtypes
    c = T.constant(np.arange(3.0))
    np.testing.assert_array_equal(c.value, [0.0, 1.0, 2.0])


def test_theano_dot_at_top_level():
    x, w = T.dmatrix(), T.dmatrix()
    np.testing.assert_allclose(run(theano.dot(x, w), [x, w], [np.eye(2), np.ones((2, 3))]), np.ones((2, 3)))


def test_max_and_argmax():
    x = T.dmatrix("x")
    v = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    for axis in (None, 0, 1, -1):
        mx, am = T.max_and_argmax(x, axis=axis)
        got_max, got_arg = run([mx, am], [x], [v])
        np.testing.assert_array_equal(got_max, np.max(v, axis=axis))
        np.testing.assert_array_equal(got_arg, np.argmax(v, axis=axis))
    check_grad(lambda a: T.max_and_argmax(a, axis=1)[0], [v])


@pytest.mark.parametrize("shape,reps", [((3,), (2,)), ((3,), (2, 3)), ((2, 3), (2, 1)), ((2, 3), (1, 2, 2)),
                                        ((2, 1, 3), (1, 4, 1))])
def test_tile_is_numpy_tile(shape, reps):
    v = np.arange(np.prod(shape), dtype=float).reshape(shape)
    x = T.tensor(shape=(None,) * len(shape))
    np.testing.assert_array_equal(run(T.tile(x, reps), [x], [v]), np.tile(v, reps))
    check_grad(lambda a: T.tile(a, reps), [v])


def test_tile_with_symbolic_reps():
    x, n = T.dvector("x"), T.lscalar("n")
    np.testing.assert_array_equal(run(T.tile(x, (n,)), [x, n], [np.arange(2.0), 3]), np.tile(np.arange(2.0), 3))


def test_unbroadcast_addbroadcast_patternbroadcast():
    r = T.row("r")
    assert r.broadcastable == (True, False)
    u = T.unbroadcast(r, 0)
    assert u.broadcastable == (False, False)
    assert T.addbroadcast(u, 0).broadcastable == (True, False)
    m = T.matrix("m")
    assert T.patternbroadcast(m, (False, True)).broadcastable == (False, True)
    assert T.patternbroadcast(r, (False, False)).broadcastable == (False, False)
    np.testing.assert_array_equal(run(u + 1, [r], [np.ones((1, 3))]), 2 * np.ones((1, 3)))
    with pytest.raises(Exception, match="specify_shape"):  # a stated length-1 axis is checked when run
        run(T.addbroadcast(m, 0), [m], [np.ones((2, 3))])
    check_grad(lambda a: T.unbroadcast(T.addbroadcast(a, 0), 0) * 2, [np.ones((1, 3))])


# --------------------------------------------------------------------------- products and axes

def test_dot_above_two_dimensions_is_numpy_dot():
    rng = np.random.default_rng(4)
    for ash, bsh in (((2, 3, 4), (5, 4, 6)), ((3, 4), (2, 4, 5)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,))):
        av, bv = rng.standard_normal(ash), rng.standard_normal(bsh)
        a, b = T.tensor(shape=(None,) * len(ash)), T.tensor(shape=(None,) * len(bsh))
        np.testing.assert_allclose(run(T.dot(a, b), [a, b], [av, bv]), np.dot(av, bv), rtol=1e-12)
        check_grad(T.dot, [av, bv])


def test_tensordot_with_axis_lists():
    rng = np.random.default_rng(5)
    av, bv = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 3, 5))
    a, b = T.dtensor3(), T.dtensor3()
    for axes in ([[1, 2], [1, 0]], [[2], [0]], [2, 0], ((1,), (1,)), 0):
        np.testing.assert_allclose(run(T.tensordot(a, b, axes), [a, b], [av, bv]), np.tensordot(av, bv, axes),
                                   rtol=1e-12)
    check_grad(lambda x, y: T.tensordot(x, y, [[1, 2], [1, 0]]), [av, bv])
    with pytest.raises(ValueError):
        T.tensordot(a, b, [[1, 2], [0]])


def test_reductions_take_numpy_integer_and_array_axes():
    x = T.dtensor3("x")
    v = np.arange(24.0).reshape(2, 3, 4)
    for axis in (np.int64(1), np.int32(-1), np.array(0), np.array([0, 2]), [np.int64(0), np.int64(1)],
                 [np.array(0), np.array(2)]):
        ref_axis = tuple(np.atleast_1d(np.array(axis)).tolist())
        for fn, ref in ((T.sum, np.sum), (T.mean, np.mean), (T.max, np.max), (T.prod, np.prod)):
            np.testing.assert_allclose(run(fn(x, axis=axis), [x], [v]), ref(v, axis=ref_axis))


def test_floatx_as_a_dtype_name_follows_config():
    for floatx in ("float32", "float64"):
        with theano.change_flags(floatX=floatx):
            assert T.TensorType("floatX", (None,))("v").dtype == floatx
            assert T.cast(T.ivector(), "floatX").dtype == floatx
            assert T.zeros((2,), dtype="floatX").dtype == floatx
            assert T.ones_like(T.ivector(), dtype="floatX").dtype == floatx
            assert T.arange(3, dtype="floatX").dtype == floatx
            assert T.sum(T.ivector(), dtype="floatX").dtype == floatx


def test_swapaxes_validates_its_axes():
    x = T.dmatrix("x")
    np.testing.assert_array_equal(run(T.swapaxes(x, 0, -1), [x], [np.arange(6.0).reshape(2, 3)]),
                                  np.arange(6.0).reshape(2, 3).T)
    with pytest.raises(IndexError, match="axis 2 is out of range"):
        T.swapaxes(x, 2, 0)
    with pytest.raises(IndexError):
        T.swapaxes(T.dvector(), 0, 1)


# --------------------------------------------------------------------------- nnet names

def test_softmax_of_a_vector_is_a_row():
    v = T.dvector("v")
    for fn in (T.nnet.softmax, T.nnet.softmax_op, T.nnet.softmax_graph, T.nnet.logsoftmax):
        out = fn(v)
        assert out.type.shape == (1, None)
        assert run(out, [v], [np.array([1.0, 2.0, 3.0])]).shape == (1, 3)


def test_nnet_names_theano_code_imports():
    from minigraph.tensor.nnet import (binary_crossentropy, categorical_crossentropy,  # noqa: F401
                                       crossentropy_categorical_1hot, crossentropy_softmax_1hot,
                                       crossentropy_softmax_argmax_1hot_with_bias, hard_sigmoid, logsoftmax, relu,
                                       sigmoid, softmax, softmax_graph, softmax_op, softmax_with_bias, softplus)
    x, b, y = T.dmatrix("x"), T.dvector("b"), T.lvector("y")
    xv, bv, yv = np.array([[1.0, 2.0, 0.5], [0.1, -1.0, 3.0]]), np.array([0.1, 0.2, 0.3]), np.array([1, 2])
    nll, sm, am = crossentropy_softmax_argmax_1hot_with_bias(x, b, y)
    got_nll, got_sm, got_am = run([nll, sm, am], [x, b, y], [xv, bv, yv])
    z = xv + bv
    ref_sm = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    np.testing.assert_allclose(got_sm, ref_sm)
    np.testing.assert_allclose(got_nll, -np.log(ref_sm[[0, 1], yv]))
    np.testing.assert_array_equal(got_am, z.argmax(1))
    np.testing.assert_allclose(run(hard_sigmoid(x), [x], [xv]), np.clip(0.2 * xv + 0.5, 0, 1))


# --------------------------------------------------------------------------- properties over shapes and dtypes

@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.sampled_from([2, 3]),
       st.sampled_from([2, 3]))
def test_batched_dot_property(batch, n, k, m, a_ndim, b_ndim):
    rng = np.random.default_rng(batch * 100 + n * 10 + k)
    a_shape = (batch, n, k) if a_ndim == 3 else (batch, k)
    b_shape = (batch, k, m) if b_ndim == 3 else (batch, k)
    av, bv = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    a, b = T.tensor(shape=(None,) * a_ndim), T.tensor(shape=(None,) * b_ndim)
    got = run(T.batched_dot(a, b), [a, b], [av, bv])
    np.testing.assert_allclose(got, np.stack([np.dot(x, y) for x, y in zip(av, bv)]), rtol=1e-12, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 3), min_size=1, max_size=3), st.lists(st.integers(1, 3), min_size=1, max_size=3),
       st.sampled_from(["float32", "float64", "int32"]))
def test_tile_property(shape, reps, dtype):
    v = np.arange(np.prod(shape)).reshape(shape).astype(dtype)
    x = T.tensor(dtype, shape=(None,) * len(shape))
    got = run(T.tile(x, tuple(reps)), [x], [v])
    np.testing.assert_array_equal(got, np.tile(v, reps))
    assert got.dtype == v.dtype


@settings(max_examples=30, deadline=None)
@given(st.permutations([0, 1, 2]), st.integers(1, 3))
def test_tensordot_axis_lists_property(perm, n_axes):
    rng = np.random.default_rng(sum(perm) + n_axes)
    av = rng.standard_normal((2, 3, 4))
    a_axes = sorted(perm[:n_axes])
    b_shape = tuple(av.shape[i] for i in perm[:n_axes]) + (2,)
    bv = rng.standard_normal(b_shape)
    axes = [list(perm[:n_axes]), list(range(n_axes))]
    a, b = T.dtensor3(), T.tensor(shape=(None,) * len(b_shape))
    np.testing.assert_allclose(run(T.tensordot(a, b, axes), [a, b], [av, bv]), np.tensordot(av, bv, axes), rtol=1e-12)
    assert a_axes  # the summed axes are valid for any order given


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["float16", "float32", "float64"]), st.integers(1, 200), st.integers(0, 2))
def test_sum_and_mean_keep_the_input_float_dtype(dtype, n, which):
    v = np.random.default_rng(n).standard_normal(n if which < 2 else min(n, 8)).astype(dtype)  # no overflow
    x = T.tensor(dtype, shape=(None,))
    fn = (T.sum, T.mean, T.prod)[which]
    got = run(fn(x), [x], [v])
    assert got.dtype == np.dtype(dtype)
    ref = (np.sum, np.mean, np.prod)[which](v.astype("float64"))
    tol = {"float16": 2e-2, "float32": 1e-5, "float64": 1e-12}[dtype]
    np.testing.assert_allclose(got.astype("float64"), ref, rtol=tol, atol=tol * max(1.0, float(np.abs(ref))))
