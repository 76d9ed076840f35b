"""Stock-price forecasting with the LSTM package, honestly compared with simple baselines.

Two ways to run it (``lstm stock`` on the command line, see :mod:`lstm.cli`):

* :func:`run_tutorial` -- the seed Theano tutorial, reproduced: each sample is
  a length-1 sequence holding ``n_in`` consecutive prices, the target is the
  next price, per-sample SGD (lr 0.01), 20 hidden units, N(0, 0.01) weights
  from ``RandomState(1234)``, forget bias 0, cost ``((t - y)**2).mean()``; it
  prints ``iteration j: sqrt(cost)`` every 10 samples and tracks the running
  RMSE ``e = 0.1 * sqrt(c) + 0.9 * e``.
* :func:`run_forecast` -- a careful version: windows of past daily log
  returns are the sequences, the target is the next day's log return; the
  data are split in time order (train / validation / test), standardised with
  statistics of the training part only, and the network is trained with Adam
  on minibatches with early stopping on the validation loss.  Test errors are
  reported on prices and on returns next to two baselines fitted or defined
  without looking at the test part: *persistence* (tomorrow's price =
  today's, i.e. a zero return) and a *linear autoregression* on the same
  windows (least squares on the training part).

Daily returns of a large stock are close to unpredictable from their own
past, so expect the baselines to be hard to beat; the report says which
model is best by the printed numbers and never assumes it is the LSTM.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field

import numpy as np

import minigraph as theano
import minigraph.tensor as T

from . import data as _data
from .cells import CELLS
from .data import DataError
from .checkpoint import checkpoint_output, read_checkpoint
from .files import Output, check_outputs, check_plot_format, save_figure_atomic
from .files import check_output_path, write_atomic  # noqa: F401  (re-exported for callers)
from .memory import check_model_fits
from .layers import SequenceModel, mse
from .optim import StepDecay, sgd
from .train import History, ProgressBar, Trainer, format_seconds

__all__ = [
    "PriceSeries", "ReturnWindows", "load_series", "series_from_pairs", "window_returns",
    "fit_linear_ar", "predict_linear_ar", "forecast_metrics", "diebold_mariano", "best_model_sentence",
    "ForecastConfig", "ForecastResult", "run_forecast", "TutorialResult", "run_tutorial",
    "check_output_path", "check_plot_format", "write_atomic", "save_figure_atomic",
]

MIN_EXAMPLES = 30  # windows needed before a train/validation/test split makes any sense


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


@dataclass
class PriceSeries:
    """A daily price series: ``dates`` (datetime64[D], or None when unknown), ``prices``, a label."""

    dates: np.ndarray | None
    prices: np.ndarray
    label: str
    source: str | None = None  # the file read, if any (an output must never overwrite it)


def series_from_pairs(x: np.ndarray, y: np.ndarray, source: str) -> np.ndarray:
    """Rebuild the price series behind tutorial pairs ``(x, y)``.

    The tutorial's ``stockTT.bin`` holds rows ``x[i]`` of consecutive prices
    and ``y[i]`` the price after them.  When the rows are overlapping windows
    of one series (``x[i + 1] == x[i][1:] + [y[i]]``), the series is
    ``x[0]`` followed by every ``y``; otherwise a :class:`DataError` explains
    that the pairs cannot be turned into one series.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) > 1:
        shifted = np.concatenate([x[:-1, 1:], y[:-1, None]], axis=1)
        bad = np.flatnonzero(~np.all(np.isclose(shifted, x[1:], rtol=1e-9, atol=0.0), axis=1))
        if bad.size:
            raise DataError(
                f"{source}: the rows are not overlapping windows of one price series "
                f"(xlist[{bad[0] + 1}] does not continue xlist[{bad[0]}] and ylist[{bad[0]}]); "
                "only --tutorial can use such a file")
    return np.concatenate([x[0], y])


def load_series(symbol: str = "AAPL", csv: str | None = None, date_col: str = "date",
                price_col: str = "close", legacy_pickle: str | None = None,
                adjusted: bool = True) -> PriceSeries:
    """Load prices from the shipped data (``symbol``), a CSV file or the tutorial's pickle."""
    if csv is not None:
        dates, prices = _data.load_csv(csv, date_col=date_col, price_col=price_col)
        return PriceSeries(dates, prices, f"{os.path.basename(csv)} ({price_col})", os.fspath(csv))
    if legacy_pickle is not None:
        x, y = _data.load_legacy_pickle(legacy_pickle)
        return PriceSeries(None, series_from_pairs(x, y, legacy_pickle), os.path.basename(legacy_pickle),
                           os.fspath(legacy_pickle))
    dates, prices = _data.load_stock(symbol, adjusted=adjusted)
    return PriceSeries(dates, prices, f"{symbol.upper()} {'adjusted' if adjusted else 'raw'} close")


@dataclass
class ReturnWindows:
    """Windows of daily log returns and everything needed to score forecasts on prices.

    Example ``i`` uses the returns ``X[i] = r[i : i + window]`` to predict
    ``y[i] = r[i + window] = log(next_price[i] / prev_price[i])``, where
    ``prev_price[i] = p[i + window]`` is the last price known when the
    forecast is made and ``next_price[i] = p[i + window + 1]`` the price it
    forecasts (on ``dates[i]``, when dates are known).  ``parts`` are the
    train / validation / test slices, in time order.
    """

    X: np.ndarray
    y: np.ndarray
    prev_price: np.ndarray
    next_price: np.ndarray
    dates: np.ndarray | None
    parts: tuple
    window: int

    @property
    def train(self):
        return self.parts[0]

    @property
    def val(self):
        return self.parts[1]

    @property
    def test(self):
        return self.parts[2]


def window_returns(prices, window: int, dates=None, fractions=(0.7, 0.15, 0.15)) -> ReturnWindows:
    """Cut ``prices`` into windows of log returns and split them chronologically.

    Raises :class:`DataError` for non-positive or non-finite prices and for a
    series too short to give :data:`MIN_EXAMPLES` windows.
    """
    prices = np.asarray(prices, dtype=np.float64)
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise DataError(f"the window must be a positive integer, got {window!r}")
    needed = window + 1 + MIN_EXAMPLES
    if prices.size < needed:
        raise DataError(
            f"the series is too short: it has {prices.size} prices, but a window of {window} returns "
            f"needs at least {needed} prices ({MIN_EXAMPLES} examples to split into train, validation "
            "and test); use a smaller --window or a longer series")
    returns = _data.log_returns(prices)
    X, y = _data.make_windows(returns, window)
    n = len(y)
    prev_price = prices[window:window + n]
    next_price = prices[window + 1:window + 1 + n]
    target_dates = None if dates is None else np.asarray(dates)[window + 1:window + 1 + n]
    parts = _data.chronological_split(n, fractions)
    return ReturnWindows(X, y, prev_price, next_price, target_dates, parts, window)


# ---------------------------------------------------------------------------------------------
# Baselines and metrics
# ---------------------------------------------------------------------------------------------


def fit_linear_ar(X, y) -> tuple[np.ndarray, float]:
    """Least-squares linear autoregression ``y ~ X @ coef + intercept``; returns (coef, intercept).

    ``X`` (N, p) holds the last ``p`` values (oldest first), ``y`` (N,) the next one.
    """
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    design = np.column_stack([X, np.ones(len(X))])
    solution, *_ = np.linalg.lstsq(design, y, rcond=None)
    return solution[:-1], float(solution[-1])


def predict_linear_ar(model, X) -> np.ndarray:
    coef, intercept = model
    return np.asarray(X, dtype=np.float64) @ coef + intercept


def _rmse(e):
    return float(np.sqrt(np.mean(np.square(e))))


def _mae(e):
    return float(np.mean(np.abs(e)))


def forecast_metrics(pred_returns, actual_returns, prev_price) -> dict:
    """Errors of one-step forecasts, on prices and on log returns, and directional accuracy.

    The predicted price is ``prev_price * exp(pred_return)`` and the actual
    one ``prev_price * exp(actual_return)``.  ``direction`` is the share of
    days with a non-zero actual move whose sign the forecast got right (a
    forecast of exactly zero is never right); it is ``None`` when every
    forecast is zero (persistence), which has no direction to score.
    """
    pred = np.asarray(pred_returns, dtype=np.float64)
    actual = np.asarray(actual_returns, dtype=np.float64)
    prev = np.asarray(prev_price, dtype=np.float64)
    pred_price = prev * np.exp(pred)
    actual_price = prev * np.exp(actual)
    moved = actual != 0
    direction = None
    if np.any(pred != 0) and np.any(moved):
        direction = float(np.mean(np.sign(pred[moved]) == np.sign(actual[moved])))
    return {"rmse_price": _rmse(pred_price - actual_price), "mae_price": _mae(pred_price - actual_price),
            "rmse_return": _rmse(pred - actual), "mae_return": _mae(pred - actual),
            "direction": direction}


def diebold_mariano(errors_a, errors_b) -> tuple[float, float]:
    """Diebold-Mariano test of equal accuracy for one-step forecasts, on squared errors.

    ``d_t = errors_a[t]**2 - errors_b[t]**2``; returns ``(statistic, p_value)`` with
    statistic ``mean(d) / sqrt(var(d) / n)`` (negative: ``a`` is more accurate) and a two-sided
    p-value from the normal approximation.  For one-step-ahead forecasts no autocorrelation
    correction is needed (Diebold & Mariano 1995, h = 1).  Identical errors give (0, 1).
    """
    with np.errstate(over="ignore", invalid="ignore"):  # non-finite errors give p = nan, handled by callers
        d = np.square(np.asarray(errors_a, dtype=np.float64)) - np.square(np.asarray(errors_b, dtype=np.float64))
        n = d.size
        var = float(np.var(d, ddof=1)) if n > 1 else 0.0
    if not math.isfinite(var):
        return float("nan"), float("nan")
    if var <= 0.0:
        return 0.0, 1.0
    stat = float(np.mean(d) / math.sqrt(var / n))
    return stat, float(math.erfc(abs(stat) / math.sqrt(2.0)))


def _gap(a: float, b: float) -> str:
    """How much larger ``a`` is than ``b``, in percent (``b`` may be zero)."""
    if b == 0:
        return "+0.00%" if a == 0 else "+inf%"
    return f"{(a / b - 1) * 100:+.2f}%"


def _comparison(results, metric, model_key, rival, errors) -> str:
    """Where ``model_key`` stands against ``rival``, with a Diebold-Mariano test when ``errors`` are given."""
    mine, theirs = results[model_key][metric], results[rival][metric]
    gap = _gap(mine, theirs).lstrip("+-")
    if mine <= theirs:
        text = f" The {model_key} has the lowest error, {gap} below {rival}"
    else:
        text = f" The {model_key} does not beat {rival}: its error is {gap} higher"
    if errors is None:
        return text
    _, p = diebold_mariano(errors[model_key], errors[rival])
    if not math.isfinite(p):
        return text + " (the Diebold-Mariano test could not be computed, so no difference is claimed)"
    verdict = ("not a significant difference" if p >= 0.05
               else "a significant difference" + (" in its favour" if mine < theirs else ""))
    return text + f" (Diebold-Mariano test on squared errors: p = {p:.2f}, {verdict})"


def best_model_sentence(results: dict, metric: str = "rmse_price", model_key: str | None = None,
                        errors: dict | None = None) -> str:
    """Plain sentences naming the model with the lowest ``metric`` and where ``model_key`` stands.

    ``results`` maps display names to metric dicts; ``model_key`` names the learned model.
    With ``errors`` (name -> per-day price errors) the learned model is compared with its
    closest rival by a Diebold-Mariano test, so a tiny margin is not sold as a win.  Models
    whose metric is not finite are never ranked: they are named as unscored.
    """
    what = {"rmse_price": "test RMSE on prices", "mae_price": "test MAE on prices",
            "rmse_return": "test RMSE on returns", "mae_return": "test MAE on returns"}[metric]
    finite = {k: m for k, m in results.items() if math.isfinite(m[metric])}
    unscored = [k for k in results if k not in finite]
    note = (f" Not scored (the error is not finite, the data are out of range): {', '.join(unscored)}."
            if unscored else "")
    if not finite:
        return f"No model has a finite {what}; nothing can be ranked.{note}"
    ranked = sorted(finite.items(), key=lambda kv: kv[1][metric])
    (best, best_m), rest = ranked[0], ranked[1:]
    others = ", ".join(f"{name} {m[metric]:.4f} ({_gap(m[metric], best_m[metric])})" for name, m in rest)
    sentence = f"By {what}, the best is {best} at {best_m[metric]:.4f}" + (f"; then {others}." if rest else ".")
    if model_key is None or model_key not in finite or not rest:
        return sentence + note
    rival = ranked[1][0] if best == model_key else best
    return sentence + _comparison(finite, metric, model_key, rival, errors) + "." + note


# ---------------------------------------------------------------------------------------------
# Writing files safely
# ---------------------------------------------------------------------------------------------


def _new_figure(**kwargs):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    return Figure(**kwargs)  # a bare Figure: no pyplot state, safe in tests and threads


# ---------------------------------------------------------------------------------------------
# The default mode: windows of returns, Adam, early stopping, baselines
# ---------------------------------------------------------------------------------------------


@dataclass
class ForecastConfig:
    cell: str = "lstm"
    hidden: int = 32
    layers: int = 1
    peephole: bool = False
    lr: float = 3e-3
    epochs: int = 30
    batch_size: int = 64
    window: int = 20
    patience: int = 5
    clip: float | None = 1.0
    lr_drop: float | None = None   # StepDecay: lr * lr_drop ** (epoch_index // lr_every)
    lr_every: int = 10
    seed: int = 0
    checkpoint: str | None = None
    resume: bool = False
    out: str | None = "stock.png"
    progress: str = "auto"


@dataclass
class ForecastResult:
    config: ForecastConfig
    series_label: str
    windows: ReturnWindows
    history: History
    predictions: dict            # name -> predicted test returns
    metrics: dict                # name -> forecast_metrics(...)
    model_name: str
    up_share: float
    sentence: str
    train_seconds: float
    no_skill: tuple = (1.0, 1.0)  # MSE of predicting the mean training return, on train / validation
    plot: str | None = None
    lines: list = field(default_factory=list)


def _model_name(cfg: ForecastConfig) -> str:
    kind = CELLS["peephole" if cfg.peephole and cfg.cell == "lstm" else cfg.cell].label
    size = f"{cfg.layers} layers x {cfg.hidden} units" if cfg.layers > 1 else f"{cfg.hidden} units"
    return f"{kind} ({size})"


def _fmt_date(d) -> str:
    return str(np.datetime64(d, "D"))


def _check_before_training(series: PriceSeries, cfg: ForecastConfig) -> None:
    """Everything that can be refused before any work: outputs (see :mod:`lstm.files`), the
    checkpoint to resume, the model's memory and the prices."""
    if cfg.out:
        check_plot_format(cfg.out)
    if cfg.resume and not cfg.checkpoint:
        raise DataError("--resume needs --checkpoint PATH (the checkpoint to continue from)")
    if cfg.resume and not os.path.exists(cfg.checkpoint):
        raise DataError(f"cannot resume: there is no checkpoint at {cfg.checkpoint}")
    if cfg.resume:
        read_checkpoint(cfg.checkpoint)  # a damaged checkpoint: say what is wrong with it, not just "not ours"
    check_outputs([Output(cfg.out, "plot"), checkpoint_output(cfg.checkpoint or "")], [series.source])
    check_model_fits(cfg.hidden, cfg.layers)
    _data.check_prices(series.prices, None if series.dates is None else [str(d) for d in series.dates],
                       series.label)


def run_forecast(series: PriceSeries, cfg: ForecastConfig, out=print) -> ForecastResult:
    """Train the default model on ``series``, score it and the baselines, plot; see the module doc.

    ``out(line)`` receives the report lines (progress goes to stderr).
    """
    _check_before_training(series, cfg)
    w = window_returns(series.prices, cfg.window, series.dates)
    tr, va, te = w.parts
    # statistics from the training part only: its windows and targets cover r[0 : n_train + window]
    scaler = _data.Standardizer(axis=None).fit(np.concatenate([w.X[tr][0], w.y[tr]]))
    Xs = scaler.transform(w.X)[:, :, None].transpose(1, 0, 2)  # (window, N, 1), time-major
    ys = scaler.transform(w.y)[:, None]

    model = SequenceModel(cfg.cell, n_in=1, n_hidden=cfg.hidden, n_out=1, n_layers=cfg.layers,
                          peephole=cfg.peephole, seed=cfg.seed)
    X_sym, y_sym = T.tensor3("X"), T.matrix("y")
    pred_sym = model.build(X_sym)
    trainer = Trainer([X_sym, y_sym], mse(pred_sym, y_sym), model.params, optimizer="adam", lr=cfg.lr,
                      clip=cfg.clip, batch_axes=[1, 0], name="stock")
    predict = theano.function([X_sym], pred_sym, allow_input_downcast=True, name="stock_predict")
    hparams = dict(model.hparams(), window=cfg.window, batch_size=cfg.batch_size, optimizer="adam",
                   clip=cfg.clip, data=series.label, n_examples=int(len(w.y)))
    no_skill = (float(np.mean(ys[tr] ** 2)), float(np.mean(ys[va] ** 2)))
    bar = ProgressBar(cfg.epochs, mode=cfg.progress, scale=tuple(v if v > 0 else 1.0 for v in no_skill))
    t0 = time.perf_counter()
    history = trainer.fit((Xs[:, tr], ys[tr]), (Xs[:, va], ys[va]), epochs=cfg.epochs,
                          batch_size=cfg.batch_size, seed=cfg.seed, patience=cfg.patience,
                          schedule=StepDecay(cfg.lr, cfg.lr_drop, cfg.lr_every) if cfg.lr_drop else None,
                          checkpoint=cfg.checkpoint, hparams=hparams, resume=cfg.resume,
                          progress=bar)
    train_seconds = time.perf_counter() - t0

    name = _model_name(cfg)
    lstm_pred = scaler.inverse_transform(predict(Xs[:, te])[:, 0])
    ar = fit_linear_ar(w.X[tr], w.y[tr])
    predictions = {
        name: lstm_pred,
        "persistence": np.zeros(te.stop - te.start),
        f"linear AR({cfg.window})": predict_linear_ar(ar, w.X[te]),
    }
    metrics = {k: forecast_metrics(p, w.y[te], w.prev_price[te]) for k, p in predictions.items()}
    moved = w.y[te] != 0
    up_share = float(np.mean(w.y[te][moved] > 0)) if np.any(moved) else float("nan")
    errors = {k: w.prev_price[te] * (np.exp(p) - np.exp(w.y[te])) for k, p in predictions.items()}
    sentence = best_model_sentence(metrics, "rmse_price", model_key=name, errors=errors)
    result = ForecastResult(cfg, series.label, w, history, predictions, metrics, name, up_share, sentence,
                            train_seconds, no_skill=no_skill)
    result.lines = report_lines(result)
    for line in result.lines:
        out(line)
    if cfg.out:
        result.plot = plot_forecast(result, cfg.out)
        out(f"plot written to {result.plot}")
    return result


def _ratio(mse: float, no_skill: float) -> float:
    """``mse`` on the plot's scale: relative to the MSE of predicting the mean return."""
    return mse / no_skill if no_skill > 0 else float("nan")


def report_lines(r: ForecastResult) -> list[str]:
    w, h = r.windows, r.history
    tr, va, te = w.parts
    lines = [f"data: {r.series_label}, {len(w.y) + w.window + 1} prices -> {len(w.y)} windows of "
             f"{w.window} daily log returns"]
    if w.dates is not None:
        def span(s):
            return f"{_fmt_date(w.dates[s][0])}..{_fmt_date(w.dates[s][-1])}"
        lines.append(f"split (in time order): train {tr.stop - tr.start} ({span(tr)}), validation "
                     f"{va.stop - va.start} ({span(va)}), test {te.stop - te.start} ({span(te)})")
    else:
        lines.append(f"split (in time order): train {tr.stop - tr.start}, validation {va.stop - va.start}, "
                     f"test {te.stop - te.start}")
    stop = "early stop" if h.stopped_early else "epoch limit"
    lines.append(f"{r.model_name}: {h.epochs_run} epochs ({stop}), best validation MSE "
                 f"{_ratio(h.best_val, r.no_skill[1]):.4f} x that of predicting the mean return (1 = no skill; the "
                 f"plot's scale) at epoch {h.best_epoch}; training took {format_seconds(r.train_seconds)}")
    lines.append("")
    lines.append(f"test results ({te.stop - te.start} one-day-ahead forecasts):")
    width = max(len(k) for k in r.metrics)
    lines.append(f"  {'model':<{width}}  {'RMSE price':>10}  {'MAE price':>9}  {'RMSE return':>11}  "
                 f"{'MAE return':>10}  {'direction':>9}")
    for k, m in r.metrics.items():
        direction = "n/a" if m["direction"] is None else f"{m['direction'] * 100:.1f}%"
        lines.append(f"  {k:<{width}}  {m['rmse_price']:>10.4f}  {m['mae_price']:>9.4f}  "
                     f"{m['rmse_return']:>11.5f}  {m['mae_return']:>10.5f}  {direction:>9}")
    lines.append(f"  persistence: tomorrow's price = today's (a zero return); linear AR({w.window}): "
                 f"least-squares regression of the next return on the last {w.window}, fitted on the "
                 "training part")
    lines.append(f"  direction: share of test days whose up/down move was called right; always "
                 f"guessing 'up' scores {r.up_share * 100:.1f}%")
    lines.append("")
    lines.append(r.sentence)
    return lines


def plot_forecast(r: ForecastResult, path: str) -> str:
    w, h = r.windows, r.history
    te = w.test
    fig = _new_figure(figsize=(11, 8.5), layout="constrained")
    grid = fig.add_gridspec(2, 2, height_ratios=[1, 1.25])
    ax_loss = fig.add_subplot(grid[0, 0])
    ax_zoom = fig.add_subplot(grid[0, 1])
    ax_all = fig.add_subplot(grid[1, :])
    epochs = np.arange(1, len(h.train_loss) + 1)
    # each loss divided by the loss of always predicting the mean training return on that part:
    # 1.0 = no skill, below 1 = better than that constant forecast
    ax_loss.plot(epochs, np.asarray(h.train_loss) / r.no_skill[0], marker="o", ms=3, label="train")
    if h.val_loss:
        ax_loss.plot(epochs, np.asarray(h.val_loss) / r.no_skill[1], marker="o", ms=3, label="validation")
        ax_loss.axvline(h.best_epoch, color="grey", ls=":", lw=1, label=f"best epoch ({h.best_epoch})")
    ax_loss.axhline(1.0, color="k", lw=0.8, alpha=0.5, ls="--", label="no skill (mean return)")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("MSE / MSE of predicting the mean return")
    ax_loss.set_title(f"{r.model_name}: training curves")
    ax_loss.xaxis.get_major_locator().set_params(integer=True)
    ax_loss.legend(fontsize=8)

    x = w.dates[te] if w.dates is not None else np.arange(te.start, te.stop)
    actual = w.next_price[te]
    names = list(r.predictions)
    pred_price = {k: w.prev_price[te] * np.exp(p) for k, p in r.predictions.items()}
    ax_all.plot(x, actual, color="k", lw=1.2, label="actual")
    ax_all.plot(x, pred_price[names[0]], color="tab:red", lw=0.9, alpha=0.85,
                label=f"{names[0]} (RMSE {r.metrics[names[0]]['rmse_price']:.3f})")
    span = f" ({_fmt_date(x[0])} to {_fmt_date(x[-1])})" if w.dates is not None else ""
    ax_all.set_title(f"{r.series_label}: test part{span}, one-day-ahead forecasts")
    ax_all.set_ylabel("price")
    ax_all.legend(fontsize=8, loc="best")

    k = min(40, len(actual))
    colors = {names[0]: "tab:red", names[1]: "tab:blue", names[2]: "tab:green"}
    ax_zoom.plot(x[-k:], actual[-k:], color="k", lw=1.5, marker="o", ms=3, label="actual")
    for name in names:
        ax_zoom.plot(x[-k:], pred_price[name][-k:], lw=1, marker=".", ms=4, color=colors.get(name),
                     label=f"{name} (RMSE {r.metrics[name]['rmse_price']:.3f})")
    ax_zoom.set_title(f"last {k} test days: forecasts vs actual")
    ax_zoom.set_ylabel("price")
    ax_zoom.legend(fontsize=7, loc="best", framealpha=0.85)
    if w.dates is not None:
        import matplotlib.dates as mdates

        for ax in (ax_all, ax_zoom):
            locator = mdates.AutoDateLocator(maxticks=8)
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    return save_figure_atomic(fig, path)


# ---------------------------------------------------------------------------------------------
# The tutorial mode
# ---------------------------------------------------------------------------------------------


@dataclass
class TutorialResult:
    costs: np.ndarray            # per-sample cost, from before each update
    running: np.ndarray          # running RMSE e after each sample
    persistence_running: np.ndarray
    seconds: float
    plot: str | None = None


def tutorial_running_rmse(costs, e0: float = 1.0) -> np.ndarray:
    """The tutorial's running error ``e = 0.1 * sqrt(c) + 0.9 * e`` after each sample (``e`` starts at 1)."""
    out, e = np.empty(len(costs)), e0
    for j, c in enumerate(costs):
        e = 0.1 * math.sqrt(c) + 0.9 * e
        out[j] = e
    return out


def run_tutorial(x, y, hidden: int = 20, lr: float = 0.01, passes: int = 1, cell: str = "lstm",
                 layers: int = 1, peephole: bool = False, seed: int = 1234, out_path: str | None = None,
                 quiet: bool = False, label: str = "", out=print, every: int | None = None,
                 source: str | None = None) -> TutorialResult:
    """The seed tutorial's training loop (see the module doc); returns the per-sample costs.

    With the defaults the network starts from exactly the tutorial's weights
    (``SequenceModel(init="tutorial", seed=1234, forget_bias=0)``) and the
    costs match ``lstm.reference.tutorial_lstm_sgd_costs``.  ``every=10`` prints the seed's
    ``iteration j: sqrt(cost)`` line every 10 samples; by default only the summary is printed.
    ``source`` is the input file, which the plot may not overwrite.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if out_path:
        check_plot_format(out_path)
        check_outputs([Output(out_path, "plot")], [source])
    n_in = x.shape[1]
    check_model_fits(hidden, layers, n_in)
    model = SequenceModel(cell, n_in=n_in, n_hidden=hidden, n_out=1, n_layers=layers, peephole=peephole,
                          forget_bias=0.0, init="tutorial", seed=seed)
    u, t, lr_sym = T.matrix("u"), T.scalar("t"), T.scalar("lr")
    # u (steps, n_in) is one sequence; the tutorial feeds one step: u = x[j].reshape((1, n_in))
    pred = model.build(u.dimshuffle(0, "x", 1))          # (1, 1)
    cost = mse(pred, t.dimshuffle("x", "x"))             # == ((t - y) ** 2).mean(axis=0).sum()
    grads = T.grad(cost, model.params)
    train_step = theano.function([u, t, lr_sym], cost, updates=sgd(model.params, grads, lr_sym).updates,
                                 allow_input_downcast=True, name="tutorial_train_step")
    costs = []
    t0 = time.perf_counter()
    for _ in range(passes):
        for j in range(len(x)):
            c = float(train_step(x[j].reshape(1, n_in), y[j], lr))
            if not math.isfinite(c):
                raise FloatingPointError(f"the cost became {c} at iteration {j}; try a smaller --lr")
            if every and j % every == 0 and not quiet:
                out(f"iteration {j}: {math.sqrt(c)}")
            costs.append(c)
    seconds = time.perf_counter() - t0
    costs = np.array(costs)
    running = tutorial_running_rmse(costs)
    # the same running error for "predict the last input value", over the same pass(es)
    persistence = tutorial_running_rmse(np.tile((y - x[:, -1]) ** 2, passes))
    result = TutorialResult(costs, running, persistence, seconds)
    out(f"tutorial mode: {len(costs)} per-sample SGD steps on {label or 'the data'} "
        f"({n_in} inputs, {hidden} hidden, lr {lr}) in {format_seconds(seconds)}")
    out(f"final running RMSE e = {running[-1]:.4f}; mean |error| (= sqrt(cost)) over the last 10% of samples = "
        f"{np.mean(np.sqrt(costs[-max(1, len(costs) // 10):])):.4f}")
    out(f"for comparison, predicting the last input price (persistence) gives running RMSE "
        f"{persistence[-1]:.4f} and mean |error| over the last 10% = "
        f"{np.mean(np.abs((y - x[:, -1]))[-max(1, len(y) // 10):]):.4f}")
    if out_path:
        result.plot = _plot_tutorial(result, out_path, label)
        out(f"plot written to {result.plot}")
    return result


def _plot_tutorial(result: TutorialResult, path: str, label: str) -> str:
    fig = _new_figure(figsize=(9, 4.5), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(result.running, label="LSTM (tutorial), running RMSE")
    ax.plot(result.persistence_running, label="persistence (last input price), running RMSE", alpha=0.8)
    ax.set_xlabel("iteration (sample)")
    ax.set_ylabel("running RMSE  e = 0.1 sqrt(cost) + 0.9 e")
    ax.set_title(f"seed tutorial reproduced: per-sample SGD on {label or 'the data'}")
    ax.legend()
    return save_figure_atomic(fig, path)
