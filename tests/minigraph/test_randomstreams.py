"""Symbolic random streams (``RandomStreams``, ``MRG_RandomStreams``), from Theano's documentation and its
test_shared_randomstreams.py / test_rng_mrg.py: draws advance through the state updates, seeding is
reproducible, the distributions are right, and draws work inside graphs (dropout masks)."""
import numpy as np
import pytest

import minigraph as theano
import minigraph.tensor as T
from minigraph.sandbox.rng_mrg import MRG_RandomStreams
from minigraph.tensor.shared_randomstreams import RandomStreams


@pytest.fixture(params=["RandomStreams", "MRG_RandomStreams"])
def streams(request):
    return {"RandomStreams": RandomStreams, "MRG_RandomStreams": MRG_RandomStreams}[request.param]


def test_draws_advance_through_the_updates(streams):
    srng = streams(234)
    u = srng.uniform((2, 3))
    f = theano.function([], u, updates=srng.updates())
    a, b = f(), f()
    assert a.shape == (2, 3) and a.dtype == theano.config.floatX
    assert not np.array_equal(a, b)
    assert np.all((a >= 0) & (a < 1))
    g = theano.function([], u)  # the state's default update advances it without being asked (Theano)
    assert not np.array_equal(g(), g())
    frozen = theano.function([], u, no_default_updates=True)
    np.testing.assert_array_equal(frozen(), frozen())
    frozen_listed = theano.function([], u, no_default_updates=[u.rng])
    np.testing.assert_array_equal(frozen_listed(), frozen_listed())


def test_seeding_is_reproducible(streams):
    def draws(seed):
        srng = streams(seed)
        outs = [srng.uniform((3,)), srng.normal((2, 2)), srng.binomial((4,), p=0.5)]
        f = theano.function([], outs, updates=srng.updates())
        return [f() for _ in range(2)], srng, f

    first, srng, f = draws(7)
    second, _, _ = draws(7)
    other, _, _ = draws(8)
    for a, b in zip(first, second):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    assert not np.array_equal(first[0][0], other[0][0])
    srng.seed(7)  # re-seeding replays the stream from the start
    for x, y in zip(f(), first[0]):
        np.testing.assert_array_equal(x, y)


def test_each_draw_has_its_own_state_and_update_pair():
    srng = RandomStreams(1)
    a, b = srng.uniform((2,)), srng.uniform((2,))
    assert a.rng is not b.rng
    assert srng.updates() == [a.update, b.update]
    assert a.update[0] is a.rng and a.rng.default_update is a.update[1]
    va, vb = theano.function([], [a, b])()
    assert not np.array_equal(va, vb)


def test_distributions_have_the_right_moments():
    srng = RandomStreams(3)
    n = 20000
    u = srng.uniform((n,), low=-2.0, high=4.0)
    z = srng.normal((n,), avg=1.0, std=3.0)
    bi = srng.binomial((n,), n=5, p=0.3)
    ri = srng.random_integers((n,), low=-1, high=2)
    vu, vz, vb, vi = theano.function([], [u, z, bi, ri])()
    assert -2 <= vu.min() and vu.max() < 4 and abs(vu.mean() - 1.0) < 0.05
    assert abs(vz.mean() - 1.0) < 0.1 and abs(vz.std() - 3.0) < 0.1
    assert vb.dtype == np.int64 and abs(vb.mean() - 1.5) < 0.05
    assert set(np.unique(vi)) == {-1, 0, 1, 2}


def test_choice_and_permutation():
    srng = RandomStreams(5)
    c = srng.choice(size=(6,), a=6, replace=False)
    p = srng.permutation(n=7)
    ps = srng.permutation(size=(3,), n=4)
    cp = srng.choice(size=(1000,), a=3, p=[0.0, 0.2, 0.8])
    vc, vp, vps, vcp = theano.function([], [c, p, ps, cp])()
    assert sorted(vc.tolist()) == list(range(6))
    assert sorted(vp.tolist()) == list(range(7))
    assert vps.shape == (3, 4) and all(sorted(r) == [0, 1, 2, 3] for r in vps.tolist())
    assert 0 not in vcp and abs((vcp == 2).mean() - 0.8) < 0.05


def test_size_from_a_symbolic_shape_gives_a_dropout_mask():
    srng = MRG_RandomStreams(12)
    x = T.matrix("x")
    mask = srng.binomial(size=x.shape, p=0.5, dtype=theano.config.floatX)
    f = theano.function([x], x * mask / 0.5, updates=srng.updates())
    out = f(np.ones((50, 40), dtype=theano.config.floatX))
    assert set(np.unique(out)) <= {0.0, 2.0} and abs(out.mean() - 1.0) < 0.1
    assert not np.array_equal(out, f(np.ones((50, 40), dtype=theano.config.floatX)))
    # the mask is not differentiable, but the rest of the graph is
    g = T.grad((x * mask).sum(), x)
    assert g.type.shape == x.type.shape


def test_mrg_choice_and_multinomial_work_on_rows():
    srng = MRG_RandomStreams(4)
    p = T.matrix("p")
    ch = srng.choice(size=2, p=p, replace=False)
    mn = srng.multinomial(pvals=p, n=3)
    pv = np.array([[0.0, 0.5, 0.5], [0.5, 0.0, 0.5]], dtype=theano.config.floatX)
    vch, vmn = theano.function([p], [ch, mn])(pv)
    assert vch.shape == (2, 2) and sorted(vch[0].tolist()) == [1, 2] and sorted(vch[1].tolist()) == [0, 2]
    assert vmn.shape == (2, 3) and vmn.sum(axis=1).tolist() == [3, 3] and vmn[0, 0] == 0 and vmn[1, 1] == 0
    z = srng.normal((5000,), truncate=True)
    assert np.abs(theano.function([], z)()).max() <= 2.0


def test_randomstreams_multinomial_of_a_vector():
    srng = RandomStreams(9)
    m = srng.multinomial(n=10, pvals=[0.25, 0.75])
    v = theano.function([], m, updates=[m.update])()
    assert v.shape == (2,) and v.sum() == 10


def test_randomstreams_signatures_as_theano_calls_them():
    """From Theano's test_shared_randomstreams: positional choice(size, a, replace, p) with a scalar p
    (no probabilities), multinomial(size, n, pvals) with a size, poisson."""
    srng = RandomStreams(11)
    c = srng.choice((11, 8), 10, 1, 0)
    m = srng.multinomial((4, 4), 1, [0.1] * 10)
    p = srng.poisson(lam=5, size=(300,))
    vc, vm, vp = theano.function([], [c, m, p])()
    assert vc.shape == (11, 8) and 0 <= vc.min() and vc.max() < 10
    assert vm.shape == (4, 4, 10) and np.all(vm.sum(axis=-1) == 1)
    assert vp.dtype == np.int64 and abs(vp.mean() - 5) < 0.5


@pytest.mark.numpy_only(("JAX",), "XLA allocates the output before the draw can refuse it")
def test_mrg_draws_beyond_2_to_the_31_numbers_are_refused_when_run():
    """Theano's test_overflow_cpu: the error comes when the function runs, before anything is allocated."""
    srng = MRG_RandomStreams(1234)
    for size in [(2 ** 31,), (2 ** 32,), (2 ** 15, 2 ** 16), (2, 2 ** 15, 2 ** 15)]:
        f = theano.function([], srng.uniform(size=size))
        with pytest.raises(ValueError, match="more than"):
            f()
    n = T.lscalar("n")
    g = theano.function([n], srng.uniform(size=(n, n)))
    assert g(32).shape == (32, 32)
    with pytest.raises(ValueError):
        g(2 ** 16)
