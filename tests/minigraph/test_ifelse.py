"""``ifelse``: Theano's lazy conditional (theano/tests/test_ifelse.py and the tutorial's switch-vs-ifelse
example): only the chosen branch runs, lists of outputs, gradients, and use inside scan."""
import numpy as np
import pytest

import minigraph as theano
import minigraph.tensor as T
from minigraph.graph import Apply, Op
from minigraph.ifelse import ifelse
from minigraph.testing import check_grad

from .helpers import run


class _Counting(Op):
    """Identity that counts how often it runs (to see which branch was computed)."""

    calls = 0

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type])

    def perform(self, x):
        type(self).calls += 1
        return x


@pytest.mark.numpy_only(("JAX",), "lax.cond traces both branches")
def test_only_the_chosen_branch_runs():
    a, b = T.dscalar("a"), T.dscalar("b")
    x, y = T.dmatrix("x"), T.dmatrix("y")
    _Counting.calls = 0
    out = ifelse(T.lt(a, b), T.mean(_Counting()(x)), T.mean(y))
    f = theano.function([a, b, x, y], out)
    ones, zeros = np.ones((2, 2)), np.zeros((2, 2))
    assert f(3.0, 2.0, ones, zeros) == 0.0 and _Counting.calls == 0
    assert f(1.0, 2.0, ones, zeros) == 1.0 and _Counting.calls == 1


@pytest.mark.numpy_only(("JAX",), "lax.cond traces both branches")
def test_an_invalid_untaken_branch_is_never_evaluated():
    v, a = T.dvector("v"), T.dscalar("a")
    f = theano.function([v, a], ifelse(T.gt(a, 0), v[10], v[0]))
    assert f(np.arange(3.0), -1.0) == 0.0
    with pytest.raises(Exception):
        f(np.arange(3.0), 1.0)


@pytest.mark.numpy_only(("JAX",), "lax.cond needs branches of one shape")
def test_lists_of_outputs_and_type_errors():
    c = T.iscalar("c")
    x, y = T.dvector("x"), T.dvector("y")
    p, q = ifelse(c, [x * 2, x.sum()], [y, y.sum()])
    assert p.ndim == 1 and q.ndim == 0
    got = run([p, q], [c, x, y], [np.int32(0), np.array([1.0, 2.0]), np.array([5.0])])
    np.testing.assert_array_equal(got[0], [5.0])
    np.testing.assert_array_equal(got[1], 5.0)
    with pytest.raises(TypeError, match="same dtype"):
        ifelse(c, x, T.lvector())
    with pytest.raises(TypeError, match="scalar"):
        ifelse(x, x, y)


@pytest.mark.parametrize("branch", [1.0, -1.0])
def test_gradient_is_the_chosen_branch_s(branch):
    check_grad(lambda v: ifelse(T.gt(branch, 0), (v ** 2).sum(), T.sin(v).sum()), [np.array([0.5, -1.5, 2.0])])
    W = theano.shared(np.array([1.0, 2.0]), "W")
    v, a = T.dvector("v"), T.dscalar("a")
    c = ifelse(T.gt(a, 0), (W * v).sum(), (W ** 2).sum())
    g = run(T.grad(c, W), [v, a], [np.array([3.0, 4.0]), np.float64(branch)])
    np.testing.assert_allclose(g, [3.0, 4.0] if branch > 0 else [2.0, 4.0])


def test_ifelse_inside_scan():
    xs = T.dvector("xs")
    out, _ = theano.scan(lambda x, acc: ifelse(T.gt(x, 0), acc + x, acc * 0.5), sequences=xs,
                         outputs_info=T.constant(1.0))
    got = run(out, [xs], [np.array([1.0, -1.0, 2.0])])
    np.testing.assert_allclose(got, [2.0, 1.0, 3.0])
    check_grad(lambda v: theano.scan(lambda x, acc: ifelse(T.gt(x, 0), acc + x * x, acc * x), sequences=v,
                                     outputs_info=T.constant(1.0))[0].sum(), [np.array([1.0, -0.5, 2.0])])
