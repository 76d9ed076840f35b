"""Long-time-lag benchmarks in the spirit of Hochreiter & Schmidhuber (1997), "Long Short-Term Memory".

Three synthetic tasks, each needing information from early in a sequence at its end:

``adding`` (the paper's Experiment 4, "adding problem")
    Each step is a pair (value, marker).  Values are uniform in [-1, 1].  Exactly two steps
    are marked with marker 1.0: one of the first ten steps (value X1) and one of the first
    T/2 - 1 steps not yet marked (value X2).  The first and last steps carry marker -1.0
    unless marked, all other markers are 0.0; if the very first step is marked, X1 is set to 0
    (as in the paper).  The target, given at the end only, is the sum of the two marked values
    scaled to [0, 1] as in the paper: ``0.5 + (X1 + X2) / 4``.  A sequence is processed
    correctly when the absolute error at the end is below 0.04 (0.16 on the unscaled sum).
    Sequence lengths are drawn uniformly from [T, T + T/10].

``temporal-order`` (the paper's Experiment 6a, "temporal order")
    Symbols a, b, c, d (distractors), X, Y, E (start) and B (end, the trigger), one-hot coded.
    A sequence starts with E, ends with B, and is otherwise random distractors except for two
    steps t1 in [T/10, T/5] and t2 in [T/2, T/2 + T/10] holding X or Y.  Class = the order:
    XX, XY, YX, YY (the paper's Q, R, S, U).  Lengths are uniform in [T, T + T/10] (the paper:
    T = 100, t1 in 10..20, t2 in 50..60).  A sequence is correct when the class with the
    largest output is right.

``copy`` (the copy-memory task of Hochreiter & Schmidhuber's Experiment 2 family as posed by
Arjovsky, Shah & Bengio 2016; not itself in the 1997 paper)
    ``n_copy`` symbols from an alphabet of ``n_symbols`` are shown, then ``T - 1`` blanks, a
    delimiter, and ``n_copy - 1`` more blanks; at the last ``n_copy`` steps the network must
    output the symbols in order.  A sequence is correct when all ``n_copy`` symbols are.

"Solved", for every task here: at least :data:`SOLVED_FRACTION` (99%) of a fixed set of fresh
test sequences are processed correctly, checked every ``eval_every`` training sequences;
"sequences until solved" is the number of training sequences seen at the first passing
check, and training stops there.  (The paper stopped when the training error was low and the
last 2000 training sequences were all correct, then reported the errors on 2560 test
sequences -- its LSTM got at most 1-3 of them wrong.)

LSTM cells start with a forget-gate bias of 3 here (``forget_bias``; the forget gate starts
near sigm(3) = 0.95).  The 1997 LSTM had no forget gate at all: its memory cell kept its
content with weight exactly 1 (the "constant error carousel").  With the package's general
default bias of 1 the gate starts near 0.73, so an error signal from 30 steps back is scaled by
about 0.73**30 = 1e-4 at first; in our runs that kept the LSTM from learning the adding problem
at T = 60 within the budget, while bias 3 solved it (see docs/tasks.md).

Training here uses minibatches (all sequences of a batch share one length), Adam and
gradient-norm clipping -- not the paper's online gradient descent with truncated gradients --
so the counts are not directly comparable with the paper's; see docs/tasks.md.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

import minigraph as theano
import minigraph.tensor as T

from .cells import CELLS
from .checkpoint import checkpoint_output, save_checkpoint
from .files import check_outputs
from .layers import SequenceModel, cross_entropy, mse
from .train import Trainer, format_seconds

__all__ = [
    "TASKS", "CELL_CHOICES", "SOLVED_FRACTION", "ADDING_TOLERANCE", "TEMPORAL_SYMBOLS",
    "adding_batch", "temporal_order_batch", "copy_batch", "TaskConfig", "TaskResult", "run_task",
    "format_results_table", "task_defaults", "MIN_LENGTH",
]

TASKS = ("adding", "temporal-order", "copy")
CELL_CHOICES = tuple(CELLS)
SOLVED_FRACTION = 0.99
ADDING_TOLERANCE = 0.04
TEMPORAL_SYMBOLS = ("a", "b", "c", "d", "X", "Y", "E", "B")
TEMPORAL_CLASSES = ("XX", "XY", "YX", "YY")
COPY_N_COPY = 5
COPY_N_SYMBOLS = 4
MIN_LENGTH = {"adding": 6, "temporal-order": 10, "copy": 1}  # shortest T each generator can build


def _check_length(length, task):
    minimum = MIN_LENGTH[task]
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < minimum:
        raise ValueError(f"{task}: the length must be an integer >= {minimum}, got {length!r}")


# ---------------------------------------------------------------------------------------------
# Generators (time-major: X has shape (steps, batch, features))
# ---------------------------------------------------------------------------------------------


def adding_batch(rng: np.random.Generator, batch: int, length: int):
    """``batch`` adding-problem sequences of exactly ``length`` steps.

    Returns ``X`` (length, batch, 2) -- value, marker -- ``y`` (batch, 1), the scaled target
    ``0.5 + (X1 + X2) / 4``, and ``marked`` (batch, 2), the two marked positions.
    """
    _check_length(length, "adding")
    values = rng.uniform(-1.0, 1.0, size=(batch, length))
    markers = np.zeros((batch, length))
    markers[:, 0] = -1.0
    markers[:, -1] = -1.0
    first = rng.integers(0, min(10, length), size=batch)
    # second: uniform among the first length//2 - 1 positions other than `first`
    span = length // 2 - 1
    second = rng.integers(0, span - 1, size=batch)
    clash = (first < span) & (second >= first)
    second = second + clash  # skip over `first` when it lies in the span
    none_clash = first >= span
    second[none_clash] = rng.integers(0, span, size=int(none_clash.sum()))
    rows = np.arange(batch)
    values[rows, 0] = np.where(first == 0, 0.0, values[rows, 0])  # paper: X1 = 0 if the first pair is marked
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    target = 0.5 + (values[rows, first] + values[rows, second]) / 4.0
    X = np.stack([values, markers], axis=-1).transpose(1, 0, 2)
    return X, target[:, None], np.stack([first, second], axis=1)


def temporal_order_batch(rng: np.random.Generator, batch: int, length: int):
    """``batch`` temporal-order sequences of exactly ``length`` steps.

    Returns ``X`` (length, batch, 8) one-hot over :data:`TEMPORAL_SYMBOLS`, ``labels`` (batch,)
    int64 in 0..3 for XX, XY, YX, YY, and ``positions`` (batch, 2) = (t1, t2).
    """
    _check_length(length, "temporal-order")
    sym = rng.integers(0, 4, size=(batch, length))  # distractors a..d
    sym[:, 0] = 6   # E
    sym[:, -1] = 7  # B
    lo1, hi1 = max(1, length // 10), max(1, length // 5)
    lo2, hi2 = length // 2, length // 2 + length // 10
    t1 = rng.integers(lo1, hi1 + 1, size=batch)
    t2 = rng.integers(lo2, hi2 + 1, size=batch)
    first_y = rng.integers(0, 2, size=batch)
    second_y = rng.integers(0, 2, size=batch)
    rows = np.arange(batch)
    sym[rows, t1] = 4 + first_y
    sym[rows, t2] = 4 + second_y
    labels = (2 * first_y + second_y).astype(np.int64)
    X = np.eye(len(TEMPORAL_SYMBOLS))[sym].transpose(1, 0, 2)
    return X, labels, np.stack([t1, t2], axis=1)


def copy_batch(rng: np.random.Generator, batch: int, delay: int, n_copy: int = COPY_N_COPY,
               n_symbols: int = COPY_N_SYMBOLS):
    """``batch`` copy-memory sequences: ``n_copy`` symbols, ``delay - 1`` blanks, a delimiter,
    ``n_copy - 1`` blanks (``delay + 2 * n_copy`` steps).

    Inputs are one-hot over ``n_symbols`` symbols, then blank (index ``n_symbols``) and
    delimiter (``n_symbols + 1``).  Returns ``X`` (steps, batch, n_symbols + 2) and ``labels``
    (n_copy, batch) int64: the symbols to output at the last ``n_copy`` steps, time-major.
    """
    _check_length(delay, "copy")
    blank, delim = n_symbols, n_symbols + 1
    symbols = rng.integers(0, n_symbols, size=(batch, n_copy))
    steps = delay + 2 * n_copy
    seq = np.full((batch, steps), blank)
    seq[:, :n_copy] = symbols
    seq[:, n_copy + delay - 1] = delim
    X = np.eye(n_symbols + 2)[seq].transpose(1, 0, 2)
    return X, symbols.T.astype(np.int64).copy()


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


def task_defaults(task: str) -> dict:
    """Default hidden size, Adam learning rate and budget (training sequences) per task."""
    return {
        "adding": {"hidden": 16, "lr": 1e-2, "sequences": 60_000},
        "temporal-order": {"hidden": 16, "lr": 1e-2, "sequences": 60_000},
        "copy": {"hidden": 32, "lr": 1e-2, "sequences": 60_000},
    }[task]


@dataclass
class TaskConfig:
    task: str = "adding"
    length: int = 30
    cell: str = "lstm"          # lstm, peephole, rnn, gru
    hidden: int | None = None
    sequences: int | None = None
    batch_size: int = 32
    lr: float | None = None
    seed: int = 0
    test_size: int = 1000
    eval_every: int = 2048
    clip: float = 1.0
    forget_bias: float = 3.0    # LSTM only; see the module doc
    checkpoint: str | None = None  # write the trained network here (for ``lstm gradflow --checkpoint``)

    def resolved(self) -> "TaskConfig":
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.cell not in CELL_CHOICES:
            raise ValueError(f"cell must be one of {CELL_CHOICES}, got {self.cell!r}")
        d = task_defaults(self.task)
        return TaskConfig(**{**asdict(self), "hidden": self.hidden or d["hidden"], "lr": self.lr or d["lr"],
                             "sequences": self.sequences or d["sequences"]})


@dataclass
class TaskResult:
    config: TaskConfig
    solved: bool
    solved_at: int | None        # training sequences seen at the first passing check
    sequences_seen: int
    test_correct: float          # fraction of test sequences processed correctly (last check)
    test_error: float            # adding: mean |error|; classification: error rate
    test_loss: float
    chance_correct: float        # the same 'correct' fraction for a trivial predictor
    seconds: float
    curve: list = field(default_factory=list)  # (sequences seen, test_correct) at every check

    def summary(self) -> str:
        c = self.config
        state = (f"SOLVED after {self.solved_at:,} sequences" if self.solved
                 else f"not solved within {self.sequences_seen:,} sequences")
        err = "mean |err|" if c.task == "adding" else "error rate"
        return (f"{c.task} T={c.length} {cell_label(c.cell)} (hidden {c.hidden}, seed {c.seed}): {state}; "
                f"test correct {self.test_correct * 100:.1f}% (chance {self.chance_correct * 100:.1f}%), "
                f"{err} {self.test_error:.4f}; {format_seconds(self.seconds)}")


def cell_label(cell: str) -> str:
    return CELLS[cell].label


def _lengths(rng, length, task):
    """Sequence length of one batch: uniform in [T, T + T/10] (adding, temporal-order), or T."""
    if task == "copy":
        return length
    return int(rng.integers(length, length + length // 10 + 1))


def _make_batch(task, rng, batch, length):
    if task == "adding":
        X, y, _ = adding_batch(rng, batch, length)
        return X, y
    if task == "temporal-order":
        X, labels, _ = temporal_order_batch(rng, batch, length)
        return X, labels
    return copy_batch(rng, batch, length)


class _TaskModel:
    """The network, loss and compiled functions for one task and cell."""

    def __init__(self, cfg: TaskConfig):
        task = cfg.task
        n_in = {"adding": 2, "temporal-order": len(TEMPORAL_SYMBOLS), "copy": COPY_N_SYMBOLS + 2}[task]
        n_out = {"adding": 1, "temporal-order": len(TEMPORAL_CLASSES), "copy": COPY_N_SYMBOLS}[task]
        kind = "lstm" if cfg.cell == "peephole" else cfg.cell
        head = "many_to_many" if task == "copy" else "many_to_one"
        self.model = SequenceModel(kind, n_in=n_in, n_hidden=cfg.hidden, n_out=n_out,
                                   peephole=cfg.cell == "peephole", head=head, seed=cfg.seed,
                                   forget_bias=cfg.forget_bias)
        X = T.tensor3("X")
        if task == "adding":
            target = T.matrix("y")
            out = self.model.build(X)
            loss = mse(out, target)
            axes = [1, 0]
        elif task == "temporal-order":
            target = T.lvector("labels")
            out = self.model.build(X)
            loss = cross_entropy(out, target)
            axes = [1, 0]
        else:
            target = T.lmatrix("labels")           # (n_copy, B)
            out = self.model.build(X)[-COPY_N_COPY:]  # logits of the recall steps (n_copy, B, K)
            loss = cross_entropy(out, target)
            axes = [1, 1]
        self.trainer = Trainer([X, target], loss, self.model.params, optimizer="adam", lr=cfg.lr,
                               clip=cfg.clip, batch_axes=axes, name=task.replace("-", "_"))
        self.predict = theano.function([X, target], [out, loss], allow_input_downcast=True, name="predict")
        self.task = task

    def score(self, test):
        """(fraction correct, error, loss) over the test chunks."""
        correct, errors, losses, n = 0.0, 0.0, 0.0, 0
        for X, target in test:
            out, loss = self.predict(X, target)
            if self.task == "adding":
                err = np.abs(out[:, 0] - target[:, 0])
                correct += float(np.sum(err < ADDING_TOLERANCE))
                errors += float(np.sum(err))
                b = len(err)
            elif self.task == "temporal-order":
                right = out.argmax(-1) == target
                correct += float(right.sum())
                errors += float((~right).sum())
                b = len(right)
            else:
                right = np.all(out.argmax(-1) == target, axis=0)
                correct += float(right.sum())
                errors += float((~right).sum())
                b = len(right)
            losses += float(loss) * b
            n += b
        return correct / n, errors / n, losses / n


def _test_set(cfg: TaskConfig, chunk: int = 100):
    """Fixed test sequences (from a stream separate from training), in chunks of equal length."""
    rng = np.random.default_rng([cfg.seed, 7919])
    test, left = [], cfg.test_size
    while left > 0:
        b = min(chunk, left)
        test.append(_make_batch(cfg.task, rng, b, _lengths(rng, cfg.length, cfg.task)))
        left -= b
    return test


def chance_correct(cfg: TaskConfig, test) -> float:
    """Fraction 'correct' of a trivial predictor on ``test``: the constant 0.5 (adding), always the
    first class (temporal-order), always the first symbol (copy)."""
    hits = n = 0
    for X, target in test:
        if cfg.task == "adding":
            hits += int(np.sum(np.abs(target[:, 0] - 0.5) < ADDING_TOLERANCE))
            n += len(target)
        elif cfg.task == "temporal-order":
            hits += int(np.sum(target == 0))
            n += len(target)
        else:
            hits += int(np.sum(np.all(target == 0, axis=0)))
            n += target.shape[1]
    return hits / n


def run_task(cfg: TaskConfig, progress=None) -> TaskResult:
    """Train one network on one task until it is solved or the budget is spent.

    ``progress``: a stream (e.g. sys.stderr) for one line per test check, or None.
    """
    cfg = cfg.resolved()
    if cfg.checkpoint:
        check_outputs([checkpoint_output(cfg.checkpoint)])
    t0 = time.perf_counter()
    net = _TaskModel(cfg)
    test = _test_set(cfg)
    chance = chance_correct(cfg, test)
    rng = np.random.default_rng([cfg.seed, 1])
    seen, next_eval, solved_at, curve = 0, cfg.eval_every, None, []
    correct = error = loss_t = float("nan")
    running = None
    while seen < cfg.sequences:
        b = min(cfg.batch_size, cfg.sequences - seen)
        X, target = _make_batch(cfg.task, rng, b, _lengths(rng, cfg.length, cfg.task))
        loss = float(net.trainer.train_step(X, target))
        if not math.isfinite(loss):
            raise FloatingPointError(f"{cfg.task} T={cfg.length} {cfg.cell}: the training loss became {loss} "
                                     f"after {seen} sequences; try a smaller --lr")
        running = loss if running is None else 0.95 * running + 0.05 * loss
        seen += b
        if seen >= next_eval or seen >= cfg.sequences:
            next_eval += cfg.eval_every
            correct, error, loss_t = net.score(test)
            curve.append((seen, correct))
            if progress is not None:
                progress.write(f"  {cfg.task} T={cfg.length} {cell_label(cfg.cell)} seed {cfg.seed}: "
                               f"{seen:,}/{cfg.sequences:,} sequences  train loss {running:.4f}  "
                               f"test correct {correct * 100:5.1f}%  "
                               f"{format_seconds(time.perf_counter() - t0)}\n")
                progress.flush()
            if correct >= SOLVED_FRACTION:
                solved_at = seen
                break
    if cfg.checkpoint:
        save_checkpoint(cfg.checkpoint, net.model.params, dict(net.model.hparams(), task=cfg.task, length=cfg.length),
                        meta={"sequences_seen": seen, "solved_at": solved_at, "test_correct": correct})
    return TaskResult(cfg, solved_at is not None, solved_at, seen, correct, error, loss_t, chance,
                      time.perf_counter() - t0, curve)


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def format_results_table(results) -> list[str]:
    """A markdown table, one row per result."""
    lines = ["| task | T | cell | hidden | seed | solved | sequences until solved | sequences seen | "
             "test correct | test error | chance | time |",
             "|---|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        c = r.config
        err = f"{r.test_error:.4f}" + (" (mean abs)" if c.task == "adding" else " (rate)")
        lines.append(f"| {c.task} | {c.length} | {cell_label(c.cell)} | {c.hidden} | {c.seed} | "
                     f"{'yes' if r.solved else 'no'} | {f'{r.solved_at:,}' if r.solved else '-'} | "
                     f"{r.sequences_seen:,} | {r.test_correct * 100:.1f}% | {err} | "
                     f"{r.chance_correct * 100:.1f}% | {format_seconds(r.seconds)} |")
    return lines
