"""Property tests (hypothesis): broadcasting binary ops against numpy, values and gradients; random
expression graphs whose values (and gradients) do not change under rewrites."""
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigraph as theano
import minigraph.tensor as T
from minigraph.graph import TensorType

# modest by default (the suite must stay fast); MG_HYPOTHESIS_EXAMPLES=1000 for a deep run
SETTINGS = settings(max_examples=int(os.environ.get("MG_HYPOTHESIS_EXAMPLES", 40)), deadline=None)


# --------------------------------------------------------------------------- broadcasting binary ops

def _sum_to_shape(g, shape):
    """numpy reference for undoing broadcasting: sum ``g`` down to ``shape``."""
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead)))
    return g.sum(axis=tuple(i for i, s in enumerate(shape) if s == 1), keepdims=True)


# op name -> (symbolic, numpy value, numpy gradient wrt (a, b) given the output cotangent r)
BINARY = {
    "add": (lambda a, b: a + b, np.add, lambda a, b, r: (r, r)),
    "sub": (lambda a, b: a - b, np.subtract, lambda a, b, r: (r, -r)),
    "mul": (lambda a, b: a * b, np.multiply, lambda a, b, r: (r * b, r * a)),
    "div": (lambda a, b: a / b, np.divide, lambda a, b, r: (r / b, -r * a / b ** 2)),
    "pow": (lambda a, b: a ** b, np.power, lambda a, b, r: (r * b * a ** (b - 1), r * a ** b * np.log(a))),
    "maximum": (T.maximum, np.maximum, lambda a, b, r: (r * (a >= b), r * (a < b))),
    "switch": (lambda a, b: T.switch(a > b, a * b, b), lambda a, b: np.where(a > b, a * b, b),
               lambda a, b, r: (r * (a > b) * b, r * np.where(a > b, a, 1.0))),
}


@st.composite
def broadcast_pair(draw):
    """Two shapes that broadcast together: a common shape, each operand dropping leading axes and
    turning some axes into 1; and whether the static types know the shapes."""
    ndim = draw(st.integers(0, 3))
    full = draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim))
    shapes = []
    for _ in range(2):
        drop = draw(st.integers(0, ndim))
        shapes.append(tuple(1 if draw(st.booleans()) else s for s in full[drop:]))
    return shapes[0], shapes[1], draw(st.sampled_from(["static", "broadcastable", "unknown"]))


def _type(shape, known):
    if known == "static":
        return TensorType("float64", shape)
    if known == "broadcastable":  # Theano's pattern: only the length-1 axes are known
        return TensorType("float64", tuple(1 if s == 1 else None for s in shape))
    return TensorType("float64", (None,) * len(shape))  # broadcasting discovered at run time


@SETTINGS
@given(pair=broadcast_pair(), op=st.sampled_from(sorted(BINARY)), seed=st.integers(0, 2 ** 16))
def test_broadcasting_binary_op_values_and_gradients(pair, op, seed):
    sa, sb, known = pair
    sym, value, vjp = BINARY[op]
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2.0, sa)  # positive: a valid base for pow
    b = rng.standard_normal(sb)
    if op == "div":
        b = np.abs(b) + 0.5
    expected = value(a, b)
    r = rng.standard_normal(expected.shape)
    A, B = _type(sa, "static" if known == "static" else known)("a"), _type(sb, known)("b")
    out = sym(A, B)
    cost = (out * r).sum()
    f = theano.function([A, B], [out, *theano.grad(cost, [A, B])])
    got, ga, gb = f(a, b)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
    ea, eb = vjp(a, b, r)
    np.testing.assert_allclose(ga, _sum_to_shape(np.broadcast_to(ea, expected.shape), sa).reshape(sa),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gb, _sum_to_shape(np.broadcast_to(eb, expected.shape), sb).reshape(sb),
                               rtol=1e-10, atol=1e-12)
    assert ga.shape == sa and gb.shape == sb


# --------------------------------------------------------------------------- random expression graphs

def _bounded(x):
    return T.tanh(x)  # keeps values in (-1, 1) so exp/log chains cannot overflow


UNARY = [
    lambda x: -x, T.tanh, T.nnet.sigmoid, T.sin, T.sqr, abs, T.softplus,
    lambda x: x * 1, lambda x: x + 0, lambda x: 0 + x * 1.0, lambda x: -(-x), lambda x: x.copy(),
    lambda x: T.exp(_bounded(x)), lambda x: T.log(T.exp(_bounded(x))), lambda x: T.exp(T.log(T.sqr(x) + 1)),
    lambda x: T.log(T.nnet.sigmoid(x)), lambda x: T.log(1 - T.nnet.sigmoid(x)),
    lambda x: T.log(T.nnet.softmax(x)), T.nnet.softmax, lambda x: T.nnet.log_softmax(x, axis=0),
    lambda x: x.sum(axis=0, keepdims=True), lambda x: x.max(axis=1, keepdims=True),
    lambda x: x.mean(axis=1, keepdims=True),
    lambda x: x.T.T, lambda x: x.dimshuffle(1, 0).dimshuffle(1, 0), lambda x: x.reshape((x.shape[0], -1)),
    lambda x: T.zero_grad(x) + x, lambda x: T.clip(x, -0.5, 0.5),
    lambda x: x[::-1] * 2, lambda x: T.set_subtensor(x[0], x[-1] * 2),
    lambda x: T.cast(x, "float64") * x.shape[0],
]
BINARY_GRAPH = [
    lambda x, y: x + y, lambda x, y: x - y, lambda x, y: x * y, lambda x, y: x / (T.sqr(y) + 1),
    T.maximum, T.minimum, lambda x, y: T.switch(x > y, x, y * 2),
    lambda x, y: (1 - T.tanh(x) ** 2) * y, lambda x, y: y * T.nnet.sigmoid(x) * (1 - T.nnet.sigmoid(x)),
    lambda x, y: x * y + x * y, lambda x, y: T.dot(x.sum(axis=1, keepdims=True), y.sum(axis=0, keepdims=True)),
]


@st.composite
def programs(draw):
    """A random DAG: a pool of values starting with the inputs; each step applies a unary or binary op to
    pool entries (earlier results can be reused, which gives the merger duplicates to find).  Every op keeps
    values 2-d with rows in {1, 3} and columns in {1, 4}, so any two pool entries broadcast together."""
    steps = []
    for i in range(draw(st.integers(1, 7))):
        pool = 3 + i
        if draw(st.booleans()):
            steps.append(("u", draw(st.integers(0, len(UNARY) - 1)), draw(st.integers(0, pool - 1)), None))
        else:
            steps.append(("b", draw(st.integers(0, len(BINARY_GRAPH) - 1)), draw(st.integers(0, pool - 1)),
                          draw(st.integers(0, pool - 1))))
    return steps


def _run_program(steps, inputs):
    pool = list(inputs)
    for kind, k, i, j in steps:
        pool.append(UNARY[k](pool[i]) if kind == "u" else BINARY_GRAPH[k](pool[i], pool[j]))
    return pool[len(inputs):]


@SETTINGS
@given(steps=programs(), seed=st.integers(0, 2 ** 16), static=st.booleans())
def test_random_graphs_have_the_same_values_with_and_without_rewrites(steps, seed, static):
    rng = np.random.default_rng(seed)
    values = [rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.standard_normal((1, 4))]
    xs = [TensorType("float64", v.shape if static else tuple(1 if s == 1 else None for s in v.shape))(n)
          for n, v in zip("abc", values)]
    outs = _run_program(steps, xs)
    cost = sum((o * np.cos(np.arange(o.ndim + 1.0)).sum()).sum() for o in outs)
    grads = theano.grad(cost, xs, disconnected_inputs="ignore")
    everything = outs + grads
    with np.errstate(all="ignore"):
        on = theano.function(xs, everything)(*values)
        off = theano.function(xs, everything, rewrite=False)(*values)
    for a, b in zip(on, off):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True)


@pytest.mark.numpy_executor  # numpy's generated code (its buffer reuse) against its own interpreter, bit for bit
@SETTINGS
@given(steps=programs(), seed=st.integers(0, 2 ** 16), static=st.booleans())
def test_random_graphs_compiled_equal_the_node_by_node_interpreter(steps, seed, static):
    """The generated code writes results into dead buffers; the interpreter never does."""
    rng = np.random.default_rng(seed)
    values = [rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.standard_normal((1, 4))]
    xs = [TensorType("float64", v.shape if static else (None, None))(n) for n, v in zip("abc", values)]
    outs = _run_program(steps, xs)
    cost = sum((o * np.cos(np.arange(o.ndim + 1.0)).sum()).sum() for o in outs)
    everything = outs + theano.grad(cost, xs, disconnected_inputs="ignore")
    fn = theano.function(xs, everything)
    with np.errstate(all="ignore"):
        compiled = fn(*values)
        interpreted = fn.program._interpret(values, check=False)
    for a, b in zip(compiled, interpreted):
        np.testing.assert_array_equal(a, b)
