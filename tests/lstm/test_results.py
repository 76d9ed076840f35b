"""Tests for lstm.results: the JSON-lines results file of ``lstm sweep`` and its tables.

The file must round-trip every run exactly, refuse (with one message naming the line, the file
untouched) anything it did not write, and never overwrite a file changed behind its back.
"""
import json

import pytest

from lstm.data import DataError
from lstm.results import PAPER_SEQUENCES, ResultsFile, RunRecord, render_tables, run_key
from lstm.tasks import TaskConfig, TaskResult, run_task

TINY = dict(task="adding", length=6, hidden=3, sequences=64, eval_every=32, test_size=20)


@pytest.fixture(scope="module")
def records():
    """Two real (tiny) runs."""
    out = []
    for seed in (0, 1):
        result = run_task(TaskConfig(seed=seed, **TINY))
        out.append(RunRecord.new(result, cpu_seconds=0.5))
    return out


def test_record_round_trips_exactly(records):
    for rec in records:
        back = RunRecord.from_json(rec.to_json())
        assert back == rec
        assert back.result.curve == rec.result.curve and back.result.test_loss == rec.result.test_loss


def test_results_file_appends_and_rereads(tmp_path, records):
    path = tmp_path / "runs.jsonl"
    book = ResultsFile(str(path))
    assert book.records == {}
    for rec in records:
        book.add(rec)
    assert path.read_text().count("\n") == 2
    again = ResultsFile(str(path))
    assert list(again.records) == [rec.key for rec in records]
    assert list(again.records.values()) == records
    with pytest.raises(ValueError, match="already recorded"):
        again.add(records[0])
    assert path.read_text().count("\n") == 2


def _broken_lines(rec):
    good = json.loads(rec.to_json())
    unknown = json.loads(rec.to_json())
    unknown["config"]["colour"] = "red"
    wrong_type = json.loads(rec.to_json())
    wrong_type["config"]["length"] = "6"
    no_result_field = json.loads(rec.to_json())
    del no_result_field["result"]["curve"]
    solved_mismatch = json.loads(rec.to_json())
    solved_mismatch["result"]["solved"], solved_mismatch["result"]["solved_at"] = False, 64
    return {
        "not JSON": "{this is not json",
        "not a run record": json.dumps({"hello": 1}),
        "unknown fields": json.dumps(unknown),
        "config field length must be int": json.dumps(wrong_type),
        "result must be an object with the fields": json.dumps(no_result_field),
        "solved_at must be null": json.dumps(solved_mismatch),
        "format": json.dumps({**good, "format": "someone-else/1"}),
    }


@pytest.mark.parametrize("case", ["not JSON", "not a run record", "unknown fields", "config field length must be int",
                                  "result must be an object with the fields", "solved_at must be null", "format"])
def test_foreign_or_corrupt_line_is_refused_naming_the_line(tmp_path, records, case):
    bad = _broken_lines(records[0])[case]
    path = tmp_path / "runs.jsonl"
    content = records[0].to_json() + "\n" + bad + "\n"
    path.write_text(content)
    with pytest.raises(DataError) as info:
        ResultsFile(str(path))
    message = str(info.value)
    assert "\n" not in message
    assert f"{path} line 2:" in message and case.split()[0] in message
    assert path.read_text() == content


def test_repeated_run_and_missing_line_end_are_refused(tmp_path, records):
    path = tmp_path / "runs.jsonl"
    path.write_text(records[0].to_json() + "\n" + records[0].to_json() + "\n")
    with pytest.raises(DataError, match="line 2: the same run as line 1"):
        ResultsFile(str(path))
    path.write_text(records[0].to_json())
    with pytest.raises(DataError, match="line 1: no line end"):
        ResultsFile(str(path))
    path.write_bytes(b"\xff\xfe binary")
    with pytest.raises(DataError, match="not UTF-8"):
        ResultsFile(str(path))
    assert path.read_bytes() == b"\xff\xfe binary"


def test_file_changed_behind_our_back_is_not_overwritten(tmp_path, records):
    path = tmp_path / "runs.jsonl"
    book = ResultsFile(str(path))
    book.add(records[0])
    path.write_text("someone else's text\n")
    with pytest.raises(DataError, match="changed by something else"):
        book.add(records[1])
    assert path.read_text() == "someone else's text\n"


def test_record_without_a_newer_config_field_takes_its_default(records):
    obj = json.loads(records[0].to_json())
    del obj["config"]["forget_bias"]
    rec = RunRecord.from_json(json.dumps(obj))
    assert rec.result.config.forget_bias == TaskConfig().forget_bias


def _fake(length, cell, seed, solved_at, sequences=300_000):
    cfg = TaskConfig(task="adding", length=length, cell=cell, seed=seed, sequences=sequences).resolved()
    solved = solved_at is not None
    result = TaskResult(cfg, solved, solved_at, solved_at or sequences, 0.995 if solved else 0.15, 0.01, 0.001,
                        0.15, 12.0, [])
    return RunRecord(result, 10.0, "host", "2026-01-01T00:00:00Z")


def test_tables_show_solved_fraction_mean_and_the_papers_number():
    recs = [_fake(100, "lstm", 0, 100_000), _fake(100, "lstm", 1, 200_000), _fake(100, "lstm", 2, None),
            _fake(100, "rnn", 0, None), _fake(100, "rnn", 1, None)]
    lines = render_tables(recs)
    lstm_row = next(line for line in lines if line.startswith("| adding | 100 | LSTM | 2/3 |"))
    assert "| 150,000 |" in lstm_row and "100,000–200,000" in lstm_row
    assert f"| {PAPER_SEQUENCES[('adding', 100)]:,} |" in lstm_row
    rnn_row = next(line for line in lines if line.startswith("| adding | 100 | RNN | 0/2 |"))
    assert "| - | - | - |" in rnn_row
    assert sum(line.startswith("| adding | 100 |") for line in lines) == 2 + 5  # summary rows + every run
    assert "5 runs, 0:50 of CPU time in all" in lines[0]


def test_tables_split_runs_of_different_settings():
    recs = [_fake(100, "lstm", 0, 100_000), _fake(100, "lstm", 1, 90_000, sequences=200_000)]
    headings = [line for line in render_tables(recs) if line.startswith("Task: adding")]
    assert len(headings) == 2
    assert run_key(recs[0].result.config) != run_key(recs[1].result.config)
