"""Backends other than numpy's, registered as modes (see ``minigraph.mode``).

The numpy executor is the default and the reference.  A backend is a lowering of the same compiled
schedule (same graph, same rewrites): each op says how it runs there beside its numpy ``perform``
(``Op.lower_jax``), and the backend's driver walks the scheduled nodes.  A backend's library is
loaded only when a function is compiled for it: ``import minigraph`` loads numpy only.
"""
from ..mode import Backend, register_backend


def _jax_function(*args, **kwargs):
    """A ``JaxFunction`` (``jax_backend.py``): the compiled schedule as one ``jax.jit`` program."""
    try:
        from .jax_backend import JaxFunction
    except ImportError as exc:
        raise ImportError(f"mode JAX needs jax ({exc}); install it with pip install 'minigraph[jax]' "
                          "(jax's CUDA build for a GPU)") from None
    return JaxFunction(*args, **kwargs)


register_backend(Backend("JAX", "one jax.jit program per function (XLA: CPU or GPU); shared values stay on the device",
                         function=_jax_function))
