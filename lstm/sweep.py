"""``lstm sweep``: a grid of task runs on Dask (or in this process), resumable through a results file.

Why Dask: reproducing Hochreiter & Schmidhuber's tables takes hundreds of independent training
runs, more than one machine does in a day.  Each run is a pure function of its configuration
(every random stream is seeded from ``config.seed``), so runs can go to any worker in any order
and give the same numbers: serially, on a local cluster, or on a remote one.  Scheduling, retrying
a run whose worker died and the dashboard are Dask's; this module only builds the grid, hands
the runs out, records each finished one (:mod:`lstm.results`) and shows progress.

    --scheduler local        a distributed.LocalCluster: one worker process per core, one BLAS
                             thread each (falls back to serial, saying so, without dask installed)
    --scheduler tcp://H:P    an existing Dask cluster (its workers need this package installed)
    --scheduler serial       one run after another in this process
"""
from __future__ import annotations

import hashlib
import logging
import os
import sys
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from .results import RunRecord, ResultsFile, is_results_file, render_tables, run_key
from .tasks import TaskConfig, TaskResult, _make_batch, run_task
from .train import format_seconds

__all__ = ["GridError", "SweepError", "Job", "build_grid", "run_config", "run_jobs", "run_sweep", "check_scheduler",
           "dask_key"]

# what a LocalCluster's worker processes get: one BLAS thread (the matrices are tiny; more
# threads only fight over the cores the other workers use)
_ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class GridError(ValueError):
    """A bad grid axis; ``option`` names it (``lengths``, ``seeds``, ``cells``)."""

    def __init__(self, option: str, message: str):
        super().__init__(message)
        self.option = option


class SweepError(RuntimeError):
    """The sweep could not run (no scheduler) or some of its runs failed."""


# ---------------------------------------------------------------------------------------------
# The grid and one run
# ---------------------------------------------------------------------------------------------


def build_grid(task: str, lengths, cells, seeds, **settings) -> list[TaskConfig]:
    """Every (length, cell, seed) as a resolved :class:`TaskConfig`, in that order, without repeats."""
    for length in lengths:
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise GridError("lengths", f"every length must be a positive integer, got {length}")
        try:  # the task's own check (a minimum length per task): make one sequence
            _make_batch(task, np.random.default_rng(0), 1, length)
        except ValueError as exc:
            raise GridError("lengths", str(exc)) from None
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise GridError("seeds", f"every seed must be an integer >= 0, got {seed}")
    if not (lengths and cells and seeds):
        raise GridError("lengths" if not lengths else "cells" if not cells else "seeds", "the grid is empty")
    grid: dict[str, TaskConfig] = {}
    for length in lengths:
        for cell in cells:
            for seed in seeds:
                cfg = TaskConfig(task=task, length=length, cell=cell, seed=seed, **settings).resolved()
                grid.setdefault(run_key(cfg), cfg)
    return list(grid.values())


def run_config(config: dict, progress=None) -> str:
    """One run, as a worker executes it: a configuration (a dict) in, a results-file line out.

    A pure function of ``config`` apart from the timings, host and date in the record.  Its CPU
    time is that of this thread (numpy runs here with one BLAS thread), not of the whole worker
    process, whose own threads (heartbeats, transfers) would add to it.
    """
    cpu0 = time.thread_time()
    result = run_task(TaskConfig(**config), progress=progress)
    return RunRecord.new(result, time.thread_time() - cpu0).to_json()


# ---------------------------------------------------------------------------------------------
# Progress
# ---------------------------------------------------------------------------------------------


@dataclass
class _Progress:
    """Runs done / running / left, elapsed and estimated time left: a live line on a terminal
    (``live``), else only the count in front of each finished run's line."""
    total: int
    done: int
    stream: object
    live: bool
    out: object
    start: float = 0.0
    finished_here: int = 0
    running: int = 0
    note: str = ""
    _shown: bool = False

    def __post_init__(self):
        self.start = time.perf_counter()

    def status(self) -> str:
        elapsed = time.perf_counter() - self.start
        left = self.total - self.done - self.running
        eta = "estimating"
        if self.finished_here:
            eta = "about " + format_seconds(elapsed / self.finished_here * (left + self.running)) + " left"
        return (f"{self.done}/{self.total} runs done, {self.running} running, {left} left; "
                f"elapsed {format_seconds(elapsed)}, {eta}")

    def tick(self, running: int | None = None, note: str | None = None) -> None:
        if running is not None:
            self.running = running
        if note is not None:
            self.note = note
        if self.live:
            line = self.status() + (f" | {self.note}" if self.note else "")
            self.stream.write("\r\x1b[2K" + line[:250])
            self.stream.flush()
            self._shown = True

    def finished(self, line: str, ok: bool = True) -> None:
        """A run ended: ``ok``, it is done; else it failed and stays to do (a rerun retries it)."""
        self.done += ok
        self.finished_here += ok
        self.running = max(0, self.running - 1)
        self.note = ""
        self._clear()
        self.out(line if self.live or self.stream is None else f"[{self.status()}] {line}")
        self.tick()

    def _clear(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self._shown = False

    def close(self) -> None:
        self._clear()


# ---------------------------------------------------------------------------------------------
# Schedulers
# ---------------------------------------------------------------------------------------------


def check_scheduler(text: str) -> str:
    """``local``, ``serial`` or a Dask scheduler address (``tcp://HOST:PORT``)."""
    if text in ("local", "serial") or ("://" in text and text.split("://", 1)[1]):
        return text
    raise ValueError(f"expected local, serial or a scheduler address tcp://HOST:PORT, got {text!r}")


def _run_serial(jobs, progress, record, fail, notes: bool) -> None:
    class Note:  # a job's own progress lines (``notes``) become the live line's note
        def write(self, text):
            if text.strip():
                progress.tick(note=text.strip())

        def flush(self):
            pass

    for job in jobs:
        progress.tick(running=1)
        try:
            value = job.fn(*job.args, **({"progress": Note()} if notes and progress.live else {}))
        except (ValueError, ArithmeticError, RuntimeError, MemoryError) as exc:
            fail(job, exc)
        else:
            record(job, value)


def _open_client(stack: ExitStack, scheduler: str, workers: int | None, say, name: str):
    """A connected ``distributed.Client``, or None to run serially (``local`` without dask)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        if scheduler == "local":  # said even with --quiet: the user asked for a cluster
            print(f"{name}: dask.distributed is not installed (pip install 'minigraph[dask]'); "
                  "running the grid serially in this process", file=sys.stderr, flush=True)
            return None
        raise SweepError(f"--scheduler {scheduler} needs dask.distributed: pip install 'minigraph[dask]'") from None
    if scheduler == "local":
        n = workers or os.cpu_count() or 1
        cluster = stack.enter_context(LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, silence_logs=logging.ERROR,
            env=dict(_ONE_THREAD), dashboard_address=":0"))
        client = stack.enter_context(Client(cluster))
        say(f"{name}: a local Dask cluster of {n} worker processes (one thread each)")
    else:
        try:
            client = stack.enter_context(Client(scheduler, timeout="20s"))
        except (OSError, TimeoutError) as exc:
            raise SweepError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        n = len(client.scheduler_info().get("workers", {}))
        say(f"{name}: the Dask cluster at {scheduler} ({n} workers now)")
    if "dashboard" in client.scheduler_info().get("services", {}):
        say(f"{name}: Dask dashboard at {client.dashboard_link}")
    return client


def _run_dask(client, jobs, progress, record, fail) -> None:
    """Submit every job; record each as it finishes.  A job whose worker dies is rescheduled by
    Dask on another worker (``distributed.scheduler.allowed-failures`` times) and finishes once."""
    from distributed import as_completed

    futures = {client.submit(job.fn, *job.args, key=job.key): job for job in jobs}
    keys = {f.key for f in futures}
    pending = as_completed(list(futures))
    last = 0.0
    try:
        while not pending.is_empty():
            batch = pending.next_batch(block=False)
            for future in batch:
                job = futures[future]
                if future.status == "finished":
                    record(job, future.result())
                elif future.status == "error":
                    fail(job, future.exception())
                else:
                    fail(job, SweepError(f"the cluster reported the run as {future.status}"))
                future.release()
            if not batch:  # nothing finished: refresh the running count now and then, and wait
                if time.perf_counter() - last > 2.0:
                    last = time.perf_counter()
                    progress.tick(running=_executing(client, keys))
                time.sleep(0.25)
    finally:
        client.cancel([f for f in futures if not f.done()])


def _executing(client, keys) -> int:
    """How many of ``keys`` run now: those a worker holds, at most one per worker thread (the
    rest wait in the worker's queue)."""
    threads = client.nthreads()
    return sum(min(threads.get(worker, 1), sum(k in keys for k in held))
               for worker, held in client.processing().items())


def dask_key(cfg: TaskConfig) -> str:
    """The run's Dask task key: a digest of its configuration, so a run is never there twice."""
    return "lstm-run-" + hashlib.sha1(run_key(cfg).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# Any grid of pure jobs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One run of a grid: ``fn(*args)``, a pure function of its arguments, so it gives the same
    value on any worker.  ``fn`` is a module-level function (workers unpickle it by name)."""
    key: str          # unique in the grid: the Dask task key
    label: str        # names the run in progress and failure lines
    fn: Callable
    args: tuple


def run_jobs(jobs, on_result, scheduler="local", workers=None, stream=None, out=print, total=None,
             notes=False, name="lstm sweep") -> list[Job]:
    """Run ``jobs`` serially, on a LocalCluster or on the cluster at ``scheduler``; return the failed ones.

    ``on_result(job, value)`` is called here, in this process, as each job finishes (in any
    order); the line it returns is printed through ``out`` with the progress.  ``stream``: where
    progress goes (a live line on a terminal), or None.  ``total``: the size of the whole grid
    when ``jobs`` is what is left of it.  ``notes``: serial jobs take ``progress=`` (a stream for
    their own lines).  ``name`` starts the lines about the cluster.
    """
    total = len(jobs) if total is None else total
    live = bool(stream) and hasattr(stream, "isatty") and stream.isatty()
    progress = _Progress(total=total, done=total - len(jobs), stream=stream, live=live, out=out)
    say = (lambda line: print(line, file=stream, flush=True)) if stream else (lambda line: None)
    failed: list[Job] = []

    def record(job, value) -> None:
        progress.finished(on_result(job, value))

    def fail(job, exc) -> None:
        failed.append(job)
        progress.finished(f"FAILED: {job.label}: {type(exc).__name__}: {exc}", ok=False)

    with ExitStack() as stack:
        stack.callback(progress.close)
        client = None if scheduler == "serial" else _open_client(stack, scheduler, workers, say, name)
        if client is None:
            _run_serial(jobs, progress, record, fail, notes)
        else:
            _run_dask(client, jobs, progress, record, fail)
    return failed


# ---------------------------------------------------------------------------------------------
# The sweep
# ---------------------------------------------------------------------------------------------


def run_sweep(configs, scheduler="local", workers=None, results=None, markdown=None, tables_only=False,
              command=None, progress=None, out=print) -> list[TaskResult]:
    """Run every configuration not yet in ``results``; print (and write to ``markdown``) the tables.

    ``results``: the JSON-lines file (see :mod:`lstm.results`), or None to keep nothing.
    ``progress``: a stream (stderr) for progress, or None.  ``tables_only``: run nothing, only
    render the tables of every run in ``results``.  Returns the results of the grid's runs.
    """
    from .files import MARK, Output, check_output_path, write_atomic

    if tables_only and not (results and os.path.isfile(results)):
        raise SweepError(f"there is no results file {results} to render tables from")
    if results and not tables_only:
        check_output_path(results, "results file", recognise=is_results_file)
    if markdown:
        check_output_path(markdown, "markdown file")
    book = ResultsFile(results) if results else None
    known = book.records if book else {}
    todo = [cfg for cfg in configs if run_key(cfg) not in known]
    mine: dict[str, RunRecord] = {k: known[k] for k in map(run_key, configs) if k in known}
    failures = []
    if not tables_only and todo:
        say = (lambda line: print(line, file=progress, flush=True)) if progress else (lambda line: None)
        if known:
            say(f"lstm sweep: {len(configs) - len(todo)} of {len(configs)} runs already in {results}, "
                f"{len(todo)} to go")
        mine.update(_run_grid(todo, len(configs), scheduler, workers, book, progress, out, failures))
    records = list(book.records.values()) if book else [mine[k] for k in map(run_key, configs) if k in mine]
    lines = ([f"Command: `{command}`", ""] if command and not tables_only else []) + render_tables(records)
    out("")
    for line in lines:
        out(line)
    if markdown:
        mark = f"<!-- written by lstm sweep ({MARK}) -->"  # lets a rerun replace this file
        write_atomic(markdown, lambda fh: fh.write("\n".join(lines + ["", mark]) + "\n"), binary=False,
                     what=Output(markdown, "markdown file"))
        out(f"tables written to {markdown}")
    if failures:
        raise SweepError(f"{len(failures)} of {len(configs)} runs failed (listed above); the others "
                         + (f"are recorded in {results}, rerun the command to retry" if results else "finished"))
    return [mine[k].result for k in map(run_key, configs) if k in mine]


def _run_grid(todo, total, scheduler, workers, book, stream, out, failures) -> dict:
    """Run ``todo`` on the chosen scheduler; record every finished run as it arrives."""
    finished: dict[str, RunRecord] = {}

    def record(job, line: str) -> str:
        rec = RunRecord.from_json(line)
        if rec.key in finished:  # cannot happen with Dask's one result per key; never record twice
            raise SweepError(f"the run {rec.key} finished twice")
        if book is not None:
            book.add(rec)
        finished[rec.key] = rec
        return rec.result.summary()

    jobs = [Job(dask_key(cfg), f"{cfg.task} T={cfg.length} {cfg.cell} seed {cfg.seed}", run_config, (asdict(cfg),))
            for cfg in todo]
    failed = run_jobs(jobs, record, scheduler, workers, stream=stream, out=out, total=total, notes=True)
    failed_keys = {job.key for job in failed}
    failures.extend(cfg for cfg, job in zip(todo, jobs) if job.key in failed_keys)
    return finished
