"""``theano.gradient`` under its Theano names, so ``from theano.gradient import ...`` ports unchanged.

The differentiation itself lives in ``minigraph.grad`` (the driver) and ``minigraph.testing`` (the
finite-difference checkers); this module only gathers what Theano code imports from ``theano.gradient``.
"""
from .grad import (DisconnectedInputError, Lop, Rop, consider_constant, disconnected_grad, grad, grad_clip,
                   grad_scale, hessian, jacobian, subgraph_grad, zero_grad)
from .graph import NonDifferentiable

NullTypeGradError = NonDifferentiable  # Theano's error for a gradient that is not defined
_FROM_TESTING = ("GradientError", "numeric_grad", "verify_grad")


def __getattr__(name):
    # the checkers are an edge of the package (they compile and run graphs): loaded on first use
    if name in _FROM_TESTING:
        from . import testing
        return getattr(testing, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["DisconnectedInputError", "GradientError", "Lop", "NonDifferentiable", "NullTypeGradError", "Rop",
           "consider_constant", "disconnected_grad", "grad", "grad_clip", "grad_scale", "hessian", "jacobian",
           "numeric_grad", "subgraph_grad", "verify_grad", "zero_grad"]
