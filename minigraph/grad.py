"""Symbolic reverse-mode differentiation.

``grad`` walks the nodes between ``wrt`` and the cost in reverse order, asks
each op for its pullback (a graph), sums the contributions of fan-out, and sums
gradients of broadcasting ops back to their input's shape.  Since the result
is an ordinary graph, ``grad`` of a gradient needs no special code.
"""
import warnings

import numpy as np

from . import graph
from .config import config
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
    """Make the gradient ``g`` of ``inp`` match its shape and dtype (an integer input's gradient stays a float)."""
    if node.op.broadcasts and (g.ndim != inp.ndim or g.type.shape != inp.type.shape or None in inp.type.shape) \
            and not _not_broadcast(g, inp, node):
        from .tensor import shape
        g = SumToShape()(g, shape(inp))
    want = inp.dtype if inp.type.is_float else (g.dtype if g.type.is_float else config.floatX)
    if g.dtype != want:
        from .tensor import cast
        g = cast(g, want)
    return g


@graph.paused_gc
def backprop(seeds, wrt, consider_constant=(), int_wrt=False):
    """Cotangents of ``wrt`` given ``seeds`` ({output variable: its cotangent}); None where disconnected.

    Gradients flow along float variables.  With ``int_wrt`` an integer variable in ``wrt`` also receives
    the gradient of the float results computed directly from it (Theano's rule: the gradient with respect
    to an integer is taken as if it were real; ops with integer results pass a zero gradient).  The
    variables in ``consider_constant`` are not looked through, but still receive their own gradient.
    """
    outputs = list(seeds)
    stop = list(consider_constant or ())
    nodes = toposort(outputs, stop_at=stop)
    # Only nodes that depend on some wrt variable matter.
    wrt_ids = set(id(w) for w in wrt)
    relevant = set(wrt_ids)
    for node in nodes:
        if any(id(i) in relevant for i in node.inputs):
            relevant.update(id(o) for o in node.outputs)
    stopped = set(map(id, stop)) - wrt_ids
    cotangent = {}
    for out, g in seeds.items():
        _accumulate(cotangent, out, as_variable(g))
    for node in reversed(nodes):
        gz = [cotangent.get(id(o)) for o in node.outputs]
        if all(g is None for g in gz):
            continue
        if int_wrt and not any(o.type.is_float for o in node.outputs):
            continue  # integer results: a zero gradient (grad() fills in zeros for what stays connected)
        needed = [id(i) in relevant and id(i) not in stopped and (i.type.is_float or (int_wrt and id(i) in wrt_ids))
                  for i in node.inputs]
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


def _as_list(x):
    """(list, how to give the result back): a single variable, a list or a tuple, as Theano does."""
    if isinstance(x, Variable):
        return [x], lambda r: r[0]
    if isinstance(x, tuple):
        return list(x), tuple
    return list(x), list


def grad(cost, wrt, consider_constant=None, disconnected_inputs="raise", add_names=True, known_grads=None,
         return_disconnected="zero", null_gradients="raise"):
    """Gradient of the scalar ``cost`` with respect to ``wrt`` (a variable, list or tuple), as graphs.

    ``known_grads`` ({variable: gradient}) seeds gradients of intermediate
    variables (then ``cost`` may be None); ``consider_constant`` lists
    variables whose ancestors are treated as constants; ``disconnected_inputs`` is 'raise',
    'warn' or 'ignore' for variables the cost does not depend on (those get
    zeros, or None with ``return_disconnected='none'``).  As in Theano, an integer ``wrt``
    gets the gradient it would have as a real number, an integer ``cost`` is allowed (its
    integer operations pass zero gradients), and with ``add_names`` the gradient of a named
    cost with respect to a named variable is named ``(dcost/dx)``.
    """
    if disconnected_inputs not in ("raise", "warn", "ignore"):
        raise ValueError("disconnected_inputs must be 'raise', 'warn' or 'ignore'")
    wrt, give_back = _as_list(wrt)
    for w in wrt:
        if not isinstance(w, Variable):
            raise TypeError(f"grad: wrt must hold symbolic variables, got {type(w).__name__}")
    seeds = {}
    if cost is not None:
        cost = as_variable(cost)
        if cost.ndim != 0:
            raise TypeError(f"grad: the cost must be a scalar, got {cost.describe()}; reduce it (e.g. .sum()) "
                            "or use jacobian / Lop for non-scalar outputs")
        seeds[cost] = as_variable(np.ones((), dtype=cost.dtype if cost.type.is_float else config.floatX))
    for var, g in (known_grads or {}).items():
        g = as_variable(g)
        if g.ndim != var.ndim:
            raise TypeError(f"grad: known gradient {g.describe()} for {var.describe()} has the wrong number of dims")
        seeds[var] = g
    if not seeds:
        raise TypeError("grad: give a cost or known_grads")
    results = backprop(seeds, wrt, consider_constant, int_wrt=True)
    connected = _connected(list(seeds), [v for v in consider_constant or () if all(v is not w for w in wrt)])
    out = []
    for w, g in zip(wrt, results):
        if id(w) not in connected:  # (a scan may still hand back zeros for an initial state it never reads)
            g = _missing_gradient(w, False, disconnected_inputs, return_disconnected)
        elif g is None:
            g = _missing_gradient(w, True, disconnected_inputs, return_disconnected)
        elif add_names and cost is not None and cost.name and w.name and g.owner is not None:
            g.name = f"(d{cost.name}/d{w.name})"
        out.append(g)
    return give_back(out)


def _connected(outputs, stop):
    """ids of the variables ``outputs`` depend on through a path that carries gradients (possibly zero ones,
    such as integer steps): not through disconnected_grad, nor through a shape, nor above ``stop``, and
    through an op with a ``connection_pattern`` (scan) only from the inputs its live outputs depend on."""
    from .ops.basic import Shape, ShapeI
    live = {id(v) for v in outputs}
    for node in reversed(toposort(outputs, stop_at=stop)):
        outs = [id(o) in live for o in node.outputs]
        if not any(outs) or isinstance(node.op, (Shape, ShapeI)) or (
                isinstance(node.op, GradTransform) and node.op.mode == "disconnected"):
            continue
        pattern = node.op.connection_pattern(node) if hasattr(node.op, "connection_pattern") else None
        for i, v in enumerate(node.inputs):
            if pattern is None or any(p and o for p, o in zip(pattern[i], outs)):
                live.add(id(v))
    return live


def _missing_gradient(w, connected, disconnected_inputs, return_disconnected):
    """The gradient of a ``wrt`` that got none: zeros when the cost depends on it only through integer or
    piecewise-constant steps; otherwise Theano's disconnected-input handling."""
    from .tensor import cast, zeros_like
    zeros = zeros_like(w) if w.type.is_float else cast(zeros_like(w), config.floatX)
    if connected:
        return zeros
    msg = f"grad: the cost does not depend on {w.describe()} (it is not part of the graph, or cut by disconnected_grad)"
    if disconnected_inputs == "raise":
        raise DisconnectedInputError(msg + "; pass disconnected_inputs='ignore' to get zeros")
    if disconnected_inputs == "warn":
        warnings.warn(msg, stacklevel=3)
    if return_disconnected in ("zero", "Zero"):
        return zeros
    if return_disconnected in ("none", "None", "Disconnected"):
        return None
    raise ValueError(f"grad: return_disconnected must be 'zero', 'None' or 'Disconnected', got {return_disconnected!r}")


def subgraph_grad(wrt, end, start=None, cost=None, details=False):
    """Theano's gradient by pieces: the gradients of ``cost`` (and of the seeds ``start``, {variable:
    gradient}) with respect to ``wrt`` and ``end``, not looking above ``end``.  Returns (wrt grads,
    end grads) -- feed ``dict(zip(end, end_grads))`` as ``start`` of the next piece down the graph
    (with ``details``: also the grads from ``start`` and from ``cost`` separately)."""
    if cost is None and start is None:
        raise ValueError("subgraph_grad: give a cost, or start gradients, or both")
    params = list(wrt) + [v for v in end if all(v is not w for w in wrt)]
    start_grads = cost_grads = None
    if start:
        start_grads = grad(None, params, consider_constant=end, disconnected_inputs="ignore", known_grads=start)
    if cost is not None:
        cost_grads = grad(cost, params, consider_constant=end, disconnected_inputs="ignore")
    both = [a if b is None else (b if a is None else a + b)
            for a, b in zip(start_grads or [None] * len(params), cost_grads or [None] * len(params))]
    by_var = dict(zip(map(id, params), both))
    wrt_grads, end_grads = [by_var[id(v)] for v in wrt], [by_var[id(v)] for v in end]
    return (wrt_grads, end_grads, start_grads, cost_grads) if details else (wrt_grads, end_grads)


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
    in u, so its own VJP with cotangent v is J v.  ``f`` may be a variable, a list or a tuple; the
    result has the same form."""
    from .tensor import zeros_like
    fs, give_back = _as_list(f)
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
    return give_back(jv)


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


def consider_constant(x):
    """x in the forward pass; its gradient is zero (Theano's consider_constant, the same as zero_grad)."""
    return GradTransform("zero")(x)


def grad_scale(x, multiplier):
    """x in the forward pass; the gradient flowing through it is multiplied by ``multiplier``."""
    return GradTransform("scale", float(multiplier))(x)


def disconnected_grad(x):
    """x in the forward pass; gradients do not flow through it at all (stop_gradient)."""
    return GradTransform("disconnected")(x)


def grad_clip(x, lower_bound, upper_bound):
    """x in the forward pass; the gradient flowing through it is clipped to [lower, upper]."""
    return GradTransform("clip", float(lower_bound), float(upper_bound))(x)
