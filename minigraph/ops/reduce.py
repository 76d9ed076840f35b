"""Reductions over axes: sum, prod, max, min, argmax, argmin (mean/var/std are built from sum)."""
import numpy as np

from ..graph import Apply, Op, TensorType, as_variable, op
from .elemwise import T


def normalize_axis(axis, ndim, what):
    """``axis`` (None, int or sequence) as a sorted tuple of non-negative axes, validated."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
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
        return fn(x, axis=self.axes, keepdims=self.keepdims)

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
    fn = staticmethod(np.sum)

    def out_dtype(self, dtype):
        return "int64" if np.dtype(dtype).kind in "biu" else dtype

    def pullback(self, inputs, outputs, gz):
        x = inputs[0]
        return [T.alloc(self._expand(gz[0], x), T.shape(x))]


@op
class Prod(Reduce):
    fn = staticmethod(np.prod)

    def out_dtype(self, dtype):
        return "int64" if np.dtype(dtype).kind in "biu" else dtype

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
