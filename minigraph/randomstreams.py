"""Symbolic random streams: Theano's ``RandomStreams`` and ``MRG_RandomStreams``.

Each draw (``srng.uniform(...)``) gets its own state, a shared variable seeded from the stream's seed,
and the draw's graph returns the advanced state next to the sample.  The state's ``default_update`` is
that advanced state, so a compiled function advances it on every call without being told (as Theano
does; ``no_default_updates=True`` turns this off), and ``srng.updates()`` lists the pairs for code that
passes them explicitly.  Seeding is reproducible: the same seed and the same sequence of draws built
give the same numbers, on every backend, because a state fully determines its draws.

Both classes share one engine (numpy's counter-based generator); the numbers differ from Theano's
Mersenne-Twister and MRG31k3p streams, the distributions and the API do not.
"""
import numpy as np

from .config import config
from .graph import as_variable, shared
from .ops.random import STATE_TYPE, RandomDraw, new_state


class _Streams:
    """The machinery both stream classes share: states, seeding, updates."""

    def __init__(self, seed=None):
        self.default_instance_seed = seed
        self.gen_seedgen = np.random.RandomState(seed)
        self.state_updates = []

    def updates(self):
        """[(state, advanced state), ...] for every draw built so far."""
        return list(self.state_updates)

    def seed(self, seed=None):
        """Re-seed every stream built so far, deterministically from ``seed`` (default: the original seed)."""
        seedgen = np.random.RandomState(self.default_instance_seed if seed is None else seed)
        for state, _ in self.state_updates:
            state.set_value(new_state(seedgen.randint(2 ** 30)), borrow=True)

    def __getitem__(self, state):
        return state.get_value(borrow=True)

    def __setitem__(self, state, value):
        state.set_value(value, borrow=True)

    limit = 0  # the most numbers one draw may hold (0: no limit)

    def _draw(self, dist, dtype, size, *params, extra=0):
        state = shared(new_state(self.gen_seedgen.randint(2 ** 30)), name=f"rng_{dist}")
        assert state.type == STATE_TYPE
        sized = size is not None
        size = _size(size) if sized else ()
        advanced, sample = RandomDraw(dist, np.dtype(dtype).name, sized, extra, self.limit)(state, size, *params)
        state.default_update = advanced
        sample.rng = state
        sample.update = (state, advanced)
        self.state_updates.append(sample.update)
        return sample


def _size(size):
    """A size as Theano takes it: an int, a tuple/list of ints or int scalars, or an int vector."""
    if isinstance(size, (int, np.integer)):
        return (int(size),)
    v = size if not isinstance(size, np.ndarray) else tuple(int(s) for s in size)
    if hasattr(v, "ndim") and v.ndim == 0:
        return (v,)
    return v


def _float(dtype):
    return config.floatX if dtype in (None, "floatX") else dtype


class RandomStreams(_Streams):
    """``theano.tensor.shared_randomstreams.RandomStreams``: numpy.random-like symbolic draws.

    ``size=None`` (the default) takes the broadcast shape of the parameters."""

    def uniform(self, size=None, low=0.0, high=1.0, ndim=None, dtype=None):
        return self._draw("uniform", _float(dtype), size, as_variable(low), as_variable(high))

    def normal(self, size=None, avg=0.0, std=1.0, ndim=None, dtype=None):
        return self._draw("normal", _float(dtype), size, as_variable(avg), as_variable(std))

    def binomial(self, size=None, n=1, p=0.5, ndim=None, dtype="int64", prob=None):
        return self._draw("binomial", dtype, size, as_variable(n), as_variable(p if prob is None else prob))

    def random_integers(self, size=None, low=0, high=1, ndim=None, dtype="int64"):
        """Integers from ``low`` to ``high`` inclusive."""
        return self._draw("integers", dtype, size, as_variable(low), as_variable(high))

    def choice(self, size=None, a=2, replace=True, p=None, ndim=None, dtype="int64"):
        """Draws from ``range(a)`` (an int) or from the entries of the vector ``a``, optionally with
        probabilities ``p``."""
        size = () if size is None else size
        if p is not None and as_variable(p).ndim == 0:  # Theano reads a scalar p as "no probabilities"
            p = None
        if p is None:
            return self._draw("choice", dtype, size, as_variable(a), as_variable(bool(replace)))
        return self._draw("choice_p", dtype, size, as_variable(a), as_variable(bool(replace)), as_variable(p))

    def permutation(self, size=None, n=1, ndim=None, dtype="int64"):
        """Permutations of ``range(n)``: shape ``size + (n,)`` (one permutation, a vector, by default)."""
        return self._draw("permutation", dtype, () if size is None else size, as_variable(n), extra=1)

    def poisson(self, size=None, lam=1.0, ndim=None, dtype="int64"):
        return self._draw("poisson", dtype, size, as_variable(lam))

    def multinomial(self, size=None, n=1, pvals=(0.5, 0.5), ndim=None, dtype="int64"):
        """Counts of ``n`` draws from the distribution ``pvals``: shape ``size + (len(pvals),)``; a matrix
        ``pvals`` gives one row of counts per row."""
        pvals = as_variable(pvals)
        if pvals.ndim != 1:
            return self._draw("multinomial_rows", dtype, (), as_variable(n), pvals)
        return self._draw("multinomial", dtype, () if size is None else size, as_variable(n), pvals, extra=1)


class MRG_RandomStreams(_Streams):
    """``theano.sandbox.rng_mrg.MRG_RandomStreams``: the same draws under MRG's signatures (``size`` is
    required for uniform and normal; ``choice`` picks column indices of each row of ``p``)."""

    limit = 2 ** 31 - 1  # as Theano's MRG: one draw holds fewer than 2**31 numbers (a ValueError beyond)

    def __init__(self, seed=12345):
        super().__init__(seed)

    def uniform(self, size, low=0.0, high=1.0, ndim=None, dtype=None, nstreams=None):
        return self._draw("uniform", _float(dtype), size, as_variable(low), as_variable(high))

    def normal(self, size, avg=0.0, std=1.0, ndim=None, dtype=None, nstreams=None, truncate=False):
        dist = "normal_truncated" if truncate else "normal"
        return self._draw(dist, _float(dtype), size, as_variable(avg), as_variable(std))

    def truncated_normal(self, size, avg=0.0, std=1.0, ndim=None, dtype=None, nstreams=None):
        return self.normal(size, avg, std, ndim, dtype, nstreams, truncate=True)

    def binomial(self, size=None, n=1, p=0.5, ndim=None, dtype="int64", nstreams=None):
        return self._draw("binomial", dtype, size, as_variable(n), as_variable(p))

    def multinomial(self, size=None, n=1, pvals=None, ndim=None, dtype="int64", nstreams=None):
        """Counts of ``n`` draws from each row of the matrix ``pvals`` (shape of ``pvals``)."""
        if pvals is None:
            raise TypeError("MRG_RandomStreams.multinomial: pvals is required")
        return self._draw("multinomial_rows", dtype, (), as_variable(n), as_variable(pvals))

    def choice(self, size=1, a=None, replace=False, p=None, ndim=None, dtype="int64", nstreams=None):
        """``size`` distinct column indices drawn from each row distribution of the matrix ``p``:
        shape (rows of p, size)."""
        if a is not None or p is None:
            raise TypeError("MRG_RandomStreams.choice: a must be None and p a matrix of row distributions")
        if replace:
            raise NotImplementedError("MRG_RandomStreams.choice draws without replacement (replace=False), "
                                      "as Theano's does")
        return self._draw("choice_rows", dtype, size, as_variable(p))
