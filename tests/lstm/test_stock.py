"""Tests for lstm.stock (data shaping, baselines, metrics, honest reporting, tutorial mode)
and lstm.train (the training loop: progress, early stopping, best restore, resume)."""
import io
import os

import numpy as np
import pytest

import minigraph.tensor as T
from lstm import reference, stock
from lstm.data import DataError, tutorial_pairs
from lstm.layers import SequenceModel, mse
from lstm.optim import StepDecay
from lstm.train import History, ProgressBar, Trainer, format_seconds, minibatch_indices


def random_walk(n=200, seed=0, start=50.0):
    rng = np.random.default_rng(seed)
    return start * np.exp(np.cumsum(rng.normal(0, 0.02, n)))


# ---------------------------------------------------------------------------------------------
# Data shaping
# ---------------------------------------------------------------------------------------------


def test_window_returns_lines_up_prices_and_returns():
    p = random_walk(100)
    dates = np.datetime64("2020-01-01") + np.arange(100)
    w = stock.window_returns(p, 5, dates)
    r = np.diff(np.log(p))
    assert w.X.shape == (len(p) - 1 - 5, 5) and w.y.shape == (len(p) - 6,)
    np.testing.assert_allclose(w.X[0], r[:5])
    np.testing.assert_allclose(w.y, r[5:])
    np.testing.assert_allclose(w.next_price, w.prev_price * np.exp(w.y))
    assert w.prev_price[0] == p[5] and w.next_price[-1] == p[-1]
    assert w.dates[0] == dates[6] and w.dates[-1] == dates[-1]
    tr, va, te = w.parts
    assert tr.start == 0 and tr.stop == va.start and va.stop == te.start and te.stop == len(w.y)


def test_window_returns_rejects_short_series_and_bad_prices():
    with pytest.raises(DataError, match="too short.*40 prices.*window of 20"):
        stock.window_returns(random_walk(40), 20)
    p = random_walk(100)
    p[10] = -1.0
    with pytest.raises(DataError, match="positive"):
        stock.window_returns(p, 5)


def test_series_from_pairs_round_trip_and_refusal():
    p = random_walk(30)
    x, y = tutorial_pairs(p, 5)
    np.testing.assert_allclose(stock.series_from_pairs(np.array(x), np.array(y), "f"), p)
    x = np.array(x)
    x[3, 0] += 1.0
    with pytest.raises(DataError, match=r"not overlapping windows.*xlist\[3\]"):
        stock.series_from_pairs(x, np.array(y), "f")


# ---------------------------------------------------------------------------------------------
# Baselines and metrics
# ---------------------------------------------------------------------------------------------


def test_linear_ar_recovers_known_coefficients():
    rng = np.random.default_rng(1)
    n, a1, a2, c = 20000, 0.5, -0.3, 0.01
    s = np.zeros(n)
    for t in range(2, n):
        s[t] = c + a1 * s[t - 1] + a2 * s[t - 2] + rng.normal(0, 0.1)
    X = np.stack([s[:-2], s[1:-1]], axis=1)  # oldest first: (s[t-2], s[t-1])
    coef, intercept = stock.fit_linear_ar(X, s[2:])
    np.testing.assert_allclose(coef, [a2, a1], atol=0.02)
    assert intercept == pytest.approx(c, abs=0.005)
    np.testing.assert_allclose(stock.predict_linear_ar((coef, intercept), X[:3]), X[:3] @ coef + intercept)


def test_linear_ar_is_exact_on_noise_free_data():
    X = np.random.default_rng(2).normal(size=(50, 3))
    y = X @ np.array([0.2, -1.0, 0.5]) + 0.3
    coef, intercept = stock.fit_linear_ar(X, y)
    np.testing.assert_allclose(coef, [0.2, -1.0, 0.5], atol=1e-10)
    assert intercept == pytest.approx(0.3)


def test_forecast_metrics_by_hand():
    prev = np.array([100.0, 100.0, 50.0])
    actual = np.log(np.array([1.01, 0.98, 1.02]))
    pred = np.log(np.array([1.00, 0.99, 1.01]))
    m = stock.forecast_metrics(pred, actual, prev)
    errors = np.array([100 * (1.00 - 1.01), 100 * (0.99 - 0.98), 50 * (1.01 - 1.02)])
    assert m["rmse_price"] == pytest.approx(np.sqrt(np.mean(errors ** 2)))
    assert m["mae_price"] == pytest.approx(np.mean(np.abs(errors)))
    assert m["rmse_return"] == pytest.approx(np.sqrt(np.mean((pred - actual) ** 2)))
    # pred[0] is exactly 0 (never right), pred[1] down/down right, pred[2] up/up right
    assert m["direction"] == pytest.approx(2 / 3)
    persistence = stock.forecast_metrics(np.zeros(3), actual, prev)
    assert persistence["direction"] is None
    assert persistence["mae_price"] == pytest.approx(np.mean([1.0, 2.0, 1.0]))


def test_diebold_mariano():
    rng = np.random.default_rng(3)
    e = rng.normal(size=500)
    assert stock.diebold_mariano(e, e) == (0.0, 1.0)
    stat, p = stock.diebold_mariano(0.5 * e, e)
    assert stat < 0 and p < 1e-6
    _, p_same = stock.diebold_mariano(e, rng.normal(size=500))
    assert p_same > 0.001


def test_best_model_sentence_never_claims_a_false_win():
    results = {"LSTM": {"rmse_price": 1.3}, "persistence": {"rmse_price": 1.2}, "AR": {"rmse_price": 1.25}}
    s = stock.best_model_sentence(results, model_key="LSTM")
    assert s.startswith("By test RMSE on prices, the best is persistence at 1.2000")
    assert "The LSTM does not beat persistence: its error is 8.33% higher" in s
    results["LSTM"]["rmse_price"] = 1.1
    s = stock.best_model_sentence(results, model_key="LSTM")
    assert "the best is LSTM" in s and "lowest error, 8.33% below persistence" in s
    rng = np.random.default_rng(0)
    errors = {k: rng.normal(size=100) for k in results}
    s = stock.best_model_sentence(results, model_key="LSTM", errors=errors)
    assert "Diebold-Mariano" in s and "p = " in s


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


def test_save_figure_atomic_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "plot.png"
    target.write_bytes(b"old")

    class Broken:
        def savefig(self, fh, format, **kwargs):
            fh.write(b"half")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        stock.save_figure_atomic(Broken(), str(target))
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["plot.png"]  # no temporary file left behind


def test_saved_plot_gets_ordinary_permissions(tmp_path):
    from matplotlib.figure import Figure

    umask = os.umask(0o022)
    try:
        path = stock.save_figure_atomic(Figure(figsize=(1, 1)), str(tmp_path / "p.png"))
    finally:
        os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o644  # not mkstemp's 0600
    os.chmod(path, 0o640)
    stock.save_figure_atomic(Figure(figsize=(1, 1)), path)
    assert os.stat(path).st_mode & 0o777 == 0o640  # an existing file keeps its mode


def test_check_output_path(tmp_path):
    stock.check_output_path(str(tmp_path / "ok.png"))
    with pytest.raises(DataError, match="does not exist"):
        stock.check_output_path(str(tmp_path / "missing" / "x.png"))
    with pytest.raises(DataError, match="is a directory"):
        stock.check_output_path(str(tmp_path))
    with pytest.raises(DataError, match="unknown image format .xyz"):
        stock.check_plot_format("plot.xyz")


# ---------------------------------------------------------------------------------------------
# Tutorial mode
# ---------------------------------------------------------------------------------------------


def test_tutorial_mode_matches_the_numpy_reference(tmp_path):
    p = random_walk(80, seed=4)
    x, y = tutorial_pairs(p, 5)
    lines = []
    res = stock.run_tutorial(x, y, out_path=str(tmp_path / "t.png"), out=lines.append, every=10)
    ref_costs, _ = reference.tutorial_lstm_sgd_costs([np.array(u) for u in x], y)
    np.testing.assert_allclose(res.costs, ref_costs, rtol=1e-6, atol=1e-10)
    assert lines[0] == f"iteration 0: {np.sqrt(res.costs[0])}"
    assert sum(line.startswith("iteration ") for line in lines) == len(x) // 10 + (len(x) % 10 > 0)
    e = 1.0
    for c in res.costs:
        e = 0.1 * np.sqrt(c) + 0.9 * e
    assert res.running[-1] == pytest.approx(e)
    assert (tmp_path / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------------------------
# The training loop
# ---------------------------------------------------------------------------------------------


def _toy(seed=3, clip=1.0):
    model = SequenceModel("lstm", 1, 5, 1, seed=seed)
    X, y = T.tensor3("X"), T.matrix("y")
    trainer = Trainer([X, y], mse(model.build(X), y), model.params, lr=0.02, clip=clip, batch_axes=[1, 0])
    return model, trainer


def _toy_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 90, 1))
    y = 0.3 * X.sum(0) + 0.1 * rng.normal(size=(90, 1))
    return (X[:, :60], y[:60]), (X[:, 60:], y[60:])


def test_minibatches_cover_everything_once():
    batches = minibatch_indices(10, 4, np.random.default_rng(0))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(np.concatenate(batches).tolist()) == list(range(10))
    assert np.concatenate(minibatch_indices(5, 2, None)).tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("stop_after", [2, 3])
def test_resumed_run_equals_uninterrupted_run(tmp_path, stop_after):
    train, val = _toy_data()
    kw = dict(batch_size=16, seed=7, schedule=StepDecay(0.02, 0.5, 2), progress="off")
    model, tr = _toy()
    full_hist = tr.fit(train, val, epochs=5, checkpoint=tmp_path / "a.npz", hparams=model.hparams(), **kw)
    full = tr.get_param_values()
    model, tr = _toy()
    tr.fit(train, val, epochs=stop_after, checkpoint=tmp_path / "b.npz", hparams=model.hparams(), **kw)
    model, tr = _toy()
    resumed_hist = tr.fit(train, val, epochs=5, checkpoint=tmp_path / "b.npz", hparams=model.hparams(),
                          resume=True, **kw)
    for a, b in zip(full, tr.get_param_values()):
        np.testing.assert_array_equal(a, b)
    assert resumed_hist.train_loss == full_hist.train_loss
    assert resumed_hist.val_loss == full_hist.val_loss
    assert resumed_hist.lr == [0.02, 0.02, 0.01, 0.01, 0.005]
    assert resumed_hist.resumed_from == stop_after


def test_resume_refuses_a_different_architecture(tmp_path):
    from lstm.checkpoint import CheckpointError

    train, val = _toy_data()
    model, tr = _toy()
    tr.fit(train, val, epochs=1, checkpoint=tmp_path / "c.npz", hparams=model.hparams(), progress="off")
    before = (tmp_path / "c.npz").read_bytes()
    other = SequenceModel("lstm", 1, 6, 1, seed=3)
    X, y = T.tensor3("X"), T.matrix("y")
    tr2 = Trainer([X, y], mse(other.build(X), y), other.params, batch_axes=[1, 0])
    with pytest.raises(CheckpointError, match="n_hidden"):
        tr2.fit(train, val, epochs=2, checkpoint=tmp_path / "c.npz", hparams=other.hparams(), resume=True,
                progress="off")
    assert (tmp_path / "c.npz").read_bytes() == before
    with pytest.raises(CheckpointError, match="no checkpoint to resume"):
        tr2.fit(train, val, epochs=2, checkpoint=tmp_path / "none.npz", resume=True, progress="off")


def test_early_stopping_restores_the_best_parameters():
    train, val = _toy_data()
    model, tr = _toy()
    snapshots = []
    hist = tr.fit(train, val, epochs=40, batch_size=8, patience=2, progress="off",
                  on_epoch=lambda e, h: snapshots.append(tr.get_param_values()))
    assert hist.stopped_early and hist.epochs_run < 40
    assert hist.epochs_run - hist.best_epoch == 2
    assert hist.best_val == min(hist.val_loss)
    for a, b in zip(tr.get_param_values(), snapshots[hist.best_epoch - 1]):
        np.testing.assert_array_equal(a, b)
    assert tr.evaluate(val) == pytest.approx(hist.best_val)


def test_progress_bar_modes():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty, log = Tty(), io.StringIO()
    assert ProgressBar(3, stream=tty).mode == "bar"
    assert ProgressBar(3, stream=log).mode == "epoch"
    for stream in (tty, log):
        bar = ProgressBar(3, stream=stream, min_interval=0.0)
        bar.begin_epoch(1, 4)
        for i in range(1, 5):
            bar.update(i, 0.5)
        bar.end_epoch(0.5, 0.6, 1e-3, True)
    assert "\repoch 1/3 [" in tty.getvalue() and "4/4 loss 0.5000" in tty.getvalue() and "ETA" in tty.getvalue()
    assert tty.getvalue().endswith("*\n")
    assert log.getvalue().splitlines() == [log.getvalue().splitlines()[0]]
    assert log.getvalue().startswith("epoch 1/3  train 0.5000  val 0.6000  lr 0.001")
    off = io.StringIO()
    bar = ProgressBar(3, stream=off, mode="off")
    bar.begin_epoch(1, 1)
    bar.update(1, 0.1)
    bar.end_epoch(0.1, None, 0.1, False)
    assert off.getvalue() == ""


def test_format_seconds():
    assert format_seconds(4.24) == "4.2s"
    assert format_seconds(75.3) == "1:15"
    assert format_seconds(3725) == "1:02:05"
    assert format_seconds(float("nan")) == "?"


def test_history_state_round_trip():
    h = History([1.0, 0.5], [0.9, 0.7], [0.1, 0.1], 2, 0.7, 2, False)
    assert History.from_state(h.to_state()) == h
    assert History.from_state(History().to_state()).best_val == float("inf")
