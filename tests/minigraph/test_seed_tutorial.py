"""The seed tutorial's LSTM runs unchanged on minigraph and trains exactly like a numpy BPTT.

``RNN`` below is the tutorial's class, verbatim: only the imports differ (``import minigraph as
theano``, ``import minigraph.tensor as T``); its ``__main__`` block is reproduced by ``_train``
(per-sample SGD, ``u`` reshaped to ``(1, nInputs)``).  The per-sample costs must agree with
``lstm.reference.tutorial_lstm_sgd_costs`` (hand-written numpy BPTT, same ``RandomState(1234)``
initialisation) to 1e-10 relative in float64, and so must the trained parameters.
"""
import warnings

import numpy as np
import pytest

import minigraph as theano
import minigraph.tensor as T
from lstm.data import load_stock, tutorial_pairs
from lstm.reference import tutorial_lstm_sgd_costs


# --------------------------------------------------------------------------- the tutorial's class, verbatim

class RNN(object):

    def __init__(self, nin, n_hidden, nout):
        rng = np.random.RandomState(1234)
        #cell input
        W_ug = np.asarray(rng.normal(size=(nin, n_hidden), scale= .01, loc = 0.0), dtype = theano.config.floatX)
        W_hg = np.asarray(rng.normal(size=(n_hidden, n_hidden), scale=.01, loc = 0.0), dtype = theano.config.floatX)
        b_g = np.zeros((n_hidden,), dtype=theano.config.floatX)
        #input gate equation
        W_ui = np.asarray(rng.normal(size=(nin, n_hidden), scale =.01, loc=0.0), dtype = theano.config.floatX)
        W_hi = np.asarray(rng.normal(size=(n_hidden, n_hidden), scale =.01, loc=0.0), dtype = theano.config.floatX)
        b_i = np.zeros((n_hidden,), dtype=theano.config.floatX)
        #forget gate equations
        W_uf = np.asarray(rng.normal(size=(nin, n_hidden), scale =.01, loc=0.0), dtype = theano.config.floatX)
        W_hf = np.asarray(rng.normal(size=(n_hidden, n_hidden), scale =.01, loc=0.0), dtype = theano.config.floatX)
        b_f = np.zeros((n_hidden,), dtype=theano.config.floatX)
        #cell output gate equations
        W_uo = np.asarray(rng.normal(size=(nin, n_hidden), scale =.01, loc=0.0), dtype = theano.config.floatX)
        W_ho = np.asarray(rng.normal(size=(n_hidden, n_hidden), scale =.01, loc=0.0), dtype = theano.config.floatX)
        b_o = np.zeros((n_hidden,), dtype=theano.config.floatX)
        #output layer
        W_hy = np.asarray(rng.normal(size=(n_hidden, nout), scale =.01, loc=0.0), dtype = theano.config.floatX)
        b_hy = np.zeros((nout,), dtype=theano.config.floatX)

        #cell input
        W_ug = theano.shared(W_ug, 'W_ug')
        W_hg = theano.shared(W_hg, 'W_hg')
        b_g = theano.shared(b_g, 'b_g')
        #input gate equation
        W_ui = theano.shared(W_ui, 'W_ui')
        W_hi = theano.shared(W_hi, 'W_hi')
        b_i = theano.shared(b_i, 'b_i')
        #forget gate equations
        W_uf = theano.shared(W_uf, 'W_uf')
        W_hf = theano.shared(W_hf, 'W_hf')
        b_f = theano.shared(b_f, 'b_f')
        #cell output gate equations
        W_uo = theano.shared(W_uo, 'W_uo')
        W_ho = theano.shared(W_ho, 'W_ho')
        b_o = theano.shared(b_o, 'b_o')
        #output layer
        W_hy = theano.shared(W_hy, 'W_hy')
        b_hy = theano.shared(b_hy, 'b_hy')

        self.activ1 = T.nnet.sigmoid
        self.activ2 = T.tanh
        lr = T.scalar()
        u = T.matrix()
        t = T.scalar()


        h0_tm1 = theano.shared(np.zeros(n_hidden, dtype=theano.config.floatX))
        s0_tm1 = theano.shared(np.zeros(n_hidden, dtype=theano.config.floatX))


        #theano.printing.debugprint([h0_tm1, u, W_hh, W_uh, W_hy, b_hh, b_hy], print_type=True)
        [h, s], _ = theano.scan(self.recurrent_fn, sequences = u,
                           outputs_info = [h0_tm1, s0_tm1],
                           non_sequences = [W_ug, W_hg, b_g, W_ui, W_hi,
                                            b_i, W_uf, W_hf, b_f, W_uo, W_ho, b_o, W_hy, b_hy])

        y = T.dot(h[-1], W_hy) + b_hy
        cost = ((t - y)**2).mean(axis=0).sum()

        gW_ug, gW_hg, gb_g, gW_ui, gW_hi, gb_i, \
        gW_uf, gW_hf, gb_f, gW_uo, gW_ho, gb_o, gW_hy, gb_hy \
            = T.grad(cost, [W_ug, W_hg, b_g, W_ui, W_hi, b_i, \
            W_uf, W_hf, b_f, W_uo, W_ho, b_o, W_hy, b_hy])
        update = [(W_ug, W_ug - lr*gW_ug), (W_hg, W_hg - lr*gW_hg ), (b_g, b_g - lr*gb_g), (W_ui, W_ui - lr*gW_ui),
                  (W_hi, W_hi - lr*gW_hi), (b_i, b_i - lr*gb_i), (W_uf, W_uf - lr*gW_uf), (W_hf, W_hf - lr*gW_hf),
                  (b_f, b_f - lr*gb_f), (W_uo, W_uo - lr*gW_uo), (W_ho, W_ho - lr*gW_ho), (b_o, b_o - lr*gb_o),
                  (W_hy, W_hy - lr*gW_hy), (b_hy, b_hy - lr*gb_hy)]
        #theano.printing.debugprint([h0_tm1], print_type=True)
        self.train_step = theano.function([u, t, lr], cost,
            on_unused_input='warn',
            updates=update,
            allow_input_downcast=True)

    def recurrent_fn(self, u_t, h_tm1, s_tm1, W_ug, W_hg, b_g, W_ui, W_hi,
                                            b_i, W_uf, W_hf, b_f, W_uo, W_ho, b_o, W_hy, b_hy):
        g_t = self.activ2(T.dot(u_t, W_ug) + T.dot(h_tm1, W_hg) + b_g)
        i_t = self.activ1(T.dot(u_t, W_ui) + T.dot(h_tm1, W_hi) + b_i)
        f_t = self.activ1(T.dot(u_t, W_uf) + T.dot(h_tm1, W_hf) + b_f)
        o_t = self.activ1(T.dot(u_t, W_uo) + T.dot(h_tm1, W_ho) + b_o)
        s_t = g_t * i_t + s_tm1*f_t
        h_t = self.activ2(s_t)*o_t
        #h_t = self.activ(T.dot(h_tm1, W_hh) + T.dot(u_t, W_uh) + b_hh)
        return [h_t, s_t]


# --------------------------------------------------------------------------- the tutorial's main loop

PARAM_NAMES = ["W_ug", "W_hg", "b_g", "W_ui", "W_hi", "b_i", "W_uf", "W_hf", "b_f", "W_uo", "W_ho", "b_o",
               "W_hy", "b_hy"]


def _train(rnn, xs, ys, lr=0.01):
    """The tutorial's ``__main__`` loop (one pass), returning the per-sample costs."""
    costs = []
    for u, t in zip(xs, ys):
        costs.append(float(rnn.train_step(u, t, lr)))
    return costs


def _params(rnn):
    """The shared variables updated by ``train_step``, by name."""
    return {s.name: s.get_value() for s, _ in rnn.train_step.updates}


def _stock_samples(symbol, n_samples, n_inputs=5):
    _, prices = load_stock(symbol)
    xlist, ylist = tutorial_pairs(prices[:n_samples + n_inputs], n_inputs)
    return xlist[:n_samples], ylist[:n_samples]


def _check_against_numpy(rnn, xs, ys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the tutorial compiles with on_unused_input='warn': nothing is unused
        costs = _train(rnn, xs, ys)
    ref_costs, ref_params = tutorial_lstm_sgd_costs(xs, ys, n_hidden=20, lr=0.01, dtype=np.float64)
    assert len(costs) == len(ref_costs)
    np.testing.assert_allclose(costs, ref_costs, rtol=1e-10, atol=0)
    params = _params(rnn)
    assert sorted(params) == sorted(PARAM_NAMES)
    for name in PARAM_NAMES:
        np.testing.assert_allclose(params[name], ref_params[name], rtol=1e-10, atol=1e-14, err_msg=name)
    return costs


def test_tutorial_main_loop_on_stock_prices_matches_numpy_bptt():
    """As the tutorial: u = xlist[j] reshaped to (1, nInputs), t = y[j], lr = 0.01; IBM closes."""
    assert theano.config.floatX == "float64"
    xlist, ylist = _stock_samples("IBM", 30)
    n_inputs = len(xlist[0])
    x = np.array(xlist, dtype=theano.config.floatX)
    y = np.array(ylist, dtype=theano.config.floatX)
    rnn = RNN(n_inputs, 20, 1)
    xs = [np.asarray(xlist[j], dtype=theano.config.floatX).reshape((1, n_inputs)) for j in range(len(x))]
    costs = _check_against_numpy(rnn, xs, list(y))
    assert all(np.isfinite(costs)) and costs[0] > 0
    # SGD makes progress on this data: the running error of the tutorial falls
    assert np.mean(costs[-10:]) < np.mean(costs[:10])


def test_tutorial_with_sequences_of_several_steps():
    """u of shape (T, nin): the LSTM recurrence itself is exercised (T = 3 steps of 2 prices)."""
    xlist, ylist = _stock_samples("MSFT", 30, n_inputs=6)
    scale = 1.0 / np.mean(ylist)  # prices near 1: the gates do not saturate, so every path carries gradient
    xs = [np.asarray(u, dtype=np.float64).reshape((3, 2)) * scale for u in xlist]
    ys = [t * scale for t in ylist]
    rnn = RNN(2, 20, 1)
    _check_against_numpy(rnn, xs, ys)


def test_tutorial_accepts_python_scalars_and_downcasts():
    """``allow_input_downcast=True``: float32 data and Python floats are accepted as in Theano."""
    xlist, ylist = _stock_samples("AAPL", 3)
    rnn = RNN(5, 20, 1)
    c = rnn.train_step(np.asarray(xlist[0], dtype=np.float32).reshape((1, 5)), ylist[0], 0.01)
    assert np.ndim(c) == 0 and np.isfinite(c)


@pytest.mark.parametrize("n_steps", [1, 4])
def test_tutorial_gradient_matches_numpy_reference(n_steps):
    """One train step from the initial parameters: the update equals lr times the numpy gradient."""
    from lstm.reference import tutorial_init_params, tutorial_lstm_cost_and_grads
    r = np.random.default_rng(7)
    u = r.standard_normal((n_steps, 3))
    rnn = RNN(3, 20, 1)
    before = _params(rnn)
    cost = rnn.train_step(u, 0.7, 0.5)
    ref_cost, grads = tutorial_lstm_cost_and_grads(tutorial_init_params(3, 20, 1), u, 0.7)
    np.testing.assert_allclose(cost, ref_cost, rtol=1e-12)
    after = _params(rnn)
    for name in PARAM_NAMES:
        np.testing.assert_allclose((before[name] - after[name]) / 0.5, grads[name], rtol=1e-9, atol=1e-15,
                                   err_msg=name)
