"""All ops, one module per family; each op holds its forward, its type rule and its pullback."""
from . import basic, elemwise, linalg, nnet, reduce, shape, subtensor  # noqa: F401
