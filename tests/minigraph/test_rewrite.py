"""Each rewrite keeps values and shrinks the graph: compiled with rewrites vs without, node counts compared."""
import numpy as np
import pytest

import minigraph as theano
import minigraph.tensor as T
from minigraph.graph import TensorType, toposort
from minigraph.ops import basic, elemwise, nnet, shape
from minigraph.rewrite import Rewrites, count_nodes

rng = np.random.default_rng(7)
X = rng.uniform(0.5, 2.0, (3, 4))
Y = rng.standard_normal((3, 4))


def _ops(outputs):
    return [type(n.op) for n in toposort(outputs if isinstance(outputs, list) else [outputs])]


def _compare(build, *values, static=False):
    """Compile ``build``'s graph with and without rewrites: same values; returns (rewritten, plain) functions."""
    xs = [TensorType(v.dtype, v.shape if static else (None,) * v.ndim)(n) for n, v in zip("xyzw", values)]
    outs = build(*xs)
    on = theano.function(xs, outs)
    off = theano.function(xs, outs, rewrite=False)
    a, b = on(*values), off(*values)
    for u, v in zip(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b]):
        np.testing.assert_allclose(u, v, rtol=1e-13, atol=1e-14)
    return on, off


# (id, graph builder, number of nodes the rewrite must remove at least, op types that must be gone)
CASES = [
    ("x*1", lambda x: x * 1, 1, [elemwise.Mul]),
    ("1*x", lambda x: 1.0 * x * 2, 1, []),
    ("x+0", lambda x: (x + 0) * 2, 1, [elemwise.Add]),
    ("0+x", lambda x: (0.0 + x) * 2, 1, [elemwise.Add]),
    ("x-0", lambda x: (x - 0) * 2, 1, [elemwise.Sub]),
    ("x/1", lambda x: (x / 1) * 2, 1, [elemwise.TrueDiv]),
    ("x**1", lambda x: (x ** 1) * 2, 1, [elemwise.Pow]),
    ("x**2", lambda x: x ** 2 * 3, 0, [elemwise.Pow]),
    ("x**0.5", lambda x: x ** 0.5 * 3, 0, [elemwise.Pow]),
    ("x**-1", lambda x: x ** -1 * 3, 0, [elemwise.Pow]),
    ("--x", lambda x: -(-x) * 2, 2, [elemwise.Neg]),
    ("exp(log x)", lambda x: T.exp(T.log(x)) * 2, 2, [elemwise.Exp, elemwise.Log]),
    ("log(exp x)", lambda x: T.log(T.exp(x)) * 2, 2, [elemwise.Exp, elemwise.Log]),
    ("identity", lambda x: x.copy() * 2, 1, [elemwise.Identity]),
    ("zero_grad", lambda x: T.zero_grad(x) * 2, 1, [basic.GradTransform]),
    ("reshape-same", lambda x: x.reshape((3, 4)) * 2, 1, [shape.Reshape]),
    ("reshape-reshape", lambda x: x.reshape((12,)).reshape((4, 3)), 1, []),
    ("dimshuffle-identity", lambda x: x.T.T * 2, 2, [shape.DimShuffle]),
    ("dimshuffle-merge", lambda x: x.dimshuffle(1, "x", 0).dimshuffle(2, 0, 1), 1, []),
    ("shape-static", lambda x: x * x.shape[0] + x.shape[1], 2, [basic.ShapeI]),
    ("cse", lambda x, y: (x * y + 1) + (x * y + 1), 2, []),
    ("cse-unary", lambda x, y: T.tanh(x) * T.exp(y) + T.tanh(x) * T.exp(y), 3, []),
    ("constant-folding", lambda x: x * (T.constant(2.0) * 3.0 + T.exp(T.constant(0.0))), 3, [elemwise.Exp]),
    ("constant-folding-alloc", lambda x: x + T.ones((3, 4)).sum(), 2, [basic.Alloc]),
    ("log(softmax)", lambda x: T.log(T.nnet.softmax(x)), 1, [nnet.Softmax, elemwise.Log]),
    ("log(1-sigmoid)", lambda x: T.log(1 - T.nnet.sigmoid(x)) * 2, 1, [elemwise.Log, elemwise.Sigmoid]),
    ("tanh-grad-mul", lambda x, y: y * (1 - T.tanh(x) * T.tanh(x)), 2, [elemwise.Sub]),
    ("tanh-grad-sqr", lambda x, y: (1 - T.sqr(T.tanh(x))) * y, 1, [elemwise.Sub, elemwise.Sqr]),
    ("tanh-grad-pow", lambda x, y: y * (1 - T.tanh(x) ** 2), 1, [elemwise.Sub, elemwise.Pow]),
    ("sigmoid-grad", lambda x, y: y * (T.nnet.sigmoid(x) * (1 - T.nnet.sigmoid(x))), 1, [elemwise.Sub]),
    ("sigmoid-grad-left", lambda x, y: y * T.nnet.sigmoid(x) * (1 - T.nnet.sigmoid(x)), 1, [elemwise.Sub]),
    ("sigmoid-grad-right", lambda x, y: (1 - T.nnet.sigmoid(x)) * T.nnet.sigmoid(x) * y, 1, [elemwise.Sub]),
]


@pytest.mark.parametrize("build,removed,gone", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule_keeps_values_and_shrinks_graph(build, removed, gone):
    n_args = build.__code__.co_argcount
    on, off = _compare(build, X, Y, static=True) if n_args == 2 else _compare(build, X, static=True)
    n_on, n_off = count_nodes(on.outputs), count_nodes(off.outputs)
    assert n_on <= n_off - removed, (n_on, n_off)
    assert n_on < n_off or removed == 0
    remaining = _ops(on.outputs)
    for cls in gone:
        assert cls not in remaining, f"{cls.__name__} survived: {remaining}"


def test_rules_also_apply_without_static_shapes():
    on, off = _compare(lambda x: T.log(T.nnet.softmax(x * 1 + 0)), X)
    assert _ops(on.outputs) == [nnet.LogSoftmax]
    assert count_nodes(off.outputs) == 4


def test_log_softmax_rewrite_fixes_extreme_values():
    x = T.dvector("x")
    out = T.log(T.nnet.softmax(x))
    v = np.array([1000.0, 0.0])
    np.testing.assert_allclose(theano.function([x], out)(v), [[0.0, -1000.0]])  # a vector's softmax is a row
    with np.errstate(divide="ignore"):
        assert np.isneginf(theano.function([x], out, rewrite=False)(v)[0, 1])  # as built: log(0)


def test_fused_gradients_are_used():
    x, y = T.dvector("x"), T.dvector("y")
    f = theano.function([x, y], y * (1 - T.tanh(x) ** 2))
    assert elemwise.TanhGrad in _ops(f.outputs)
    g = theano.function([x, y], y * T.nnet.sigmoid(x) * (1 - T.nnet.sigmoid(x)))
    assert elemwise.SigmoidGrad in _ops(g.outputs)
    # minigraph's own gradients emit the fused ops directly
    assert elemwise.TanhGrad in _ops(T.grad(T.tanh(x).sum(), x))
    assert elemwise.SigmoidGrad in _ops(T.grad(T.nnet.sigmoid(x).sum(), x))


def test_cse_merges_duplicates_built_separately():
    x, y = T.dmatrix("x"), T.dmatrix("y")
    a = T.dot(x, y.T).sum(axis=1)
    b = T.dot(x, y.T).sum(axis=1)  # the same expression, built twice
    f = theano.function([x, y], [a, b])
    assert count_nodes(f.outputs) == 3  # dimshuffle, dot, sum
    assert f.outputs[0] is f.outputs[1]
    r = f(X, Y)
    np.testing.assert_array_equal(r[0], r[1])
    r[0][0] = 123.0
    assert r[1][0] != 123.0  # merged outputs are still returned as separate arrays


def test_stable_log_rewrites():
    """log(sigmoid x) -> -softplus(-x) and log(1 - sigmoid x) -> -softplus(x): finite where sigmoid saturates."""
    x = T.dvector("x")
    v = np.array([-800.0, -30.0, 0.0, 30.0, 800.0])
    f = theano.function([x], [T.log(T.nnet.sigmoid(x)), T.log(1 - T.nnet.sigmoid(x))])
    assert elemwise.Log not in _ops(f.outputs) and elemwise.Softplus in _ops(f.outputs)
    lo, hi = f(v)
    np.testing.assert_allclose(lo, -np.logaddexp(0, -v), rtol=1e-14)
    np.testing.assert_allclose(hi, -np.logaddexp(0, v), rtol=1e-14)
    _compare(lambda a: [T.log(T.nnet.sigmoid(a)), T.log(1 - T.nnet.sigmoid(a))], Y)


# ---- the rule registry
@pytest.fixture
def temporary_rules():
    """Rules registered in a test are removed after it."""
    from minigraph.rewrite import REGISTRY
    before = dict(REGISTRY.rules)
    yield REGISTRY
    REGISTRY.rules.clear()
    REGISTRY.rules.update(before)


def test_a_broken_rule_fails_loudly_with_its_name(temporary_rules):
    from minigraph.ops.elemwise import Mul
    from minigraph.rewrite import RewriteError, node_rule

    @node_rule(Mul, phase="specialize", name="broken_for_test")
    def broken(node):
        raise KeyError("oops")

    x = T.dvector("x")
    with pytest.raises(RewriteError, match=r"rewrite rule broken_for_test failed on mul \(built at .*test_rewrite.py:.*KeyError: 'oops'"):
        theano.function([x], x * 3.0)
    # switched off by name, the same graph compiles
    f = theano.function([x], x * 3.0, rewrite=Rewrites(exclude=["broken_for_test"]))
    np.testing.assert_allclose(f(np.ones(2)), 3.0)


def test_not_applicable_and_tracked_types(temporary_rules):
    from minigraph.ops.elemwise import Mul
    from minigraph.rewrite import NotApplicable, node_rule
    seen = []

    @node_rule(Mul, phase="specialize", name="declines_for_test")
    def declines(node):
        seen.append(type(node.op).__name__)
        raise NotApplicable("never")

    x = T.dvector("x")
    f = theano.function([x], T.exp(x * 3.0) + 1.0)
    np.testing.assert_allclose(f(np.zeros(2)), 2.0)
    assert seen == ["Mul"]  # offered only the node of the type it tracks


def test_a_rule_that_changes_a_type_is_an_error(temporary_rules):
    from minigraph.ops.elemwise import Neg
    from minigraph.rewrite import RewriteError, node_rule

    @node_rule(Neg, phase="specialize", name="retypes_for_test")
    def retypes(node):
        return [T.cast(node.inputs[0], "int64")]

    x = T.dvector("x")
    with pytest.raises(RewriteError, match="retypes_for_test changed the type"):
        theano.function([x], -x)


def test_rules_are_listed_in_the_order_they_run():
    from minigraph.rewrite import PHASES, list_rules
    rules = list_rules()
    names = [r.name for r in rules]
    assert len(names) == len(set(names))
    node_phases = [PHASES.index(r.phase) for r in rules if not r.graph]
    assert node_phases == sorted(node_phases)
    assert rules[0].phase == "before" and rules[-1].phase == "after"
    assert all(r.doc for r in rules), [r.name for r in rules if not r.doc]
    with pytest.raises(TypeError, match="lists of rule names"):
        Rewrites(exclude="scan_prune")
