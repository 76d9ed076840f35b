"""Layers: masks, direction, batch-first, stacking modes, SequenceModel heads and the losses."""
import json

import numpy as np
import pytest

import minigraph as theano
import minigraph.tensor as T
from minigraph.testing import check_grad

from lstm.cells import GRUCell, LSTMCell, RNNCell
from lstm.layers import (Dense, Recurrent, SequenceModel, StackedRNN, binary_cross_entropy, cross_entropy,
                         make_cell, mse)
from lstm.optim import adam, sgd

try:
    from lstm import reference
except ImportError:  # pragma: no cover
    reference = None


def randomize(params, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    for p in params:
        p.set_value(rng.normal(0, scale, p.get_value().shape))


def run_layer(cell, Xv, mask=None, **kw):
    X = T.tensor3("X")
    if mask is None:
        return theano.function([X], Recurrent(cell)(X, **kw))(Xv)
    M = T.matrix("M")
    return theano.function([X, M], Recurrent(cell)(X, mask=M, **kw))(Xv, mask)


CELL_KINDS = {
    "lstm": lambda: LSTMCell(3, 4, dtype="float64"),
    "peephole": lambda: LSTMCell(3, 4, peephole=True, dtype="float64"),
    "gru": lambda: GRUCell(3, 4, dtype="float64"),
    "rnn": lambda: RNNCell(3, 4, dtype="float64"),
}


# --------------------------------------------------------------------------- masks

@pytest.mark.parametrize("kind", sorted(CELL_KINDS))
def test_masked_steps_carry_the_state_over(kind):
    cell = CELL_KINDS[kind]()
    randomize(cell.params, seed=1)
    rng = np.random.default_rng(2)
    Xv = rng.normal(size=(6, 3, 3))
    mask = np.ones((6, 3))
    mask[2, 0] = 0  # a hole in sequence 0
    mask[4:, 1] = 0  # sequence 1 padded at the end
    mask[:, 2] = 0  # sequence 2 empty
    outs = run_layer(cell, Xv, mask)
    for S in outs:
        np.testing.assert_array_equal(S[2, 0], S[1, 0])
        np.testing.assert_array_equal(S[4, 1], S[3, 1])
        np.testing.assert_array_equal(S[5, 1], S[3, 1])
        np.testing.assert_array_equal(S[:, 2], 0.0)  # never leaves the zero initial state
        assert not np.array_equal(S[3, 0], S[2, 0])  # real steps do change it


@pytest.mark.parametrize("kind", sorted(CELL_KINDS))
def test_padded_batch_gives_each_sequences_own_last_state(kind):
    cell = CELL_KINDS[kind]()
    randomize(cell.params, seed=3)
    rng = np.random.default_rng(4)
    lengths = [5, 2, 4]
    T_max = max(lengths)
    Xv = rng.normal(size=(T_max, len(lengths), 3))
    mask = np.zeros((T_max, len(lengths)))
    for j, n in enumerate(lengths):
        mask[:n, j] = 1
        Xv[n:, j] = 100.0  # garbage in the padding must not leak
    batched = run_layer(cell, Xv, mask)
    for j, n in enumerate(lengths):
        alone = run_layer(cell, Xv[:n, j:j + 1])
        for S_b, S_a in zip(batched, alone):
            np.testing.assert_allclose(S_b[-1, j], S_a[-1, 0], rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(S_b[:n, j], S_a[:, 0], rtol=1e-12, atol=1e-14)


def test_mask_gradient_ignores_padding():
    """Loss on the masked last state: padded inputs get exactly zero gradient."""
    cell = LSTMCell(3, 4, dtype="float64")
    randomize(cell.params, seed=5)
    X, M = T.tensor3("X"), T.matrix("M")
    Hs, _ = Recurrent(cell)(X, mask=M)
    gX = theano.function([X, M], theano.grad(Hs[-1].sum(), X))
    mask = np.ones((5, 2))
    mask[3:, 1] = 0
    g = gX(np.random.default_rng(6).normal(size=(5, 2, 3)), mask)
    np.testing.assert_array_equal(g[3:, 1], 0.0)
    assert np.abs(g[:3, 1]).min() > 0 and np.abs(g[:, 0]).min() > 0


# --------------------------------------------------------------------------- direction, batch-first, h0

def test_go_backwards_equals_reversed_input():
    cell = LSTMCell(3, 4, dtype="float64")
    randomize(cell.params, seed=7)
    Xv = np.random.default_rng(8).normal(size=(5, 2, 3))
    back = run_layer(cell, Xv, go_backwards=True)
    fwd_rev = run_layer(cell, Xv[::-1])
    for a, b in zip(back, fwd_rev):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert not np.allclose(back[0][-1], run_layer(cell, Xv)[0][-1])


def test_go_backwards_with_end_padding_reads_only_the_real_steps():
    cell = LSTMCell(3, 4, dtype="float64")
    randomize(cell.params, seed=26)
    Xv = np.random.default_rng(27).normal(size=(5, 2, 3))
    mask = np.ones((5, 2))
    mask[3:, 1] = 0
    back = run_layer(cell, Xv, mask, go_backwards=True)[0]
    np.testing.assert_array_equal(back[:2, 1], 0.0)  # the padding comes first and is skipped
    alone = run_layer(cell, Xv[:3, 1:][::-1])[0]
    np.testing.assert_allclose(back[-1, 1], alone[-1, 0], rtol=1e-12)


def test_truncate_gradient():
    cell = RNNCell(3, 4, dtype="float64")
    randomize(cell.params, seed=28)
    X = T.tensor3("X")
    Hs = Recurrent(cell, truncate_gradient=2)(X)[0]
    g = theano.function([X], theano.grad(Hs[-1].sum(), X))(np.ones((5, 2, 3)))
    np.testing.assert_array_equal(g[:3], 0.0)
    assert np.abs(g[3:]).min() > 0


def test_batch_first_is_the_transpose():
    cell = GRUCell(3, 4, dtype="float64")
    randomize(cell.params, seed=9)
    Xv = np.random.default_rng(10).normal(size=(5, 2, 3))
    mask = np.ones((5, 2))
    mask[3:, 0] = 0
    tm = run_layer(cell, Xv, mask)[0]
    X, M = T.tensor3("X"), T.matrix("M")
    bf = theano.function([X, M], Recurrent(cell, batch_first=True)(X, mask=M)[0])(
        Xv.transpose(1, 0, 2), mask.T)
    np.testing.assert_allclose(bf, tm.transpose(1, 0, 2), rtol=1e-12)


def test_initial_states_are_used():
    cell = LSTMCell(3, 4, dtype="float64")
    randomize(cell.params, seed=11)
    rng = np.random.default_rng(12)
    Xv, h0, c0 = rng.normal(size=(3, 2, 3)), rng.normal(size=(2, 4)), rng.normal(size=(2, 4))
    X, h0s, c0s = T.tensor3("X"), T.matrix("h0"), T.matrix("c0")
    layer = Recurrent(cell)
    Hs, Cs = theano.function([X, h0s, c0s], layer(X, h0=[h0s, c0s]))(Xv, h0, c0)
    h, c = theano.function([h0s, c0s], cell.step(T.constant(Xv[0]), h0s, c0s))(h0, c0)
    np.testing.assert_allclose(Hs[0], h, rtol=1e-12)
    np.testing.assert_allclose(Cs[0], c, rtol=1e-12)
    Hh, Ch = theano.function([X, h0s], layer(X, h0=h0s))(Xv, h0)  # h alone: c starts at zero
    h, c = theano.function([h0s], cell.step(T.constant(Xv[0]), h0s, T.zeros((2, 4))))(h0)
    np.testing.assert_allclose(Hh[0], h, rtol=1e-12)


# --------------------------------------------------------------------------- stacking

@pytest.mark.parametrize("mode", ["stack", "skip", "deep_output"])
@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_stacked_shapes(mode, n_layers):
    n_in, hidden = 3, [4, 5, 6][:n_layers]
    cells, prev = [], n_in
    for k, h in enumerate(hidden):
        cells.append(LSTMCell(prev + (n_in if mode == "skip" and k else 0), h, name=f"l{k}", dtype="float64"))
        prev = h
    stacked = StackedRNN(cells, mode=mode)
    want = sum(hidden) if mode == "deep_output" else hidden[-1]
    assert stacked.output_size == want
    X = T.tensor3("X")
    out = theano.function([X], stacked(X))(np.ones((7, 2, n_in)))
    assert out.shape == (7, 2, want)
    per_layer = theano.function([X], [s for states in stacked.run(X) for s in states])(np.ones((7, 2, n_in)))
    assert [a.shape for a in per_layer] == [(7, 2, h) for h in hidden for _ in range(2)]
    assert len(stacked.params) == 3 * n_layers


@pytest.mark.parametrize("mode", ["stack", "skip", "deep_output"])
@pytest.mark.parametrize("n_layers", [1, 2, 3])
@pytest.mark.parametrize("head", ["many_to_one", "many_to_many"])
def test_sequence_model_shapes(mode, n_layers, head):
    m = SequenceModel("lstm", n_in=3, n_hidden=4, n_out=2, n_layers=n_layers, mode=mode, head=head,
                      dtype="float64")
    X = T.tensor3("X")
    y = theano.function([X], m.build(X))(np.ones((5, 6, 3)))
    assert y.shape == ((6, 2) if head == "many_to_one" else (5, 6, 2))
    want_in = [3] + [4 + (3 if mode == "skip" else 0)] * (n_layers - 1)
    assert [c.n_in for c in m.cells] == want_in
    assert m.head.n_in == (4 * n_layers if mode == "deep_output" else 4)
    names = [p.name for p in m.params]
    assert len(names) == len(set(names)) == 3 * n_layers + 2


def test_stack_modes_compute_what_they_say():
    rng = np.random.default_rng(13)
    Xv = rng.normal(size=(4, 2, 3))
    X = T.tensor3("X")
    c0, c1 = LSTMCell(3, 4, name="a", dtype="float64"), RNNCell(4 + 3, 5, name="b", dtype="float64")
    randomize(c0.params + c1.params, seed=14)
    H0 = Recurrent(c0)(X)[0]
    skip = StackedRNN([c0, c1], mode="skip")(X)
    manual = Recurrent(c1)(T.concatenate([H0, X], axis=2))[0]
    a, b = theano.function([X], [skip, manual])(Xv)
    np.testing.assert_allclose(a, b, rtol=1e-12)

    c1s = RNNCell(4, 5, name="c", dtype="float64")
    randomize(c1s.params, seed=15)
    deep = StackedRNN([c0, c1s], mode="deep_output")(X)
    stack = StackedRNN([c0, c1s], mode="stack")(X)
    H1 = Recurrent(c1s)(H0)[0]
    d, s, h0v, h1v = theano.function([X], [deep, stack, H0, H1])(Xv)
    np.testing.assert_allclose(s, h1v, rtol=1e-12)
    np.testing.assert_allclose(d, np.concatenate([h0v, h1v], axis=2), rtol=1e-12)


def test_stack_size_mismatch_is_reported():
    with pytest.raises(ValueError, match="layer 1"):
        StackedRNN([LSTMCell(3, 4), LSTMCell(5, 4)], mode="stack")
    with pytest.raises(ValueError, match="skip"):
        StackedRNN([LSTMCell(3, 4), LSTMCell(4, 4)], mode="skip")
    StackedRNN([LSTMCell(3, 4), LSTMCell(7, 4)], mode="skip")
    with pytest.raises(ValueError, match="mode"):
        StackedRNN([LSTMCell(3, 4)], mode="zigzag")
    with pytest.raises(ValueError, match="peephole"):
        make_cell("gru", 3, 4, peephole=True)


def test_make_cell_reads_the_registry():
    """Every registered kind by name; "lstm" with peephole=True is the "peephole" kind."""
    from lstm.cells import CELLS
    for name, kind in CELLS.items():
        cell = make_cell(name, 3, 4, forget_bias=2.0)
        assert isinstance(cell, kind.cls) and cell.name == name
    assert make_cell("lstm", 3, 4, peephole=True).peephole
    assert not make_cell("lstm1997", 3, 4).forget_gate
    with pytest.raises(ValueError, match="cell must be one of"):
        make_cell("transformer", 3, 4)


# --------------------------------------------------------------------------- SequenceModel

def test_many_to_one_with_mask_reads_each_sequences_last_real_step():
    m = SequenceModel("gru", n_in=2, n_hidden=3, n_out=2, n_layers=2, dtype="float64", seed=3)
    randomize(m.params, seed=16)
    rng = np.random.default_rng(17)
    Xv = rng.normal(size=(5, 2, 2))
    mask = np.ones((5, 2))
    mask[2:, 1] = 0
    X, M = T.tensor3("X"), T.matrix("M")
    f = theano.function([X, M], m.build(X, M))
    y = f(Xv, mask)
    g = theano.function([X], m.build(X))
    np.testing.assert_allclose(y[0], g(Xv[:, :1])[0], rtol=1e-12)
    np.testing.assert_allclose(y[1], g(Xv[:2, 1:])[0], rtol=1e-12)


def test_many_to_many_last_step_equals_many_to_one():
    kw = dict(n_in=2, n_hidden=3, n_out=2, n_layers=2, peephole=True, mode="deep_output", dtype="float64", seed=5)
    one, many = SequenceModel(head="many_to_one", **kw), SequenceModel(head="many_to_many", **kw)
    for p, q in zip(one.params, many.params):
        np.testing.assert_array_equal(p.get_value(), q.get_value())  # same seed, same weights
    X = T.tensor3("X")
    Xv = np.random.default_rng(18).normal(size=(4, 3, 2))
    a, b = theano.function([X], [one.build(X), many.build(X)])(Xv)
    np.testing.assert_allclose(a, b[-1], rtol=1e-12)


def test_sequence_model_hparams_and_batch_first():
    m = SequenceModel("lstm", n_in=2, n_hidden=[3, 4], n_out=1, n_layers=2, mode="skip", head="many_to_many",
                      batch_first=True, dtype="float64")
    hp = m.hparams()
    assert json.loads(json.dumps(hp)) == hp
    assert hp["n_hidden"] == [3, 4] and hp["mode"] == "skip" and hp["cell"] == "lstm"
    tm = SequenceModel("lstm", n_in=2, n_hidden=[3, 4], n_out=1, n_layers=2, mode="skip", head="many_to_many",
                       dtype="float64")
    X = T.tensor3("X")
    Xv = np.random.default_rng(19).normal(size=(5, 2, 2))
    a = theano.function([X], m.build(X))(Xv.transpose(1, 0, 2))
    b = theano.function([X], tm.build(X))(Xv)
    np.testing.assert_allclose(a, b.transpose(1, 0, 2), rtol=1e-12)


def test_sequence_model_trains():
    """Adam on a tiny task (sum of the inputs) lowers the loss a lot."""
    m = SequenceModel("lstm", n_in=1, n_hidden=8, n_out=1, dtype="float64", seed=1)
    X, Y = T.tensor3("X"), T.matrix("Y")
    loss = mse(m.build(X), Y)
    opt = adam(m.params, theano.grad(loss, m.params), lr=0.05)
    train = theano.function([X, Y], loss, updates=opt.updates)
    rng = np.random.default_rng(20)
    Xv = rng.uniform(-1, 1, size=(6, 32, 1))
    Yv = Xv.sum(axis=0) / 3
    losses = [float(train(Xv, Yv)) for _ in range(80)]
    assert losses[-1] < 0.1 * losses[0]


@pytest.mark.skipif(reference is None or not hasattr(reference, "tutorial_lstm_sgd_costs"),
                    reason="lstm/reference.py (tutorial_lstm_sgd_costs) is not available yet")
def test_reproduces_the_seed_tutorial_training_run():
    """init='tutorial', seed 1234, forget_bias 0, per-sample SGD: the tutorial's costs, step for step."""
    rng = np.random.default_rng(21)
    xs = [rng.normal(size=(int(n), 3)) for n in rng.integers(1, 5, size=6)]
    ys = rng.normal(size=6)
    ref_costs, _ = reference.tutorial_lstm_sgd_costs(xs, ys, n_hidden=5, lr=0.1)
    m = SequenceModel("lstm", n_in=3, n_hidden=5, n_out=1, init="tutorial", seed=1234, forget_bias=0.0,
                      dtype="float64")
    u, t, lr = T.matrix("u"), T.scalar("t"), T.scalar("lr")
    cost = mse(m.build(u.dimshuffle(0, "x", 1)), t.dimshuffle("x", "x"))
    step = theano.function([u, t, lr], cost, updates=sgd(m.params, theano.grad(cost, m.params), lr).updates)
    costs = [float(step(x, y, 0.1)) for x, y in zip(xs, ys)]
    np.testing.assert_allclose(costs, ref_costs, rtol=1e-10)


# --------------------------------------------------------------------------- losses

def test_mse_with_and_without_mask():
    rng = np.random.default_rng(22)
    P, Y = rng.normal(size=(4, 3, 2)), rng.normal(size=(4, 3, 2))
    mask = (rng.uniform(size=(4, 3)) > 0.4).astype(float)
    mask[0, 0] = 1
    p, y, m = T.tensor3("p"), T.tensor3("y"), T.matrix("m")
    plain, masked = theano.function([p, y, m], [mse(p, y), mse(p, y, m)])(P, Y, mask)
    np.testing.assert_allclose(plain, ((P - Y) ** 2).mean(), rtol=1e-12)
    np.testing.assert_allclose(masked, (((P - Y) ** 2) * mask[..., None]).sum() / (mask.sum() * 2), rtol=1e-12)


def log_softmax_np(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def test_cross_entropy_values_stability_and_gradient():
    rng = np.random.default_rng(23)
    Z = rng.normal(size=(4, 3, 5))
    L = rng.integers(0, 5, size=(4, 3))
    mask = np.ones((4, 3))
    mask[2:, 0] = 0
    z, lab, m = T.tensor3("z"), T.lmatrix("lab"), T.matrix("m")
    f = theano.function([z, lab, m], [cross_entropy(z, lab), cross_entropy(z, lab, m)])
    a, b = f(Z, L, mask)
    nll = -np.take_along_axis(log_softmax_np(Z), L[..., None], axis=-1)[..., 0]
    np.testing.assert_allclose(a, nll.mean(), rtol=1e-12)
    np.testing.assert_allclose(b, (nll * mask).sum() / mask.sum(), rtol=1e-12)
    big = np.zeros((1, 1, 5))
    big[0, 0, 0] = 1000.0
    wrong = f(big, np.array([[3]]), np.ones((1, 1)))[0]
    assert np.isfinite(wrong) and abs(wrong - 1000.0) < 1e-6
    check_grad(lambda zz: cross_entropy(zz, T.constant(L), T.constant(mask)), [Z])
    with pytest.raises(TypeError, match="integers"):
        cross_entropy(z, m)


def test_binary_cross_entropy_values_and_stability():
    rng = np.random.default_rng(24)
    Z, Y = rng.normal(size=(5, 2)), (rng.uniform(size=(5, 2)) > 0.5).astype(float)
    z, y = T.matrix("z"), T.matrix("y")
    f = theano.function([z, y], binary_cross_entropy(z, y))
    s = 1 / (1 + np.exp(-Z))
    np.testing.assert_allclose(f(Z, Y), -(Y * np.log(s) + (1 - Y) * np.log(1 - s)).mean(), rtol=1e-12)
    np.testing.assert_allclose(f(np.array([[-800.0]]), np.array([[1.0]])), 800.0, rtol=1e-12)
    check_grad(lambda zz: binary_cross_entropy(zz, T.constant(Y)), [Z])


def test_dense_on_matrices_and_sequences():
    d = Dense(3, 2, rng=0, name="fc", dtype="float64")
    assert [p.name for p in d.params] == ["fc.W", "fc.b"]
    randomize(d.params, seed=25)
    x, s = T.matrix("x"), T.tensor3("s")
    Xv, Sv = np.ones((4, 3)), np.ones((5, 4, 3))
    a, b = theano.function([x, s], [d(x), d(s)])(Xv, Sv)
    W, bb = d.W.get_value(), d.b.get_value()
    np.testing.assert_allclose(a, Xv @ W + bb)
    np.testing.assert_allclose(b, Sv @ W + bb)
