"""Tests for lstm.sweep and the ``lstm sweep`` command.

The promises: a run is a pure function of its configuration (the same numbers serially, on a
real local Dask cluster and on a cluster reached by address); a rerun with ``--results`` skips
what is done; a worker killed mid-run gets its run retried, recorded exactly once; bad grids
and files give one-line errors.
"""
import io
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from lstm.cli import main
from lstm.results import ResultsFile
from lstm.sweep import GridError, _Progress, build_grid, dask_key, run_sweep

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = dict(hidden=3, sequences=64, eval_every=32, test_size=20)


def numbers(result):
    """Everything a run computes (not its timing)."""
    return (result.config, result.solved, result.solved_at, result.sequences_seen, result.test_correct,
            result.test_error, result.test_loss, result.chance_correct, result.curve)


def quiet_sweep(configs, **kw):
    return run_sweep(configs, out=lambda line: None, **kw)


# ---------------------------------------------------------------------------------------------
# The grid
# ---------------------------------------------------------------------------------------------


def test_grid_is_every_combination_in_order_without_repeats():
    grid = build_grid("adding", [6, 8], ["lstm", "rnn"], [1, 0, 1], **TINY)
    assert [(c.length, c.cell, c.seed) for c in grid] == [
        (6, "lstm", 1), (6, "lstm", 0), (6, "rnn", 1), (6, "rnn", 0),
        (8, "lstm", 1), (8, "lstm", 0), (8, "rnn", 1), (8, "rnn", 0)]
    assert all(c.hidden == 3 and c.lr == 0.01 for c in grid)  # resolved: per-task defaults filled in


@pytest.mark.parametrize("lengths,seeds,option,fragment", [
    ([0], [0], "lengths", "positive integer, got 0"),
    ([-5], [0], "lengths", "got -5"),
    ([3], [0], "lengths", "adding: the length must be an integer >= 6"),
    ([6], [-1], "seeds", "integer >= 0, got -1"),
])
def test_bad_grid_names_its_axis(lengths, seeds, option, fragment):
    with pytest.raises(GridError, match=fragment) as info:
        build_grid("adding", lengths, ["lstm"], seeds, **TINY)
    assert info.value.option == option


@pytest.mark.parametrize("argv,fragment", [
    (["--lengths", "0"], "--lengths: every length must be a positive integer, got 0"),
    (["--lengths=-5"], "--lengths: every length must be a positive integer, got -5"),
    (["--seed", "-1"], "--seeds: every seed must be an integer >= 0, got -1"),
    (["--scheduler", "nowhere"], "--scheduler: expected local, serial or a scheduler address"),
    (["--tables-only"], "--tables-only renders the runs of a --results FILE"),
    (["--tables-only", "--results", "no-such-file.jsonl"], "there is no results file no-such-file.jsonl"),
    (["--workers", "2", "--scheduler", "serial"], "--workers sets the size of the local cluster"),
])
def test_cli_bad_sweep_options_are_one_line_errors(argv, fragment, capsys):
    code = main(["sweep"] + argv)
    out, err = capsys.readouterr()
    assert code == 1 and len(err.splitlines()) == 1, err
    assert err.startswith(f"lstm: error: {fragment}")


# ---------------------------------------------------------------------------------------------
# Serial: results file, resume, tables
# ---------------------------------------------------------------------------------------------


def test_rerun_skips_recorded_runs_and_extends_the_file(tmp_path):
    path = str(tmp_path / "runs.jsonl")
    first = quiet_sweep(build_grid("adding", [6], ["lstm"], [0, 1], **TINY), scheduler="serial", results=path)
    before = open(path).read()
    assert before.count("\n") == 2
    # as if the first sweep had been killed after two runs: the bigger grid only runs what is missing
    stream = io.StringIO()
    second = quiet_sweep(build_grid("adding", [6], ["lstm"], [0, 1, 2], **TINY), scheduler="serial",
                         results=path, progress=stream)
    after = open(path).read()
    assert after.startswith(before) and after.count("\n") == 3
    assert "2 of 3 runs already in" in stream.getvalue()
    assert [numbers(r) for r in second[:2]] == [numbers(r) for r in first]
    # everything done: a rerun runs nothing and leaves the file alone
    third = quiet_sweep(build_grid("adding", [6], ["lstm"], [0, 1, 2], **TINY), scheduler="serial", results=path)
    assert open(path).read() == after and [numbers(r) for r in third] == [numbers(r) for r in second]


def test_a_failing_run_is_reported_not_recorded_and_the_others_go_on(tmp_path):
    import dataclasses

    from lstm.sweep import SweepError

    good = build_grid("adding", [6], ["rnn"], [0], **TINY)[0]
    bad = dataclasses.replace(good, cell="bogus")  # fails inside the run, as a diverging one would
    path, printed = str(tmp_path / "runs.jsonl"), []
    with pytest.raises(SweepError, match=f"1 of 2 runs failed .* recorded in {path}, rerun the command to retry"):
        run_sweep([bad, good], scheduler="serial", results=path, out=printed.append)
    assert any(line.startswith("FAILED: adding T=6 bogus seed 0: ValueError: cell must be one of")
               for line in printed)
    assert [rec.result.config for rec in ResultsFile(path).records.values()] == [good]


def test_tables_only_renders_every_run_in_the_file(tmp_path, capsys):
    path = str(tmp_path / "runs.jsonl")
    quiet_sweep(build_grid("adding", [6], ["lstm", "rnn"], [0], **TINY), scheduler="serial", results=path)
    md = tmp_path / "tables.md"
    code = main(["sweep", "--results", path, "--tables-only", "--markdown", str(md), "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    text = md.read_text()
    assert "| adding | 6 | LSTM | " in text and "| adding | 6 | RNN | " in text
    assert text.count("| adding | 6 | LSTM | 3 | 0 |") == 1 and "Task: adding; budget 64" in text
    assert os.path.getsize(path) > 0


def test_corrupt_results_file_is_a_one_line_error_and_left_alone(tmp_path, capsys):
    path = tmp_path / "runs.jsonl"
    path.write_text("date,price\n2020-01-01,3\n")
    code = main(["sweep", "--lengths", "6", "--cells", "lstm", "--seeds", "0", "--scheduler", "serial",
                 "--results", str(path), "--sequences", "32", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 1 and len(err.splitlines()) == 1
    assert f"{path} line 1: not JSON" in err
    assert path.read_text() == "date,price\n2020-01-01,3\n"


def test_progress_line_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term, printed = Terminal(), []
    progress = _Progress(total=4, done=1, stream=term, live=True, out=printed.append)
    progress.tick(running=2)
    assert "1/4 runs done, 2 running, 1 left; elapsed" in term.getvalue() and "estimating" in term.getvalue()
    progress.finished("run A")
    assert printed == ["run A"]
    assert "2/4 runs done, 1 running, 1 left" in term.getvalue() and "left" in term.getvalue().rsplit("elapsed", 1)[1]
    progress.close()
    assert term.getvalue().endswith("\r\x1b[2K")


def test_without_dask_local_falls_back_to_serial_with_one_line(tmp_path):
    code = ("import sys; sys.modules['distributed'] = None\n"  # as if dask were not installed
            "from lstm.cli import main\n"
            "sys.exit(main(['sweep', '--lengths', '6', '--cells', 'rnn', '--seeds', '0', '--sequences', '32',"
            " '--eval-every', '32', '--test-size', '10', '--hidden', '2']))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    notes = [line for line in proc.stderr.splitlines() if "dask" in line]
    assert notes == ["lstm sweep: dask.distributed is not installed (pip install 'minigraph[dask]'); "
                     "running the grid serially in this process"]
    assert "| adding | 6 | RNN | 0/1 |" in proc.stdout or "| adding | 6 | RNN | 1/1 |" in proc.stdout


# ---------------------------------------------------------------------------------------------
# A real Dask cluster
# ---------------------------------------------------------------------------------------------


def test_local_cluster_gives_the_serial_numbers(tmp_path):
    pytest.importorskip("distributed")
    grid = build_grid("temporal-order", [10], ["lstm", "rnn"], [0, 1], **TINY)
    serial = quiet_sweep(grid, scheduler="serial")
    stream = io.StringIO()
    path = str(tmp_path / "runs.jsonl")
    parallel = quiet_sweep(grid, scheduler="local", workers=2, results=path, progress=stream)
    assert [numbers(r) for r in parallel] == [numbers(r) for r in serial]
    assert len(ResultsFile(path).records) == 4
    assert "a local Dask cluster of 2 worker processes" in stream.getvalue()
    try:
        import bokeh  # noqa: F401  (the [dask] extra installs it; the dashboard needs it)
    except ImportError:
        pass
    else:
        assert "Dask dashboard at http://" in stream.getvalue()


def test_killed_worker_run_is_retried_once_on_a_cluster_by_address(tmp_path):
    distributed = pytest.importorskip("distributed")
    grid = build_grid("adding", [40], ["lstm"], [0, 1], hidden=6, sequences=6144, eval_every=6144, test_size=50)
    serial = quiet_sweep(grid, scheduler="serial")
    path = str(tmp_path / "runs.jsonl")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=50) as cluster, distributed.Client(cluster) as client:
        done = {}
        sweep = threading.Thread(target=lambda: done.setdefault("results", quiet_sweep(
            grid, scheduler=cluster.scheduler_address, results=path)))
        sweep.start()
        def executing(dask_worker):  # nested, so that it travels to the workers by value
            return os.getpid(), [str(ts.key) for ts in dask_worker.state.executing]

        keys, deadline, hit = {dask_key(cfg) for cfg in grid}, time.monotonic() + 60, None
        while hit is None and time.monotonic() < deadline and sweep.is_alive():
            for pid, running in client.run(executing).values():
                hit = hit or next(((pid, k) for k in running if k in keys), None)
            time.sleep(0.05)
        assert hit is not None, "no run was seen executing"
        pid, key = hit
        os.kill(pid, signal.SIGKILL)
        sweep.join(timeout=120)
        assert not sweep.is_alive()
        story = client.story(key)
    started = [entry for entry in story if len(entry) > 2 and entry[2] == "processing"]
    assert len(started) >= 2, story  # the run went to a worker again after its first one died
    assert [numbers(r) for r in done["results"]] == [numbers(r) for r in serial]
    assert open(path).read().count("\n") == 2 and len(ResultsFile(path).records) == 2



def test_sweep_killed_mid_grid_resumes_where_it_stopped(tmp_path):
    path = tmp_path / "runs.jsonl"
    argv = [sys.executable, "-m", "lstm", "sweep", "--task", "adding", "--lengths", "6", "--cells", "lstm",
            "--seeds", "0,1,2,3,4,5", "--hidden", "3", "--sequences", "2048", "--eval-every", "1024",
            "--test-size", "20", "--scheduler", "serial", "--results", str(path), "--quiet"]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not (
            path.exists() and path.read_text().count("\n") >= 2):
        time.sleep(0.02)
    proc.kill()  # a crash: no chance to clean up
    proc.wait(timeout=30)
    before = ResultsFile(str(path)).records  # whole, valid lines only
    assert 2 <= len(before) < 6, "the sweep was not stopped mid-grid; make its runs longer"
    rerun = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    after = ResultsFile(str(path)).records
    assert len(after) == 6 and all(after[k] == rec for k, rec in before.items())
    assert sorted(rec.result.config.seed for rec in after.values()) == [0, 1, 2, 3, 4, 5]
