"""minigraph: a small Theano-like symbolic autodiff engine on numpy, built for LSTMs.

    import minigraph as theano
    import minigraph.tensor as T
"""
from . import tensor  # noqa: F401  (minigraph.tensor is also importable as a submodule)
from .compile import ExecutionError, Function, MissingInputError, UnusedInputError, function
from .config import config
from .grad import DisconnectedInputError, Lop, Rop, disconnected_grad, grad, grad_clip, hessian, jacobian, zero_grad
from .graph import (Apply, Constant, NonDifferentiable, Op, SharedVariable, TensorType, Variable, ancestors,
                    clone_replace, graph_inputs, shared, toposort)
from .ops.elemwise import ShapeError
from .printing import debugprint, pp
from . import graphviz, printing, sympy_bridge  # noqa: F401  (both import their libraries lazily)
from .scan import foldl, foldr, map, reduce, scan  # noqa: A004
from . import backends  # noqa: F401  (registers mode JAX; jax itself loads when a function is compiled for it)

clone = clone_replace
gradient = tensor  # Theano code sometimes reaches grad helpers as theano.gradient.*

__all__ = [
    "Apply", "Constant", "graphviz", "sympy_bridge", "DisconnectedInputError", "ExecutionError", "Function", "Lop", "MissingInputError",
    "NonDifferentiable", "Op", "Rop", "ShapeError", "SharedVariable", "TensorType", "UnusedInputError", "Variable",
    "ancestors", "clone", "clone_replace", "config", "debugprint", "disconnected_grad", "foldl", "foldr", "function",
    "grad", "grad_clip", "graph_inputs", "hessian", "jacobian", "map", "pp", "printing", "reduce", "scan", "shared",
    "tensor", "toposort", "zero_grad",
]
