"""Answer "what happens when I change X?" on the stock example, by measurement.

    python -m lstm.compare --vary hidden=8,32,128 --seeds 0,1,2 [--symbol AAPL] [--epochs 10] ...

Why a module of its own: one ``lstm stock`` run says little (a different seed moves the test error
as much as most settings do), so this trains the honest forecast (``lstm.stock.run_forecast``) once
per setting and seed and prints ONE markdown table: per setting, the test RMSE on prices (mean and
spread over the seeds), its ratio to persistence's, how many seeds beat persistence, and the
Diebold-Mariano p-value of each seed against persistence.  docs/questions.md is built from it.

``--vary NAME=V1,V2,...`` names one field of :class:`lstm.stock.ForecastConfig` (hidden, lr,
window, peephole, cell, arch, depth, layers, width, ...); ``--set NAME=V`` fixes others.  Values are
read as int, float, true/false or text, in that order.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time

import numpy as np

from .stock import ForecastConfig, diebold_mariano, load_series, run_forecast
from .train import format_seconds

__all__ = ["compare", "main"]


def _value(text):
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def _assignment(text):
    name, sep, values = text.partition("=")
    fields = {f.name for f in dataclasses.fields(ForecastConfig)}
    if not sep or name not in fields:
        raise argparse.ArgumentTypeError(f"expected NAME=V1,V2 with NAME one of {', '.join(sorted(fields))}; "
                                         f"got {text!r}")
    return name, [_value(v) for v in values.split(",") if v]


def _one_run(series, cfg):
    r = run_forecast(series, cfg, out=lambda *_: None)
    w, te = r.windows, r.windows.test
    errors = {k: w.prev_price[te] * (np.exp(p) - np.exp(w.y[te])) for k, p in r.predictions.items()}
    _, p = diebold_mariano(errors[r.model_name], errors["persistence"])
    return r.metrics[r.model_name]["rmse_price"], r.metrics["persistence"]["rmse_price"], p, r.history.epochs_run


def compare(series, name, values, seeds, base: dict, out=print):
    """Train every (value, seed); print and return the markdown table lines."""
    lines = [f"| {name} | test RMSE (mean ± sd over seeds) | / persistence | beats persistence | "
             "DM p-value vs persistence (each seed) | epochs (each seed) |", "|---|---:|---:|---:|---|---|"]
    for v in values:
        runs = [_one_run(series, ForecastConfig(**dict(base, **{name: v, "seed": s}))) for s in seeds]
        rmse = np.array([r[0] for r in runs])
        persistence = runs[0][1]
        lines.append(f"| {v} | {rmse.mean():.4f} ± {rmse.std():.4f} | {rmse.mean() / persistence:.4f} | "
                     f"{int(np.sum(rmse < persistence))}/{len(seeds)} | "
                     f"{', '.join(f'{r[2]:.2f}' for r in runs)} | {', '.join(str(r[3]) for r in runs)} |")
        out(lines[-1])
    out(f"persistence (tomorrow = today) test RMSE: {persistence:.4f}")
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m lstm.compare", description=__doc__.split("\n\n")[0])
    p.add_argument("--vary", type=_assignment, required=True, metavar="NAME=V1,V2,...")
    p.add_argument("--set", type=_assignment, action="append", default=[], metavar="NAME=V")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    p.add_argument("--symbol", default="AAPL", help="built-in stock (default AAPL)")
    args = p.parse_args(argv)
    from .cli import _limit_blas_threads

    _limit_blas_threads()
    t0 = time.perf_counter()
    base = dict(out=None, progress="off", epochs=30)
    base.update({k: v[0] for k, v in args.set})
    name, values = args.vary
    seeds = [int(s) for s in args.seeds.split(",") if s]
    try:
        lines = compare(load_series(symbol=args.symbol), name, values, seeds, base, out=lambda *_: None)
    except (ValueError, RuntimeError, FloatingPointError) as exc:
        print(f"lstm.compare: error: {exc}", file=sys.stderr)
        return 1
    fixed = ", ".join(f"{k}={v}" for k, v in sorted(base.items()) if k not in ("out", "progress"))
    print("\n".join(lines))
    print(f"\n{args.symbol}, honest mode; fixed: {fixed}; seeds {args.seeds}; {len(values) * len(seeds)} runs in "
          f"{format_seconds(time.perf_counter() - t0)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
