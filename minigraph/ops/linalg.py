"""Matrix products: ``dot`` (numpy's 1-D/2-D rules, and N-D @ 2-D) and batched ``matmul``."""
import math

import numpy as np

from ..graph import Apply, Op, TensorType, as_variable, op
from .elemwise import ShapeError, T, _promote, broadcast_static


def _check_inner(a, b, ka, kb, name):
    da, db = a.type.shape[ka], b.type.shape[kb]
    if da is not None and db is not None and da != db:
        raise ShapeError(f"{name}: inner dimensions do not match: {a.describe()} (axis {ka % a.ndim} has {da}) "
                         f"and {b.describe()} (axis {kb % b.ndim} has {db})")


def _dot_nd(a, b):
    # (..., k) @ (k, n): one BLAS call on a 2-D view instead of numpy's slow N-D dot loop
    if a.ndim > 2:
        return (a.reshape(-1, a.shape[-1]) @ b).reshape(a.shape[:-1] + b.shape[1:])
    return np.dot(a, b)


def _rows(x):
    """``x`` as a matrix whose rows run over all its leading axes: shape (-1, last axis)."""
    return T.reshape(x, (-1, T.shape_i(x, -1)))


def _numba_matrix(arg, ndim, split):
    """numba source for input ``arg`` (ndim dims) seen as a C-ordered matrix: its axes before
    ``split`` make the rows, the rest the columns (a template: ``{0}`` is the first input)."""
    def size(axes):
        return " * ".join(f"{{{arg}}}.shape[{i}]" for i in axes) or "1"
    return f"np.ascontiguousarray({{{arg}}}).reshape(({size(range(split))}, {size(range(split, ndim))}))"


def _jax_product(node, product):
    """A product in JAX, in the node's dtype (numpy's promotion: jax's would differ for mixed ints and floats)."""
    import jax.numpy as jnp
    dtype = node.outputs[0].dtype
    return lambda a, b: product(jnp, jnp.asarray(a, dtype), jnp.asarray(b, dtype))


@op
class Dot(Op):
    """numpy.dot for 1-D and 2-D operands, and (..., k) x (k, n) -> (..., n)."""

    fresh = True

    def make_node(self, a, b):
        a, b = as_variable(a), as_variable(b)
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(f"dot: use * for scalars ({a.describe()}, {b.describe()})")
        if b.ndim > 2:
            raise ShapeError(f"dot: the second operand must be 1-D or 2-D, got {b.describe()}; use matmul for batches")
        _check_inner(a, b, -1, 0, "dot")
        shape = a.type.shape[:-1] + b.type.shape[1:]
        return Apply(self, [a, b], [TensorType(_promote([a, b]), shape)])

    def make_thunk(self, node):
        return _dot_nd if node.inputs[0].ndim > 2 else np.dot

    def writes_into(self, node):  # numpy.dot fills only a C-ordered out= of exactly its result dtype
        return "contiguous" if node.inputs[0].ndim <= 2 and node.outputs[0].ndim else None

    def perform(self, a, b):
        return _dot_nd(np.asarray(a), np.asarray(b))

    def lower_numba(self, node):  # BLAS through numba's np.dot: float operands, (..., k) @ (k, n) as a matrix
        from ..lowering import Lowering
        a, b = node.inputs
        if not (a.dtype == b.dtype == node.outputs[0].dtype and a.dtype in ("float32", "float64")):
            return None
        if a.ndim <= 2:
            return Lowering("dot", "np.dot({0}, {1})")
        if b.ndim != 2:
            return None
        return Lowering("expr", f"np.dot({_numba_matrix(0, a.ndim, a.ndim - 1)}, {{1}})"
                                f".reshape({{0}}.shape[:{a.ndim - 1}] + {{1}}.shape[1:])")

    def lower_jax(self, node):
        def dot(jnp, a, b):
            k = 0 if b.ndim == 1 else -2
            if a.shape[-1] != b.shape[k]:  # numpy's words, not XLA's
                raise ValueError(f"shapes {a.shape} and {b.shape} not aligned: {a.shape[-1]} (dim {a.ndim - 1}) "
                                 f"!= {b.shape[k]} (dim {k % b.ndim})")
            return jnp.dot(a, b)
        return _jax_product(node, dot)

    def pullback(self, inputs, outputs, gz):
        a, b = inputs
        g = gz[0]
        if b.ndim == 1:  # out[...] = sum_k a[..., k] b[k]
            ga = T.outer(g, b) if a.ndim == 2 else (g * b if a.ndim == 1 else g.dimshuffle(*range(g.ndim), "x") * b)
            gb = T.dot(a.T, g) if a.ndim == 2 else (g * a if a.ndim == 1 else Tensordot(a.ndim - 1)(a, g))
            return [ga, gb]
        ga = T.dot(g, b.T)
        if a.ndim == 1:
            gb = T.outer(a, g)
        elif a.ndim == 2:
            gb = T.dot(a.T, g)
        else:  # sum over all leading axes at once: (rows, k)^T (rows, n), one product
            gb = T.dot(_rows(a).T, _rows(g))
        return [ga, gb]

    def __str__(self):
        return "dot"


@op
class Matmul(Op):
    """Batched matrix product with broadcasting batch axes (numpy.matmul), both operands >= 2-D."""

    fresh = True

    broadcasts = True

    def make_node(self, a, b):
        a, b = as_variable(a), as_variable(b)
        if a.ndim < 2 or b.ndim < 2:
            raise ShapeError(f"matmul: operands must be at least 2-D here, got {a.describe()} and {b.describe()}")
        _check_inner(a, b, -1, -2, "matmul")
        batch_a = TensorType(a.dtype, a.type.shape[:-2])()
        batch_b = TensorType(b.dtype, b.type.shape[:-2])()
        batch = broadcast_static([batch_a, batch_b], "matmul batch axes")
        shape = batch + (a.type.shape[-2], b.type.shape[-1])
        return Apply(self, [a, b], [TensorType(_promote([a, b]), shape)])

    def perform(self, a, b):
        return np.matmul(a, b)

    def lower_jax(self, node):
        return _jax_product(node, lambda jnp, a, b: jnp.matmul(a, b))

    def pullback(self, inputs, outputs, gz):
        a, b = inputs
        g = gz[0]
        return [Matmul()(g, T.swapaxes(b, -1, -2)), Matmul()(T.swapaxes(a, -1, -2), g)]

    def __str__(self):
        return "matmul"


@op
class Tensordot(Op):
    """Sum over the first ``n`` axes of both operands: out[I, J] = sum_K a[K, I] b[K, J] (n = 0: outer)."""

    fresh = True

    n: int

    def make_node(self, a, b):
        a, b = as_variable(a), as_variable(b)
        if self.n > min(a.ndim, b.ndim):
            raise ShapeError(f"tensordot over {self.n} leading axes: {a.describe()}, {b.describe()}")
        for k in range(self.n):
            _check_inner(a, b, k, k, "tensordot")
        shape = a.type.shape[self.n:] + b.type.shape[self.n:]
        return Apply(self, [a, b], [TensorType(_promote([a, b]), shape)])

    def perform(self, a, b):
        n = self.n
        a, b = np.asarray(a), np.asarray(b)
        sa, sb = a.shape, b.shape
        k = math.prod(sa[:n])  # explicit sizes: -1 is ambiguous for empty arrays
        a2 = a.reshape(k, math.prod(sa[n:]))
        b2 = b.reshape(k, math.prod(sb[n:]))
        return (a2.T @ b2).reshape(sa[n:] + sb[n:])

    def lower_numba(self, node):  # one BLAS product of the operands seen as matrices
        from ..lowering import Lowering
        a, b = node.inputs
        out = node.outputs[0]
        if not (a.dtype == b.dtype == out.dtype and a.dtype in ("float32", "float64")) or out.ndim == 0:
            return None
        n = self.n
        return Lowering("expr", f"np.dot({_numba_matrix(0, a.ndim, n)}.T, {_numba_matrix(1, b.ndim, n)})"
                                f".reshape({{0}}.shape[{n}:] + {{1}}.shape[{n}:])")

    def lower_jax(self, node):
        axes = (tuple(range(self.n)), tuple(range(self.n)))
        return _jax_product(node, lambda jnp, a, b: jnp.tensordot(a, b, axes))

    def pullback(self, inputs, outputs, gz):
        a, b = inputs
        g, n = gz[0], self.n
        ra, rb = a.ndim - n, b.ndim - n
        # ga[K, I] = sum_J b[K, J] g[I, J]; gb[K, J] = sum_I a[K, I] g[I, J]
        g_ji = T.dimshuffle(g, *range(ra, ra + rb), *range(ra))
        ga = Tensordot(rb)(T.dimshuffle(b, *range(n, b.ndim), *range(n)), g_ji)
        gb = Tensordot(ra)(T.dimshuffle(a, *range(n, a.ndim), *range(n)), g)
        return [ga, gb]

    def __str__(self):
        return f"tensordot{{{self.n}}}"
