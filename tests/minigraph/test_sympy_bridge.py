"""The sympy bridge: round trips both ways, clear errors, and minigraph's gradients checked against
``sympy.diff`` on random scalar expressions."""
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import minigraph as mg
import minigraph.tensor as T
from minigraph.sympy_bridge import from_sympy, to_sympy

X, Y, Z = sp.symbols("x y z", real=True)


def _inputs():
    return T.dscalar("x"), T.dscalar("y"), T.dscalar("z")


def _value(expr, point):
    """A sympy expression evaluated at ``point`` ({Symbol: float}) to 30 digits, as a float."""
    return float(sp.N(expr, 30, subs=point))


def test_to_sympy_covers_the_elementwise_ops():
    x, y, z = _inputs()
    cases = [
        (x + y - z * x / y, X + Y - Z * X / Y),
        (x ** 3 - (-y), X ** 3 + Y),
        (T.exp(x) + T.log(y) + T.log1p(z) + T.expm1(x), sp.exp(X) + sp.log(Y) + sp.log(1 + Z) + sp.exp(X) - 1),
        (T.sqrt(x) * T.sin(y) * T.cos(z) * T.tanh(x), sp.sqrt(X) * sp.sin(Y) * sp.cos(Z) * sp.tanh(X)),
        (T.sigmoid(x) + T.softplus(y), 1 / (1 + sp.exp(-X)) + sp.log(1 + sp.exp(Y))),
        (abs(x) + T.maximum(x, y) - T.minimum(y, z) + T.sqr(z), sp.Abs(X) + sp.Max(X, Y) - sp.Min(Y, Z) + Z ** 2),
        (0.5 * x + 2 * y + 0.1 * z, X / 2 + 2 * Y + sp.Float(0.1) * Z),
    ]
    for var, want in cases:
        assert sp.simplify(to_sympy(var) - want) == 0, (var, to_sympy(var), want)


def test_to_sympy_names_symbols_and_accepts_overrides():
    x, y, _ = _inputs()
    w = mg.shared(np.float64(2.0), name="w")
    expr = to_sympy(x * w + y)
    assert {s.name for s in expr.free_symbols} == {"x", "w", "y"}
    assert all(s.is_real for s in expr.free_symbols)
    a = sp.Symbol("a")
    assert to_sympy(x * y, symbols={x: a, y: "b"}) == a * sp.Symbol("b", real=True)
    assert to_sympy(x) == X and to_sympy(T.constant(1.5) + 0) == sp.Rational(3, 2)
    unnamed = T.dscalar()
    assert to_sympy(T.exp(unnamed)) == sp.exp(sp.Symbol("input0", real=True))


def test_to_sympy_errors_name_the_problem():
    x = T.dvector("x")
    with pytest.raises(TypeError, match="sum.*no sympy counterpart"):
        to_sympy(T.sum(x))
    with pytest.raises(TypeError, match="not a scalar"):
        to_sympy(x + np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="Cast"):
        to_sympy(T.cast(x, "int64"))
    with pytest.raises(ValueError, match="both called 'x'"):
        to_sympy(x + T.dvector("x"))


def test_from_sympy_builds_the_same_function():
    x, y, z = _inputs()
    exprs = [
        X ** 2 - 3 * X / Y + sp.sqrt(Z ** 2 + 1) - 1 / X ** 2 + X ** sp.Rational(3, 2) - Y ** sp.Rational(-1, 2),
        sp.exp(-X) * sp.log(Y) + sp.tanh(Z) - sp.sin(X) * sp.cos(Y) + sp.pi,
        sp.Abs(X - Y) + sp.Max(X, Y, Z) - sp.Min(X, 2 * Z) + sp.sign(Z) - X * Y * Z / 7,
        -X - Y,
        X ** Y,
    ]
    point = {X: 1.3, Y: 0.7, Z: -0.4}
    for e in exprs:
        var = from_sympy(e, {X: x, "y": y, Z: z})
        got = var.eval({x: 1.3, y: 0.7, z: -0.4})
        assert np.allclose(got, _value(e, point), rtol=1e-12), e
        assert np.isclose(_value(to_sympy(var), point), _value(e, point), rtol=1e-13)  # pi comes back as a float


def test_from_sympy_output_is_compact():
    x, y, _ = _inputs()
    assert mg.pp(from_sympy(X / Y - X ** 2, {"x": x, "y": y})) == "((x / y) - sqr(x))"
    assert mg.pp(from_sympy(sp.sqrt(X) + 1 / X, {"x": x})) == "(sqrt(x) + (1. / x))"


def test_from_sympy_errors():
    x = T.dscalar("x")
    with pytest.raises(KeyError, match="y"):
        from_sympy(X + Y, {"x": x})
    with pytest.raises(TypeError, match="gamma"):
        from_sympy(sp.gamma(X), {"x": x})
    with pytest.raises(TypeError, match="not a minigraph Variable"):
        from_sympy(X, {"x": 1.0})


def test_round_trip_graph_sympy_graph():
    x, y, z = _inputs()
    f = T.sigmoid(x) * T.log1p(y ** 2) - T.maximum(x, y) / 2.0 + T.softplus(-z) ** 1.5
    g = from_sympy(to_sympy(f), {"x": x, "y": y, "z": z})
    fn = mg.function([x, y, z], [f, g])
    for point in [(0.3, -1.2, 0.5), (-2.0, 0.1, 3.0), (1.5, 1.5, -1.0)]:
        a, b = fn(*point)
        assert np.allclose(a, b, rtol=1e-13)


def test_to_sympy_of_a_gradient_matches_sympy_diff():
    x, y, _ = _inputs()
    f = T.tanh(x * y) + T.sigmoid(x) * T.exp(y)
    gx = mg.grad(f, x)
    assert sp.simplify(to_sympy(gx) - sp.diff(to_sympy(f), X)) == 0


# --------------------------------------------------------------------------- property test
# Each op: (arity, minigraph builder, sympy builder).  Ops with restricted domains wrap their
# argument so that it stays valid (log of x**2 + 1, exp of a bounded value, ...).
OPS = {
    "add": (2, lambda a, b: a + b, lambda a, b: a + b),
    "sub": (2, lambda a, b: a - b, lambda a, b: a - b),
    "mul": (2, lambda a, b: a * b, lambda a, b: a * b),
    "div": (2, lambda a, b: a / (b ** 2 + 1.0), lambda a, b: a / (b ** 2 + 1)),
    "neg": (1, lambda a: -a, lambda a: -a),
    "tanh": (1, T.tanh, sp.tanh),
    "sigmoid": (1, T.sigmoid, lambda a: 1 / (1 + sp.exp(-a))),
    "sin": (1, T.sin, sp.sin),
    "cos": (1, T.cos, sp.cos),
    "sqr": (1, T.sqr, lambda a: a ** 2),
    "cube": (1, lambda a: a ** 3, lambda a: a ** 3),
    "softplus": (1, T.softplus, lambda a: sp.log(1 + sp.exp(a))),
    "exp": (1, lambda a: T.exp(T.tanh(a)), lambda a: sp.exp(sp.tanh(a))),
    "expm1": (1, lambda a: T.expm1(T.sin(a)), lambda a: sp.exp(sp.sin(a)) - 1),
    "log": (1, lambda a: T.log(a ** 2 + 1.0), lambda a: sp.log(a ** 2 + 1)),
    "log_softplus": (1, lambda a: T.log(T.softplus(T.sin(a))), lambda a: sp.log(sp.log(1 + sp.exp(sp.sin(a))))),
    "log_exp": (1, lambda a: T.log(T.exp(T.cos(a))), lambda a: sp.log(sp.exp(sp.cos(a)))),
    "log1p": (1, lambda a: T.log1p(T.sqr(a)), lambda a: sp.log(1 + a ** 2)),
    "sqrt": (1, lambda a: T.sqrt(a ** 2 + 1.0), lambda a: sp.sqrt(a ** 2 + 1)),
    "pow": (1, lambda a: (a ** 2 + 1.0) ** 1.5, lambda a: (a ** 2 + 1) ** sp.Rational(3, 2)),
}
LEAVES = st.one_of(st.sampled_from(["x", "y", "z"]), st.sampled_from([0.5, -1.5, 2.0, 3.0]))


def _trees():
    def extend(children):
        return st.one_of(
            st.tuples(st.sampled_from([k for k, v in OPS.items() if v[0] == 1]), children),
            st.tuples(st.sampled_from([k for k, v in OPS.items() if v[0] == 2]), children, children))
    return st.recursive(LEAVES, extend, max_leaves=6)


def _build(tree, leaf, which):
    """Interpret a tree with minigraph (which=1) or sympy (which=2) builders."""
    if not isinstance(tree, tuple):
        return leaf(tree)
    name, *args = tree
    return OPS[name][which](*[_build(a, leaf, which) for a in args])


@settings(max_examples=40, deadline=None)
@given(tree=_trees(), point=st.tuples(*[st.floats(-2, 2, allow_nan=False)] * 3))
def test_grad_matches_sympy_diff(tree, point):
    x, y, z = _inputs()
    mg_vars, sp_vars = {"x": x, "y": y, "z": z}, {"x": X, "y": Y, "z": Z}
    f = _build(tree, lambda t: mg_vars.get(t, t), 1)
    ref = sp.sympify(_build(tree, lambda t: sp_vars.get(t, sp.Float(t) if isinstance(t, float) else t), 2))
    f = T.as_tensor_variable(f)
    subs = dict(zip((X, Y, Z), point))
    grads = mg.grad(f, [x, y, z], disconnected_inputs="ignore") if f.owner is not None else []
    fn = mg.function([x, y, z], [f] + list(grads), on_unused_input="ignore")
    value, *gvals = fn(*point)
    assert np.allclose(value, _value(ref, subs), rtol=1e-8, atol=1e-12)
    for g, sym in zip(gvals, (X, Y, Z)):
        want = _value(sp.diff(ref, sym), subs)
        np.testing.assert_allclose(g, want, rtol=1e-8, atol=1e-12, err_msg=f"d/d{sym} of {ref} at {point}")
    # the bridge agrees with the independently built expression
    if f.owner is not None:
        assert np.isclose(_value(to_sympy(f), subs), _value(ref, subs), rtol=1e-10, atol=1e-12)
