"""Ops that make, cast, measure or pass tensors through: cast, alloc, arange, shape,
sum-to-shape (the gradient of broadcasting), and gradient-only ops."""
import functools

import numpy as np

from ..config import config
from ..graph import Apply, Constant, Op, TensorType, Variable, as_variable, op
from .elemwise import T


def _int_scalar(v, what):
    v = as_variable(v)
    if v.ndim != 0 or np.dtype(v.dtype).kind not in "iub":
        raise TypeError(f"{what} must be an integer scalar, got {v.describe()}")
    return v


def _const_int(v):
    """The Python int value of a constant scalar (or the static size behind x.shape[i]), else None."""
    if isinstance(v, Constant) and v.ndim == 0:
        return int(v.data)
    if v.owner is not None and isinstance(v.owner.op, ShapeI):
        return v.owner.inputs[0].type.shape[v.owner.op.i]
    return None


def shape_vector(dims, what="shape"):
    """Turn a tuple of ints/int scalars (or an int vector) into an int64 vector variable and its static shape."""
    if isinstance(dims, Variable):
        if dims.ndim != 1 or np.dtype(dims.dtype).kind not in "iu":
            raise TypeError(f"{what} must be an integer vector, got {dims.describe()}")
        static = _static_from_vector(dims)
        return T.cast(dims, "int64"), static
    dims = [_int_scalar(d, f"{what} entry {i}") for i, d in enumerate(dims)]
    static = tuple(_const_int(d) for d in dims)
    if all(isinstance(d, Constant) for d in dims):
        return Constant(TensorType("int64", (len(dims),)), [int(d.data) for d in dims]), static
    return T.stack([T.cast(d, "int64") for d in dims]), static


def _static_from_vector(vec):
    n = vec.type.shape[0]
    if isinstance(vec, Constant):
        return tuple(int(s) for s in vec.data)
    if vec.owner is not None and isinstance(vec.owner.op, Shape):
        return vec.owner.inputs[0].type.shape
    if vec.owner is not None and getattr(vec.owner.op, "stacks", False):  # a vector stacked from scalars
        return tuple(_const_int(d) for d in vec.owner.inputs)
    return (None,) * (n or 0) if n is not None else None


@op
class Cast(Op):
    """Convert to ``dtype``; the gradient is cast back to the input's dtype by the driver."""

    dtype: str

    def make_node(self, x):
        x = as_variable(x)
        return Apply(self, [x], [TensorType(self.dtype, x.type.shape)])

    def perform(self, x):
        return np.asarray(x).astype(self.dtype, copy=False)

    def lower_numba(self, node):  # to a float, or between integers: numba converts as numpy does
        from ..lowering import Lowering
        src = node.inputs[0].dtype
        if not (self.dtype.startswith("float") or (np.dtype(src).kind in "iub" and np.dtype(self.dtype).kind in "iu")):
            return None
        dt = f"np.{self.dtype}"
        return Lowering("elemwise", f"{{0}}.astype({dt})", scalar=f"{dt}({{0}})")

    def lower_jax(self, node):
        return lambda x: _jnp().asarray(x).astype(self.dtype)

    def pullback(self, inputs, outputs, gz):
        return [gz[0]]  # an integer input gets it too (Theano); an integer result passes none (the grad driver)

    def __str__(self):
        return f"cast{{{self.dtype}}}"


@op
class Alloc(Op):
    """A new array of the given shape filled with ``value`` (broadcast)."""

    broadcasts = True

    def make_node(self, value, shape):
        value = as_variable(value)
        shape, static = shape_vector(shape, "alloc shape")
        if static is None or len(static) < value.ndim:
            raise TypeError(f"alloc: shape must have at least {value.ndim} entries (the value is {value.describe()})")
        vshape = (None,) * (len(static) - value.ndim) + value.type.shape
        for axis, (v, s) in enumerate(zip(vshape, static)):
            if v not in (None, 1) and s is not None and v != s:
                raise ValueError(f"alloc: cannot broadcast {value.describe()} to shape {static} (axis {axis})")
        static = tuple(s if s is not None else (v if v not in (None, 1) else None) for s, v in zip(static, vshape))
        return Apply(self, [value, shape], [TensorType(value.dtype, static)])

    def perform(self, value, shape):
        out = np.empty(tuple(shape), dtype=np.asarray(value).dtype)
        out[...] = value
        return out

    def lower_numba(self, node):
        from ..lowering import Lowering
        ndim, dt = node.outputs[0].ndim, f"np.{node.outputs[0].dtype}"
        if ndim == 0:
            return None
        shape = "".join(f"{{1}}[{k}], " for k in range(ndim))
        if node.inputs[0].ndim == 0:
            return Lowering("expr", f"np.full(({shape}), {{0}}, {dt})")
        return Lowering("expr", f"np.broadcast_to({{0}}, ({shape})).copy()")

    def lower_jax(self, node):
        dtype = node.outputs[0].dtype
        return lambda value, shape: _jnp().broadcast_to(_jnp().asarray(value, dtype), static_shape(shape, self))

    def pullback(self, inputs, outputs, gz):
        return [gz[0], None]

    def __str__(self):
        return "alloc"


@functools.lru_cache(maxsize=256)
def _summed_axes(gshape, shape):
    """The axes of an array of shape ``gshape`` to sum so that it becomes ``shape`` (undo broadcasting)."""
    lead = len(gshape) - len(shape)
    return tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and gshape[lead + i] != 1)


@op
class SumToShape(Op):
    """``g`` summed over the axes that broadcasting expanded, so that it has the given shape.

    The grad driver applies it (with ``shape(x)``) to undo broadcasting for
    every op at once.  Taking a shape vector rather than ``x`` itself means a
    gradient never keeps ``x``'s buffer alive just for its shape.
    """

    def make_node(self, g, shape):
        g = as_variable(g)
        shape, static = shape_vector(shape, "sum_to_shape shape")
        if static is None or len(static) > g.ndim:
            raise TypeError(f"sum_to_shape: cannot sum {g.describe()} to a shape of {len(static or ())} entries")
        return Apply(self, [g, shape], [TensorType(g.dtype, static)])

    def perform(self, g, shape):
        shape = tuple(shape.tolist())
        g = np.asarray(g)
        gshape = g.shape
        if gshape == shape:
            return g
        axes = _summed_axes(gshape, shape)
        return g.sum(axis=axes).reshape(shape) if axes else g.reshape(shape)

    def lower_numba(self, node):  # where the types show that only leading axes are summed
        from ..lowering import Lowering
        g, out = node.inputs[0], node.outputs[0]
        lead = g.ndim - out.ndim
        for t, d in zip(out.type.shape, g.type.shape[lead:]):
            if t is None or (t == 1 and d != 1):
                return None
        if out.ndim == 0:
            return Lowering("expr", "np.sum({0})") if g.ndim else None
        return Lowering("view", "{0}") if lead == 0 else Lowering("expr", "{0}" + ".sum(axis=0)" * lead)

    def lower_jax(self, node):
        def run(g, shape):
            shape = static_shape(shape, self)
            axes = _summed_axes(g.shape, shape) if g.shape != shape else ()
            return (g.sum(axis=axes) if axes else g).reshape(shape)
        return run

    def pullback(self, inputs, outputs, gz):
        g, _ = inputs
        return [Alloc()(gz[0], T.shape(g)), None]

    def __str__(self):
        return "sum_to_shape"


@op
class Shape(Op):
    """The shape of a tensor as an int64 vector."""

    fresh = True

    def make_node(self, x):
        x = as_variable(x)
        return Apply(self, [x], [TensorType("int64", (x.ndim,))])

    def perform(self, x):
        try:
            return np.array(x.shape, dtype=np.int64)
        except AttributeError:  # a Python number
            return np.array(np.shape(x), dtype=np.int64)

    def lower_numba(self, node):
        from ..lowering import Lowering
        return Lowering("expr", "np.array({0}.shape, np.int64)") if node.inputs[0].ndim else None

    def lower_jax(self, node):
        return lambda x: np.array(np.shape(x), dtype=np.int64)  # static when traced: a constant

    def pullback(self, inputs, outputs, gz):
        return [None]

    def __str__(self):
        return "shape"


@op
class ShapeI(Op):
    """``x.shape[i]`` as an int64 scalar."""

    fresh = True

    i: int

    def make_node(self, x):
        x = as_variable(x)
        if not -x.ndim <= self.i < x.ndim:
            raise IndexError(f"shape index {self.i} out of range for {x.describe()}")
        return Apply(ShapeI(self.i % x.ndim), [x], [TensorType("int64", ())])

    def perform(self, x):
        return np.int64(np.shape(x)[self.i])

    def lower_numba(self, node):
        from ..lowering import Lowering
        return Lowering("expr", f"np.int64({{0}}.shape[{self.i}])")

    def lower_jax(self, node):
        return self.perform  # static when traced: a constant

    def pullback(self, inputs, outputs, gz):
        return [None]

    def __str__(self):
        return f"shape_i{{{self.i}}}"


@op
class Arange(Op):
    """arange(start, stop, step)."""

    dtype: str

    def make_node(self, start, stop, step):
        start, stop, step = (as_variable(v) for v in (start, stop, step))
        vals = [_const_value(v) for v in (start, stop, step)]
        n = None
        if all(v is not None for v in vals):
            n = len(np.arange(*vals))
        return Apply(self, [start, stop, step], [TensorType(self.dtype, (n,))])

    def perform(self, start, stop, step):
        return np.arange(start, stop, step, dtype=self.dtype)

    def lower_jax(self, node):
        return lambda *bounds: _jnp().arange(*[b.item() for b in static_values(bounds, self)], dtype=self.dtype)

    def pullback(self, inputs, outputs, gz):
        return [None, None, None]

    def __str__(self):
        return "arange"


def _const_value(v):
    return v.data.item() if isinstance(v, Constant) and v.ndim == 0 else None


@op
class GradTransform(Op):
    """Identity forward; the gradient is zeroed ('zero'), cut ('disconnected'), clipped to [lo, hi]
    ('clip') or multiplied by lo ('scale').

    ``zero_grad`` and ``disconnected_grad`` differ as in Theano: the first
    gives zeros, the second says the input is not connected at all.
    """

    mode: str
    lo: float = 0.0
    hi: float = 0.0

    def make_node(self, x):
        x = as_variable(x)
        return Apply(self, [x], [x.type])

    def perform(self, x):
        return x

    def lower_jax(self, node):
        return self.perform

    def pullback(self, inputs, outputs, gz):
        if self.mode == "zero":
            return [T.zeros_like(gz[0])]
        if self.mode == "disconnected":
            return [None]
        if self.mode == "scale":
            return [gz[0] * self.lo]
        return [T.clip(gz[0], self.lo, self.hi)]

    def __str__(self):
        if self.mode == "scale":
            return f"grad_scale{{{self.lo}}}"
        return {"zero": "zero_grad", "disconnected": "disconnected_grad"}.get(self.mode, f"grad_clip{{{self.lo},{self.hi}}}")


@op
class SpecifyShape(Op):
    """Identity that states (and checks at run time) a static shape: ``None`` entries stay unknown."""

    shape: tuple

    def make_node(self, x):
        x = as_variable(x)
        if len(self.shape) != x.ndim:
            raise ValueError(f"specify_shape{self.shape}: {x.describe()} has {x.ndim} dimensions")
        merged = []
        for axis, (have, want) in enumerate(zip(x.type.shape, self.shape)):
            if have is not None and want is not None and have != want:
                raise ValueError(f"specify_shape: {x.describe()} has length {have} on axis {axis}, not {want}")
            merged.append(want if want is not None else have)
        return Apply(self, [x], [TensorType(x.dtype, tuple(merged))])

    def perform(self, x):
        if not all(w is None or w == s for w, s in zip(self.shape, np.shape(x))):
            raise ValueError(f"specify_shape: expected shape {self.shape}, got {np.shape(x)}")
        return x

    def lower_jax(self, node):
        return self.perform  # shapes are static when traced: checked once, at compile time

    def pullback(self, inputs, outputs, gz):
        return [gz[0]]

    def __str__(self):
        return "specify_shape{" + ",".join("?" if s is None else str(s) for s in self.shape) + "}"


def floatx_dtype(dtype):
    """The float dtype a computation on ``dtype`` produces (ints become floatX)."""
    return dtype if np.dtype(dtype).kind in "fc" else config.floatX


def _jnp():
    import jax.numpy as jnp
    return jnp


class NotStaticError(ValueError):
    """Under JAX, a shape or an index bound depends on values known only at run time."""


def static_values(values, op):
    """``values`` (shape vectors, bounds) as numpy arrays, for a JAX lowering: JAX needs them when it
    traces.  One computed from run-time data raises NotStaticError naming the op."""
    try:
        return [np.asarray(v) for v in values]
    except Exception as exc:  # noqa: BLE001 - jax's tracer conversion errors, re-raised as one kind
        raise NotStaticError(f"{op}: under JAX a shape or index bound must be known when the function is "
                             "compiled, but this one depends on run-time values") from exc


def static_shape(shape, op):
    """A shape vector as a tuple of ints, for a JAX lowering (see ``static_values``)."""
    return tuple(int(d) for d in static_values([shape], op)[0])
