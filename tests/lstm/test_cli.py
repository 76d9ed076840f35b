"""Tests for the ``lstm`` command line (lstm.cli): smoke runs on tiny settings and every error path.

Error paths must print exactly one line ``lstm: error: ...`` on stderr, exit non-zero, show
no traceback and leave an existing output file untouched.
"""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from lstm.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = ["--epochs", "2", "--hidden", "4", "--window", "5", "--batch-size", "32", "--quiet"]


def write_csv(path, n=160, seed=0, price_col="close", bad_row=None):
    rng = np.random.default_rng(seed)
    prices = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    dates = np.datetime64("2020-01-01") + np.arange(n)
    lines = [f"date,{price_col}"]
    for i, (d, p) in enumerate(zip(dates, prices)):
        lines.append(f"{d},{'n/a' if i == bad_row else f'{p:.4f}'}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def csv_file(tmp_path):
    return write_csv(tmp_path / "prices.csv")


def _previous_plot_bytes():
    """A small plot as this program writes it (with its mark), so a rerun may replace it."""
    from matplotlib.figure import Figure

    from lstm.stock import save_figure_atomic

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".previous-plot.png")
    try:
        save_figure_atomic(Figure(figsize=(1, 1)), path)
        with open(path, "rb") as fh:
            return fh.read()
    finally:
        os.unlink(path)


PREVIOUS_PLOT = _previous_plot_bytes()


@pytest.fixture
def old_plot(tmp_path):
    path = tmp_path / "out.png"
    path.write_bytes(PREVIOUS_PLOT)
    return path


def run_cli(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *fragments):
    assert code == 1
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("lstm: error: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# ---------------------------------------------------------------------------------------------
# Smoke runs
# ---------------------------------------------------------------------------------------------


def test_stock_default_mode_on_a_csv(csv_file, tmp_path, capsys):
    out_png = tmp_path / "plot.png"
    code, out, err = run_cli(["stock", "--csv", str(csv_file), "--out", str(out_png)] + TINY, capsys)
    assert code == 0, err
    assert err == ""  # --quiet: no progress
    assert "test results" in out and "persistence" in out and "linear AR(5)" in out
    assert "By test RMSE on prices, the best is" in out
    assert out.rstrip().splitlines()[-1].startswith("elapsed: ")
    assert out_png.read_bytes()[:4] == b"\x89PNG"


def test_stock_progress_lines_go_to_stderr(csv_file, tmp_path, capsys):
    code, out, err = run_cli(["stock", "--csv", str(csv_file), "--out", str(tmp_path / "p.svg"),
                              "--epochs", "2", "--hidden", "3", "--window", "4", "--progress", "epoch"], capsys)
    assert code == 0
    assert [line.split("  ")[0] for line in err.splitlines()] == ["epoch 1/2", "epoch 2/2"]
    assert [line.split("  ")[3] for line in err.splitlines()] == ["lr 0.003", "lr 0.003"]
    code, out, err = run_cli(["stock", "--csv", str(csv_file), "--no-plot", "--epochs", "3", "--hidden", "3",
                              "--window", "4", "--progress", "epoch", "--lr-drop", "0.5", "--lr-every", "2"], capsys)
    assert code == 0
    assert [line.split("  ")[3] for line in err.splitlines()] == ["lr 0.003", "lr 0.003", "lr 0.0015"]
    assert (tmp_path / "p.svg").read_text().lstrip().startswith("<?xml")


def test_stock_builtin_symbol_subprocess(tmp_path):
    """``python -m lstm stock`` on the shipped data, in a child process."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run(
        [sys.executable, "-m", "lstm", "stock", "--symbol", "ibm", "--epochs", "1", "--hidden", "4",
         "--window", "5", "--batch-size", "256", "--cell", "gru", "--no-plot"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "data: IBM adjusted close, 3270 prices" in proc.stdout
    assert "GRU (4 units)" in proc.stdout
    assert "epoch 1/1" in proc.stderr  # not a terminal: one line per epoch
    assert not os.path.exists(tmp_path / "stock.png")


def test_help_and_usage_errors(capsys):
    assert main(["--help"]) == 0
    assert "stock" in capsys.readouterr().out
    assert main(["stock", "--hidden", "0"]) == 2
    assert "expected a positive integer" in capsys.readouterr().err
    assert main(["stock", "--csv", "a.csv", "--symbol", "IBM"]) == 2


def test_tutorial_mode_prints_a_summary_by_default(csv_file, tmp_path, capsys):
    code, out, err = run_cli(["stock", "--tutorial", "--csv", str(csv_file), "--no-plot"], capsys)
    assert code == 0, err
    assert not [line for line in out.splitlines() if line.startswith("iteration ")]
    assert "final running RMSE e = " in out and len(out.splitlines()) < 10


def test_tutorial_mode_prints_the_iteration_lines(csv_file, tmp_path, capsys):
    code, out, err = run_cli(["stock", "--tutorial", "--log-iterations", "--csv", str(csv_file),
                              "--out", str(tmp_path / "t.png")], capsys)
    assert code == 0, err
    lines = out.splitlines()
    iterations = [line for line in lines if line.startswith("iteration ")]
    assert [line.split(":")[0] for line in iterations] == [f"iteration {j}" for j in range(0, 155, 10)]
    assert float(iterations[0].split(": ")[1]) > 0
    assert any(line.startswith("final running RMSE e = ") for line in lines)
    assert (tmp_path / "t.png").exists()


def test_tutorial_mode_reads_the_legacy_pickle(tmp_path, capsys):
    xlist = [[float(i + k + 1) for k in range(5)] for i in range(30)]
    ylist = [float(i + 6) for i in range(30)]
    path = tmp_path / "stockTT.bin"
    path.write_bytes(pickle.dumps((xlist, ylist), protocol=2))
    code, out, err = run_cli(["stock", "--tutorial", "--log-iterations", "--legacy-pickle", str(path), "--no-plot"],
                             capsys)
    assert code == 0, err
    assert "iteration 20: " in out and "stockTT.bin" in out
    # the same file in the default mode: the pairs are rebuilt into one series of 35 prices
    code, out, err = run_cli(["stock", "--legacy-pickle", str(path), "--no-plot", "--window", "2", "--epochs", "1",
                              "--quiet"], capsys)
    assert code == 0, err
    assert "data: stockTT.bin, 35 prices -> 32 windows" in out
    code, out, err = run_cli(["stock", "--legacy-pickle", str(path), "--no-plot", "--window", "10"], capsys)
    assert_one_line_error(code, err, "too short", "35 prices")


def test_task_command_tiny(capsys):
    code, out, err = run_cli(["task", "adding", "--length", "6", "--cell", "lstm,rnn", "--sequences", "64",
                              "--eval-every", "64", "--test-size", "20", "--hidden", "4", "--quiet"], capsys)
    assert code == 0, err
    assert "adding T=6 LSTM" in out and "adding T=6 RNN" in out
    assert "| adding | 6 | LSTM |" in out and "| adding | 6 | RNN |" in out


@pytest.mark.parametrize("mode", ["auto", "numpy", "numba"])
def test_task_command_says_which_mode_ran(mode, capsys):
    if mode == "numba":
        pytest.importorskip("numba")
    code, out, err = run_cli(["task", "adding", "--length", "6", "--cell", "lstm", "--sequences", "32",
                              "--eval-every", "32", "--test-size", "10", "--hidden", "3", "--quiet",
                              "--mode", mode], capsys)
    assert code == 0, err
    assert "| adding | 6 | LSTM |" in out
    # auto: numpy for sequences shorter than 10 steps (a native call costs more than it saves there)
    assert out.rstrip().splitlines()[-1] == f"mode: {'numpy' if mode == 'auto' else mode}"


def test_sweep_command_writes_markdown(tmp_path, capsys):
    md = tmp_path / "table.md"
    code, out, err = run_cli(["sweep", "--task", "temporal-order", "--lengths", "10", "--cells", "rnn",
                              "--seeds", "0,1", "--scheduler", "serial", "--sequences", "32", "--eval-every", "32",
                              "--test-size", "10", "--hidden", "3", "--markdown", str(md), "--quiet"], capsys)
    assert code == 0, err
    text = md.read_text()
    assert "| temporal-order | 10 | RNN | 0/2 |" in text or "| temporal-order | 10 | RNN | 1/2 |" in text
    assert text.count("| temporal-order | 10 | RNN | 3 |") == 2
    code, _, err = run_cli(["sweep", "--task", "copy", "--lengths", "1", "--cells", "rnn", "--seeds", "0",
                            "--sequences", "8", "--test-size", "4", "--hidden", "2", "--markdown", str(md),
                            "--quiet"], capsys)
    assert code == 0, err  # our own table may be replaced by a rerun ...
    assert "| copy | 1 | RNN |" in md.read_text()
    md.write_text("my notes\n")
    code, _, err = run_cli(["sweep", "--task", "copy", "--lengths", "1", "--cells", "rnn", "--seeds", "0",
                            "--markdown", str(md), "--quiet"], capsys)
    assert_one_line_error(code, err, "refusing to overwrite", "not a markdown file this program wrote")
    assert md.read_text() == "my notes\n"  # ... a user's file may not


# ---------------------------------------------------------------------------------------------
# Resume
# ---------------------------------------------------------------------------------------------


def _results_block(out):
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("test results"))
    return lines[start:start + 6]


def test_resumed_cli_run_equals_uninterrupted_run(csv_file, tmp_path, capsys):
    from lstm.checkpoint import read_checkpoint

    common = ["stock", "--csv", str(csv_file), "--hidden", "4", "--window", "5", "--batch-size", "16",
              "--patience", "50", "--seed", "3", "--quiet", "--no-plot"]
    code, full_out, err = run_cli(common + ["--epochs", "4", "--checkpoint", str(tmp_path / "a.npz")], capsys)
    assert code == 0, err
    code, _, err = run_cli(common + ["--epochs", "2", "--checkpoint", str(tmp_path / "b.npz")], capsys)
    assert code == 0, err
    code, resumed_out, err = run_cli(common + ["--epochs", "4", "--checkpoint", str(tmp_path / "b.npz"),
                                               "--resume"], capsys)
    assert code == 0, err
    assert _results_block(resumed_out) == _results_block(full_out)
    a, b = read_checkpoint(tmp_path / "a.npz"), read_checkpoint(tmp_path / "b.npz")
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    assert a.meta["history"] == b.meta["history"] and b.meta["epoch"] == 4


# ---------------------------------------------------------------------------------------------
# Error paths: one line, non-zero exit, no traceback, nothing overwritten
# ---------------------------------------------------------------------------------------------


def test_error_wrong_csv_column(csv_file, old_plot, capsys):
    code, _, err = run_cli(["stock", "--csv", str(csv_file), "--price-col", "adj_close",
                            "--out", str(old_plot)] + TINY, capsys)
    assert_one_line_error(code, err, "column 'adj_close' not found", "'date', 'close'")
    assert old_plot.read_bytes() == PREVIOUS_PLOT


def test_error_too_short_series(tmp_path, old_plot, capsys):
    path = write_csv(tmp_path / "short.csv", n=30)
    code, _, err = run_cli(["stock", "--csv", str(path), "--out", str(old_plot)] + TINY, capsys)
    assert_one_line_error(code, err, "too short", "30 prices")
    assert old_plot.read_bytes() == PREVIOUS_PLOT


def test_error_non_numeric_price(tmp_path, old_plot, capsys):
    path = write_csv(tmp_path / "bad.csv", bad_row=17)
    code, _, err = run_cli(["stock", "--csv", str(path), "--out", str(old_plot)] + TINY, capsys)
    assert_one_line_error(code, err, "row 18", "'n/a' is not a number")
    assert old_plot.read_bytes() == PREVIOUS_PLOT


def test_error_checkpoint_of_another_architecture(csv_file, tmp_path, old_plot, capsys):
    ckpt = tmp_path / "model.npz"
    code, _, err = run_cli(["stock", "--csv", str(csv_file), "--checkpoint", str(ckpt), "--no-plot"] + TINY,
                           capsys)
    assert code == 0, err
    before = ckpt.read_bytes()
    args = ["stock", "--csv", str(csv_file), "--checkpoint", str(ckpt), "--resume", "--out", str(old_plot),
            "--epochs", "3", "--hidden", "6", "--layers", "2", "--window", "5", "--quiet"]
    code, _, err = run_cli(args, capsys)
    assert_one_line_error(code, err, "written with different settings", "n_hidden=4 (now 6)", "n_layers=1 (now 2)")
    assert ckpt.read_bytes() == before
    assert old_plot.read_bytes() == PREVIOUS_PLOT


def test_error_resume_without_a_checkpoint(csv_file, tmp_path, capsys):
    code, _, err = run_cli(["stock", "--csv", str(csv_file), "--resume", "--no-plot"] + TINY, capsys)
    assert_one_line_error(code, err, "--resume needs --checkpoint")
    code, _, err = run_cli(["stock", "--csv", str(csv_file), "--resume", "--checkpoint",
                            str(tmp_path / "nothing.npz"), "--no-plot"] + TINY, capsys)
    assert_one_line_error(code, err, "no checkpoint at")


def test_error_corrupt_checkpoint(csv_file, tmp_path, capsys):
    ckpt = tmp_path / "broken.npz"
    ckpt.write_bytes(b"PK\x03\x04 not really a zip")
    code, _, err = run_cli(["stock", "--csv", str(csv_file), "--resume", "--checkpoint", str(ckpt),
                            "--no-plot"] + TINY, capsys)
    assert_one_line_error(code, err, "cannot read checkpoint")
    assert ckpt.read_bytes() == b"PK\x03\x04 not really a zip"


@pytest.mark.parametrize("where", ["missing-dir", "file-as-dir", "directory", "bad-extension"])
def test_error_unwritable_output_path(csv_file, tmp_path, capsys, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    out = {"missing-dir": tmp_path / "no" / "such" / "dir" / "p.png",
           "file-as-dir": blocker / "p.png",
           "directory": tmp_path,
           "bad-extension": tmp_path / "plot.docx"}[where]
    code, _, err = run_cli(["stock", "--csv", str(csv_file), "--out", str(out)] + TINY, capsys)
    assert_one_line_error(code, err, "cannot write the plot")
    assert blocker.read_text() == "a file"


def test_error_unwritable_checkpoint_path(csv_file, tmp_path, capsys):
    code, _, err = run_cli(["stock", "--csv", str(csv_file), "--checkpoint", str(tmp_path / "x" / "c.npz"),
                            "--no-plot"] + TINY, capsys)
    assert_one_line_error(code, err, "cannot write the checkpoint")


class _Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_error_malicious_legacy_pickle(tmp_path, old_plot, capsys):
    victim = tmp_path / "pwned.txt"
    path = tmp_path / "stockTT.bin"
    path.write_bytes(pickle.dumps(([[1.0, 2.0]], [_Evil(str(victim))])))
    for mode in ([], ["--tutorial"]):
        code, _, err = run_cli(["stock", "--legacy-pickle", str(path), "--out", str(old_plot)] + mode, capsys)
        assert_one_line_error(code, err, "refusing to load", "tries to import")
    assert not victim.exists()
    assert old_plot.read_bytes() == PREVIOUS_PLOT


@pytest.mark.parametrize("payload,fragment", [
    (pickle.dumps(([[1.0, 2.0]], [1.0]))[:-5], "not a valid pickle"),
    (pickle.dumps({"x": 1}), "expected a pickled pair"),
    (b"", "the file is empty"),
])
def test_error_malformed_legacy_pickle(tmp_path, old_plot, capsys, payload, fragment):
    path = tmp_path / "stockTT.bin"
    path.write_bytes(payload)
    code, _, err = run_cli(["stock", "--tutorial", "--legacy-pickle", str(path), "--out", str(old_plot)], capsys)
    assert_one_line_error(code, err, fragment)
    assert old_plot.read_bytes() == PREVIOUS_PLOT


def test_error_unknown_symbol_and_missing_csv(tmp_path, capsys):
    code, _, err = run_cli(["stock", "--symbol", "TSLA", "--no-plot"] + TINY, capsys)
    assert_one_line_error(code, err, "no built-in data for symbol 'TSLA'")
    code, _, err = run_cli(["stock", "--csv", str(tmp_path / "nope.csv"), "--no-plot"] + TINY, capsys)
    assert_one_line_error(code, err, "no such file")


def test_error_bad_flag_combinations(csv_file, capsys):
    code, _, err = run_cli(["stock", "--csv", str(csv_file), "--cell", "gru", "--peephole", "--no-plot"] + TINY,
                           capsys)
    assert_one_line_error(code, err, "--peephole needs --cell lstm")
    code, _, err = run_cli(["stock", "--tutorial", "--csv", str(csv_file), "--checkpoint", "c.npz"], capsys)
    assert_one_line_error(code, err, "--checkpoint is not available with --tutorial")


def test_error_paths_in_a_subprocess_have_no_traceback(tmp_path):
    """The real entry point (``python -m lstm``) exits 1 with one line for a bad CSV column."""
    path = write_csv(tmp_path / "p.csv", n=50)
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-m", "lstm", "stock", "--csv", str(path), "--price-col", "px"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("lstm: error: ")
    assert "column 'px' not found" in proc.stderr
    assert proc.stdout == ""
    assert not (tmp_path / "stock.png").exists()


# ---------------------------------------------------------------------------------------------
# Deep constructions (--arch) and the tutorial's sequence variant
# ---------------------------------------------------------------------------------------------


def test_arch_option_on_every_command(csv_file, tmp_path, capsys):
    code, out, err = run_cli(["stock", "--csv", str(csv_file), "--no-plot", "--arch", "dts", "--depth", "3",
                              "--width", "5"] + TINY, capsys)
    assert code == 0, err
    assert "LSTM (4 units, DT(S)-RNN (depth 3))" in out
    code, out, err = run_cli(["task", "adding", "--length", "6", "--cell", "rnn", "--sequences", "32",
                              "--eval-every", "32", "--test-size", "10", "--hidden", "3", "--arch", "do", "--quiet"],
                             capsys)
    assert code == 0, err
    assert "| adding | 6 | RNN DO-RNN (depth 2) |" in out
    code, out, err = run_cli(["sweep", "--task", "adding", "--lengths", "6", "--cells", "rnn", "--seeds", "0",
                              "--sequences", "32", "--eval-every", "32", "--test-size", "10", "--hidden", "3",
                              "--arch", "shallow,dt", "--scheduler", "serial", "--quiet"], capsys)
    assert code == 0, err
    assert "| adding | 6 | RNN | 0/1 |" in out and "| adding | 6 | RNN DT-RNN (depth 2) | 0/1 |" in out
    code, out, err = run_cli(["gradflow", "--arch", "dt", "--cell", "rnn", "--steps", "8", "--json"], capsys)
    assert code == 0, err
    norms = __import__("json").loads(out)["rnn"]
    assert set(norms) == {"shallow", "dt"} and len(norms["dt"]) == 8
    png = tmp_path / "reach.png"
    code, out, err = run_cli(["gradflow", "--arch", "dts", "--cell", "lstm", "--steps", "6", "--plot", str(png)], capsys)
    assert code == 0, err
    assert "DT(S)-RNN (depth 2)" in out and png.read_bytes()[:4] == b"\x89PNG"


def test_arch_usage_errors(csv_file, capsys):
    for args, fragment in ((["stock", "--arch", "dt", "--depth", "1"], "--depth 2 or more"),
                           (["stock", "--width", "4"], "--width needs a deep --arch"),
                           (["stock", "--layers", "2", "--arch", "do"], "--arch stacked --depth N"),
                           (["stock", "--sequence"], "--sequence belongs to --tutorial"),
                           (["task", "copy", "--criterion", "paper"], "no paper criterion"),
                           (["gradflow", "--arch", "dt", "--ablation"], "leave out --arch")):
        code, _, err = run_cli(args, capsys)
        assert_one_line_error(code, err, fragment)
    assert main(["stock", "--arch", "deep"]) == 2


def test_tutorial_degeneracy_and_the_sequence_variant(csv_file, capsys):
    """Length-1 sequences: the forget gate, W_h and the i/f peepholes never change and cutting them
    changes nothing; fed as sequences, all of them are trained and cutting them changes the output."""
    base = ["stock", "--tutorial", "--csv", str(csv_file), "--no-plot", "--quiet", "--peephole"]
    code, out, err = run_cli(base, capsys)
    assert code == 0, err
    assert "never changed: lstm0.W_x[f], lstm0.W_h, lstm0.b[f], lstm0.p_i, lstm0.p_f" in out
    assert out.count("predictions change by 0 on average") == 3
    code, out, err = run_cli(base + ["--sequence"], capsys)
    assert code == 0, err
    assert "never changed: none" in out and "(--sequence)" in out
    changes = [float(line.split("change by ")[1].split()[0]) for line in out.splitlines() if "change by" in line]
    assert len(changes) == 3 and min(changes) > 0


# ---------------------------------------------------------------------------------------------
# Issue 10: nothing clobbered, nothing diverged saved, one line for every refusal
# ---------------------------------------------------------------------------------------------


def test_checkpoint_may_not_overwrite_the_input_csv(csv_file, capsys):
    before = csv_file.read_bytes()
    code, _, err = run_cli(["stock", "--csv", str(csv_file), "--checkpoint", str(csv_file), "--no-plot"] + TINY,
                           capsys)
    assert_one_line_error(code, err, f"the checkpoint {csv_file} is also an input")
    assert csv_file.read_bytes() == before


def test_checkpoint_and_plot_may_not_share_a_path(csv_file, tmp_path, capsys):
    same = str(tmp_path / "both.png")
    code, _, err = run_cli(["stock", "--csv", str(csv_file), "--checkpoint", same, "--out", same] + TINY, capsys)
    assert_one_line_error(code, err, "the checkpoint and the plot are the same file")
    assert not os.path.exists(same)


def test_a_users_file_or_a_device_is_never_overwritten(csv_file, tmp_path, capsys):
    notes = tmp_path / "notes.npz"
    notes.write_bytes(b"PK\x03\x04 my zip")
    code, _, err = run_cli(["stock", "--csv", str(csv_file), "--checkpoint", str(notes), "--no-plot"] + TINY, capsys)
    assert_one_line_error(code, err, "refusing to overwrite", "not a checkpoint this program wrote")
    assert notes.read_bytes() == b"PK\x03\x04 my zip"
    code, _, err = run_cli(["stock", "--csv", str(csv_file), "--checkpoint", "/dev/null", "--no-plot"] + TINY, capsys)
    assert_one_line_error(code, err, "/dev/null: it is a character device, not a regular file")


def test_a_rerun_replaces_its_own_checkpoint_and_plot(csv_file, tmp_path, capsys):
    args = ["stock", "--csv", str(csv_file), "--checkpoint", str(tmp_path / "c.npz"), "--out",
            str(tmp_path / "p.svg")] + TINY
    for _ in range(2):
        code, _, err = run_cli(args, capsys)
        assert code == 0, err
    assert sorted(os.listdir(tmp_path)) == ["c.npz", "p.svg", "prices.csv"]


def test_inputs_that_are_not_regular_files_are_refused(tmp_path, capsys):
    code, _, err = run_cli(["stock", "--csv", "/dev/zero", "--no-plot"] + TINY, capsys)
    assert_one_line_error(code, err, "/dev/zero: is a character device, expected a regular CSV file")
    fifo = tmp_path / "in.bin"
    os.mkfifo(fifo)
    code, _, err = run_cli(["stock", "--tutorial", "--legacy-pickle", str(fifo), "--no-plot"], capsys)
    assert_one_line_error(code, err, "is a FIFO (named pipe), expected a regular pickle file")


def test_a_model_too_large_for_memory_is_refused_up_front(csv_file, capsys):
    code, _, err = run_cli(["stock", "--csv", str(csv_file), "--hidden", "1000000000", "--no-plot"], capsys)
    assert_one_line_error(code, err, "1000000000 hidden units", "GiB of memory is available")
    code, _, err = run_cli(["task", "adding", "--hidden", "1000000000", "--quiet"], capsys)
    assert_one_line_error(code, err, "use a smaller --hidden")


@pytest.mark.parametrize("args, fragment", [
    (["task", "adding", "--length", "5"], "--length 5 is too short for the adding task: it needs at least 6"),
    (["task", "adding", "--length", "1"], "--length 1 is too short for the adding task"),
    (["task", "temporal-order", "--length", "2"], "needs at least 10"),
])
def test_too_short_task_lengths_are_one_line(capsys, args, fragment):
    code, _, err = run_cli(args + ["--quiet"], capsys)
    assert_one_line_error(code, err, fragment)


@pytest.mark.parametrize("args, fragment", [
    (["stock", "--seed", "-1"], "--seed: expected a seed between 0 and 2**32 - 1, got -1"),
    (["task", "copy", "--seed", "-1"], "--seed: expected a seed"),
    (["task", "copy", "--forget-bias", "nan"], "--forget-bias: expected a finite number, got nan"),
    (["stock", "--lr", "inf"], "--lr: expected a positive finite number, got inf"),
    (["gradflow", "--seed", "-1"], "--seed: expected a seed"),
    (["gradflow", "--forget-bias", "inf"], "--forget-bias: expected a finite number"),
    (["gradflow", "--out", "x.qqq"], "cannot write the diagram x.qqq: unknown image format .qqq; use one of"),
])
def test_bad_numbers_are_usage_errors(capsys, args, fragment):
    assert main(args) == 2
    assert fragment in capsys.readouterr().err


def test_task_help_states_minimum_lengths_and_real_defaults(capsys):
    assert main(["task", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "at least 6 for adding, 10 for temporal-order, 1 for copy" in text
    assert "default: adding 16, temporal-order 16, copy 32" in text
    assert "per task, see" not in text


def test_reversed_csv_is_a_warning_and_semicolons_get_a_hint(tmp_path, capsys):
    path = write_csv(tmp_path / "p.csv")
    header, *rows = path.read_text().splitlines()
    path.write_text("\n".join([header] + rows[::-1]) + "\n")
    code, _, err = run_cli(["stock", "--csv", str(path), "--no-plot"] + TINY, capsys)
    assert code == 0, err
    assert err.splitlines()[0].startswith("lstm: warning: ") and "newest first" in err
    path.write_text(path.read_text().replace(",", ";"))
    code, _, err = run_cli(["stock", "--csv", str(path), "--no-plot"] + TINY, capsys)
    assert_one_line_error(code, err, "looks ';'-separated")


def test_diverged_training_is_one_line_and_saves_nothing(csv_file, tmp_path, capsys):
    ckpt = tmp_path / "c.npz"
    code, _, err = run_cli(["stock", "--csv", str(csv_file), "--checkpoint", str(ckpt), "--lr", "1e300",
                            "--no-clip", "--no-plot"] + TINY, capsys)
    assert_one_line_error(code, err, "training diverged", "learning rate 1e+300 overflows")
    assert not ckpt.exists()


def test_log_iterations_needs_the_tutorial(csv_file, capsys):
    code, _, err = run_cli(["stock", "--csv", str(csv_file), "--log-iterations", "--no-plot"] + TINY, capsys)
    assert_one_line_error(code, err, "--log-iterations needs --tutorial")


@pytest.mark.parametrize("payload", [b"epoch,loss\n1,0.5\n", bytes(range(256)) * 8])
def test_resume_from_a_text_or_random_file_is_one_clear_line(csv_file, tmp_path, capsys, payload):
    ckpt = tmp_path / "c.npz"
    ckpt.write_bytes(payload)
    code, _, err = run_cli(["stock", "--csv", str(csv_file), "--resume", "--checkpoint", str(ckpt),
                            "--no-plot"] + TINY, capsys)
    assert_one_line_error(code, err, "is not a checkpoint: not an .npz (zip) archive")
    assert "allow_pickle" not in err and ckpt.read_bytes() == payload
