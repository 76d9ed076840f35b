"""scan as Theano's documentation and test_scan.py describe it: the step receives the outer non-sequences
(T.grad inside a step; the Jacobian/Hessian-by-scan idiom, second order too), sequences of different
lengths run for the shortest, ``until`` while loops (with gradients), bare-int taps, updates given as
pairs, shared initial states, Theano's exception types, and gradients that are disconnected."""
from collections import OrderedDict

import numpy as np
import pytest

import minigraph as theano
import minigraph.tensor as T
from minigraph.grad import DisconnectedInputError
from minigraph.scan_module import until
from minigraph.testing import check_grad

from .helpers import run


def test_jacobian_by_scan_as_in_the_tutorial():
    x = T.dvector("x")
    y = x ** 2
    J, _ = theano.scan(lambda i, y, x: T.grad(y[i], x), sequences=T.arange(y.shape[0]), non_sequences=[y, x])
    np.testing.assert_allclose(run(J, [x], [np.array([4.0, 4.0])]), [[8.0, 0.0], [0.0, 8.0]])


def test_hessian_by_scan_and_its_gradient():
    x = T.dvector("x")
    v = np.array([0.3, -0.2, 0.7])

    def hessian(x):
        gy = T.grad((T.tanh(x) ** 3).sum(), x)
        H, _ = theano.scan(lambda i, gy, x: T.grad(gy[i], x), sequences=T.arange(gy.shape[0]),
                           non_sequences=[gy, x])
        return H

    t = np.tanh(v)
    d2 = 6 * t * (1 - t ** 2) ** 2 - 6 * t ** 3 * (1 - t ** 2)  # d2/dx2 tanh(x)^3
    np.testing.assert_allclose(run(hessian(x), [x], [v]), np.diag(d2), rtol=1e-10)
    check_grad(lambda a: hessian(a).sum(), [v])  # a third derivative, through scans of gradients


def test_step_receives_the_outer_non_sequences():
    seen = []
    x, W = T.dvector("x"), T.dmatrix("W")
    theano.scan(lambda h, W_: seen.append(W_) or T.dot(h, W_), outputs_info=x, non_sequences=W, n_steps=2)
    assert seen[0] is W


def test_sequences_of_different_lengths_run_for_the_shortest():
    """The tutorial's polynomial: a coefficient vector scanned against arange(10000)."""
    coefficients, x = T.dvector("coefficients"), T.dscalar("x")
    components, _ = theano.scan(lambda c, power, free: c * (free ** power), outputs_info=None,
                                sequences=[coefficients, T.arange(10000)], non_sequences=x)
    assert run(components.sum(), [coefficients, x], [np.array([1.0, 0.0, 2.0]), np.float64(3.0)]) == 19.0
    a, b = T.dvector("a"), T.dvector("b")
    for back in (False, True):
        out, _ = theano.scan(lambda p, q: p * q, sequences=[a, b], go_backwards=back)
        got = run(out, [a, b], [np.arange(1.0, 4.0), np.arange(1.0, 6.0)])
        ref = (np.arange(1.0, 4.0)[::-1] * np.arange(1.0, 6.0)[::-1][:3]) if back else np.array([1.0, 4.0, 9.0])
        np.testing.assert_array_equal(got, ref)
    check_grad(lambda p, q: theano.scan(lambda s, t: s * t, sequences=[p, q])[0].sum(),
               [np.arange(1.0, 4.0), np.arange(1.0, 6.0)])


@pytest.mark.numpy_only(("JAX",), "an until loop's length is known only at run time")
def test_until_stops_after_the_condition_holds():
    max_value = T.dscalar("max_value")
    values, _ = theano.scan(lambda p, m: (p * 2, until(p * 2 > m)), outputs_info=T.constant(1.0),
                            non_sequences=max_value, n_steps=1024)
    np.testing.assert_array_equal(run(values, [max_value], [np.float64(45)]), [2, 4, 8, 16, 32, 64])
    bounded, _ = theano.scan(lambda p, m: (p * 2, until(p * 2 > m)), outputs_info=T.constant(1.0),
                             non_sequences=max_value, n_steps=20)
    assert run(bounded, [max_value], [np.float64(1e9)]).shape == (20,)  # never true: n_steps bounds it


@pytest.mark.numpy_only(("JAX",), "an until loop's length is known only at run time")
def test_until_with_sequences_updates_in_any_order_and_gradients():
    xs, h0 = T.dvector("xs"), T.dscalar("h0")
    counter = theano.shared(np.float64(0.0), "counter")

    def step(x, h):
        new = T.tanh(h + x)
        return until(new > 0.9), new, OrderedDict([(counter, counter + 1)])

    hs, upd = theano.scan(step, sequences=xs, outputs_info=h0)
    f = theano.function([xs, h0], hs, updates=upd)
    got = f(np.array([0.5, 0.5, 3.0, 0.1, 0.1]), np.float64(0.0))
    assert len(got) == 3 and got[-1] > 0.9 and counter.get_value() == 3.0
    check_grad(lambda v, h: theano.scan(lambda x, hh: (T.tanh(hh + x), until(T.tanh(hh + x) > 0.9)),
                                         sequences=v, outputs_info=h)[0].sum(),
               [np.array([0.5, 0.5, 3.0, 0.1]), np.array(0.1)])


def test_bare_int_taps_and_updates_as_a_list_of_pairs():
    x = T.dvector("x")
    s = theano.shared(np.float64(0.0), "s")
    out, upd = theano.scan(lambda a, b, prev: ((a - b) + prev, [(s, s + 1)]),
                           sequences=dict(input=x, taps=[-1, 0]), outputs_info=dict(initial=T.constant(0.0), taps=-1))
    f = theano.function([x], out, updates=upd)
    np.testing.assert_allclose(f(np.array([1.0, 3.0, 6.0])), [-2.0, -5.0])
    assert s.get_value() == 2.0
    one_tap, _ = theano.scan(lambda a: a * 2, sequences=dict(input=x, taps=0))
    np.testing.assert_allclose(run(one_tap, [x], [np.array([1.0, 2.0])]), [2.0, 4.0])


def test_shared_initial_state_of_shape_4_1_is_not_broadcastable():
    """Theano's test_borrow_bug_jeremiah: a (4, 1) shared initial state with taps [-4] for a step whose
    output has an unknown length (shared variables are never broadcastable in Theano)."""
    inp = np.arange(10.0).reshape(-1, 1)
    expected = np.zeros((10, 1))
    expected[4:] = inp[:-4]
    seq = T.dmatrix("seq")
    initial = theano.shared(np.zeros((4, 1)))
    results, _ = theano.scan(lambda x, x_tm4: (x, x_tm4), sequences=seq,
                             outputs_info=[OrderedDict([("initial", initial), ("taps", [-4])]), None])
    np.testing.assert_array_equal(run(results[1], [seq], [inp]), expected)


def test_outputs_info_tap_errors_are_value_errors():
    """Theano's test_outputs_taps_check."""
    x, y = T.fvector("x"), T.fvector("y")
    for taps in ([0], [-1, -1]):
        with pytest.raises(ValueError):
            theano.scan(lambda a, b: [a], x, {"initial": y, "taps": taps})


def test_grad_wrt_an_initial_state_no_step_reads_is_disconnected():
    """Theano's test_grad_connectivity_matrix."""
    x0, y0, z0 = T.dvector("x0"), T.dvector("y0"), T.dvector("z0")
    [x, y, z], _ = theano.scan(lambda a, b, c: (a ** 2, b, a + 1), outputs_info=[x0, y0, z0], n_steps=10)
    cost = (x + y + z).sum()
    T.grad(cost, x0)
    T.grad(cost, y0)
    with pytest.raises(DisconnectedInputError):
        T.grad(cost, z0)
    with pytest.raises(DisconnectedInputError):
        T.grad(x.sum(), y0)
    g = T.grad(cost, z0, disconnected_inputs="ignore")
    np.testing.assert_array_equal(g.eval({z0: np.ones(2)}), [0.0, 0.0])


@pytest.mark.numpy_only(("JAX",), "an until loop's length is known only at run time")
def test_until_with_taps_and_truncate_gradient_truncates_over_the_steps_that_ran():
    x, h0 = T.dvector("x"), T.dvector("h0")
    xv, hv = np.array([0.1, 0.2, 0.3, 2.0, 0.1, 0.1]), np.array([0.0, 0.1])

    def step(xm1, x0, hm2, hm1):
        new = T.tanh(hm1 * 0.5 + hm2 * 0.3 + xm1 + x0)
        return new, until(new > 0.95)

    seqs, outs = dict(input=x, taps=[-1, 0]), dict(initial=h0, taps=[-2, -1])
    hs, _ = theano.scan(step, sequences=seqs, outputs_info=outs, truncate_gradient=2)
    got = run([hs] + T.grad(hs[-1], [x, h0]), [x, h0], [xv, hv])
    assert len(got[0]) == 3  # stopped after the third step
    # the same three steps as a plain loop, truncated to its last two steps
    ref, _ = theano.scan(lambda a, b, c, d: T.tanh(d * 0.5 + c * 0.3 + a + b), sequences=seqs, outputs_info=outs,
                         n_steps=3, truncate_gradient=2)
    expected = run([ref] + T.grad(ref[-1], [x, h0]), [x, h0], [xv, hv])
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert np.any(got[1] != 0) and got[1][0] == 0.0  # the first step is beyond the truncation
