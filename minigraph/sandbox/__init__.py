"""``theano.sandbox``: the import paths Theano code uses for ``MRG_RandomStreams`` (``rng_mrg``)."""
