"""The results file of ``lstm sweep``: one JSON line per finished run, and the tables made from it.

Why a file of lines: a sweep of hundreds of runs must survive being killed.  Each finished run
is added as one line holding its whole configuration and result, so the file alone says which
runs are done (a rerun skips them) and what they gave (``--markdown`` renders the tables from
it).  Lines are added atomically -- the new file is written beside the old one and renamed
over it -- so a crash loses at most the runs still in flight, never a line half written.

A file is only ever extended when every line in it is a run record of this format; anything
else (a foreign file, an edited line, a run recorded twice) stops the sweep with one line
naming the file and the line, and the file is left as it was.
"""
from __future__ import annotations

import json
import math
import os
import socket
import time
from dataclasses import asdict, dataclass, fields

from .data import DataError
from .files import write_atomic
from .tasks import TaskConfig, TaskResult, cell_label, format_results_table
from .train import format_seconds

__all__ = ["FORMAT", "RunRecord", "ResultsFile", "is_results_file", "run_key", "render_tables", "PAPER_SEQUENCES"]

FORMAT = "lstm-sweep-run/1"

# Hochreiter & Schmidhuber (1997): mean training sequences until solved, LSTM.
# Adding problem: Table 7 (10 trials each); temporal order 6a: Table 9.
PAPER_SEQUENCES = {
    ("adding", 100): 74_000,
    ("adding", 500): 209_000,
    ("adding", 1000): 853_000,
    ("temporal-order", 100): 31_390,
}

_RESULT_FIELDS = ("solved", "solved_at", "sequences_seen", "test_correct", "test_error", "test_loss",
                  "chance_correct", "seconds", "curve")
# the type every field of a resolved TaskConfig has (hidden, sequences and lr are filled in)
_CONFIG_TYPES = {f: type(v) for f, v in asdict(TaskConfig().resolved()).items()}


def run_key(config: TaskConfig) -> str:
    """The identity of a run: its resolved configuration as canonical JSON."""
    return json.dumps(asdict(config), sort_keys=True)


@dataclass(frozen=True)
class RunRecord:
    """One finished run: the result (with its configuration) and where and when it ran."""
    result: TaskResult
    cpu_seconds: float
    host: str
    finished: str

    @classmethod
    def new(cls, result: TaskResult, cpu_seconds: float) -> "RunRecord":
        return cls(result, cpu_seconds, socket.gethostname(), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))

    @property
    def key(self) -> str:
        return run_key(self.result.config)

    def to_json(self) -> str:
        r = self.result
        result = {name: getattr(r, name) for name in _RESULT_FIELDS}
        result["curve"] = [list(point) for point in r.curve]
        return json.dumps({"format": FORMAT, "config": asdict(r.config), "result": result,
                           "cpu_seconds": self.cpu_seconds, "host": self.host, "finished": self.finished},
                          sort_keys=True, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> "RunRecord":
        """Parse and check one line; ``ValueError`` says what is wrong with it."""
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(obj, dict) or obj.get("format") != FORMAT:
            raise ValueError(f'not a run record of lstm sweep (no "format": "{FORMAT}")')
        extra = set(obj) - {"format", "config", "result", "cpu_seconds", "host", "finished"}
        if extra:
            raise ValueError(f"unexpected keys {sorted(extra)}")
        config = _check_config(obj.get("config"))
        result = _check_result(obj.get("result"))
        cpu = obj.get("cpu_seconds")
        if not _is_number(cpu) or cpu < 0:
            raise ValueError(f"cpu_seconds must be a number >= 0, got {cpu!r}")
        for name in ("host", "finished"):
            if not isinstance(obj.get(name), str):
                raise ValueError(f"{name} must be a string")
        return cls(TaskResult(config=config, **result), float(cpu), obj["host"], obj["finished"])


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_config(config) -> TaskConfig:
    if not isinstance(config, dict):
        raise ValueError("config must be an object")
    unknown = set(config) - set(_CONFIG_TYPES)
    if unknown:
        raise ValueError(f"config has unknown fields {sorted(unknown)}")
    for name, value in config.items():
        wanted = _CONFIG_TYPES[name]
        ok = _is_number(value) if wanted is float else (isinstance(value, wanted) and not isinstance(value, bool))
        if not ok:
            raise ValueError(f"config field {name} must be {wanted.__name__}, got {value!r}")
    cfg = TaskConfig(**config)  # fields missing from older records take their defaults
    if cfg.resolved() != cfg:
        raise ValueError("config is not a resolved run configuration")
    return cfg


def _check_result(result) -> dict:
    if not isinstance(result, dict) or set(result) != set(_RESULT_FIELDS):
        raise ValueError(f"result must be an object with the fields {', '.join(_RESULT_FIELDS)}")
    if not isinstance(result["solved"], bool):
        raise ValueError("result.solved must be true or false")
    for name in ("sequences_seen",) + (("solved_at",) if result["solved"] else ()):
        if not isinstance(result[name], int) or isinstance(result[name], bool) or result[name] < 0:
            raise ValueError(f"result.{name} must be an integer >= 0")
    if not result["solved"] and result["solved_at"] is not None:
        raise ValueError("result.solved_at must be null for an unsolved run")
    for name in ("test_correct", "test_error", "test_loss", "chance_correct", "seconds"):
        if not _is_number(result[name]):
            raise ValueError(f"result.{name} must be a finite number")
    curve = result["curve"]
    if not isinstance(curve, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(_is_number(v) for v in p) for p in curve):
        raise ValueError("result.curve must be a list of [sequences, correct] pairs")
    return {**result, "curve": [tuple(p) for p in curve]}


def is_results_file(path: str) -> bool:
    """The recogniser :func:`lstm.files.check_outputs` uses before a results file is extended: a
    file every line of which is a run record (otherwise the :class:`DataError` of
    :class:`ResultsFile` names the first line that is not, and nothing is written)."""
    ResultsFile(path)
    return True


class ResultsFile:
    """The JSON-lines file of finished runs: read and validated once, then extended atomically."""

    def __init__(self, path: str):
        self.path = path
        self.records: dict[str, RunRecord] = {}
        self._text = ""
        self._stamp = None
        if os.path.exists(path):
            self._read()

    def _read(self) -> None:
        try:
            with open(self.path, "rb") as fh:
                raw = fh.read()
        except OSError as exc:
            raise DataError(f"cannot read the results file {self.path}: {exc.strerror or exc}") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DataError(f"{self.path} is not a results file of lstm sweep (not UTF-8 text); "
                            "it was left as it is") from None
        first_line = {}
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = RunRecord.from_json(line)
            except ValueError as exc:
                raise DataError(f"{self.path} line {number}: {exc}; the file was left as it is "
                                "(use another --results file)") from None
            if record.key in first_line:
                raise DataError(f"{self.path} line {number}: the same run as line {first_line[record.key]} "
                                "(two sweeps writing one file?); the file was left as it is")
            first_line[record.key] = number
            self.records[record.key] = record
        if text and not text.endswith("\n"):
            raise DataError(f"{self.path} line {text.count(chr(10)) + 1}: no line end (not written by "
                            "lstm sweep); the file was left as it is")
        self._text = text
        self._stamp = _stamp(self.path)

    def add(self, record: RunRecord) -> None:
        """Append ``record`` as one line; the file on disk is always whole (old or new)."""
        if record.key in self.records:
            raise ValueError(f"{self.path}: the run {record.key} is already recorded")
        if _stamp(self.path) != self._stamp:
            raise DataError(f"{self.path} was changed by something else while the sweep ran; not "
                            "overwriting it (the finished run was not recorded)")
        text = self._text + record.to_json() + "\n"
        write_atomic(self.path, lambda fh: fh.write(text), binary=False)
        self._text = text
        self._stamp = _stamp(self.path)
        self.records[record.key] = record


def _stamp(path: str):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def _settings(cfg: TaskConfig) -> tuple:
    """Everything of a configuration but the grid's axes (length, cell, seed)."""
    return tuple((k, v) for k, v in asdict(cfg).items() if k not in ("length", "cell", "seed"))


def _heading(cfg: TaskConfig, records) -> str:
    cpu = sum(r.cpu_seconds for r in records)
    return (f"Task: {cfg.task}; budget {cfg.sequences:,} training sequences per run, batch {cfg.batch_size}, "
            f"Adam lr {cfg.lr}, gradient-norm clip {cfg.clip}, hidden {cfg.hidden}, "
            f"LSTM forget-gate bias {cfg.forget_bias}, {cfg.test_size} test sequences, check every "
            f"{cfg.eval_every} sequences; {len(records)} runs, {format_seconds(cpu)} of CPU time in all.")


def summary_table(records) -> list[str]:
    """Per (T, cell): solved fraction and mean sequences until solved, beside the paper's mean."""
    groups: dict[tuple, list[RunRecord]] = {}
    for rec in records:
        c = rec.result.config
        groups.setdefault((c.task, c.length, c.cell), []).append(rec)
    lines = ["| task | T | cell | solved | mean sequences until solved | range (solved runs) | "
             "paper: mean sequences until solved (LSTM) | mean time per run (wall) |",
             "|---|---:|---|---:|---:|---|---:|---:|"]
    for (task, length, cell), recs in sorted(groups.items(), key=lambda kv: kv[0][1:]):
        until = [r.result.solved_at for r in recs if r.result.solved]
        mean = f"{sum(until) / len(until):,.0f}" if until else "-"
        span = f"{min(until):,}–{max(until):,}" if len(until) > 1 else (f"{until[0]:,}" if until else "-")
        paper = PAPER_SEQUENCES.get((task, length))
        paper_text = f"{paper:,}" if paper and cell in ("lstm", "peephole") else "-"
        wall = sum(r.result.seconds for r in recs) / len(recs)
        lines.append(f"| {task} | {length} | {cell_label(cell)} | {len(until)}/{len(recs)} | {mean} | {span} | "
                     f"{paper_text} | {format_seconds(wall)} |")
    return lines


def render_tables(records) -> list[str]:
    """Markdown: per group of equal settings a heading line, the summary table and every run."""
    groups: dict[tuple, list[RunRecord]] = {}
    for rec in records:
        groups.setdefault(_settings(rec.result.config), []).append(rec)
    lines: list[str] = []
    for recs in groups.values():
        recs = sorted(recs, key=lambda r: (r.result.config.length, r.result.config.cell, r.result.config.seed))
        if lines:
            lines.append("")
        lines += [_heading(recs[0].result.config, recs), ""] + summary_table(recs) + [""]
        lines += format_results_table([r.result for r in recs])
    return lines
