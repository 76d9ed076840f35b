"""Error messages: each names what went wrong, where, and with which variables and shapes."""
import sys

import numpy as np
import pytest

import minigraph as theano
import minigraph.tensor as T
from minigraph.compile import ExecutionError, MissingInputError
from minigraph.grad import DisconnectedInputError
from minigraph.graph import Apply, NonDifferentiable, Op, TensorType, op
from minigraph.ops.elemwise import ShapeError

def _line():
    """The caller's line number: used to check that errors point at the line that built a node."""
    return sys._getframe(1).f_lineno


def _words(exc_info, *words):
    message = str(exc_info.value)
    for w in words:
        assert w in message, f"{w!r} missing from the error message:\n{message}"
    return message


def test_dot_shape_mismatch_at_build_time():
    x = TensorType("float64", (3, 4))("x")
    w = theano.shared(np.zeros((5, 6)), "w")
    with pytest.raises(ShapeError) as e:
        T.dot(x, w)
    _words(e, "dot", "x", "w", "(3,4)", "(5,6)", "inner dimensions")
    with pytest.raises(ShapeError) as e:
        T.matmul(TensorType("float64", (2, 3, 4))("a"), TensorType("float64", (2, 5, 6))("b"))
    _words(e, "matmul", "a", "b", "(2,3,4)", "(2,5,6)")


def test_broadcast_mismatch_at_build_time():
    p, q = TensorType("float64", (3,))("p"), TensorType("float64", (4,))("q")
    with pytest.raises(ShapeError) as e:
        p + q
    _words(e, "add", "p float64(3)", "q float64(4)", "axis 0")
    with pytest.raises(ShapeError) as e:
        T.concatenate([TensorType("float64", (2, 3))("a"), TensorType("float64", (2, 4))("b")], axis=0)
    _words(e, "concatenate", "axis 1", "a float64(2,3)", "b float64(2,4)")


def test_wrong_number_of_inputs():
    a, b = T.dvector("a"), T.dmatrix("b")
    f = theano.function([a, b], a + b)
    with pytest.raises(TypeError) as e:
        f(np.zeros(2))
    _words(e, "takes 2 input(s)", "a float64(?)", "b float64(?,?)", "got 1")
    with pytest.raises(TypeError) as e:
        f(np.zeros(2), np.zeros((1, 2)), np.zeros(2))
    _words(e, "got 3")


def test_wrong_number_of_dimensions():
    a = T.dvector("a")
    f = theano.function([a], a * 2)
    with pytest.raises(TypeError) as e:
        f(np.zeros((2, 2)))
    _words(e, "input a", "1-d", "shape (2, 2)")
    with pytest.raises(TypeError) as e:
        f(3.0)
    _words(e, "input a", "1-d", "shape ()")


def test_static_shape_mismatch_of_an_input():
    x = TensorType("float64", (2, 3))("x")
    with pytest.raises(TypeError) as e:
        theano.function([x], x.sum())(np.zeros((2, 4)))
    _words(e, "input x", "(2, 3)", "(2, 4)")


def test_non_numeric_data():
    a = T.dvector("a")
    f = theano.function([a], a * 2)
    for bad in ("abc", ["a", "b"], [{"x": 1}]):
        with pytest.raises(TypeError) as e:
            f(bad)
        _words(e, "input a")
    with pytest.raises(TypeError) as e:
        f(["1", "2"])
    _words(e, "numeric")
    with pytest.raises(TypeError) as e:
        f(a)
    _words(e, "input a", "symbolic variable")
    with pytest.raises(TypeError) as e:
        theano.shared("abc")
    _words(e, "numeric")
    with pytest.raises(TypeError) as e:
        a + "abc"
    _words(e, "str")


def test_float64_into_float32_input():
    x = T.fmatrix("x")
    f = theano.function([x], x.sum())
    with pytest.raises(TypeError) as e:
        f(np.zeros((2, 2)))
    _words(e, "input x", "float32", "float64", "allow_input_downcast=True")


def test_run_time_shape_mismatch_names_node_shapes_and_user_line():
    a, b = T.dvector("a"), T.dvector("b")
    out = a + b; line = _line()  # noqa: E702  (the node and the line number on one line)
    for kwargs in ({}, {"rewrite": False}, {"check": True}):
        f = theano.function([a, b], out * 2, **kwargs)
        with pytest.raises(ExecutionError) as e:
            f(np.zeros(3), np.zeros(4))
        msg = _words(e, "add", "a: float64[3]", "b: float64[4]", f"{__file__}:{line}")
        assert "test_run_time_shape_mismatch_names_node_shapes_and_user_line" in msg
    m, n = T.dmatrix("m"), T.dmatrix("n")
    prod = T.dot(m, n); line = _line()  # noqa: E702
    with pytest.raises(ExecutionError) as e:
        theano.function([m, n], prod)(np.zeros((2, 3)), np.zeros((4, 5)))
    _words(e, "dot", "m: float64[2, 3]", "n: float64[4, 5]", f"{__file__}:{line}", "not aligned")
    assert isinstance(e.value.__cause__, ValueError)


def test_reshape_and_index_errors():
    x = TensorType("float64", (3, 4))("x")
    with pytest.raises(ShapeError) as e:
        x.reshape((5, 2))
    _words(e, "reshape", "x float64(3,4)", "12 elements", "(5, 2)")
    with pytest.raises(ShapeError) as e:
        x.reshape((5, -1))
    _words(e, "reshape", "x float64(3,4)")
    with pytest.raises(IndexError) as e:
        x[3]
    _words(e, "index 3", "axis 0", "x float64(3,4)")
    with pytest.raises(IndexError) as e:
        x[0, 1, 2]
    _words(e, "too many indices", "x float64(3,4)")
    with pytest.raises(IndexError) as e:
        x[x > 0]
    _words(e, "boolean mask", "T.switch")
    with pytest.raises(IndexError) as e:
        x[T.dscalar("f")]
    _words(e, "integer", "f float64()")
    with pytest.raises(IndexError):
        x[::0]
    with pytest.raises(ValueError) as e:
        x.dimshuffle(0)
    _words(e, "dimshuffle", "drops axis 1", "x float64(3,4)")
    with pytest.raises(ValueError) as e:
        x.sum(axis=2)
    _words(e, "sum", "axis 2", "2-d")
    with pytest.raises(TypeError) as e:
        T.set_subtensor(x, 1.0)
    _words(e, "set_subtensor", "indexed variable")


def test_symbolic_variables_refuse_python_control_flow():
    x = T.dvector("x")
    with pytest.raises(TypeError) as e:
        bool(x > 0)
    _words(e, "truth value", "T.switch")
    with pytest.raises(TypeError) as e:
        len(x)
    _words(e, "x.shape[0]")
    with pytest.raises(TypeError) as e:
        list(x)
    _words(e, "not iterable")


def test_missing_input_and_bad_givens():
    a, b = T.dvector("a"), T.dvector("b")
    with pytest.raises(MissingInputError) as e:
        theano.function([a], a + b)
    _words(e, "b float64(?)", "not in the inputs list", "givens")
    with pytest.raises(TypeError) as e:
        theano.function([a], b * 2, givens={b: T.lvector("i")})
    _words(e, "givens", "b float64(?)", "i int64(?)")
    with pytest.raises(MissingInputError) as e:  # a computed input cuts the graph: a is then missing
        theano.function([a + 1], a)
    _words(e, "a float64(?)", "not in the inputs list")
    with pytest.raises(TypeError) as e:
        theano.function([theano.shared(1.0)], a)
    _words(e, "not a free input")
    with pytest.raises(ValueError) as e:
        theano.function([a, a], a)
    _words(e, "given twice")


def test_grad_errors():
    x = T.dvector("x")
    y = T.dvector("y")
    with pytest.raises(TypeError) as e:
        T.grad(x * 2, x)
    _words(e, "cost must be a scalar", "float64(?)", ".sum()")
    with pytest.raises(DisconnectedInputError) as e:
        T.grad(x.sum(), y)
    _words(e, "does not depend on y", "disconnected_inputs='ignore'")
    with pytest.raises(DisconnectedInputError) as e:
        T.grad(x.sum(), T.lvector("i"))
    _words(e, "i int64(?)", "does not depend on")


def test_non_differentiable_op_names_the_op_and_where_it_was_built():
    @op
    class Sort(Op):
        """A forward-only op (no pullback)."""

        def make_node(self, x):
            return Apply(self, [x], [x.type])

        def perform(self, x):
            return np.sort(x)

        def __str__(self):
            return "sort"

    x = T.dvector("x")
    s = Sort()(x); line = _line()  # noqa: E702
    np.testing.assert_array_equal(theano.function([x], s)(np.array([3.0, 1.0])), [1.0, 3.0])
    with pytest.raises(NonDifferentiable) as e:
        T.grad((s * x).sum(), x)
    _words(e, "cannot differentiate through sort", f"{__file__}:{line}")
    assert isinstance(e.value, TypeError)
