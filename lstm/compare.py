"""Answer "what happens when I change X?" on the stock example, by measurement.

    python -m lstm.compare --vary hidden=8,32,128 --seeds 0,1,2 [--symbol AAPL] [--set epochs=10] ...
                           [--scheduler local|serial|tcp://HOST:PORT] [--workers N]

Why a module of its own: one ``lstm stock`` run says little (a different seed moves the test error
as much as most settings do), so this trains the honest forecast (``lstm.stock.run_forecast``) once
per setting and seed and prints ONE markdown table: per setting, the test RMSE on prices (mean and
spread over the seeds), its ratio to persistence's, how many seeds beat persistence, and the
Diebold-Mariano p-value of each seed against persistence.  docs/questions.md is built from it.

``--vary NAME=V1,V2,...`` names one field of :class:`lstm.stock.ForecastConfig` (hidden, lr,
window, peephole, cell, arch, depth, layers, width, ...); ``--set NAME=V`` fixes others.  Values are
read as int, float, true/false or text, in that order.

The (setting x seed) runs are independent and each is a pure function of its configuration and
seed, so they go through the same Dask machinery as ``lstm sweep`` (:func:`lstm.sweep.run_jobs`):
a LocalCluster by default, an existing cluster by address, or ``--scheduler serial`` in this
process; every scheduler gives the same table.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import time

import numpy as np

from .stock import ForecastConfig, diebold_mariano, load_series, run_forecast
from .sweep import Job, SweepError, check_scheduler, run_jobs
from .train import format_seconds

__all__ = ["compare", "forecast_run", "main"]


def _value(text):
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def _scheduler(text):
    try:
        return check_scheduler(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text):
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def _assignment(text):
    name, sep, values = text.partition("=")
    fields = {f.name for f in dataclasses.fields(ForecastConfig)}
    if not sep or name not in fields:
        raise argparse.ArgumentTypeError(f"expected NAME=V1,V2 with NAME one of {', '.join(sorted(fields))}; "
                                         f"got {text!r}")
    return name, [_value(v) for v in values.split(",") if v]


def forecast_run(series, config: dict) -> tuple:
    """One honest forecast, as a worker runs it: (model's test RMSE on prices, persistence's,
    Diebold-Mariano p-value against persistence, epochs run).  A pure function of its arguments."""
    r = run_forecast(series, ForecastConfig(**config), out=lambda *_: None)
    w, te = r.windows, r.windows.test
    errors = {k: w.prev_price[te] * (np.exp(p) - np.exp(w.y[te])) for k, p in r.predictions.items()}
    _, p = diebold_mariano(errors[r.model_name], errors["persistence"])
    return (float(r.metrics[r.model_name]["rmse_price"]), float(r.metrics["persistence"]["rmse_price"]), float(p),
            int(r.history.epochs_run))


def _jobs(series, name, values, seeds, base) -> list[Job]:
    jobs = []
    for i, v in enumerate(values):
        for s in seeds:
            config = dict(base, **{name: v, "seed": s})
            digest = hashlib.sha1(json.dumps([series.label, config], sort_keys=True, default=str).encode())
            jobs.append(Job(f"lstm-compare-{i}-{digest.hexdigest()[:16]}", f"{name}={v} seed {s}", forecast_run,
                            (series, config)))
    return jobs


def compare(series, name, values, seeds, base: dict, out=print, scheduler="serial", workers=None, stream=None):
    """Train every (value, seed) on ``scheduler`` (see :func:`lstm.sweep.run_jobs`); print and
    return the markdown table lines.  ``stream``: where progress goes, or None."""
    jobs = _jobs(series, name, values, seeds, base)
    runs = {}

    def done(job, value) -> str:
        runs[job.key] = value
        return f"{job.label}: test RMSE {value[0]:.4f}, {value[3]} epochs"

    def show(line: str) -> None:  # one line per finished run, with the progress
        if stream is not None:
            print(line, file=stream, flush=True)

    failed = run_jobs(jobs, done, scheduler, workers, stream=stream, out=show, name="lstm.compare")
    if failed:
        raise SweepError(f"{len(failed)} of {len(jobs)} runs failed: " + "; ".join(j.label for j in failed))
    lines = [f"| {name} | test RMSE (mean ± sd over seeds) | / persistence | beats persistence | "
             "DM p-value vs persistence (each seed) | epochs (each seed) |", "|---|---:|---:|---:|---|---|"]
    for i, v in enumerate(values):
        row = [runs[job.key] for job in jobs[i * len(seeds):(i + 1) * len(seeds)]]
        rmse = np.array([r[0] for r in row])
        persistence = row[0][1]
        lines.append(f"| {v} | {rmse.mean():.4f} ± {rmse.std():.4f} | {rmse.mean() / persistence:.4f} | "
                     f"{int(np.sum(rmse < persistence))}/{len(seeds)} | "
                     f"{', '.join(f'{r[2]:.2f}' for r in row)} | {', '.join(str(r[3]) for r in row)} |")
        out(lines[-1])
    out(f"persistence (tomorrow = today) test RMSE: {persistence:.4f}")
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m lstm.compare", description=__doc__.split("\n\n")[0])
    p.add_argument("--vary", type=_assignment, required=True, metavar="NAME=V1,V2,...")
    p.add_argument("--set", type=_assignment, action="append", default=[], metavar="NAME=V")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    p.add_argument("--symbol", default="AAPL", help="built-in stock (default AAPL)")
    p.add_argument("--scheduler", default="local", type=_scheduler, metavar="local|serial|tcp://HOST:PORT",
                   help="where the runs go: a local Dask cluster (default; serial without dask installed), "
                        "this process one run after another, or an existing Dask scheduler")
    p.add_argument("--workers", type=_positive, help="worker processes of the local cluster (default: one per core)")
    args = p.parse_args(argv)
    if args.workers and args.scheduler != "local":
        p.error(f"--workers sets the size of the local cluster; it does not apply to --scheduler {args.scheduler}")
    from .cli import _limit_blas_threads

    _limit_blas_threads()
    t0 = time.perf_counter()
    base = dict(out=None, progress="off", epochs=30)
    base.update({k: v[0] for k, v in args.set})
    name, values = args.vary
    seeds = [int(s) for s in args.seeds.split(",") if s]
    try:
        lines = compare(load_series(symbol=args.symbol), name, values, seeds, base, out=lambda *_: None,
                        scheduler=args.scheduler, workers=args.workers, stream=sys.stderr)
    except (ValueError, RuntimeError, FloatingPointError) as exc:
        print(f"lstm.compare: error: {exc}", file=sys.stderr)
        return 1
    fixed = ", ".join(f"{k}={v}" for k, v in sorted(base.items()) if k not in ("out", "progress"))
    print("\n".join(lines))
    print(f"\n{args.symbol}, honest mode; fixed: {fixed}; seeds {args.seeds}; {len(values) * len(seeds)} runs in "
          f"{format_seconds(time.perf_counter() - t0)} (--scheduler {args.scheduler})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
