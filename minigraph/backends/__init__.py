"""Backends: where a compiled function runs.

The numpy executor in ``compile.py`` is the default and the reference.  A backend is a lowering of
the same compiled schedule (same graph, same rewrites): each op says how it runs there beside its
numpy ``perform`` (``Op.lower_jax``), and the backend's driver walks the scheduled nodes.  Backends
load their libraries only when a function is compiled for them: ``import minigraph`` loads numpy only.
"""
import os


def function_class(mode):
    """The Function class that runs ``mode`` ("JAX", or numpy's names); ``MINIGRAPH_MODE`` when mode is None."""
    name = str(mode if mode is not None else os.environ.get("MINIGRAPH_MODE", "")).upper()
    if name == "JAX":
        from .jax_backend import JaxFunction
        return JaxFunction
    from ..compile import Function
    return Function
