"""The ``lstm`` command line: ``lstm stock``, ``lstm task``, ``lstm sweep`` and ``lstm gradflow``.

    lstm stock [--tutorial] [--symbol AAPL | --csv FILE | --legacy-pickle FILE] ...
    lstm task adding|temporal-order|copy [--length T] [--cell lstm,peephole,rnn] ...
    lstm sweep [--task adding] [--lengths 10,30,60] [--cells ...] [--seeds 0,1] [--scheduler local] [--results F] ...
    lstm gradflow [--cell rnn,lstm|all] [--steps 50] [--forget-bias 1.0] [--out flow.svg] [--json] [--plot F]
                  [--weight-scale S] [--clip THETA] [--checkpoint FILE] ...

Also runnable as ``python -m lstm ...``.  Every expected failure (bad data, a
checkpoint that does not fit, an unwritable output path, ...) is reported as
one line ``lstm: error: ...`` on stderr with exit status 1; nothing is left
half-written because plots and checkpoints are written to a temporary file
and moved into place.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
import warnings

from .files import finite_float, positive_float, positive_int, seed_int

__all__ = ["main", "build_parser"]

PROG = "lstm"


class CLIError(Exception):
    """A usage problem found after parsing (reported as one line)."""


def _limit_blas_threads() -> None:
    """Use one BLAS thread unless the user chose otherwise.

    The matrices here are tiny ((batch, hidden) @ (hidden, 4 hidden)); OpenBLAS
    threads only add synchronisation, and on a busy 2-core machine they made a
    training step 3-5x slower.  Best effort: silently does nothing if the
    library cannot be reached.
    """
    if any(os.environ.get(v) for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")):
        return
    try:
        import ctypes

        with open("/proc/self/maps") as fh:
            libs = sorted(set(re.findall(r"(/\S*openblas\S*\.so\S*)", fh.read())))
        for path in libs:
            lib = ctypes.CDLL(path)
            for name in ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                         "openblas_set_num_threads64_", "openblas_set_num_threads"):
                fn = getattr(lib, name, None)
                if fn is not None:
                    fn(1)
                    break
    except Exception:  # noqa: BLE001 - purely an optimisation
        pass




def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def _name_list(choices):
    def parse(text: str) -> list[str]:
        values = [v.strip() for v in text.split(",") if v.strip()]
        bad = [v for v in values if v not in choices]
        if bad or not values:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated list of {', '.join(choices)}; got {text!r}")
        return values
    return parse


def _arch_options(p, multiple=False) -> None:
    """``--arch``, ``--depth``, ``--width``: Pascanu et al.'s deep constructions (lstm/deep.py)."""
    from .deep import ARCHS

    names = ", ".join(f"{a.name} ({a.paper})" for a in ARCHS.values())
    if multiple:
        p.add_argument("--arch", type=_name_list(tuple(ARCHS)), default=["shallow"], metavar="NAME[,NAME]",
                       help=f"comma-separated deep constructions to compare: {names} (default shallow)")
    else:
        p.add_argument("--arch", choices=tuple(ARCHS), default="shallow", metavar="NAME",
                       help=f"deep construction: {names} (default shallow; see docs/lstm.md)")
    p.add_argument("--depth", type=positive_int, default=2,
                   help="layers on the path --arch makes deep, the cell or readout included (default 2)")
    p.add_argument("--width", type=positive_int,
                   help="width of the intermediate layers of --arch (default: the hidden size)")


# ---------------------------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from .tasks import CELL_CHOICES, MIN_LENGTH, TASKS

    parser = argparse.ArgumentParser(prog=PROG, description="LSTM examples built on minigraph.")
    sub = parser.add_subparsers(dest="command", metavar="{stock,task,sweep,gradflow}")
    sub.required = True

    # ---- stock
    p = sub.add_parser(
        "stock", help="forecast daily stock prices (real shipped data) and compare with baselines",
        description="Train a recurrent network on daily prices. Default mode: windows of past log "
                    "returns, chronological train/validation/test split, Adam, early stopping, test "
                    "errors next to persistence and linear-autoregression baselines. --tutorial: "
                    "reproduce the seed Theano tutorial (per-sample SGD on raw prices).")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--symbol", default="AAPL",
                     help="built-in stock: AAPL, GOOG, IBM or MSFT (default AAPL; see "
                          "lstm/datasets/PROVENANCE.md)")
    src.add_argument("--csv", metavar="FILE", help="read dates and prices from a CSV file with a header row")
    src.add_argument("--legacy-pickle", metavar="FILE",
                     help="the seed tutorial's stockTT.bin (read safely: no code in it is run)")
    p.add_argument("--date-col", default="date", help="CSV date column (default: date)")
    p.add_argument("--price-col", default="close", help="CSV price column (default: close)")
    p.add_argument("--raw-close", action="store_true",
                   help="built-in data: use the raw close instead of the split-adjusted close")
    p.add_argument("--tutorial", action="store_true", help="reproduce the seed tutorial (see above)")
    p.add_argument("--sequence", action="store_true",
                   help="with --tutorial: feed each window as a sequence of prices (one per step) instead of "
                        "one step, so that recurrence, the forget gate and peepholes act (docs/questions.md)")
    p.add_argument("--log-iterations", action="store_true",
                   help="tutorial: print the seed's 'iteration N: error' line every 10 samples (default: "
                        "a summary only)")
    p.add_argument("--cell", choices=("lstm", "rnn", "gru"), default="lstm", help="recurrent cell (default lstm)")
    p.add_argument("--hidden", type=positive_int, help="hidden units per layer (default 32; tutorial 20)")
    p.add_argument("--layers", type=positive_int, default=1, help="stacked recurrent layers (default 1)")
    p.add_argument("--peephole", action="store_true", help="LSTM with peephole connections")
    _arch_options(p)
    p.add_argument("--lr", type=positive_float, help="learning rate (default 0.003 Adam; tutorial 0.01 SGD)")
    p.add_argument("--epochs", type=positive_int,
                   help="maximum epochs (default 30, early stopping usually ends sooner; tutorial: passes, 1)")
    p.add_argument("--batch-size", type=positive_int, default=64, help="minibatch size (default 64)")
    p.add_argument("--window", type=positive_int,
                   help="past daily returns per example (default 20; tutorial: prices per input, 5)")
    p.add_argument("--patience", type=positive_int, default=5,
                   help="early stopping: epochs without a better validation loss (default 5)")
    p.add_argument("--lr-drop", type=positive_float,
                   help="step learning-rate schedule: multiply the lr by this factor every --lr-every epochs")
    p.add_argument("--lr-every", type=positive_int, default=10,
                   help="epochs between learning-rate drops (default 10; needs --lr-drop)")
    p.add_argument("--clip", type=positive_float, default=1.0, help="maximum gradient norm (default 1.0)")
    p.add_argument("--no-clip", action="store_true", help="do not clip gradients")
    p.add_argument("--seed", type=seed_int, help="random seed, 0 to 2**32-1 (default 0; tutorial 1234)")
    p.add_argument("--checkpoint", metavar="PATH", help="write a checkpoint after every epoch to PATH")
    p.add_argument("--resume", action="store_true", help="continue training from --checkpoint PATH")
    p.add_argument("--out", default="stock.png", metavar="PATH",
                   help="plot file (default stock.png; the extension picks the format)")
    p.add_argument("--no-plot", action="store_true", help="do not write a plot")
    p.add_argument("--quiet", action="store_true", help="no progress output, only the results")
    p.add_argument("--progress", choices=("auto", "bar", "epoch", "off"), default="auto",
                   help="progress display on stderr: a live bar on a terminal, else a line per epoch")
    _mode_option(p)
    p.set_defaults(func=cmd_stock)

    # ---- task
    p = sub.add_parser(
        "task", help="long-time-lag benchmarks of Hochreiter & Schmidhuber (1997)",
        description="Train on a synthetic long-time-lag task and report whether it was solved. "
                    "adding: output the sum of two marked values; temporal-order: classify the order "
                    "of two marked symbols X/Y among distractors; copy: recall a short symbol "
                    "sequence after a delay. See docs/tasks.md.")
    p.add_argument("task", choices=TASKS)
    _task_options(p, CELL_CHOICES)
    p.add_argument("--cell", type=_name_list(CELL_CHOICES), default=["lstm", "peephole", "rnn"],
                   help="comma-separated cells to train (default lstm,peephole,rnn)")
    p.add_argument("--length", type=positive_int, default=30,
                   help="minimal sequence length / delay T (default 30; at least "
                        + ", ".join(f"{n} for {t}" for t, n in MIN_LENGTH.items()) + ")")
    p.add_argument("--seed", type=seed_int, default=0, help="random seed, 0 to 2**32-1 (default 0)")
    p.add_argument("--checkpoint", metavar="PATH",
                   help="write the trained network to PATH (one --cell only), e.g. for lstm gradflow --checkpoint")
    _arch_options(p)
    _mode_option(p)
    p.set_defaults(func=cmd_task)

    # ---- sweep
    p = sub.add_parser(
        "sweep", help="run a grid of task runs (lengths x cells x seeds) on Dask; resumable; markdown tables",
        description="Every combination of --lengths, --cells and --seeds, run on a Dask cluster (default: a "
                    "local one, a worker process per core) or serially. With --results FILE each finished run "
                    "is appended to FILE as one JSON line and a rerun skips the runs already there, so a "
                    "killed sweep resumes. See docs/tasks.md.")
    p.add_argument("--task", choices=TASKS, default="adding")
    _task_options(p, CELL_CHOICES)
    p.add_argument("--cells", type=_name_list(CELL_CHOICES), default=["lstm", "peephole", "rnn"],
                   help="comma-separated cells (default lstm,peephole,rnn)")
    p.add_argument("--lengths", type=_int_list, default=[10, 30, 60],
                   help="comma-separated minimal sequence lengths T (default 10,30,60)")
    p.add_argument("--seeds", type=_int_list, default=[0, 1], help="comma-separated seeds (default 0,1)")
    p.add_argument("--scheduler", default="local", metavar="local|serial|tcp://HOST:PORT",
                   help="where the runs go: a local Dask cluster (default; serial without dask installed), "
                        "this process one run after another, or an existing Dask scheduler")
    p.add_argument("--workers", type=positive_int,
                   help="worker processes of the local cluster (default: one per core)")
    p.add_argument("--results", metavar="FILE",
                   help="append one JSON line per finished run to FILE; runs already in FILE are skipped")
    p.add_argument("--markdown", metavar="FILE",
                   help="also write the tables (every run in --results, else this grid's) to FILE")
    p.add_argument("--tables-only", action="store_true",
                   help="run nothing: only render the tables of every run in --results")
    _arch_options(p, multiple=True)
    _mode_option(p)
    p.set_defaults(func=cmd_sweep)

    # ---- gradflow
    from . import gradflow
    p = sub.add_parser(
        "gradflow", help="why the LSTM keeps gradients alive: unrolled gradient-path diagram, norms, ablation",
        description="Per-step gradient norms of a loss at the last step, computed by minigraph's backward "
                    "scan, drawn as an unrolled diagram (--out), printed as JSON (--json) or plotted (--plot).")
    gradflow.add_arguments(p)
    _arch_options(p)
    p.set_defaults(func=gradflow.run_command)
    return parser


def _mode_option(p) -> None:
    p.add_argument("--mode", choices=("auto", "numpy", "numba"), default="auto",
                   help="executor: numpy, or numba's native code (pip install 'minigraph[numba]'); default auto: "
                        "numba where installed and measured faster (sequences of 10 steps and more)")


def _choose_mode(args) -> str:
    """Set minigraph's mode from --mode; returns its name.  auto: numba when installed, for the
    recurrent loops it was measured faster on (10 steps and more: the tasks and sweeps); numpy for
    the stock example's short windows, where a native call costs more than it saves."""
    import importlib.util

    import minigraph
    have = importlib.util.find_spec("numba") is not None
    mode = args.mode
    if mode == "numba" and not have:
        raise CLIError("--mode numba needs numba: pip install 'minigraph[numba]'")
    if mode == "auto":
        steps = min(getattr(args, "lengths", None) or [getattr(args, "length", 0)])
        mode = "numba" if have and args.command in ("task", "sweep") and steps >= 10 else "numpy"
    minigraph.config.mode = os.environ["MINIGRAPH_MODE"] = "NUMBA" if mode == "numba" else "FAST_RUN"  # env: sweep workers
    return mode


def _per_task(key: str) -> str:
    from .tasks import TASKS, task_defaults

    return ", ".join(f"{task} {task_defaults(task)[key]:g}" for task in TASKS)


def _task_options(p, cell_choices) -> None:
    p.add_argument("--hidden", type=positive_int, help=f"hidden units (default: {_per_task('hidden')})")
    p.add_argument("--sequences", type=positive_int,
                   help=f"training budget in sequences (default: {_per_task('sequences')})")
    p.add_argument("--batch-size", type=positive_int, default=32, help="sequences per update (default 32)")
    p.add_argument("--lr", type=positive_float, help=f"Adam learning rate (default: {_per_task('lr')})")
    p.add_argument("--test-size", type=positive_int, default=1000,
                   help="fresh test sequences used for the solved check (default 1000)")
    p.add_argument("--eval-every", type=positive_int, default=2048,
                   help="check the test set every N training sequences (default 2048)")
    p.add_argument("--forget-bias", type=finite_float, default=3.0,
                   help="initial forget-gate bias of the LSTM cells (default 3.0, see docs/tasks.md)")
    p.add_argument("--criterion", choices=("argmax", "paper"), default="argmax",
                   help="temporal-order: a sequence is correct when the largest output is the right class "
                        "(argmax, default) or, as in the 1997 paper, when every output is within 0.3 of its target")
    p.add_argument("--quiet", action="store_true", help="no progress output, only the results")


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------


def _arch_spec(args) -> tuple:
    """(arch, depth, width) from --arch/--depth/--width; ``lstm stock --layers N`` is ``--arch stacked --depth N``."""
    arch, depth = args.arch, args.depth
    if getattr(args, "layers", 1) > 1:
        if arch not in ("shallow", "stacked"):
            raise CLIError(f"--layers {args.layers} stacks layers; it cannot be combined with --arch {arch} "
                           "(use --arch stacked --depth N)")
        arch, depth = "stacked", args.layers
    if arch != "shallow" and depth < 2:
        raise CLIError(f"--arch {arch} needs --depth 2 or more (depth 1 is the shallow network)")
    if arch == "shallow":
        for flag, given, default in (("--depth", args.depth, 2), ("--width", args.width, None)):
            if given != default:
                raise CLIError(f"{flag} needs a deep --arch (stacked, deep-input, dt, dts, do, dot)")
    return arch, depth, args.width


def _say(line: str = "") -> None:
    print(line, flush=True)


def cmd_stock(args) -> int:
    from . import stock
    from .data import load_legacy_pickle, load_csv, load_stock, tutorial_pairs

    t0 = time.perf_counter()
    out = None if args.no_plot else args.out
    if args.tutorial:
        for flag, given in (("--checkpoint", args.checkpoint), ("--resume", args.resume)):
            if given:
                raise CLIError(f"{flag} is not available with --tutorial (the tutorial trains in one pass)")
        n_in = args.window or 5
        if args.legacy_pickle:
            x, y = load_legacy_pickle(args.legacy_pickle)
            label = os.path.basename(args.legacy_pickle)
            if args.window and args.window != x.shape[1]:
                raise CLIError(f"--window {args.window} does not match {label}, whose rows hold "
                               f"{x.shape[1]} prices")
        else:
            if args.csv:
                _, prices = load_csv(args.csv, date_col=args.date_col, price_col=args.price_col)
                label = f"{os.path.basename(args.csv)} ({args.price_col})"
            else:
                _, prices = load_stock(args.symbol, adjusted=not args.raw_close)
                label = f"{args.symbol.upper()} {'raw' if args.raw_close else 'adjusted'} close"
            xl, yl = tutorial_pairs(prices, n_in)
            x, y = xl, yl
        arch, depth, width = _arch_spec(args)
        stock.run_tutorial(x, y, hidden=args.hidden or 20, lr=args.lr or 0.01, passes=args.epochs or 1,
                           cell=args.cell, arch=arch, depth=depth, width=width, peephole=args.peephole,
                           sequence=args.sequence,
                           seed=1234 if args.seed is None else args.seed, out_path=out,
                           quiet=args.quiet, label=label, out=_say, every=10 if args.log_iterations else None,
                           source=args.csv or args.legacy_pickle)
    else:
        if args.sequence:
            raise CLIError("--sequence belongs to --tutorial (the default mode always reads sequences)")
        if args.log_iterations:
            raise CLIError("--log-iterations needs --tutorial (the default mode reports per epoch)")
        if args.peephole and args.cell != "lstm":
            raise CLIError(f"--peephole needs --cell lstm (peepholes are an LSTM feature), not {args.cell}")
        series = stock.load_series(symbol=args.symbol, csv=args.csv, date_col=args.date_col,
                                   price_col=args.price_col, legacy_pickle=args.legacy_pickle,
                                   adjusted=not args.raw_close)
        arch, depth, width = _arch_spec(args)
        cfg = stock.ForecastConfig(
            cell=args.cell, hidden=args.hidden or 32, arch=arch, depth=depth, width=width, peephole=args.peephole,
            lr=args.lr or 3e-3, epochs=args.epochs or 30, batch_size=args.batch_size,
            window=args.window or 20, patience=args.patience, clip=None if args.no_clip else args.clip,
            lr_drop=args.lr_drop, lr_every=args.lr_every,
            seed=0 if args.seed is None else args.seed, checkpoint=args.checkpoint, resume=args.resume,
            out=out, progress="off" if args.quiet else args.progress)
        stock.run_forecast(series, cfg, out=_say)
    _say(f"elapsed: {time.perf_counter() - t0:.1f} s ({args.mode} mode)")
    return 0


def _check_criterion(args, tasks) -> None:
    if args.criterion == "paper" and "copy" in tasks:
        raise CLIError("--criterion paper: the copy task is not in the 1997 paper, so it has no paper criterion")


def cmd_task(args) -> int:
    from .memory import check_model_fits
    from .tasks import MIN_LENGTH, TaskConfig, format_results_table, run_task, task_defaults

    _check_criterion(args, [args.task])
    if args.checkpoint and len(args.cell) != 1:
        raise CLIError(f"--checkpoint holds one network: give one --cell, not {','.join(args.cell)}")
    if args.length < MIN_LENGTH[args.task]:
        raise CLIError(f"--length {args.length} is too short for the {args.task} task: it needs at least "
                       f"{MIN_LENGTH[args.task]}")
    check_model_fits(args.hidden or task_defaults(args.task)["hidden"], n_in=8, n_out=8)
    results = []
    arch, depth, width = _arch_spec(args)
    for cell in args.cell:
        cfg = TaskConfig(task=args.task, length=args.length, cell=cell, hidden=args.hidden,
                         sequences=args.sequences, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                         test_size=args.test_size, eval_every=args.eval_every, forget_bias=args.forget_bias,
                         arch=arch, depth=depth, width=width, criterion=args.criterion,
                         checkpoint=args.checkpoint)
        res = run_task(cfg, progress=None if args.quiet else sys.stderr)
        _say(res.summary())
        results.append(res)
    _say("")
    for line in format_results_table(results):
        _say(line)
    return 0


def cmd_sweep(args) -> int:
    from .sweep import GridError, build_grid, check_scheduler, run_sweep

    if args.tables_only and not args.results:
        raise CLIError("--tables-only renders the runs of a --results FILE; give --results")
    if args.workers and args.scheduler != "local":
        raise CLIError(f"--workers sets the size of the local cluster; it does not apply to "
                       f"--scheduler {args.scheduler}")
    try:
        scheduler = check_scheduler(args.scheduler)
    except ValueError as exc:
        raise CLIError(f"--scheduler: {exc}") from None
    _check_criterion(args, [args.task])
    if any(a != "shallow" for a in args.arch) and args.depth < 2:
        raise CLIError("a deep --arch needs --depth 2 or more (depth 1 is the shallow network)")
    try:
        configs = [cfg for arch in args.arch for cfg in build_grid(
            args.task, args.lengths, args.cells, args.seeds, hidden=args.hidden, sequences=args.sequences,
            batch_size=args.batch_size, lr=args.lr, test_size=args.test_size, eval_every=args.eval_every,
            forget_bias=args.forget_bias, arch=arch, depth=args.depth, width=args.width, criterion=args.criterion)]
    except GridError as exc:
        raise CLIError(f"--{exc.option}: {exc}") from None
    try:
        run_sweep(configs, scheduler=scheduler, workers=args.workers, results=args.results,
                  markdown=args.markdown, tables_only=args.tables_only,
                  command="lstm " + " ".join(sys.argv[1:]) if _FROM_CONSOLE else None,
                  progress=None if args.quiet else sys.stderr, out=_say)
    except KeyboardInterrupt:
        if args.results:
            print(f"\n{PROG} sweep: the finished runs are in {args.results}; run the same command again "
                  "to continue", file=sys.stderr)
        raise
    return 0


_FROM_CONSOLE = False


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename if exc.filename is not None else ""
        text = f"{where}: {exc.strerror}" if where else exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    # multi-line messages (e.g. a list of checkpoint mismatches, " - item" per line) become one line
    parts = [re.sub(r"^\s*-\s+", "", part).strip() for part in text.splitlines()]
    line = ""
    for part in filter(None, parts):
        line += (" " if line.endswith(":") else "; ") + part if line else part
    return line


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings about the user's files as one ``lstm: warning:`` line; others as Python prints them."""
    from .data import DataWarning
    from .files import LeftoverRemoved

    if issubclass(category, (DataWarning, LeftoverRemoved)):
        print(f"{PROG}: warning: {_one_line(message)}", file=sys.stderr)
    else:
        print(warnings.formatwarning(message, category, filename, lineno, line), file=sys.stderr, end="")


def main(argv=None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 error, 2 usage, 130 interrupted)."""
    global _FROM_CONSOLE
    _FROM_CONSOLE = argv is None
    _limit_blas_threads()
    from .checkpoint import CheckpointError
    from .data import DataError, DataWarning
    from .files import LeftoverRemoved

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2), already printed
        return int(exc.code or 0)
    import minigraph
    saved_mode, saved_env = minigraph.config.mode, os.environ.get("MINIGRAPH_MODE")  # main() is also called as a function
    try:
        if hasattr(args, "mode"):
            args.mode = _choose_mode(args)
        with warnings.catch_warnings():
            warnings.simplefilter("always", DataWarning)
            warnings.simplefilter("always", LeftoverRemoved)
            warnings.showwarning = _show_warning
            status = args.func(args)
        if args.command in ("task", "sweep"):
            _say(f"mode: {args.mode}")
        return status
    except KeyboardInterrupt:
        ckpt = getattr(args, "checkpoint", None)
        hint = (f"; {ckpt} holds the last finished epoch, continue with --resume"
                if ckpt and os.path.exists(ckpt) else "")
        print(f"\n{PROG}: interrupted{hint}", file=sys.stderr)
        return 130
    except (CLIError, DataError, CheckpointError, OSError, FloatingPointError, RuntimeError,
            MemoryError) as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    finally:  # leave the caller's mode as it was
        minigraph.config.mode = saved_mode
        if saved_env is None:
            os.environ.pop("MINIGRAPH_MODE", None)
        else:
            os.environ["MINIGRAPH_MODE"] = saved_env


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
