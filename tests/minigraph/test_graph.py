"""The graph layer (minigraph/graph.py): types, variables, applies, traversal and replacement."""
import numpy as np
import pytest

import minigraph as theano
import minigraph.tensor as T
from minigraph.graph import (Apply, Constant, Op, TensorType, ancestors, as_variable, clone_replace, graph_inputs,
                             toposort)


def test_tensor_type_canonicalises_dtype_and_checks_shape():
    t = TensorType(np.float32, (2, None))
    assert t.dtype == "float32" and t.shape == (2, None) and t == TensorType("float32", (2, None))
    assert hash(t) == hash(TensorType("float32", [2, None])) and str(t) == "float32(2,?)"
    assert t.broadcastable == (False, False) and TensorType("float64", (1, 3)).broadcastable == (True, False)
    assert TensorType("float64", (np.int64(3),)).shape == (3,) and type(TensorType("float64", (np.int64(3),)).shape[0]) is int
    with pytest.raises(ValueError, match=">= 0 or None"):
        TensorType("float64", (-1,))
    assert t.accepts_shape((2, 7)) and not t.accepts_shape((3, 7)) and not t.accepts_shape((2,))


def test_filter_names_what_is_wrong():
    t = TensorType("float32", (2,))
    assert TensorType(theano.config.floatX, (2,)).filter([1.0, 2.0]).dtype == theano.config.floatX
    assert t.filter(np.array([1.0, 2.0]), allow_downcast=True).dtype == np.float32
    with pytest.raises(TypeError, match="would lose precision"):
        t.filter(np.array([1.0, 2.0]), allow_downcast=False)
    with pytest.raises(TypeError, match=r"expected static shape \(2,\), got \(3,\)"):
        t.filter(np.zeros(3, np.float32))
    with pytest.raises(TypeError, match="symbolic variable"):
        t.filter(T.vector("v"))


def test_apply_records_the_users_line():
    x = T.dvector("x")
    y = T.exp(x)  # this line
    fname, line, func = y.owner.tag.trace
    assert fname == __file__ and func == "test_apply_records_the_users_line"
    assert "y = T.exp(x)  # this line" in open(fname).read().splitlines()[line - 1]
    assert y.owner.where().endswith(f"test_graph.py:{line} in test_apply_records_the_users_line")


def test_variables_describe_themselves():
    x = T.dmatrix("x")
    assert str(x) == "x" and x.describe() == "x float64(?,?)"
    assert str(T.exp(x)) == "exp.out"
    assert "float64" in T.exp(x).describe()
    with pytest.raises(TypeError, match="Variable"):
        Apply(T.exp(x).owner.op, [np.zeros(2)], [x.type])


def test_as_variable_makes_weak_python_constants():
    c = as_variable(2.0)
    assert isinstance(c, Constant) and c.weak and c.dtype == theano.config.floatX
    assert (T.fvector("v") * 2.0).dtype == "float32"  # a weak constant adopts the tensor's dtype
    assert as_variable(np.float32(2.0)).dtype == "float32" and not as_variable(np.float32(2.0)).weak
    with pytest.raises(TypeError, match="into a tensor constant"):
        as_variable("text")


def test_toposort_is_deterministic_iterative_and_stops():
    x = T.dvector("x")
    y = x
    for _ in range(20_000):  # deeper than Python's recursion limit
        y = y + 1.0
    nodes = toposort([y])
    assert len(nodes) == 20_000 and nodes[-1] is y.owner
    a, b = T.exp(x), T.log(x)
    z = a * b
    assert [n.op for n in toposort([z])] == [a.owner.op, b.owner.op, z.owner.op]
    assert toposort([z], stop_at=[a]) == [b.owner, z.owner]
    assert graph_inputs([z]) == [x] and graph_inputs([z], stop_at=[a]) == [x, a]
    assert ancestors([z])[-1] is z


def test_clone_replace_rebuilds_only_what_depends_on_the_replaced():
    x, w = T.dvector("x"), T.dvector("w")
    shared_part = T.exp(w)
    y = shared_part * x
    (y2,) = clone_replace([y], {x: x + 1.0})
    assert y2 is not y and y2.owner.inputs[0] is shared_part  # the untouched part is reused
    f = theano.function([x, w], y2)
    np.testing.assert_allclose(f(np.ones(2), np.zeros(2)), 2.0)
    assert clone_replace([y], {})[0] is y


def test_shared_variables_copy_unless_borrowed():
    v = np.arange(3.0)
    s = theano.shared(v, "s")
    v[0] = 100.0
    assert s.get_value()[0] == 0.0  # shared() copies
    got = s.get_value()
    got[1] = 50.0
    assert s.get_value()[1] == 1.0  # get_value() copies
    s.set_value(np.zeros(3))
    assert s.get_value().sum() == 0.0
    with pytest.raises(TypeError, match="shared variable s"):
        s.set_value(np.zeros((2, 2)))


def test_op_defaults_are_the_small_interface():
    class Noop(Op):
        def make_node(self, x):
            return Apply(self, [x], [x.type])

    op = Noop()
    x = T.dvector("x")
    node = op.make_node(x)
    assert op.make_thunk(node) == op.perform and op.writes_into(node) is None
    assert op.generated_sources() == {} and str(op) == "Noop"
    with pytest.raises(theano.NonDifferentiable, match="Noop has no gradient"):
        theano.grad(op(x).sum(), x)
