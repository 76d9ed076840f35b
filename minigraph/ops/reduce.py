"""Reductions over axes: sum, prod, max, min, argmax, argmin (mean/var/std are built from sum)."""
import numpy as np

from ..graph import Apply, Op, TensorType, as_variable, op
from .elemwise import T


def normalize_axis(axis, ndim, what):
    """``axis`` (None, int or sequence) as a sorted tuple of non-negative axes, validated."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, np.ndarray):  # Theano accepts numpy integer arrays (0-d or 1-d) as axes
        axis = axis.tolist()
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if isinstance(a, np.ndarray) and a.ndim == 0 and a.dtype.kind in "iu":
            a = int(a)  # Theano's tests pass [np.array(0), np.array(1)]
        if not isinstance(a, (int, np.integer)):
            raise TypeError(f"{what}: axis must be an int or a tuple of ints, got {a!r}")
        if not -ndim <= a < max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise ValueError(f"{what}: axis {a} is out of range for a {ndim}-d tensor")
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{what}: repeated axis in {axis}")
    return tuple(sorted(out)) if ndim else ()


def reduced_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in axes)


def keep_axes(g, axes, keepdims, ndim):
    """Re-insert reduced axes (as broadcastable) into ``g`` so that it broadcasts against the input."""
    if keepdims or not axes:
        return g
    pattern, k = [], 0
    for i in range(ndim):
        if i in axes:
            pattern.append("x")
        else:
            pattern.append(k)
            k += 1
    return T.dimshuffle(g, *pattern)


_UFUNC = {np.sum: np.add, np.prod: np.multiply, np.max: np.maximum, np.min: np.minimum}

# Theano's defaults for sum and prod: the dtype of the result, and the dtype the sum accumulates in
# (float16 and float32 sums are accumulated in a wider float, then rounded once).
SUM_DTYPE = {"bool": "int64", "int8": "int64", "int16": "int64", "int32": "int64",
             "uint8": "uint64", "uint16": "uint64", "uint32": "uint64"}
ACC_DTYPE = dict(SUM_DTYPE, float16="float32", float32="float64", complex64="complex128")


def acc_dtype_for(in_dtype, acc_dtype, what):
    """The accumulator dtype of a sum or product of ``in_dtype``: Theano's default, or ``acc_dtype``
    checked not to lose precision."""
    if acc_dtype is None:
        return ACC_DTYPE.get(in_dtype, in_dtype)
    acc = np.dtype(acc_dtype).name
    if np.dtype(in_dtype).kind in "biu" and np.dtype(acc).kind in "fc":
        return acc
    if np.result_type(in_dtype, acc).name != acc:
        raise TypeError(f"{what}: cannot accumulate {in_dtype} values in {acc} without losing precision; "
                        f"leave acc_dtype out, or use dtype= to choose the result's dtype")
    return acc


@op
class Reduce(Op):
    """Base: a numpy reduction over ``axes``."""

    axes: tuple
    keepdims: bool = False
    fn = None

    def out_dtype(self, dtype):
        return dtype

    def make_node(self, x):
        x = as_variable(x)
        for a in self.axes:
            if a >= max(x.ndim, 1):
                raise ValueError(f"{self}: axis {a} out of range for {x.describe()}")
        shape = reduced_shape(x.type.shape, self.axes, self.keepdims)
        return Apply(self, [x], [TensorType(self.out_dtype(x.dtype), shape)])

    def perform(self, x):
        r = type(self).fn(x, axis=self.axes, keepdims=self.keepdims)
        return r.astype(self.out_dtype(x.dtype), copy=False) if hasattr(r, "astype") else r

    def lower_jax(self, node):
        import jax.numpy as jnp
        fn = getattr(jnp, type(self).fn.__name__)  # jax.numpy's sum, prod, max, min, argmax, argmin
        return lambda x: self.reduce_jax(fn, x).astype(node.outputs[0].dtype)

    def reduce_jax(self, fn, x):
        acc = getattr(self, "acc", None)  # Sum and Prod: the accumulator's dtype, as perform uses it
        return fn(x, axis=self.axes, keepdims=self.keepdims, **({"dtype": acc} if acc else {}))

    def make_thunk(self, node):
        # Sum/Prod/Max/Min of floats: the ufunc's reduce, without numpy's Python-level wrappers
        ufunc = _UFUNC.get(type(self).fn)
        if ufunc is None or node.inputs[0].dtype != node.outputs[0].dtype or not TensorType(
                node.inputs[0].dtype, ()).is_float:
            return self.perform
        axes, keepdims = self.axes, self.keepdims
        return lambda x: ufunc.reduce(x, axis=axes, keepdims=keepdims)

    def __str__(self):
        name = type(self).__name__.lower()
        return f"{name}{{axis={list(self.axes)}{', keepdims' if self.keepdims else ''}}}"

    def _expand(self, g, x):
        return keep_axes(g, self.axes, self.keepdims, x.ndim)


@op
class Sum(Reduce):
    """Sum over ``axes``, accumulated in ``acc`` (None: the input's dtype), the result in ``dtype``
    (None: Theano's default, int64 for small integers and the input's dtype for floats)."""

    fn = staticmethod(np.sum)
    acc: str = None
    dtype: str = None

    def out_dtype(self, dtype):  # dtype: a name
        return self.dtype or SUM_DTYPE.get(dtype, dtype)

    def perform(self, x):
        r = type(self).fn(x, axis=self.axes, keepdims=self.keepdims, dtype=self.acc)
        return np.asarray(r).astype(self.out_dtype(np.asarray(x).dtype.name), copy=False)

    def lower_numba(self, node):
        """float64 sums without keepdims (numba adds in order where numpy adds pairwise: in float32
        that differs by more than the backends' tolerance on long sums)."""
        from ..lowering import Lowering
        x, out = node.inputs[0], node.outputs[0]
        if self.keepdims or self.acc not in (None, "float64") or not x.dtype == out.dtype == "float64" or x.ndim == 0:
            return None
        axes = sorted({a % x.ndim for a in self.axes}, reverse=True)  # the last first: earlier numbers hold
        if out.ndim == 0:
            return Lowering("expr", "np.sum({0})")
        return Lowering("expr", "{0}" + "".join(f".sum(axis={a})" for a in axes))

    def make_thunk(self, node):
        if self.acc is None or self.acc == node.inputs[0].dtype == node.outputs[0].dtype:
            return Reduce.make_thunk(self, node)
        ufunc, axes, keepdims, acc, out = _UFUNC[type(self).fn], self.axes, self.keepdims, self.acc, \
            node.outputs[0].dtype
        return lambda x: np.asarray(ufunc.reduce(x, axis=axes, keepdims=keepdims, dtype=acc)).astype(out, copy=False)

    def pullback(self, inputs, outputs, gz):
        x = inputs[0]
        return [T.alloc(self._expand(gz[0], x), T.shape(x))]


@op
class Prod(Sum):
    """Product over ``axes`` (accumulator and result dtypes as for Sum)."""

    lower_numba = None

    fn = staticmethod(np.prod)

    def pullback(self, inputs, outputs, gz):
        # d prod / d x_i = product of the others; out / x_i fails at zeros.  Split x into its zeros and the
        # rest: prod = p_zeros * p_rest.  At a non-zero x_i the gradient is p_zeros * p_rest / x_i; at a zero
        # it is p_rest times the product of the *other* zeros.  Both are written as expressions in x that are
        # numerically 0 or 1 but have the right derivatives, so the second derivative is exact as well:
        # p_zeros is a product of x, and the other zeros' product is 1 (one zero), their sum (two zeros:
        # z_sum - x_i is the other zero) or 0 (more zeros: every first derivative of it vanishes).
        x = inputs[0]
        g = self._expand(gz[0], x)
        is_zero = T.eq(x, 0)
        ones, zeros = T.ones_like(x), T.zeros_like(x)
        rest = T.switch(is_zero, ones, x)
        p_rest = self._expand(Prod(self.axes, self.keepdims)(rest), x)
        p_zeros = self._expand(Prod(self.axes, self.keepdims)(T.switch(is_zero, x, ones)), x)
        n_zero = self._expand(Sum(self.axes, self.keepdims)(is_zero), x)
        z_sum = self._expand(Sum(self.axes, self.keepdims)(T.switch(is_zero, x, zeros)), x)
        other_zeros = T.switch(T.eq(n_zero, 1), ones, T.switch(T.eq(n_zero, 2), z_sum - x, zeros))
        return [g * T.switch(is_zero, p_rest * other_zeros, p_zeros * p_rest / rest)]


@op
class Max(Reduce):
    fn = staticmethod(np.max)

    def pullback(self, inputs, outputs, gz):
        # Ties share the gradient equally, so the sum of the input gradients equals the output's.
        x = inputs[0]
        mask = T.cast(T.eq(x, self._expand(outputs[0], x)), x.dtype)
        count = self._expand(Sum(self.axes, self.keepdims)(mask), x)
        return [self._expand(gz[0], x) * mask / count]


@op
class Min(Max):
    fn = staticmethod(np.min)


@op
class Argmax(Reduce):
    """Index of the maximum along one axis (or of the flattened tensor when axes covers all)."""

    fn = staticmethod(np.argmax)

    def out_dtype(self, dtype):
        return "int64"

    def perform(self, x):
        if len(self.axes) == x.ndim and x.ndim != 1:
            r = type(self).fn(x.reshape(-1))
            return np.asarray(r).reshape((1,) * x.ndim) if self.keepdims else r
        return type(self).fn(x, axis=self.axes[0] if self.axes else None, keepdims=self.keepdims)

    def reduce_jax(self, fn, x):
        if len(self.axes) == x.ndim and x.ndim != 1:
            r = fn(x.reshape(-1))
            return r.reshape((1,) * x.ndim) if self.keepdims else r
        return fn(x, axis=self.axes[0] if self.axes else None, keepdims=self.keepdims)

    def pullback(self, inputs, outputs, gz):
        return [None]


@op
class Argmin(Argmax):
    fn = staticmethod(np.argmin)
