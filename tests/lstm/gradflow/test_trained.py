"""lstm.gradflow.trained and ``lstm gradflow --checkpoint``: a trained network from a checkpoint written by
``lstm task --checkpoint``, and the same network before training, drawn side by side."""
import shutil

import numpy as np
import pytest

from lstm import gradflow as gf
from lstm.checkpoint import CheckpointError, save_checkpoint
from lstm.cli import main as lstm_main
from lstm.layers import SequenceModel
from lstm.tasks import TaskConfig, run_task

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")


@pytest.fixture(scope="module")
def adding_checkpoint(tmp_path_factory):
    """A small LSTM trained briefly on the adding task (T = 10), written by run_task."""
    path = tmp_path_factory.mktemp("ckpt") / "adding.npz"
    run_task(TaskConfig(task="adding", length=10, cell="lstm", hidden=5, sequences=256, batch_size=32,
                        test_size=64, eval_every=256, forget_bias=1.0, checkpoint=str(path)))
    return path


def test_read_trained_rebuilds_before_and_loads_after(adding_checkpoint):
    tr = gf.read_trained(adding_checkpoint)
    assert tr.kind == "lstm" and tr.task == "adding" and tr.length == 10 and "256 sequences" in tr.what
    fresh = SequenceModel("lstm", n_in=2, n_hidden=5, n_out=1, seed=0, forget_bias=1.0)
    for p, q in zip(tr.before.params, fresh.cells[0].params):  # before = the initial weights, exactly
        np.testing.assert_array_equal(p.get_value(), q.get_value())
    assert any(not np.array_equal(p.get_value(), q.get_value()) for p, q in zip(tr.after.params, tr.before.params))
    x = tr.inputs(12)
    assert x.shape == (12, 1, 2) and set(np.unique(x[:, 0, 1])) <= {-1.0, 0.0, 1.0}  # adding: value, marker
    assert tr.readout.shape == (5,)


@needs_dot
def test_command_draws_before_and_after(adding_checkpoint, tmp_path, capsys):
    out = tmp_path / "trained.svg"
    assert gf.main(["--checkpoint", str(adding_checkpoint), "--steps", "12", "--out", str(out),
                    "--columns", "4"]) == 0
    text = capsys.readouterr().out
    assert "lstm-before" in text and "lstm-after" in text and "mean f" in text
    svg = out.read_text(encoding="utf-8")
    assert "LSTM before training" in svg and "LSTM after training (adding T=10, 256 sequences)" in svg


def test_task_checkpoint_needs_one_cell(tmp_path, capsys):
    assert lstm_main(["task", "adding", "--cell", "lstm,rnn", "--checkpoint", str(tmp_path / "c.npz")]) != 0
    assert "give one --cell" in capsys.readouterr().err


def test_refuses_what_it_cannot_draw(tmp_path):
    deep = SequenceModel("lstm", n_in=2, n_hidden=3, n_layers=2)
    save_checkpoint(tmp_path / "deep.npz", deep.params, deep.hparams())
    with pytest.raises(CheckpointError, match="2 recurrent layers"):
        gf.read_trained(tmp_path / "deep.npz")
    (tmp_path / "text.npz").write_text("not a checkpoint")
    with pytest.raises(CheckpointError):
        gf.read_trained(tmp_path / "text.npz")
    with pytest.raises(CheckpointError, match="no checkpoint"):
        gf.read_trained(tmp_path / "missing.npz")
