"""minigraph: a small Theano-like symbolic autodiff engine on numpy, built for LSTMs.

    import minigraph as theano
    import minigraph.tensor as T
"""
from . import tensor  # noqa: F401  (minigraph.tensor is also importable as a submodule)
from .compile import ExecutionError, Function, MissingInputError, UnusedInputError, function
from .config import change_flags, config
from .grad import (DisconnectedInputError, Lop, Rop, consider_constant, disconnected_grad, grad, grad_clip, hessian,
                   jacobian, subgraph_grad, zero_grad)
from .graph import (Apply, Constant, NonDifferentiable, Op, SharedVariable, TensorType, Variable, ancestors,
                    clone_replace, graph_inputs, shared, toposort)
from .ops.elemwise import ShapeError
from .printing import debugprint, pp
from . import graphviz, printing, sympy_bridge  # noqa: F401  (both import their libraries lazily)
from . import gradient  # noqa: F401  (theano.gradient, under Theano's names)
from .tensor import dot
from .scan import foldl, foldr, map, reduce, scan  # noqa: A004
from . import scan_module  # noqa: F401,E402  (theano.scan_module.until)
from . import ifelse  # noqa: F401,E402  (theano.ifelse.ifelse: the module, as in Theano)
from . import backends  # noqa: F401, E402  (registers the installed backends as modes; imports none of them)

clone = clone_replace

__all__ = [
    "Apply", "Constant", "consider_constant", "dot", "gradient", "subgraph_grad", "graphviz", "sympy_bridge", "DisconnectedInputError", "ExecutionError", "Function", "Lop", "MissingInputError",
    "NonDifferentiable", "Op", "Rop", "ShapeError", "SharedVariable", "TensorType", "UnusedInputError", "Variable",
    "ancestors", "change_flags", "clone", "clone_replace", "config", "debugprint", "disconnected_grad", "foldl", "foldr", "function",
    "grad", "grad_clip", "graph_inputs", "hessian", "jacobian", "map", "pp", "printing", "reduce", "scan", "shared",
    "tensor", "toposort", "zero_grad",
]
