"""Backends: lowerings of the compiled schedule to other executors.

The numpy executor (``minigraph.compile``) is the reference.  A backend takes the same scheduled
program -- the same graph, rewrites and order -- and lowers it node by node, each op saying how in
one place beside its ``perform``.  Nothing here imports a backend's library until a function is
compiled for it, so ``import minigraph`` loads only numpy.
"""
