"""Tests for lstm.stock: data shaping, baselines, metrics, honest reporting, tutorial mode
(the training loop itself is tested in test_train.py)."""
import os

import numpy as np
import pytest

from lstm import reference, stock
from lstm.data import DataError, tutorial_pairs


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



def test_non_finite_metrics_are_never_ranked_or_called_significant():
    results = {"LSTM": {"rmse_price": float("inf")}, "persistence": {"rmse_price": float("nan")},
               "AR": {"rmse_price": 2.0}}
    errors = {"LSTM": np.full(20, np.inf), "persistence": np.full(20, np.nan), "AR": np.ones(20)}
    s = stock.best_model_sentence(results, model_key="LSTM", errors=errors)
    assert s.startswith("By test RMSE on prices, the best is AR at 2.0000.")
    assert "Not scored (the error is not finite, the data are out of range): LSTM, persistence." in s
    assert "significant" not in s and "lowest error" not in s
    nothing = {"LSTM": {"rmse_price": float("inf")}, "AR": {"rmse_price": float("nan")}}
    assert stock.best_model_sentence(nothing, model_key="LSTM").startswith("No model has a finite")


def test_a_nan_p_value_is_not_a_difference():
    results = {"LSTM": {"rmse_price": 1.0}, "AR": {"rmse_price": 1.1}}
    errors = {"LSTM": np.array([1.0, np.inf, 1.0]), "AR": np.ones(3)}
    s = stock.best_model_sentence(results, model_key="LSTM", errors=errors)
    assert "could not be computed, so no difference is claimed" in s and "significant" not in s


def test_zero_errors_do_not_divide_by_zero():
    results = {"LSTM": {"rmse_price": 0.5}, "persistence": {"rmse_price": 0.0}, "AR": {"rmse_price": 0.0}}
    errors = {"LSTM": np.full(5, 0.5), "persistence": np.zeros(5), "AR": np.zeros(5)}
    s = stock.best_model_sentence(results, model_key="LSTM", errors=errors)
    assert "the best is persistence at 0.0000; then AR 0.0000 (+0.00%), LSTM 0.5000 (+inf%)" in s
    assert "does not beat persistence: its error is inf% higher" in s


def test_report_uses_the_plots_scale(tmp_path):
    series = stock.PriceSeries(None, random_walk(140, seed=2), "walk")
    cfg = stock.ForecastConfig(hidden=3, epochs=2, window=5, out=None, progress="off")
    lines = []
    res = stock.run_forecast(series, cfg, out=lines.append)
    ratio = res.history.best_val / res.no_skill[1]
    assert f"best validation MSE {ratio:.4f} x that of predicting the mean return" in "\n".join(lines)


def test_prices_out_of_range_or_constant_are_caught_before_training():
    for prices, message in ((np.tile([1e300, 1e-300], 60), r"bad\[0\]: the price 1e\+300 is outside"),
                            (np.full(80, 7.0), "every price is 7; a constant series has nothing to forecast")):
        with pytest.raises(DataError, match=message):
            stock.run_forecast(stock.PriceSeries(None, prices, "bad"), stock.ForecastConfig(out=None))


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


def test_save_figure_atomic_keeps_old_file_on_failure(tmp_path):
    from matplotlib.figure import Figure

    target = tmp_path / "plot.png"
    stock.save_figure_atomic(Figure(figsize=(1, 1)), str(target))
    old = target.read_bytes()

    class Broken:
        def savefig(self, fh, format, **kwargs):
            fh.write(b"half")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        stock.save_figure_atomic(Broken(), str(target))
    assert target.read_bytes() == old
    assert os.listdir(tmp_path) == ["plot.png"]  # no temporary file left behind
    user = tmp_path / "mine.png"
    user.write_bytes(b"a user's picture")
    with pytest.raises(DataError, match="refusing to overwrite"):
        stock.save_figure_atomic(Figure(figsize=(1, 1)), str(user))  # every writer checks, not only the CLI
    assert user.read_bytes() == b"a user's picture"


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
