"""``minigraph.tensor`` (import it as ``T``): symbolic tensor constructors and operations,
named as in Theano's ``theano.tensor``."""
import builtins
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




def _plural(single):
    """Theano's plural constructors: ``vectors('x', 'y')``, ``vectors('xy')`` (one per letter), ``vectors(3)``."""
    def make(*names, dtype=None):
        kw = {} if dtype is None else {"dtype": dtype}
        if names and isinstance(names[0], (int, np.integer)):
            return [single(**kw) for _ in range(int(names[0]))]
        if len(names) == 1:
            names = names[0]
        if len(names) == 1:
            return single(names, **kw)
        return [single(name, **kw) for name in names]
    make.__doc__ = f"Several {single.__name__ if hasattr(single, '__name__') else ''} inputs, one per name."
    return make


_KINDS = ("scalar", "vector", "row", "col", "matrix", "tensor3", "tensor4")
_PLURAL = {"scalar": "scalars", "vector": "vectors", "row": "rows", "col": "cols", "matrix": "matrices",
           "tensor3": "tensor3s", "tensor4": "tensor4s"}
for _p in ("",) + tuple(_PREFIXES):
    for _kind in _KINDS:
        globals()[_p + _PLURAL[_kind]] = _plural(globals()[_p + _kind])

# Theano's dtype groups (theano.tensor.float_dtypes, discrete_dtypes, ...)
int_dtypes = ["int8", "int16", "int32", "int64"]
uint_dtypes = ["uint8", "uint16", "uint32", "uint64"]
float_dtypes = ["float16", "float32", "float64"]
complex_dtypes = ["complex64", "complex128"]
integer_dtypes = int_dtypes + uint_dtypes
discrete_dtypes = ["bool"] + integer_dtypes
continuous_dtypes = float_dtypes + complex_dtypes
all_dtypes = discrete_dtypes + continuous_dtypes


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
sqr, sign, floor, ceil, trunc = _e.Sqr(), _e.Sign(), _e.Floor(), _e.Ceil(), _e.Trunc()
sgn = sign
round_half_to_even, round_half_away_from_zero = _e.Round(), _e.RoundHalfAwayFromZero()
tan, arcsin, arccos, arctan, arctan2 = _e.Tan(), _e.ArcSin(), _e.ArcCos(), _e.ArcTan(), _e.ArcTan2()
sinh, cosh, arcsinh, arccosh, arctanh = _e.Sinh(), _e.Cosh(), _e.ArcSinh(), _e.ArcCosh(), _e.ArcTanh()
log2, log10, exp2 = _e.Log2(), _e.Log10(), _e.Exp2()
deg2rad, rad2deg, conj = _e.Deg2Rad(), _e.Rad2Deg(), _e.Conj()
isnan, isinf = _e.IsNan(), _e.IsInf()
identity = _e.Identity()
tensor_copy = identity
abs = abs_ = _e.Abs()
switch = _e.switch
where = _e.switch


def round(a, mode=None):
    """Round to the nearest integer; ``mode`` is 'half_away_from_zero' (Theano's default, like C) or
    'half_to_even' (numpy's)."""
    mode = mode or "half_away_from_zero"
    if mode == "half_away_from_zero":
        return round_half_away_from_zero(a)
    if mode == "half_to_even":
        return round_half_to_even(a)
    raise ValueError(f"round: mode must be 'half_away_from_zero' or 'half_to_even', got {mode!r}")


def ceil_intdiv(a, b):
    """Integer division rounded up: ceil(a / b) computed exactly on integers."""
    q = int_div(a, b)
    return q + cast(neq(mod(a, b), 0), q.dtype)


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


def _dtype_name(dtype, default=None):
    """A dtype's name; Theano's 'floatX' means config.floatX, None means ``default``."""
    if dtype is None:
        return default
    return config.floatX if dtype == "floatX" else np.dtype(dtype).name


def cast(x, dtype):
    """Convert ``x`` to ``dtype`` ('floatX' means config.floatX)."""
    dtype = _dtype_name(dtype)
    x = as_variable(x)
    return x if x.dtype == dtype else _b.Cast(dtype)(x)


def inv(x):
    return true_div(1.0, x)


reciprocal = inv


# --------------------------------------------------------------------------- reductions

def _reduce(cls, x, axis, keepdims, what, **params):
    x = as_variable(x)
    return cls(normalize_axis(axis, x.ndim, what), bool(keepdims), **params)(x)


def _acc_params(x, dtype, acc_dtype, what):
    x = as_variable(x)
    acc = _r.acc_dtype_for(x.dtype, acc_dtype, what)
    out = _dtype_name(dtype)
    return {"acc": None if acc == x.dtype else acc, "dtype": out}


def sum(x, axis=None, keepdims=False, dtype=None, acc_dtype=None):
    """Sum over ``axis``.  As in Theano, float16/float32 sums accumulate in float32/float64 (``acc_dtype``
    overrides), integers give int64 (``dtype`` overrides), and the result keeps the input's float dtype."""
    return _reduce(_r.Sum, x, axis, keepdims, "sum", **_acc_params(x, dtype, acc_dtype, "sum"))


def prod(x, axis=None, keepdims=False, dtype=None, acc_dtype=None):
    return _reduce(_r.Prod, x, axis, keepdims, "prod", **_acc_params(x, dtype, acc_dtype, "prod"))


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


def max_and_argmax(x, axis=None, keepdims=False):
    """[max, argmax] over ``axis`` (None: the whole tensor; argmax then indexes the flattened tensor)."""
    return [max(x, axis, keepdims), argmax(x, axis, keepdims)]


def _count(x, axes):
    """Number of elements reduced over ``axes``, as a constant when the static shape allows."""
    dims = [x.type.shape[a] for a in axes]
    if None not in dims:
        return int(np.prod(dims, dtype=np.int64))
    n = 1
    for a in axes:
        n = n * shape_i(x, a)
    return n


def mean(x, axis=None, keepdims=False, dtype=None, acc_dtype=None):
    """Mean over ``axis``, as Theano computes it: the sum accumulates in float64 for float32 input (in
    float32 for float16), integers give float64, and the result has the input's float dtype (or ``dtype``)."""
    x = as_variable(x)
    axes = normalize_axis(axis, x.ndim, "mean")
    sum_dtype = dtype if dtype is not None else ("float32" if x.dtype == "float16" else None)
    s = sum(x, axes, keepdims, dtype=sum_dtype, acc_dtype=acc_dtype)
    if not TensorType(s.dtype, ()).is_float:
        s = cast(s, "float64")
    n = _count(x, axes)
    s = true_div(s, cast(n, s.dtype) if isinstance(n, Variable) else n)
    if dtype == "float16" or (dtype is None and x.dtype == "float16"):
        s = cast(s, "float16")
    return s


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
    for axis in (a, b):
        if not isinstance(axis, (int, np.integer)) or not -x.ndim <= axis < x.ndim:
            raise IndexError(f"swapaxes: axis {axis!r} is out of range for {x.describe()}")
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


def tile(x, reps, ndim=None):
    """``x`` repeated ``reps[i]`` times along each axis (numpy.tile); ``reps`` may hold symbolic scalars."""
    x = as_variable(x)
    reps = [reps] if isinstance(reps, (int, np.integer)) or (isinstance(reps, Variable) and reps.ndim == 0) \
        else list(reps)
    n = ndim if ndim is not None else builtins.max(len(reps), x.ndim)
    if n < x.ndim or n < len(reps):
        raise ValueError(f"tile: ndim={n} is smaller than {x.describe()} or reps {reps}")
    x = dimshuffle(x, *(["x"] * (n - x.ndim) + list(range(x.ndim))))
    reps = [1] * (n - len(reps)) + reps
    dims = [x.type.shape[a] if x.type.shape[a] is not None else shape_i(x, a) for a in range(n)]
    spread = dimshuffle(x, *[p for a in range(n) for p in ("x", a)])
    grown = alloc(spread, *[d for r, s in zip(reps, dims) for d in (r, s)])
    return reshape(grown, tuple(r * s for r, s in zip(reps, dims)))


def unbroadcast(x, *axes):
    """``x`` with axes ``axes`` no longer known to have length 1 (so they never broadcast)."""
    x = as_variable(x)
    axes = tuple(sorted({a % x.ndim for a in axes if x.type.shape[a % x.ndim] == 1}))
    return _s.Unbroadcast(axes)(x) if axes else x


def addbroadcast(x, *axes):
    """``x`` with axes ``axes`` stated to have length 1 (checked when the graph runs)."""
    x = as_variable(x)
    axes = {a % x.ndim for a in axes}
    return specify_shape(x, [1 if a in axes else s for a, s in enumerate(x.type.shape)]) if axes else x


def patternbroadcast(x, broadcastable):
    """``x`` with Theano's broadcastable pattern: True axes have length 1, False axes may have any length."""
    x = as_variable(x)
    if len(broadcastable) != x.ndim:
        raise ValueError(f"patternbroadcast: pattern {tuple(broadcastable)} does not fit {x.describe()}")
    x = addbroadcast(x, *[a for a, b in enumerate(broadcastable) if b])
    return unbroadcast(x, *[a for a, b in enumerate(broadcastable) if not b])


def shape_padleft(x, n_ones=1):
    x = as_variable(x)
    return dimshuffle(x, *(["x"] * n_ones + list(range(x.ndim))))


def shape_padright(x, n_ones=1):
    x = as_variable(x)
    return dimshuffle(x, *(list(range(x.ndim)) + ["x"] * n_ones))


def shape_padaxis(x, axis):
    return expand_dims(x, axis)


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
    return alloc(np.zeros((), dtype=_dtype_name(dtype, x.dtype)), shape(x))


def ones_like(x, dtype=None):
    x = as_variable(x)
    return alloc(np.ones((), dtype=_dtype_name(dtype, x.dtype)), shape(x))


def zeros(shape_, dtype=None):
    if isinstance(shape_, (int, np.integer)):
        shape_ = (shape_,)
    return alloc(np.zeros((), dtype=_dtype_name(dtype, config.floatX)), shape_)


def ones(shape_, dtype=None):
    if isinstance(shape_, (int, np.integer)):
        shape_ = (shape_,)
    return alloc(np.ones((), dtype=_dtype_name(dtype, config.floatX)), shape_)


def arange(start, stop=None, step=1, dtype=None):
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        kinds = {as_variable(v).dtype for v in (start, stop, step)}
        dtype = "int64" if all(np.dtype(k).kind in "iub" for k in kinds) else config.floatX
    return _b.Arange(_dtype_name(dtype))(start, stop, step)


# --------------------------------------------------------------------------- linear algebra

def dot(a, b):
    """numpy.dot: matrix/vector products; above 2-D, a sum over a's last axis and b's second-to-last."""
    a, b = as_variable(a), as_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        return mul(a, b)
    if b.ndim > 2:
        return tensordot(a, b, [[a.ndim - 1], [b.ndim - 2]])
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


def batched_dot(a, b):
    """Theano's batched_dot: ``dot(a[i], b[i])`` for each i along the first (batch) axis.

    (B, n, k) x (B, k, m) -> (B, n, m); (B, n, k) x (B, k) -> (B, n); (B, k) x (B, k) -> (B,); a 1-D operand
    scales the other's batch entries."""
    a, b = as_variable(a), as_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        raise TypeError(f"batched_dot: both operands need a batch axis, got {a.describe()} and {b.describe()}")
    if a.ndim == 1:
        return dimshuffle(a, 0, *["x"] * (b.ndim - 1)) * b
    if b.ndim == 1:
        return a * dimshuffle(b, 0, *["x"] * (a.ndim - 1))
    if a.ndim > 3 or b.ndim > 3:
        raise NotImplementedError(f"batched_dot above 3-D ({a.describe()}, {b.describe()}); use batched_tensordot")
    a3 = expand_dims(a, 1) if a.ndim == 2 else a
    b3 = expand_dims(b, 2) if b.ndim == 2 else b
    out = _l.Matmul()(a3, b3)
    if b.ndim == 2:
        out = out[:, :, 0]
    return out[:, 0] if a.ndim == 2 else out


def tensordot(a, b, axes=2):
    """numpy.tensordot: ``axes`` is a count (a's last n with b's first n) or two lists of axes to sum over;
    the result has a's remaining axes, then b's."""
    a, b = as_variable(a), as_variable(b)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > builtins.min(a.ndim, b.ndim):
            raise ValueError(f"tensordot: cannot sum over {n} axes of {a.describe()} and {b.describe()}")
        a_axes, b_axes = list(range(a.ndim - n, a.ndim)), list(range(n))
    else:
        a_axes, b_axes = ([x] if isinstance(x, (int, np.integer)) else list(x) for x in axes)
        if len(a_axes) != len(b_axes):
            raise ValueError(f"tensordot: axes {axes} must list as many axes of each operand")
        for axs, v in ((a_axes, a), (b_axes, b)):
            normalize_axis(axs, v.ndim, "tensordot")  # validates: in range, no repeats
        a_axes, b_axes = [int(x) % a.ndim for x in a_axes], [int(x) % b.ndim for x in b_axes]
    # Tensordot(n) sums over the first n axes of both: move the summed axes to the front, pairwise
    a_front = dimshuffle(a, *a_axes, *[i for i in range(a.ndim) if i not in a_axes])
    b_front = dimshuffle(b, *b_axes, *[i for i in range(b.ndim) if i not in b_axes])
    return _l.Tensordot(len(a_axes))(a_front, b_front)


def outer(a, b):
    a, b = as_variable(a), as_variable(b)
    return mul(dimshuffle(flatten(a) if a.ndim != 1 else a, 0, "x"), dimshuffle(flatten(b) if b.ndim != 1 else b, "x", 0))


# --------------------------------------------------------------------------- gradients

# Variable's operators and the ops' gradient rules are this module's functions: bind it where the
# lower layers look it up (they never import it).
_graph._TensorAPI.module = _sys.modules[__name__]
_e.T.bind(_sys.modules[__name__])

# Theano's tensor namespace also holds the gradient functions (T.grad): a documented upward import.
from ..grad import (Lop, Rop, consider_constant, disconnected_grad, grad, grad_clip, grad_scale,  # noqa: E402
                    hessian, jacobian, subgraph_grad, zero_grad)
from . import nnet  # noqa: E402


def __getattr__(name):
    # theano.tensor.verify_grad, as in Theano; the checker compiles and runs graphs, so it is loaded on first use
    if name == "verify_grad":
        from ..testing import verify_grad
        return verify_grad
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
] + [  # Theano names added for porting
    "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh", "arcsinh", "arccosh", "arctanh", "log2",
    "log10", "exp2", "sgn", "trunc", "round_half_to_even", "round_half_away_from_zero", "deg2rad", "rad2deg",
    "conj", "ceil_intdiv", "max_and_argmax", "tile", "unbroadcast", "addbroadcast", "patternbroadcast",
    "shape_padleft", "shape_padright", "shape_padaxis", "int_dtypes", "uint_dtypes", "float_dtypes",
    "complex_dtypes", "integer_dtypes", "discrete_dtypes", "continuous_dtypes", "all_dtypes",
    "consider_constant", "grad_scale", "subgraph_grad", "scalars", "vectors", "rows", "cols", "matrices",
    "tensor3s", "tensor4s", "bscalars", "bvectors", "brows", "bcols", "bmatrices", "btensor3s", "btensor4s",
    "wscalars", "wvectors", "wrows", "wcols", "wmatrices", "wtensor3s", "wtensor4s", "iscalars", "ivectors",
    "irows", "icols", "imatrices", "itensor3s", "itensor4s", "lscalars", "lvectors", "lrows", "lcols",
    "lmatrices", "ltensor3s", "ltensor4s", "fscalars", "fvectors", "frows", "fcols", "fmatrices", "ftensor3s",
    "ftensor4s", "dscalars", "dvectors", "drows", "dcols", "dmatrices", "dtensor3s", "dtensor4s", "cscalars",
    "cvectors", "crows", "ccols", "cmatrices", "ctensor3s", "ctensor4s", "zscalars", "zvectors", "zrows",
    "zcols", "zmatrices", "ztensor3s", "ztensor4s",
]
