"""lstm.compare: one honest stock run per setting and seed, one table; the runs are pure, so
serial and a real Dask cluster agree."""
import io
import os
import subprocess
import sys

import numpy as np
import pytest

from lstm.compare import compare, forecast_run, main
from lstm.stock import PriceSeries
from lstm.sweep import Job, SweepError, run_jobs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def synthetic():
    rng = np.random.default_rng(0)
    return PriceSeries(None, 50 * np.exp(np.cumsum(rng.normal(0, 0.02, 200))), "synthetic")


TINY = dict(out=None, progress="off", epochs=2, window=5)


def test_compare_table_rows_and_persistence():
    lines = compare(synthetic(), "hidden", [3, 5], [0, 1], dict(out=None, progress="off", epochs=1, window=5),
                    out=lambda *_: None)
    assert lines[0].startswith("| hidden | test RMSE")
    rows = [line.split(" | ") for line in lines[2:]]
    assert [r[0] for r in rows] == ["| 3", "| 5"]
    for r in rows:
        assert r[3] in ("0/2", "1/2", "2/2")
        p_values = [float(v) for v in r[4].split(", ")]
        assert len(p_values) == 2 and all(0 <= v <= 1 for v in p_values)


def test_compare_rejects_unknown_fields(capsys):
    with pytest.raises(SystemExit):
        main(["--vary", "colour=1,2"])
    assert "NAME one of" in capsys.readouterr().err


def test_bad_scheduler_and_workers_are_one_line_errors(capsys):
    for argv, fragment in ([["--scheduler", "nowhere"], "expected local, serial or a scheduler address"],
                           [["--scheduler", "serial", "--workers", "2"], "--workers sets the size of the local"],
                           [["--workers", "0"], "expected a positive integer"]):
        with pytest.raises(SystemExit):
            main(["--vary", "hidden=2"] + argv)
        assert fragment in capsys.readouterr().err


def test_a_failing_run_is_named_and_fails_the_comparison():
    with pytest.raises(SweepError, match=r"1 of 1 runs failed: cell=nope seed 0"):
        compare(synthetic(), "cell", ["nope"], [0], dict(out=None, progress="off", epochs=1, window=5),
                out=lambda *_: None)


def test_local_cluster_gives_the_serial_numbers():
    """Each run is a pure function of its configuration and seed: a real 2-worker LocalCluster
    returns exactly (bit for bit) what this process computes."""
    pytest.importorskip("distributed")
    series = synthetic()
    configs = [dict(TINY, hidden=h, seed=s) for h in (2, 3) for s in (0, 1)]
    serial = [forecast_run(series, c) for c in configs]
    got = {}

    def keep(job, value):
        got[job.key] = value
        return job.label

    jobs = [Job(f"compare-test-{i}", f"run {i}", forecast_run, (series, c)) for i, c in enumerate(configs)]
    assert run_jobs(jobs, keep, "local", 2, out=lambda line: None) == []
    assert [got[j.key] for j in jobs] == serial
    assert len({v[0] for v in serial}) == len(serial)  # the runs differ: the comparison is not vacuous


def test_compare_on_a_local_cluster_prints_the_serial_table():
    pytest.importorskip("distributed")
    serial = compare(synthetic(), "hidden", [2, 3], [0, 1], TINY, out=lambda *_: None, scheduler="serial")
    stream = io.StringIO()
    parallel = compare(synthetic(), "hidden", [2, 3], [0, 1], TINY, out=lambda *_: None, scheduler="local",
                       workers=2, stream=stream)
    assert parallel == serial
    assert "lstm.compare: a local Dask cluster of 2 worker processes" in stream.getvalue()
    assert stream.getvalue().count("test RMSE") == 4  # one line per finished run


def test_without_dask_local_falls_back_to_serial_with_one_line():
    code = ("import sys; sys.modules['distributed'] = None\n"  # as if dask were not installed
            "from lstm.compare import main\n"
            "sys.exit(main(['--vary', 'hidden=2', '--seeds', '0', '--set', 'epochs=1']))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    notes = [line for line in proc.stderr.splitlines() if "dask" in line]
    assert notes == ["lstm.compare: dask.distributed is not installed (pip install 'minigraph[dask]'); "
                     "running the grid serially in this process"]
    assert proc.stdout.startswith("| hidden | test RMSE") and "1 runs in" in proc.stdout
