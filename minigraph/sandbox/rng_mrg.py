"""``theano.sandbox.rng_mrg``: the import path Theano code uses for ``MRG_RandomStreams``."""
from ..randomstreams import MRG_RandomStreams

__all__ = ["MRG_RandomStreams"]
