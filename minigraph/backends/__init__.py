"""Backends: lowerings of the compiled schedule to other executors.

The numpy executor (``minigraph.compile``) is the reference.  A backend takes the same scheduled
program -- the same graph, rewrites and order -- and lowers it node by node, each op saying how in
one place beside its ``perform`` (``minigraph.lowering``).  Importing this package registers the
backends whose library is installed as modes (``minigraph.mode``) without importing the library:
that happens when a function is first compiled for it, so ``import minigraph`` loads only numpy.
"""
import importlib.util

from ..mode import Backend, register_backend


def _lower_numba(program):
    from .numba import lower_program
    return lower_program(program)


def register_installed():
    """Register NUMBA when numba (and scipy, for its BLAS calls) can be imported."""
    if all(importlib.util.find_spec(m) is not None for m in ("numba", "scipy")):
        register_backend(Backend("NUMBA", "numba: native loops, fused elementwise chains, BLAS (docs/numba.md)",
                                 _lower_numba))


register_installed()
