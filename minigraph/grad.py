"""Symbolic reverse-mode differentiation.

``grad`` walks the nodes between ``wrt`` and the cost in reverse order, asks
each op for its pullback (a graph), sums the contributions of fan-out, and sums
gradients of broadcasting ops back to their input's shape.  Since the result
is an ordinary graph, ``grad`` of a gradient needs no special code.
"""
import warnings

import numpy as np

from . import graph
from .graph import NonDifferentiable, Variable, as_variable, toposort
from .ops.basic import GradTransform, SumToShape
from .ops.elemwise import Elemwise, fits_inside


class DisconnectedInputError(ValueError):
    """``grad`` was asked for a variable that the cost does not depend on."""


def _not_broadcast(g, inp, node):
    """True when the elementwise ``node`` cannot have enlarged ``inp``: all its other inputs fit inside
    it, so the output (and the gradient ``g``, which has the output's shape) already has ``inp``'s shape."""
    return (isinstance(node.op, Elemwise) and g.ndim == inp.ndim == node.outputs[0].ndim
            and all(v is inp or fits_inside(v, inp) for v in node.inputs))


def _fit(g, inp, node):
    """Make the gradient ``g`` of ``inp`` match its shape and dtype."""
    if node.op.broadcasts and (g.ndim != inp.ndim or g.type.shape != inp.type.shape or None in inp.type.shape) \
            and not _not_broadcast(g, inp, node):
        from .tensor import shape
        g = SumToShape()(g, shape(inp))
    if g.dtype != inp.dtype:
        from .tensor import cast
        g = cast(g, inp.dtype)
    return g


@graph.paused_gc
def backprop(seeds, wrt, consider_constant=()):
    """Cotangents of ``wrt`` given ``seeds`` ({output variable: its cotangent}); None where disconnected."""
    outputs = list(seeds)
    stop = list(consider_constant or ())
    nodes = toposort(outputs, stop_at=stop)
    # Only nodes that depend on some wrt variable matter.
    relevant = set(id(w) for w in wrt)
    for node in nodes:
        if any(id(i) in relevant for i in node.inputs):
            relevant.update(id(o) for o in node.outputs)
    stopped = set(map(id, stop))
    cotangent = {}
    for out, g in seeds.items():
        _accumulate(cotangent, out, as_variable(g))
    for node in reversed(nodes):
        gz = [cotangent.get(id(o)) for o in node.outputs]
        if all(g is None for g in gz):
            continue
        needed = [id(i) in relevant and id(i) not in stopped and i.type.is_float for i in node.inputs]
        if not any(needed):
            continue
        graph._grad_context.append(node)
        try:
            try:
                grads = node.op.pullback(node.inputs, node.outputs, gz)
            except NonDifferentiable as exc:
                raise NonDifferentiable(
                    f"grad: cannot differentiate through {node.op} (built at {node.where()}): {exc}") from None
            if len(grads) != len(node.inputs):
                raise RuntimeError(f"{node.op}.pullback returned {len(grads)} gradients for {len(node.inputs)} inputs")
            for inp, g, need in zip(node.inputs, grads, needed):
                if need and g is not None:
                    _accumulate(cotangent, inp, _fit(as_variable(g), inp, node))
        finally:
            graph._grad_context.pop()
    return [cotangent.get(id(w)) for w in wrt]


def _accumulate(cotangent, var, g):
    prev = cotangent.get(id(var))
    cotangent[id(var)] = g if prev is None else prev + g


def grad(cost, wrt, consider_constant=None, disconnected_inputs="raise", known_grads=None,
         return_disconnected="zero"):
    """Gradient of the scalar ``cost`` with respect to ``wrt`` (a variable or a list), as graphs.

    ``known_grads`` ({variable: gradient}) seeds gradients of intermediate
    variables (then ``cost`` may be None); ``consider_constant`` lists
    variables to treat as constants; ``disconnected_inputs`` is 'raise',
    'warn' or 'ignore' for variables the cost does not depend on (those get
    zeros, or None with ``return_disconnected='none'``).
    """
    if disconnected_inputs not in ("raise", "warn", "ignore"):
        raise ValueError("disconnected_inputs must be 'raise', 'warn' or 'ignore'")
    single = isinstance(wrt, Variable)
    wrt = [wrt] if single else list(wrt)
    for w in wrt:
        if not isinstance(w, Variable):
            raise TypeError(f"grad: wrt must hold symbolic variables, got {type(w).__name__}")
        if not w.type.is_float:
            raise TypeError(f"grad: cannot differentiate with respect to {w.describe()}: it is not a float tensor")
    seeds = {}
    if cost is not None:
        cost = as_variable(cost)
        if cost.ndim != 0:
            raise TypeError(f"grad: the cost must be a scalar, got {cost.describe()}; reduce it (e.g. .sum()) "
                            "or use jacobian / Lop for non-scalar outputs")
        if not cost.type.is_float:
            raise TypeError(f"grad: the cost {cost.describe()} is not a float; it has no gradient")
        seeds[cost] = as_variable(np.ones((), dtype=cost.dtype))
    for var, g in (known_grads or {}).items():
        g = as_variable(g)
        if g.ndim != var.ndim:
            raise TypeError(f"grad: known gradient {g.describe()} for {var.describe()} has the wrong number of dims")
        seeds[var] = g
    if not seeds:
        raise TypeError("grad: give a cost or known_grads")
    results = backprop(seeds, wrt, consider_constant)
    out = []
    for w, g in zip(wrt, results):
        if g is None:
            msg = (f"grad: the cost does not depend on {w.describe()} (it is not part of the graph, or every path "
                   "to it goes through a non-differentiable or integer op)")
            if disconnected_inputs == "raise":
                raise DisconnectedInputError(msg + "; pass disconnected_inputs='ignore' to get zeros")
            if disconnected_inputs == "warn":
                warnings.warn(msg, stacklevel=2)
            if return_disconnected == "zero":
                from .tensor import zeros_like
                g = zeros_like(w)
        out.append(g)
    return out[0] if single else out


def Lop(f, wrt, eval_points, consider_constant=None, disconnected_inputs="ignore"):
    """Vector-Jacobian product: v^T (df/dwrt) for cotangents ``eval_points`` of ``f``."""
    fs = [f] if isinstance(f, Variable) else list(f)
    vs = [eval_points] if isinstance(eval_points, Variable) or not isinstance(eval_points, (list, tuple)) \
        else list(eval_points)
    if len(fs) != len(vs):
        raise ValueError(f"Lop: {len(fs)} outputs but {len(vs)} eval points")
    return grad(None, wrt, consider_constant=consider_constant, disconnected_inputs=disconnected_inputs,
                known_grads=dict(zip(fs, vs)))


def Rop(f, wrt, eval_points, disconnected_outputs="ignore"):
    """Jacobian-vector product (df/dwrt) v, by the double-VJP trick: the VJP u -> J^T u is linear
    in u, so its own VJP with cotangent v is J v."""
    from .tensor import zeros_like
    single_f = isinstance(f, Variable)
    fs = [f] if single_f else list(f)
    wrts = [wrt] if isinstance(wrt, Variable) else list(wrt)
    vs = [eval_points] if isinstance(eval_points, Variable) or not isinstance(eval_points, (list, tuple)) \
        else list(eval_points)
    if len(vs) != len(wrts):
        raise ValueError(f"Rop: {len(wrts)} wrt variables but {len(vs)} eval points")
    us = [o.type(f"u_{i}") for i, o in enumerate(fs)]
    jt_u = grad(None, wrts, known_grads=dict(zip(fs, us)), disconnected_inputs="ignore")
    jv = grad(None, us, known_grads={g: as_variable(v) for g, v in zip(jt_u, vs)}, disconnected_inputs="ignore")
    # J v no longer depends on u's value, only (possibly) on its shape: substitute f itself.
    jv = graph.clone_replace(jv, {u: zeros_like(o) for u, o in zip(us, fs)})
    return jv[0] if single_f else jv


def jacobian(expression, wrt, consider_constant=None, disconnected_inputs="raise"):
    """d expression / d wrt for a vector (or scalar) expression, built with ``scan`` over its entries."""
    from .scan import scan
    from .tensor import arange, shape_i
    expression = as_variable(expression)
    single = isinstance(wrt, Variable)
    wrts = [wrt] if single else list(wrt)
    if expression.ndim == 0:
        out = grad(expression, wrts, consider_constant, disconnected_inputs)
        return out[0] if single else out
    if expression.ndim != 1:
        raise TypeError(f"jacobian: the expression must be a scalar or a vector, got {expression.describe()}; "
                        "flatten it first")

    def row(i, *ws):
        return grad(expression[i], wrts, consider_constant, disconnected_inputs)

    rows, _ = scan(row, sequences=arange(shape_i(expression, 0)), non_sequences=wrts)
    rows = rows if isinstance(rows, list) else [rows]
    return rows[0] if single else rows


def hessian(cost, wrt, consider_constant=None, disconnected_inputs="raise"):
    """Matrix of second derivatives of a scalar cost w.r.t. each vector in ``wrt``."""
    single = isinstance(wrt, Variable)
    wrts = [wrt] if single else list(wrt)
    out = []
    for w in wrts:
        if w.ndim != 1:
            raise TypeError(f"hessian: wrt must be vectors, got {w.describe()}")
        g = grad(cost, w, consider_constant, disconnected_inputs)
        out.append(jacobian(g, w, consider_constant, disconnected_inputs))
    return out[0] if single else out


def zero_grad(x):
    """x in the forward pass; its gradient is zero."""
    return GradTransform("zero")(x)


def disconnected_grad(x):
    """x in the forward pass; gradients do not flow through it at all (stop_gradient)."""
    return GradTransform("disconnected")(x)


def grad_clip(x, lower_bound, upper_bound):
    """x in the forward pass; the gradient flowing through it is clipped to [lower, upper]."""
    return GradTransform("clip", float(lower_bound), float(upper_bound))(x)
