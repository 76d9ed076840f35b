"""``minigraph.tensor`` (import it as ``T``): symbolic tensor constructors and operations,
named as in Theano's ``theano.tensor``."""
import sys as _sys

import numpy as np

from .. import graph as _graph
from ..config import config
from ..graph import Constant, TensorType, Variable, as_variable, constant, shared
from ..ops import basic as _b
from ..ops import elemwise as _e
from ..ops import linalg as _l
from ..ops import reduce as _r
from ..ops import shape as _s
from ..ops import subtensor as _st
from ..ops.elemwise import ShapeError
from ..ops.reduce import normalize_axis

# --------------------------------------------------------------------------- constructors

def tensor(dtype=None, shape=None, name=None, broadcastable=None):
    """A symbolic input of ``dtype`` (default floatX) and static ``shape`` (None entries unknown).

    ``broadcastable`` (Theano style) is accepted instead of ``shape``: True means length 1.
    """
    if shape is None:
        if broadcastable is None:
            raise TypeError("tensor() needs a shape (or a broadcastable pattern)")
        shape = tuple(1 if b else None for b in broadcastable)
    return TensorType(dtype or config.floatX, shape)(name)


def _constructor(shape, dtype=None, doc=""):
    def make(name=None, dtype=dtype, shape=shape):
        return tensor(dtype or config.floatX, shape, name)
    make.__doc__ = doc
    return make


scalar = _constructor((), doc="A 0-d symbolic input (floatX unless dtype is given).")
vector = _constructor((None,), doc="A 1-d symbolic input.")
row = _constructor((1, None), doc="A (1, n) symbolic input: broadcastable along rows.")
col = _constructor((None, 1), doc="An (n, 1) symbolic input: broadcastable along columns.")
matrix = _constructor((None, None), doc="A 2-d symbolic input.")
tensor3 = _constructor((None,) * 3, doc="A 3-d symbolic input.")
tensor4 = _constructor((None,) * 4, doc="A 4-d symbolic input.")

_PREFIXES = {"b": "int8", "w": "int16", "i": "int32", "l": "int64", "f": "float32", "d": "float64",
             "c": "complex64", "z": "complex128"}
for _p, _dt in _PREFIXES.items():
    for _kind, _shape in (("scalar", ()), ("vector", (None,)), ("row", (1, None)), ("col", (None, 1)),
                          ("matrix", (None, None)), ("tensor3", (None,) * 3), ("tensor4", (None,) * 4)):
        globals()[_p + _kind] = _constructor(_shape, _dt, f"A {_dt} {_kind}.")


def as_tensor_variable(x, name=None, ndim=None):
    v = as_variable(x)
    if ndim is not None and v.ndim != ndim:
        raise TypeError(f"expected a {ndim}-d tensor, got {v.describe()}")
    return v


as_tensor = as_tensor_variable


# --------------------------------------------------------------------------- elementwise

add = lambda a, b, *more: _chain(_e.Add(), a, b, *more)
mul = lambda a, b, *more: _chain(_e.Mul(), a, b, *more)


def _chain(opi, a, b, *more):
    out = opi(a, b)
    for m in more:
        out = opi(out, m)
    return out


sub = _e.Sub()
true_div = _e.TrueDiv()
floor_div = int_div = _e.FloorDiv()
mod = _e.Mod()
maximum = _e.Maximum()
minimum = _e.Minimum()
lt, le, gt, ge = _e.Lt(), _e.Le(), _e.Gt(), _e.Ge()
eq, neq = _e.Eq(), _e.Neq()
and_, or_, xor = _e.And(), _e.Or(), _e.Xor()
bitwise_and, bitwise_or, bitwise_xor = and_, or_, xor
invert = bitwise_not = _e.Invert()
neg = _e.Neg()
exp, log, log1p, expm1 = _e.Exp(), _e.Log(), _e.Log1p(), _e.Expm1()
sqrt, sin, cos, tanh = _e.Sqrt(), _e.Sin(), _e.Cos(), _e.Tanh()
sigmoid, softplus = _e.Sigmoid(), _e.Softplus()
sqr, sign, floor, ceil, round = _e.Sqr(), _e.Sign(), _e.Floor(), _e.Ceil(), _e.Round()
isnan, isinf = _e.IsNan(), _e.IsInf()
identity = _e.Identity()
tensor_copy = identity
abs = abs_ = _e.Abs()
switch = _e.switch
where = _e.switch


def pow(a, b):
    return _e.Pow()(a, b)


def square(x):
    return sqr(x)


def relu(x, alpha=0):
    """max(x, 0); with ``alpha`` the leaky form x if x > 0 else alpha * x."""
    if alpha == 0:
        return _e.Relu()(x)
    return switch(gt(x, 0), x, alpha * x)


def clip(x, lo, hi):
    return _e.Clip()(x, lo, hi)


def cast(x, dtype):
    """Convert ``x`` to ``dtype`` ('floatX' means config.floatX)."""
    dtype = config.floatX if dtype == "floatX" else np.dtype(dtype).name
    x = as_variable(x)
    return x if x.dtype == dtype else _b.Cast(dtype)(x)


def inv(x):
    return true_div(1.0, x)


reciprocal = inv


# --------------------------------------------------------------------------- reductions

def _reduce(cls, x, axis, keepdims, what):
    x = as_variable(x)
    return cls(normalize_axis(axis, x.ndim, what), bool(keepdims))(x)


def sum(x, axis=None, keepdims=False, dtype=None):
    out = _reduce(_r.Sum, x, axis, keepdims, "sum")
    return cast(out, dtype) if dtype else out


def prod(x, axis=None, keepdims=False):
    return _reduce(_r.Prod, x, axis, keepdims, "prod")


def max(x, axis=None, keepdims=False):
    return _reduce(_r.Max, x, axis, keepdims, "max")


def min(x, axis=None, keepdims=False):
    return _reduce(_r.Min, x, axis, keepdims, "min")


def argmax(x, axis=None, keepdims=False):
    x = as_variable(x)
    axes = normalize_axis(axis, x.ndim, "argmax")
    if len(axes) not in (1, x.ndim):
        raise ValueError("argmax takes one axis (or None for the flattened tensor)")
    return _r.Argmax(axes, bool(keepdims))(x)


def argmin(x, axis=None, keepdims=False):
    x = as_variable(x)
    axes = normalize_axis(axis, x.ndim, "argmin")
    if len(axes) not in (1, x.ndim):
        raise ValueError("argmin takes one axis (or None for the flattened tensor)")
    return _r.Argmin(axes, bool(keepdims))(x)


def _count(x, axes):
    """Number of elements reduced over ``axes``, as a constant when the static shape allows."""
    dims = [x.type.shape[a] for a in axes]
    if None not in dims:
        return int(np.prod(dims, dtype=np.int64))
    n = 1
    for a in axes:
        n = n * shape_i(x, a)
    return n


def mean(x, axis=None, keepdims=False, dtype=None):
    x = as_variable(x)
    axes = normalize_axis(axis, x.ndim, "mean")
    s = sum(x, axes, keepdims)
    if not TensorType(s.dtype, ()).is_float:
        s = cast(s, config.floatX)
    if dtype is not None:
        s = cast(s, dtype)
    n = _count(x, axes)
    return true_div(s, cast(n, s.dtype) if isinstance(n, Variable) else n)


def var(x, axis=None, keepdims=False, ddof=0, corrected=False):
    x = as_variable(x)
    axes = normalize_axis(axis, x.ndim, "var")
    centred = x - mean(x, axes, keepdims=True)
    ss = sum(sqr(centred), axes, keepdims)
    ddof = 1 if corrected else ddof
    n = _count(x, axes) - ddof
    return true_div(ss, cast(n, ss.dtype) if isinstance(n, Variable) else n)  # an int64 count must not upcast


def std(x, axis=None, keepdims=False, ddof=0, corrected=False):
    return sqrt(var(x, axis, keepdims, ddof, corrected))


# --------------------------------------------------------------------------- shapes

def shape(x):
    return _b.Shape()(x)


def shape_i(x, i):
    x = as_variable(x)
    return _b.ShapeI(i)(x)


def dimshuffle(x, *pattern):
    if len(pattern) == 1 and isinstance(pattern[0], (list, tuple)):
        pattern = tuple(pattern[0])
    x = as_variable(x)
    pattern = tuple(p if p == "x" else int(p) for p in pattern)
    if pattern == tuple(range(x.ndim)):
        return x
    return _s.DimShuffle(pattern)(x)


def transpose(x, *axes):
    x = as_variable(x)
    if len(axes) == 1 and isinstance(axes[0], (list, tuple)):
        axes = tuple(axes[0])
    axes = axes or tuple(reversed(range(x.ndim)))
    return dimshuffle(x, *[a % x.ndim for a in axes])


def swapaxes(x, a, b):
    x = as_variable(x)
    perm = list(range(x.ndim))
    a, b = a % x.ndim, b % x.ndim
    perm[a], perm[b] = perm[b], perm[a]
    return dimshuffle(x, *perm)


def reshape(x, newshape, ndim=None):
    x = as_variable(x)
    if isinstance(newshape, (int, np.integer)) or (isinstance(newshape, Variable) and newshape.ndim == 0):
        newshape = (newshape,)
    return _s.Reshape()(x, newshape)


def flatten(x, ndim=1, outdim=None):
    """Keep the first ``ndim - 1`` axes and merge the rest (Theano's flatten)."""
    x = as_variable(x)
    ndim = outdim or ndim
    if not 1 <= ndim <= x.ndim:
        raise ValueError(f"flatten to {ndim} dims is impossible for {x.describe()}")
    lead = [x.type.shape[a] if x.type.shape[a] is not None else shape_i(x, a) for a in range(ndim - 1)]
    return reshape(x, tuple(lead) + (-1,))


def concatenate(tensors, axis=0):
    return _s.Concatenate(axis)(*tensors)


def join(axis, *tensors):
    return concatenate(tensors, axis)


def stack(tensors, axis=0):
    return _s.Stack(axis)(*tensors)


def specify_shape(x, shape):
    """``x`` with a stated static shape (ints or None per axis), checked when the graph runs."""
    x = as_variable(x)
    return _b.SpecifyShape(tuple(None if s is None else int(s) for s in shape))(x)


def expand_dims(x, axis):
    x = as_variable(x)
    pattern = list(range(x.ndim))
    pattern.insert(axis % (x.ndim + 1), "x")
    return dimshuffle(x, *pattern)


def squeeze(x):
    x = as_variable(x)
    return dimshuffle(x, *[a for a, s in enumerate(x.type.shape) if s != 1])


# --------------------------------------------------------------------------- indexing

def getitem(x, index):
    x = as_variable(x)
    if x.owner is not None and isinstance(x.owner.op, _b.Shape) and isinstance(index, (int, np.integer)):
        return shape_i(x.owner.inputs[0], int(index))
    spec, inputs = _st.parse_index(x, index)
    return _st.Subtensor(spec)(x, *inputs)


def _subtensor_parts(x, what):
    if x.owner is None or not isinstance(x.owner.op, _st.Subtensor):
        raise TypeError(f"{what} expects an indexed variable such as x[1:3], got {x}")
    base, *idx = x.owner.inputs
    return x.owner.op.spec, base, idx


def set_subtensor(x, y):
    """A copy of the indexed tensor with ``x``'s region replaced by ``y`` (Theano's signature)."""
    spec, base, idx = _subtensor_parts(x, "set_subtensor")
    return _st.IncSubtensor(spec, True)(base, cast(y, base.dtype) if as_variable(y).dtype != base.dtype else y, *idx)


def inc_subtensor(x, y):
    """A copy of the indexed tensor with ``y`` added to ``x``'s region; repeated indices add up."""
    spec, base, idx = _subtensor_parts(x, "inc_subtensor")
    return _st.IncSubtensor(spec, False)(base, cast(y, base.dtype) if as_variable(y).dtype != base.dtype else y, *idx)


# --------------------------------------------------------------------------- filled tensors

def alloc(value, *shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list, Variable)) and not (
            isinstance(shape[0], Variable) and shape[0].ndim == 0):
        shape = shape[0]
    return _b.Alloc()(value, shape)


def fill(model, value):
    """``value`` broadcast to the shape of ``model``."""
    model = as_variable(model)
    value = as_variable(value)
    if value.dtype != model.dtype and getattr(value, "weak", False):
        value = constant(value.data, dtype=model.dtype)
    return alloc(value, shape(model))


def zeros_like(x, dtype=None):
    x = as_variable(x)
    return alloc(np.zeros((), dtype=dtype or x.dtype), shape(x))


def ones_like(x, dtype=None):
    x = as_variable(x)
    return alloc(np.ones((), dtype=dtype or x.dtype), shape(x))


def zeros(shape_, dtype=None):
    if isinstance(shape_, (int, np.integer)):
        shape_ = (shape_,)
    return alloc(np.zeros((), dtype=dtype or config.floatX), shape_)


def ones(shape_, dtype=None):
    if isinstance(shape_, (int, np.integer)):
        shape_ = (shape_,)
    return alloc(np.ones((), dtype=dtype or config.floatX), shape_)


def arange(start, stop=None, step=1, dtype=None):
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        kinds = {as_variable(v).dtype for v in (start, stop, step)}
        dtype = "int64" if all(np.dtype(k).kind in "iub" for k in kinds) else config.floatX
    return _b.Arange(np.dtype(dtype).name)(start, stop, step)


# --------------------------------------------------------------------------- linear algebra

def dot(a, b):
    """numpy.dot: matrix/vector products; (..., k) x (k, n) for higher-rank first operands."""
    a, b = as_variable(a), as_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        return mul(a, b)
    return _l.Dot()(a, b)


def matmul(a, b):
    """numpy.matmul, with 1-D operands promoted and the added axis removed afterwards."""
    a, b = as_variable(a), as_variable(b)
    if a.ndim == 1 and b.ndim == 1:
        return dot(a, b)
    if a.ndim <= 2 and b.ndim <= 2:
        return dot(a, b)
    if a.ndim == 1:
        return _l.Matmul()(expand_dims(a, 0), b)[..., 0, :]
    if b.ndim == 1:
        return _l.Matmul()(a, expand_dims(b, 1))[..., 0]
    return _l.Matmul()(a, b)


batched_dot = matmul


def outer(a, b):
    a, b = as_variable(a), as_variable(b)
    return mul(dimshuffle(flatten(a) if a.ndim != 1 else a, 0, "x"), dimshuffle(flatten(b) if b.ndim != 1 else b, "x", 0))


def tensordot(a, b, axes=2):
    """Contract the first ``axes`` axes of ``b`` with the last ``axes`` of ``a`` (numpy's int form)."""
    a, b = as_variable(a), as_variable(b)
    if not isinstance(axes, (int, np.integer)):
        raise NotImplementedError("tensordot supports an integer number of axes")
    n = int(axes)
    # numpy: sum over a's last n and b's first n axes -> move a's last n to the front
    a_front = dimshuffle(a, *range(a.ndim - n, a.ndim), *range(a.ndim - n))
    return _l.Tensordot(n)(a_front, b)


# --------------------------------------------------------------------------- gradients

# Variable's operators and the ops' gradient rules are this module's functions: bind it where the
# lower layers look it up (they never import it).
_graph._TensorAPI.module = _sys.modules[__name__]
_e.T.bind(_sys.modules[__name__])

# Theano's tensor namespace also holds the gradient functions (T.grad): a documented upward import.
from ..grad import Lop, Rop, disconnected_grad, grad, grad_clip, hessian, jacobian, zero_grad  # noqa: E402
from . import nnet  # noqa: E402

__all__ = [  # the T namespace, as in theano.tensor
    "Constant", "Lop", "Rop", "ShapeError", "TensorType", "Variable", "abs", "abs_", "add", "alloc", "and_",
    "arange", "argmax", "argmin", "as_tensor", "as_tensor_variable", "as_variable", "batched_dot", "bcol",
    "bitwise_and", "bitwise_not", "bitwise_or", "bitwise_xor", "bmatrix", "brow", "bscalar", "btensor3",
    "btensor4", "bvector", "cast", "ccol", "ceil", "clip", "cmatrix", "col", "concatenate", "config",
    "constant", "cos", "crow", "cscalar", "ctensor3", "ctensor4", "cvector", "dcol", "dimshuffle",
    "disconnected_grad", "dmatrix", "dot", "drow", "dscalar", "dtensor3", "dtensor4", "dvector", "eq",
    "exp", "expand_dims", "expm1", "fcol", "fill", "flatten", "floor", "floor_div", "fmatrix", "frow",
    "fscalar", "ftensor3", "ftensor4", "fvector", "ge", "getitem", "grad", "grad_clip", "gt", "hessian",
    "icol", "identity", "imatrix", "inc_subtensor", "int_div", "inv", "invert", "irow", "iscalar", "isinf",
    "isnan", "itensor3", "itensor4", "ivector", "jacobian", "join", "lcol", "le", "lmatrix", "log", "log1p",
    "lrow", "lscalar", "lt", "ltensor3", "ltensor4", "lvector", "matmul", "matrix", "max", "maximum",
    "mean", "min", "minimum", "mod", "mul", "neg", "neq", "nnet", "normalize_axis", "ones", "ones_like",
    "or_", "outer", "pow", "prod", "reciprocal", "relu", "reshape", "round", "row", "scalar",
    "set_subtensor", "shape", "shape_i", "shared", "sigmoid", "sign", "sin", "softplus", "specify_shape",
    "sqr", "sqrt", "square", "squeeze", "stack", "std", "sub", "sum", "swapaxes", "switch", "tanh",
    "tensor", "tensor3", "tensor4", "tensor_copy", "tensordot", "transpose", "true_div", "var", "vector",
    "wcol", "where", "wmatrix", "wrow", "wscalar", "wtensor3", "wtensor4", "wvector", "xor", "zcol",
    "zero_grad", "zeros", "zeros_like", "zmatrix", "zrow", "zscalar", "ztensor3", "ztensor4", "zvector",
]
