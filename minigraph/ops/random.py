"""Random draws as a pure function of a state: ``(new_state, sample) = draw(state, size, *params)``.

The state is a tiny uint64 vector ``[seed, counter]``.  A draw builds numpy's generator from it
(``default_rng([seed, counter])``: counter-based, so equal states always give equal samples and no
hidden global generator is consulted), and returns the state with the counter advanced.  Keeping the
state in a shared variable whose update is the new state is what makes a compiled function draw fresh
numbers on every call (see ``minigraph.randomstreams``), and replaying a state replays the draws.
"""
import numpy as np

from ..graph import Apply, Op, TensorType, as_variable, op
from .basic import shape_vector
from .elemwise import broadcast_static

STATE_TYPE = TensorType("uint64", (2,))


def new_state(seed):
    """A fresh state for ``seed`` (a non-negative int)."""
    return np.array([int(seed) % 2**64, 0], dtype=np.uint64)


def _generator(state):
    return np.random.default_rng([int(state[0]), int(state[1])])


def _choice_rows(gen, size, p):
    """MRG_RandomStreams.choice: ``size`` distinct column indices from each row distribution of ``p``."""
    p = np.asarray(p, dtype=np.float64)
    return np.stack([gen.choice(p.shape[1], size=int(size[0]) if len(size) else 1, replace=False,
                                p=row / row.sum()) for row in p]) if len(p) else np.zeros((0, 1), np.int64)


def _multinomial_rows(gen, size, n, pvals):
    pvals = np.asarray(pvals, dtype=np.float64)
    return np.stack([gen.multinomial(int(n), row / row.sum()) for row in pvals]) if len(pvals) else \
        np.zeros(pvals.shape, np.int64)


def _normal_truncated(gen, size, avg, std):
    """MRG's truncated normal: values more than two standard deviations out are drawn again."""
    z = np.atleast_1d(gen.standard_normal(size if size is not None else np.broadcast(avg, std).shape))
    bad = np.abs(z) > 2
    while bad.any():
        z[bad] = gen.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2
    shape = size if size is not None else np.broadcast(avg, std).shape
    return avg + std * z.reshape(shape)


_DRAWS = {
    "uniform": lambda gen, size, low, high: gen.uniform(low, high, size),
    "normal": lambda gen, size, avg, std: gen.normal(avg, std, size),
    "normal_truncated": _normal_truncated,
    "binomial": lambda gen, size, n, p: gen.binomial(n, p, size),
    "poisson": lambda gen, size, lam: gen.poisson(lam, size),
    "multinomial": lambda gen, size, n, pvals: gen.multinomial(int(n), np.asarray(pvals, np.float64) / np.sum(pvals),
                                                               size),
    "integers": lambda gen, size, low, high: gen.integers(low, high, size, endpoint=True),
    "choice": lambda gen, size, a, replace: gen.choice(a, size, replace=bool(replace)),
    "choice_p": lambda gen, size, a, replace, p: gen.choice(a, size, replace=bool(replace), p=p),
    "permutation": lambda gen, size, n: np.reshape([gen.permutation(int(n)) for _ in range(int(np.prod(size)))],
                                                   tuple(size) + (int(n),)),
    "choice_rows": lambda gen, size, p: _choice_rows(gen, size, p),
    "multinomial_rows": lambda gen, size, n, pvals: _multinomial_rows(gen, size, n, pvals),
}


@op
class RandomDraw(Op):
    """One draw of ``dist`` (a key of ``_DRAWS``) in ``dtype``.  Inputs: the state, the size (an int64
    vector; ``sized=False`` means the sample takes the broadcast shape of the parameters) and the
    distribution's parameters.  Outputs: the advanced state and the sample (``extra`` trailing axes
    beyond the size, e.g. the permutation's length)."""

    dist: str
    dtype: str
    sized: bool = True
    extra: int = 0
    limit: int = 0  # the most numbers one draw may hold (0: no limit)
    nout = 2
    foldable = False

    def make_node(self, state, size, *params):
        state = as_variable(state)
        if state.type != STATE_TYPE:
            raise TypeError(f"random draw: the state must be a {STATE_TYPE}, got {state.describe()}")
        params = [as_variable(p) for p in params]
        size, static = shape_vector(size, "random size")
        if not self.sized:
            static = broadcast_static(params, f"random {self.dist}") if params else ()
        if static is None:
            raise TypeError(f"random {self.dist}: the size must have a known number of entries")
        static = tuple(static) + (None,) * self.extra
        if self.dist == "choice_rows":  # (rows of p, number drawn per row)
            static = (params[-1].type.shape[0], static[0] if static else None)
        elif self.dist == "multinomial_rows":  # counts shaped like pvals
            static = params[-1].type.shape
        return Apply(self, [state, size] + params, [STATE_TYPE, TensorType(self.dtype, static)])

    def perform(self, state, size, *params):
        shape = tuple(int(s) for s in size) if self.sized else None
        if self.limit and shape is not None and np.prod(shape, dtype=np.float64) > self.limit:
            raise ValueError(f"random {self.dist}: a draw of shape {shape} holds more than the {self.limit} "
                             "numbers this generator allows in one draw")
        gen = _generator(state)
        sample = _DRAWS[self.dist](gen, shape if self.dist != "choice_rows" else tuple(size), *params)
        advanced = np.array(state, dtype=np.uint64)
        advanced[1] += np.uint64(1)
        return advanced, np.asarray(sample).astype(self.dtype, copy=False)

    def lower_jax(self, node):
        return None  # numpy's generator, on the host (jax.pure_callback): the same numbers in every mode

    def pullback(self, inputs, outputs, gz):
        return [None] * len(inputs)  # a sample is not a differentiable function of its parameters

    def __str__(self):
        return f"random_{self.dist}{{{self.dtype}}}"
