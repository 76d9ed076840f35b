"""Ops that move data around without arithmetic: dimshuffle, reshape, concatenate, stack."""
import numpy as np

from ..graph import Apply, Op, TensorType, as_variable, op
from .basic import ShapeI, SpecifyShape, _const_int, shape_vector, static_shape
from .elemwise import ShapeError, T


@op
class DimShuffle(Op):
    """Permute axes, insert broadcastable axes ('x') and drop length-1 axes (Theano's dimshuffle)."""

    pattern: tuple

    def make_node(self, x):
        x = as_variable(x)
        kept = [p for p in self.pattern if p != "x"]
        if len(set(kept)) != len(kept) or any(not (0 <= p < x.ndim) for p in kept):
            raise ValueError(f"dimshuffle{self.pattern}: invalid pattern for {x.describe()}")
        for axis in range(x.ndim):
            if axis not in kept and x.type.shape[axis] != 1:
                raise ValueError(f"dimshuffle{self.pattern} drops axis {axis} of {x.describe()}, but that axis "
                                 "is not known to have length 1")
        shape = tuple(1 if p == "x" else x.type.shape[p] for p in self.pattern)
        return Apply(self, [x], [TensorType(x.dtype, shape)])

    def make_thunk(self, node):
        return self._runner(node.inputs[0].ndim)

    def perform(self, x):
        return self._runner(np.ndim(x))(x)

    def lower_numba(self, node):  # a transpose, then one basic index (None adds an axis, 0 drops one)
        from ..lowering import Lowering
        ndim = node.inputs[0].ndim
        kept = [p for p in self.pattern if p != "x"]
        perm = kept + [a for a in range(ndim) if a not in kept]
        index = [("None" if p == "x" else ":") for p in self.pattern] + ["0"] * (ndim - len(kept))
        if ndim == 0 and self.pattern:  # a scalar made an array of ones: (1, 1, ...)
            return Lowering("expr", f"np.full(({'1, ' * len(self.pattern)}), {{0}}, np.{node.outputs[0].dtype})")
        if ndim == 0 or not self.pattern:
            return None
        base = "{0}" if perm == list(range(ndim)) else f"{{0}}.transpose(({', '.join(map(str, perm))},))"
        return Lowering("view", f"{base}[{', '.join(index)}]")
    def lower_jax(self, node):
        kept = [p for p in self.pattern if p != "x"]
        ndim = node.inputs[0].ndim
        perm = kept + [a for a in range(ndim) if a not in kept]
        index = tuple(None if p == "x" else slice(None) for p in self.pattern) + (0,) * (ndim - len(kept))
        return lambda x: _jnp().transpose(x, perm)[index]

    def _runner(self, ndim):
        # transpose kept axes first (dropped ones last), then one basic index: None adds an axis, 0 drops one
        kept = [p for p in self.pattern if p != "x"]
        perm = kept + [a for a in range(ndim) if a not in kept]
        index = tuple(None if p == "x" else slice(None) for p in self.pattern) + (0,) * (ndim - len(kept))
        if perm == list(range(ndim)):
            return lambda x: np.asarray(x)[index]
        return lambda x: np.transpose(x, perm)[index]

    def pullback(self, inputs, outputs, gz):
        x = inputs[0]
        g = gz[0]
        kept = [p for p in self.pattern if p != "x"]
        # drop the inserted axes, then restore dropped axes as 'x' in the inverse permutation
        g = T.dimshuffle(g, *[i for i, p in enumerate(self.pattern) if p != "x"]) if len(kept) != len(self.pattern) else g
        inverse = []
        for axis in range(x.ndim):
            inverse.append(kept.index(axis) if axis in kept else "x")
        return [T.dimshuffle(g, *inverse)]

    def __str__(self):
        return "dimshuffle{" + ",".join(str(p) for p in self.pattern) + "}"


@op
class Reshape(Op):
    """Reshape to a shape vector (one entry may be -1)."""

    def make_node(self, x, shape):
        x = as_variable(x)
        shape, static = shape_vector(shape, "reshape shape")
        if static is None:
            raise TypeError("reshape: the length of the shape vector must be known when the graph is built")
        static = list(static)
        if static.count(-1) > 1:
            raise ValueError(f"reshape of {x.describe()}: at most one -1 in the shape {tuple(static)}")
        if any(s is not None and s < -1 for s in static):
            raise ValueError(f"reshape of {x.describe()}: negative size in {tuple(static)}")
        known_in = None if None in x.type.shape else int(np.prod(x.type.shape, dtype=np.int64))
        if -1 in static:
            rest = [s for s in static if s != -1]
            i = static.index(-1)
            if known_in is not None and None not in rest:
                prod_rest = int(np.prod(rest, dtype=np.int64))
                if prod_rest == 0 or known_in % prod_rest:
                    raise ShapeError(f"reshape: cannot reshape {x.describe()} into {tuple(static)}")
                static[i] = known_in // prod_rest
            else:
                static[i] = None
        elif known_in is not None and None not in static and int(np.prod(static, dtype=np.int64)) != known_in:
            raise ShapeError(f"reshape: cannot reshape {x.describe()} ({known_in} elements) into {tuple(static)}")
        return Apply(self, [x, shape], [TensorType(x.dtype, tuple(static))])

    def perform(self, x, shape):
        return np.reshape(x, tuple(shape))

    def lower_jax(self, node):
        return lambda x, shape: _jnp().reshape(x, static_shape(shape, self))

    def pullback(self, inputs, outputs, gz):
        return [T.reshape(gz[0], T.shape(inputs[0])), None]

    def __str__(self):
        return "reshape"


@op
class Concatenate(Op):
    """Join tensors along an existing axis."""

    fresh = True

    axis: int

    def make_node(self, *xs):
        xs = [as_variable(x) for x in xs]
        if not xs:
            raise ValueError("concatenate needs at least one tensor")
        ndim = xs[0].ndim
        if any(x.ndim != ndim for x in xs) or not -ndim <= self.axis < ndim:
            raise ShapeError(f"concatenate(axis={self.axis}): inputs must have the same number of dimensions "
                             f"and the axis must exist; got {', '.join(x.describe() for x in xs)}")
        axis = self.axis % ndim
        if axis != self.axis:
            return Concatenate(axis).make_node(*xs)
        shape = []
        for a in range(ndim):
            dims = [x.type.shape[a] for x in xs]
            if a == axis:
                shape.append(None if None in dims else sum(dims))
            else:
                known = {d for d in dims if d is not None}
                if len(known) > 1:
                    raise ShapeError(f"concatenate(axis={axis}): sizes differ on axis {a}: "
                                     f"{', '.join(x.describe() for x in xs)}")
                shape.append(known.pop() if known else None)
        dtype = np.result_type(*[x.dtype for x in xs]).name
        xs = [x if x.dtype == dtype else T.cast(x, dtype) for x in xs]
        return Apply(self, xs, [TensorType(dtype, tuple(shape))])

    def perform(self, *xs, out=None):
        return np.concatenate(xs, axis=self.axis, out=out)

    def lower_numba(self, node):
        from ..lowering import Lowering
        return Lowering("concat", axis=self.axis)
    def lower_jax(self, node):
        return lambda *xs: _jnp().concatenate(xs, axis=self.axis)

    def writes_into(self, node):
        return "any"

    def pullback(self, inputs, outputs, gz):
        grads, start = [], 0
        for x in inputs:
            size = x.type.shape[self.axis]
            size = T.shape_i(x, self.axis) if size is None else size
            stop = start + size
            index = (slice(None),) * self.axis + (slice(start, stop),)
            g = gz[0][index]
            if g.type.shape != x.type.shape:  # the slice has x's length even where gz's is unknown
                g = SpecifyShape(tuple(x.type.shape))(g)
            grads.append(g)
            start = stop
        return grads

    def __str__(self):
        return f"concatenate{{axis={self.axis}}}"


@op
class Stack(Op):
    """Join same-shaped tensors along a new axis."""

    fresh = True
    stacks = True  # ops/basic reads the static entries of a shape vector stacked from scalars

    axis: int = 0

    def make_node(self, *xs):
        xs = [as_variable(x) for x in xs]
        if not xs:
            raise ValueError("stack needs at least one tensor")
        ndim = xs[0].ndim
        if any(x.ndim != ndim for x in xs) or not -(ndim + 1) <= self.axis <= ndim:
            raise ShapeError(f"stack(axis={self.axis}): inputs must have the same number of dimensions; "
                             f"got {', '.join(x.describe() for x in xs)}")
        if self.axis < 0:
            return Stack(self.axis % (ndim + 1)).make_node(*xs)
        shape = []
        for a in range(ndim):
            known = {x.type.shape[a] for x in xs if x.type.shape[a] is not None}
            if len(known) > 1:
                raise ShapeError(f"stack: shapes differ on axis {a}: {', '.join(x.describe() for x in xs)}")
            shape.append(known.pop() if known else None)
        shape.insert(self.axis, len(xs))
        dtype = np.result_type(*[x.dtype for x in xs]).name
        xs = [x if x.dtype == dtype else T.cast(x, dtype) for x in xs]
        return Apply(self, xs, [TensorType(dtype, tuple(shape))])

    def perform(self, *xs):
        # numpy.stack's checks cost more than the copy for the small stacks graphs build (shape vectors)
        if self.axis == 0 and all(getattr(x, "ndim", 0) == 0 for x in xs):
            return np.array(xs)
        index = (slice(None),) * self.axis + (None,)
        return np.concatenate([np.asarray(x)[index] for x in xs], axis=self.axis)

    def lower_numba(self, node):  # scalars into a vector (the shape vectors graphs build), or arrays
        from ..lowering import Lowering
        items = "".join(f"{{{k}}}, " for k in range(len(node.inputs)))
        if all(x.ndim for x in node.inputs):
            return Lowering("expr", f"np.stack(({items}), {self.axis})")
        if self.axis != 0:
            return None
        return Lowering("expr", f"np.array([{items}], np.{node.outputs[0].dtype})")

    def lower_jax(self, node):
        return lambda *xs: _jnp().stack(xs, axis=self.axis)

    def pullback(self, inputs, outputs, gz):
        index = (slice(None),) * self.axis
        return [gz[0][index + (i,)] for i in range(len(inputs))]

    def __str__(self):
        return f"stack{{axis={self.axis}}}"


__all__ = ["DimShuffle", "Reshape", "Concatenate", "Stack", "ShapeI", "_const_int"]


@op
class Unbroadcast(Op):
    """Identity that forgets static length-1 information on ``axes`` (Theano's ``unbroadcast``): the result
    may then meet a tensor of any length on those axes without being broadcast."""

    axes: tuple

    def make_node(self, x):
        x = as_variable(x)
        for a in self.axes:
            if not 0 <= a < x.ndim:
                raise ValueError(f"unbroadcast: axis {a} does not exist in {x.describe()}")
        shape = tuple(None if a in self.axes else s for a, s in enumerate(x.type.shape))
        return Apply(self, [x], [TensorType(x.dtype, shape)])

    def perform(self, x):
        return x

    def pullback(self, inputs, outputs, gz):
        return [gz[0]]

    def __str__(self):
        return f"unbroadcast{{{','.join(map(str, self.axes))}}}"

    def lower_jax(self, node):
        return self.perform


def _jnp():
    import jax.numpy as jnp
    return jnp
