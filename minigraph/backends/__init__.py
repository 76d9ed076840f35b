"""Backends: lowerings of the compiled schedule to other executors, registered as modes.

The numpy executor (``minigraph.compile``) is the default and the reference.  A backend takes the
same scheduled program -- the same graph, rewrites and order -- and lowers it node by node, each op
saying how in one place beside its ``perform`` (``lower_numba``, ``lower_jax``).  Importing this
package registers the backends as modes (``minigraph.mode``) without importing their libraries:
that happens when a function is first compiled for one, so ``import minigraph`` loads only numpy.
"""
import importlib.util

from ..mode import Backend, register_backend


def _lower_numba(program):
    from .numba import lower_program
    return lower_program(program)


def _jax_function(*args, **kwargs):
    """A ``JaxFunction`` (``jax_backend.py``): the compiled schedule as one ``jax.jit`` program."""
    try:
        from .jax_backend import JaxFunction
    except ImportError as exc:
        raise ImportError(f"mode JAX needs jax ({exc}); install it with pip install 'minigraph[jax]' "
                          "(jax's CUDA build for a GPU)") from None
    return JaxFunction(*args, **kwargs)


def register_installed():
    """Register JAX (its driver says how to install jax when it is missing) and NUMBA when numba
    (and scipy, for its BLAS calls) can be imported."""
    register_backend(Backend("JAX", "one jax.jit program per function (XLA: CPU or GPU); shared values stay on "
                                    "the device", function=_jax_function))
    if all(importlib.util.find_spec(m) is not None for m in ("numba", "scipy")):
        register_backend(Backend("NUMBA", "numba: native loops, fused elementwise chains, BLAS (docs/numba.md)",
                                 _lower_numba))


register_installed()
