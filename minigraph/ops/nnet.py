"""Neural-network ops that need their own numerics: softmax and log-softmax along an axis."""
import numpy as np

from ..graph import Apply, Op, TensorType, as_variable, op
from .basic import floatx_dtype
from .elemwise import T


@op
class _AlongAxis(Op):
    """Base of the softmax family: a float output of the input's shape, normalised along ``axis``."""

    axis: int = -1

    def make_node(self, x):
        x = as_variable(x)
        if x.ndim == 0 or not -x.ndim <= self.axis < x.ndim:
            raise ValueError(f"{self}: axis {self.axis} does not exist in {x.describe()}")
        return Apply(self, [x], [TensorType(floatx_dtype(x.dtype), x.type.shape)])

    def make_thunk(self, node):
        # integers are computed in the output's float dtype (numpy alone would make float64 of them)
        dtype = node.outputs[0].dtype
        if node.inputs[0].dtype == dtype:
            return self.perform
        return lambda x: self.perform(np.asarray(x, dtype=dtype))

    def lower_jax(self, node):
        import jax
        import jax.numpy as jnp
        fn = getattr(jax.nn, str(self).split("{")[0])  # jax.nn.softmax / log_softmax: the same max shift
        dtype = node.outputs[0].dtype
        return lambda x: fn(jnp.asarray(x, dtype), axis=self.axis)


@op
class Softmax(_AlongAxis):
    """exp(x - max) / sum(exp(x - max)) along ``axis``: the max shift makes it overflow-free."""

    def perform(self, x):
        e = np.exp(x - np.max(x, axis=self.axis, keepdims=True))
        e /= np.sum(e, axis=self.axis, keepdims=True)
        return e

    def pullback(self, inputs, outputs, gz):
        # J^T g = y * (g - <g, y>)
        y, g = outputs[0], gz[0]
        return [y * (g - T.sum(g * y, axis=self.axis, keepdims=True))]

    def __str__(self):
        return f"softmax{{axis={self.axis}}}"


@op
class LogSoftmax(_AlongAxis):
    """x - max - log(sum(exp(x - max))) along ``axis``, exact where log(softmax) would give -inf."""

    def perform(self, x):
        s = x - np.max(x, axis=self.axis, keepdims=True)
        return s - np.log(np.sum(np.exp(s), axis=self.axis, keepdims=True))

    def pullback(self, inputs, outputs, gz):
        y, g = outputs[0], gz[0]
        return [g - T.exp(y) * T.sum(g, axis=self.axis, keepdims=True)]

    def __str__(self):
        return f"log_softmax{{axis={self.axis}}}"
