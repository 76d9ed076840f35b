"""``theano.tensor.shared_randomstreams``: the import path Theano code uses for ``RandomStreams``."""
from ..randomstreams import RandomStreams

__all__ = ["RandomStreams"]
