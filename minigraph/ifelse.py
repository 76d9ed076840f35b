"""``ifelse``: a lazy conditional (Theano's ``theano.ifelse.ifelse``).

``T.switch`` computes both branches and picks elementwise; ``ifelse(cond, a, b)`` evaluates only the
branch that ``cond`` (a scalar) selects.  Each branch's graph, down to its free inputs, becomes the inner
graph of one ``IfElse`` node, compiled on first use, so an expensive or invalid untaken branch costs
nothing.  The gradient is again an ``ifelse`` of the two branches' gradients.
"""
import numpy as np

from .graph import Apply, Constant, Op, TensorType, Variable, as_variable, clone_replace, graph_inputs


class IfElse(Op):
    """outputs = then_outputs if cond else else_outputs, with only the chosen branch computed.

    Inputs: ``cond`` and the free inputs of both branches (``placeholders`` stand for them inside).
    """

    nout = None      # always returns a tuple
    foldable = False
    broadcasts = False

    def __init__(self, placeholders, then_outputs, else_outputs, name="ifelse"):
        self.placeholders = list(placeholders)
        self.then_outputs = list(then_outputs)
        self.else_outputs = list(else_outputs)
        self.name = name
        self._compiled = {}

    def __getstate__(self):  # compiled branches are rebuilt on first use after unpickling
        return {k: v for k, v in self.__dict__.items() if k != "_compiled"}

    def __setstate__(self, state):
        self.__dict__.update(state, _compiled={})

    def make_node(self, cond, *inputs):
        types = [_joined_type(a, b) for a, b in zip(self.then_outputs, self.else_outputs)]
        return Apply(self, [cond, *inputs], types)

    def inner_graph(self):
        return self.then_outputs + self.else_outputs

    def _branch(self, which):
        fn = self._compiled.get(which)
        if fn is None:
            from .compile import function
            outs = self.then_outputs if which else self.else_outputs
            fn = self._compiled[which] = function(self.placeholders, outs, on_unused_input="ignore",
                                                  name=f"{self.name}_{'then' if which else 'else'}")
        return fn

    def perform(self, cond, *inputs):
        which = bool(np.asarray(cond))
        out = self._branch(which)(*inputs)
        want = self.then_outputs if which else self.else_outputs
        out = out if isinstance(out, list) else [out]
        return tuple(np.asarray(v, dtype=w.dtype) for v, w in zip(out, want))

    def lower_jax(self, node):
        """``lax.cond`` over the two branches' lowered programs (a condition known while tracing picks one)."""
        from .backends.jax_backend import concrete, lower_program
        progs = [self._branch(which).program for which in (False, True)]
        if any(p.shared for p in progs):  # a branch reading shared variables: run it on the host
            return None
        import jax.numpy as jnp
        from jax import lax
        dtypes = [o.dtype for o in node.outputs]
        branches = [lambda ins, run=lower_program(p): tuple(jnp.asarray(v, d) for v, d in zip(run(*ins), dtypes))
                    for p in progs]

        def run(cond, *inputs):
            if concrete(cond):
                return branches[bool(np.asarray(cond))](inputs)
            return lax.cond(jnp.asarray(cond) != 0, branches[1], branches[0], inputs)
        return run

    def pullback(self, inputs, outputs, cotangents):
        from .grad import backprop
        from . import tensor as T
        cond, outer = inputs[0], inputs[1:]
        mapping = dict(zip(self.placeholders, outer))
        grads = []
        for branch in (self.then_outputs, self.else_outputs):
            outs = clone_replace(branch, mapping)
            seeds = {o: g for o, g in zip(outs, cotangents) if g is not None}
            grads.append(backprop(seeds, outer) if seeds else [None] * len(outer))
        result = [None]
        for v, g_then, g_else in zip(outer, *grads):
            if (g_then is None and g_else is None) or not TensorType(v.dtype, ()).is_float:
                result.append(None)
                continue
            result.append(ifelse(cond, g_then if g_then is not None else T.zeros_like(v),
                                 g_else if g_else is not None else T.zeros_like(v)))
        return result

    def __str__(self):
        return f"ifelse{{{len(self.then_outputs)}}}"


def _joined_type(a, b):
    if a.dtype != b.dtype or a.ndim != b.ndim:
        raise TypeError(f"ifelse: the branches must have the same dtype and number of dimensions; got "
                        f"{a.describe()} and {b.describe()} (cast one of them)")
    return TensorType(a.dtype, tuple(x if x == y else None for x, y in zip(a.type.shape, b.type.shape)))


def ifelse(condition, then_branch, else_branch, name=None):
    """``then_branch`` if the scalar ``condition`` is true, else ``else_branch``, computing only that one.
    The branches are variables or equally long lists of variables (a list gives a list)."""
    single = not isinstance(then_branch, (list, tuple))
    thens = [as_variable(then_branch)] if single else [as_variable(v) for v in then_branch]
    elses = [as_variable(else_branch)] if single else [as_variable(v) for v in else_branch]
    if len(thens) != len(elses):
        raise ValueError(f"ifelse: {len(thens)} then-outputs but {len(elses)} else-outputs")
    cond = as_variable(condition)
    if cond.ndim != 0:
        raise TypeError(f"ifelse: the condition must be a scalar, got {cond.describe()}")
    elses = [e if e.dtype == t.dtype or not isinstance(e, Constant) else as_variable(e.data, dtype=t.dtype)
             for t, e in zip(thens, elses)]
    free = [v for v in graph_inputs(thens + elses) if not isinstance(v, Constant)]
    placeholders = [v.type(v.name) for v in free]
    mapping = dict(zip(free, placeholders))
    op = IfElse(placeholders, clone_replace(thens, mapping), clone_replace(elses, mapping), name or "ifelse")
    outs = op.make_node(cond, *free).outputs
    return outs[0] if single else list(outs)


__all__ = ["IfElse", "ifelse"]
