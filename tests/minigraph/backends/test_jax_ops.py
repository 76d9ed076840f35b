"""Every op's JAX lowering against its numpy perform, values and gradients (minigraph.testing.check_backend)."""
import numpy as np
import pytest
import minigraph as theano
import minigraph.tensor as T
from minigraph.graph import Op
from minigraph.ifelse import ifelse
from minigraph.ops import elemwise
from minigraph.testing import BackendMismatch, assert_same, check_backend

pytest.importorskip("jax")

rng = np.random.default_rng(1)
A = rng.standard_normal((3, 4))
B = rng.standard_normal((3, 4))
POS = rng.uniform(0.5, 2.0, (3, 4))
V = rng.standard_normal(4)
M = rng.standard_normal((4, 5))
X3 = rng.standard_normal((2, 3, 4))
I = rng.integers(-5, 6, (3, 4))
J = rng.integers(1, 6, (3, 4))

UNARY = {
    "neg": T.neg, "abs": abs, "sign": T.sign, "floor": T.floor, "ceil": T.ceil, "round": T.round, "sqr": T.sqr,
    "identity": T.identity, "exp": T.exp, "log1p": T.log1p, "expm1": T.expm1, "sin": T.sin, "cos": T.cos,
    "tanh": T.tanh, "sigmoid": T.nnet.sigmoid, "softplus": T.nnet.softplus, "relu": T.nnet.relu,
}
POSITIVE = {"log": T.log, "sqrt": T.sqrt}
BINARY = {
    "add": T.add, "sub": T.sub, "mul": T.mul, "true_div": T.true_div, "maximum": T.maximum, "minimum": T.minimum,
    "lt": T.lt, "le": T.le, "gt": T.gt, "ge": T.ge, "eq": T.eq, "neq": T.neq,
}
CASES = {
    **{f"{k}": (lambda f: lambda a: f(a))(f) for k, f in UNARY.items()},
    **{f"{k}": (lambda f: lambda a, b: f(a, b))(f) for k, f in BINARY.items()},
    "pow": lambda p, b: T.pow(p, b), "log": lambda p: T.log(p), "sqrt": lambda p: T.sqrt(p),
    "switch": lambda a, b: T.switch(T.gt(a, 0), a, b), "clip": lambda a: T.clip(a, -0.5, 0.7),
    "sum": lambda x: [x.sum(), x.sum(axis=1), x.sum(axis=(0, 2), keepdims=True)],
    "prod": lambda x: [x.prod(), x.prod(axis=2)], "max": lambda x: [x.max(), x.max(axis=1, keepdims=True)],
    "min": lambda x: x.min(axis=0), "mean_var_std": lambda x: [x.mean(axis=1), x.var(), x.std(axis=2)],
    "argmax": lambda x: [x.argmax(), x.argmax(axis=1), x.argmin(axis=2, keepdims=True)],
    "softmax": lambda a: [T.nnet.softmax(a), T.nnet.log_softmax(a), T.nnet.softmax(a, axis=0)],
    "dot": lambda a, m, v: [T.dot(a, m), T.dot(m, v[:5] if False else T.ones((5,))), T.dot(a, v), T.dot(v, v)],
    "dot_nd": lambda x, m: [T.dot(x, m), T.dot(x, m[:, 0])], "outer": lambda a, v: T.outer(a[0], v),
    "matmul": lambda x, m: T.matmul(x, m), "tensordot": lambda x, y: T.tensordot(x, y, 2),
    "dimshuffle": lambda x: [x.dimshuffle(2, "x", 0, 1), x.T, x[:, :1].dimshuffle(0, 2)],
    "reshape": lambda x: [x.reshape((6, 4)), x.reshape((-1,)), x.flatten(2)],
    "concatenate": lambda a, b: [T.concatenate([a, b], axis=0), T.concatenate([a, b], axis=1)],
    "stack": lambda a, b: [T.stack([a, b]), T.stack([a, b], axis=2)],
    "subtensor": lambda x: [x[1], x[-1, ::-1], x[:, 1:3], x[::2, None, -2:], x[..., 0], x[[0, 1, 1]]],
    "set_inc_subtensor": lambda a, b: [T.set_subtensor(a[1:], b[:2]), T.inc_subtensor(a[:, [0, 0, 2]], 1.5),
                                       T.inc_subtensor(a[0], b[1])],
    "alloc_cast_shape": lambda a: [T.alloc(a[0], 2, 3, 4), T.cast(a, "float32"), T.cast(a * 3, "int32"),
                                   a.shape, T.zeros_like(a) + T.arange(4), a.sum() * a.shape[0]],
    "broadcast_grad": lambda a, v: a * v + v.dimshuffle("x", 0) ** 2,
    "theano_elemwise": lambda a, b: [T.trunc(a * 3), T.round_half_away_from_zero(a * 4), T.conj(a), T.tan(a),
                                     T.arcsin(a / 3), T.arccos(a / 3), T.arctan(a), T.arctan2(a, b), T.sinh(a),
                                     T.cosh(a), T.arcsinh(a), T.arctanh(a / 3), T.deg2rad(a), T.rad2deg(a),
                                     T.unbroadcast(a[:1], 0) * b],
    "theano_elemwise_positive": lambda p: [T.arccosh(p + 1), T.log2(p), T.log10(p), T.exp2(p)],
    "ifelse": lambda a, b: ifelse(T.gt(a.sum(), b.sum()), a * 2, b - 1),
    "grad_transforms": lambda a: [theano.zero_grad(a) * a, theano.disconnected_grad(a) * a,
                                  theano.grad_clip(a, -0.1, 0.1) * a, T.specify_shape(a, (3, 4)) * 2],
}
VALUES = {
    "pow": [POS, B], "theano_elemwise_positive": [POS], "log": [POS], "sqrt": [POS], "sum": [X3], "prod": [X3], "max": [X3], "min": [X3],
    "mean_var_std": [X3], "argmax": [X3], "dot": [A, M, V], "dot_nd": [X3, M], "outer": [A, V], "matmul": [X3, M],
    "tensordot": [X3, X3.transpose(1, 2, 0)], "dimshuffle": [X3], "reshape": [X3], "subtensor": [X3], "broadcast_grad": [A, V],
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_op_lowering_matches_numpy(name, dtype):
    fun = CASES[name]
    values = VALUES.get(name, [A, B][:fun.__code__.co_argcount])
    check_backend(fun, [np.asarray(v, dtype) for v in values])


@pytest.mark.parametrize("name", ["floor_div", "mod", "and_or_xor", "invert", "isnan_isinf"])
def test_integer_and_boolean_ops_match_numpy(name):
    cases = {
        "floor_div": (lambda i, j: [T.floor_div(i, j), i // 2], [I, J]),
        "mod": (lambda i, j: [T.mod(i, j), T.mod(i, -j)], [I, J]),
        "and_or_xor": (lambda i, j: [T.and_(i, j), T.or_(i, j), T.xor(i, j), T.and_(T.gt(i, 0), T.lt(j, 3))], [I, J]),
        "invert": (lambda i: [T.invert(i), T.invert(T.gt(i, 0))], [I]),
        "isnan_isinf": (lambda a: [T.isnan(a / 0.0), T.isinf(a / 0.0)], [np.array([-1.0, 0.0, 2.0])]),
    }
    fun, values = cases[name]
    check_backend(fun, values)


def test_mixed_dtypes_follow_numpy_promotion():
    """jax alone would compute int64 + float32 in float32; the lowering keeps numpy's float64."""
    check_backend(lambda i, a: [i + a, T.dot(T.cast(i, "float32"), a.T), i * 2.5, a ** 2], [I, A.astype("float32")])


def test_every_op_class_has_a_lowering():
    """An op added without its JAX lowering would silently run on the host: name it here instead."""
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)
    missing = []
    for cls in subclasses(Op):
        if not cls.__module__.startswith("minigraph.") or cls.__name__.startswith("_"):
            continue
        if issubclass(cls, elemwise.Elemwise):
            ok = cls in elemwise._JAX or "lower_jax" in vars(cls)
        else:
            ok = any("lower_jax" in vars(c) for c in cls.__mro__ if c is not Op)
        if not ok:
            missing.append(f"{cls.__module__}.{cls.__name__}")
    assert not missing, f"ops without a JAX lowering: {missing}"


def test_the_checker_catches_a_wrong_lowering(monkeypatch):
    """check_backend is only worth its tests if it fails when a lowering is wrong."""
    monkeypatch.setitem(elemwise._JAX, elemwise.Tanh, lambda j, x: j.tanh(x) * (1 + 1e-9))
    with pytest.raises(BackendMismatch, match="differs"):
        check_backend(T.tanh, [A])
    with pytest.raises(BackendMismatch, match="float32"):
        assert_same(np.zeros(2), np.zeros(2, "float32"), "dtype")
