"""Fault injection: a checkpointing ``lstm stock`` run (a real subprocess) is killed with SIGKILL at
random moments and once in the middle of writing its checkpoint, then resumed.  Nothing may be
lost (the resumed run ends with exactly the parameters of an uninterrupted one), the checkpoint
on disk is always a whole, readable one, and no temporary file is left behind after the next run."""
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from lstm.checkpoint import read_checkpoint

from .test_cli import ROOT, write_csv

EPOCHS = 12
ARGS = ["--epochs", str(EPOCHS), "--hidden", "4", "--window", "5", "--batch-size", "16", "--patience", "99",
        "--no-plot", "--progress", "epoch"]

# stops in the middle of the second checkpoint write: the temporary file is written, not yet moved
SLOW_FSYNC = """
import os, sys, time
flag, calls = sys.argv[1], []
def stalled_fsync(fd):
    calls.append(fd)
    if len(calls) == 2:
        open(flag, "w").close()
        time.sleep(120)
os.fsync = stalled_fsync
from lstm.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _env():
    return dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS="1")


def _stock(csv, ckpt, resume):
    return [sys.executable, "-m", "lstm", "stock", "--csv", str(csv), "--checkpoint", str(ckpt)] + ARGS + \
        (["--resume"] if resume else [])


def _finish(csv, ckpt, leftovers=0):
    proc = subprocess.run(_stock(csv, ckpt, ckpt.exists()), cwd=ckpt.parent, env=_env(), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("lstm: warning: removed ") == leftovers, proc.stderr
    return read_checkpoint(ckpt)


def _assert_same_run(a, b):
    assert a.meta["epoch"] == b.meta["epoch"] == EPOCHS
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    assert a.meta["history"]["val_loss"] == b.meta["history"]["val_loss"]


def _leftovers(folder):
    return [n for n in os.listdir(folder) if n.endswith(".tmp")]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reference")
    csv = write_csv(folder / "prices.csv")
    return _finish(csv, folder / "c.npz")


def test_kill_during_the_checkpoint_write_then_resume(tmp_path, reference):
    csv, ckpt, flag = write_csv(tmp_path / "prices.csv"), tmp_path / "c.npz", tmp_path / "stalled"
    cmd = [sys.executable, "-c", SLOW_FSYNC, str(flag)] + _stock(csv, ckpt, False)[3:]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while not flag.exists():
            assert proc.poll() is None and time.time() < deadline, "the run ended before its second write"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert len(_leftovers(tmp_path)) == 1  # the half-written checkpoint of epoch 2
    assert read_checkpoint(ckpt).meta["epoch"] == 1  # the last whole one is untouched
    _assert_same_run(_finish(csv, ckpt, leftovers=1), reference)
    assert _leftovers(tmp_path) == []


def _kill_after_epoch(proc, epoch, delay):
    """Reads the run's progress until it reports ``epoch``, waits ``delay`` seconds, kills it;
    True when the kill cut the run short (it had not exited by itself)."""
    for line in proc.stderr:
        if line.startswith(f"epoch {epoch}/"):
            break
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.stderr.close()
    return proc.wait() == -signal.SIGKILL


def test_random_kills_then_resume_lose_nothing(tmp_path, reference):
    """Each run is killed a random moment after the report of one of the next two epochs (never the
    last), so the kill falls inside training or a checkpoint write whatever the machine's speed.
    A run gets at most two epochs further, so with 12 epochs all five runs start; at least three
    must die by the kill (a run may still finish its last epoch within the kill's 10 ms delay)."""
    csv, ckpt = write_csv(tmp_path / "prices.csv"), tmp_path / "c.npz"
    rng = random.Random(int(os.environ.get("KILL_SEED", "10")))
    killed = 0
    for _ in range(5):
        done = read_checkpoint(ckpt).meta["epoch"] if ckpt.exists() else 0
        if done >= EPOCHS - 1:
            break
        proc = subprocess.Popen(_stock(csv, ckpt, ckpt.exists()), cwd=tmp_path, env=_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        killed += _kill_after_epoch(proc, min(done + rng.randint(1, 2), EPOCHS - 1), rng.uniform(0.0, 0.01))
        if ckpt.exists():
            assert read_checkpoint(ckpt).meta["epoch"] <= EPOCHS - 1  # a whole, readable checkpoint
    assert killed >= 3  # runs were really cut short
    orphans = len(_leftovers(tmp_path))
    _assert_same_run(_finish(csv, ckpt, leftovers=orphans), reference)
    assert _leftovers(tmp_path) == []
