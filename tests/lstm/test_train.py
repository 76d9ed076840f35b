"""Tests for lstm.train (the training loop: progress, early stopping, best restore, resume) and its
guards: lstm.diverge (non-finite data, losses, gradients and parameters stop the run before it is
saved) and lstm.resume (every field of a checkpoint's training state is checked)."""
import io
import json
import math

import numpy as np
import pytest

import minigraph as theano
import minigraph.tensor as T
from lstm.checkpoint import CheckpointError
from lstm.data import DataError
from lstm.diverge import DivergenceError
from lstm.layers import SequenceModel, mse
from lstm.optim import StepDecay
from lstm.train import History, ProgressBar, Trainer, format_seconds, minibatch_indices



def _toy(seed=3, clip=1.0):
    model = SequenceModel("lstm", 1, 5, 1, seed=seed)
    X, y = T.tensor3("X"), T.matrix("y")
    trainer = Trainer([X, y], mse(model.build(X), y), model.params, lr=0.02, clip=clip, batch_axes=[1, 0])
    return model, trainer


def _toy_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 90, 1))
    y = 0.3 * X.sum(0) + 0.1 * rng.normal(size=(90, 1))
    return (X[:, :60], y[:60]), (X[:, 60:], y[60:])


def test_minibatches_cover_everything_once():
    batches = minibatch_indices(10, 4, np.random.default_rng(0))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(np.concatenate(batches).tolist()) == list(range(10))
    assert np.concatenate(minibatch_indices(5, 2, None)).tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("stop_after", [2, 3])
def test_resumed_run_equals_uninterrupted_run(tmp_path, stop_after):
    train, val = _toy_data()
    kw = dict(batch_size=16, seed=7, schedule=StepDecay(0.02, 0.5, 2), progress="off")
    model, tr = _toy()
    full_hist = tr.fit(train, val, epochs=5, checkpoint=tmp_path / "a.npz", hparams=model.hparams(), **kw)
    full = tr.get_param_values()
    model, tr = _toy()
    tr.fit(train, val, epochs=stop_after, checkpoint=tmp_path / "b.npz", hparams=model.hparams(), **kw)
    model, tr = _toy()
    resumed_hist = tr.fit(train, val, epochs=5, checkpoint=tmp_path / "b.npz", hparams=model.hparams(),
                          resume=True, **kw)
    for a, b in zip(full, tr.get_param_values()):
        np.testing.assert_array_equal(a, b)
    assert resumed_hist.train_loss == full_hist.train_loss
    assert resumed_hist.val_loss == full_hist.val_loss
    assert resumed_hist.lr == [0.02, 0.02, 0.01, 0.01, 0.005]
    assert resumed_hist.resumed_from == stop_after


def test_resume_refuses_a_different_architecture(tmp_path):
    from lstm.checkpoint import CheckpointError

    train, val = _toy_data()
    model, tr = _toy()
    tr.fit(train, val, epochs=1, checkpoint=tmp_path / "c.npz", hparams=model.hparams(), progress="off")
    before = (tmp_path / "c.npz").read_bytes()
    other = SequenceModel("lstm", 1, 6, 1, seed=3)
    X, y = T.tensor3("X"), T.matrix("y")
    tr2 = Trainer([X, y], mse(other.build(X), y), other.params, batch_axes=[1, 0])
    with pytest.raises(CheckpointError, match="n_hidden"):
        tr2.fit(train, val, epochs=2, checkpoint=tmp_path / "c.npz", hparams=other.hparams(), resume=True,
                progress="off")
    assert (tmp_path / "c.npz").read_bytes() == before
    with pytest.raises(CheckpointError, match="no checkpoint to resume"):
        tr2.fit(train, val, epochs=2, checkpoint=tmp_path / "none.npz", resume=True, progress="off")


def test_early_stopping_restores_the_best_parameters():
    train, val = _toy_data()
    model, tr = _toy()
    snapshots = []
    hist = tr.fit(train, val, epochs=40, batch_size=8, patience=2, progress="off",
                  on_epoch=lambda e, h: snapshots.append(tr.get_param_values()))
    assert hist.stopped_early and hist.epochs_run < 40
    assert hist.epochs_run - hist.best_epoch == 2
    assert hist.best_val == min(hist.val_loss)
    for a, b in zip(tr.get_param_values(), snapshots[hist.best_epoch - 1]):
        np.testing.assert_array_equal(a, b)
    assert tr.evaluate(val) == pytest.approx(hist.best_val)


def test_progress_bar_modes():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty, log = Tty(), io.StringIO()
    assert ProgressBar(3, stream=tty).mode == "bar"
    assert ProgressBar(3, stream=log).mode == "epoch"
    for stream in (tty, log):
        bar = ProgressBar(3, stream=stream, min_interval=0.0)
        bar.begin_epoch(1, 4)
        for i in range(1, 5):
            bar.update(i, 0.5)
        bar.end_epoch(0.5, 0.6, 1e-3, True)
    assert "\repoch 1/3 [" in tty.getvalue() and "4/4 loss 0.5000" in tty.getvalue() and "ETA" in tty.getvalue()
    assert tty.getvalue().endswith("*\n")
    assert log.getvalue().splitlines() == [log.getvalue().splitlines()[0]]
    assert log.getvalue().startswith("epoch 1/3  train 0.5000  val 0.6000  lr 0.001")
    off = io.StringIO()
    bar = ProgressBar(3, stream=off, mode="off")
    bar.begin_epoch(1, 1)
    bar.update(1, 0.1)
    bar.end_epoch(0.1, None, 0.1, False)
    assert off.getvalue() == ""


def test_format_seconds():
    assert format_seconds(4.24) == "4.2s"
    assert format_seconds(75.3) == "1:15"
    assert format_seconds(3725) == "1:02:05"
    assert format_seconds(float("nan")) == "?"


def test_history_state_round_trip():
    h = History([1.0, 0.5], [0.9, 0.7], [0.1, 0.1], 2, 0.7, 2, False)
    assert History.from_state(h.to_state()) == h
    assert History.from_state(History().to_state()).best_val == float("inf")


# ---------------------------------------------------------------------------------------------
# Divergence: stopped before anything is written, with the cause named
# ---------------------------------------------------------------------------------------------


def test_overflowing_learning_rate_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    train, val = _toy_data()
    path = tmp_path / "c.npz"
    model, tr = _toy(clip=None)
    tr.fit(train, val, epochs=1, checkpoint=path, hparams=model.hparams(), progress="off")
    good = path.read_bytes()
    tr.lr.set_value(np.asarray(1e300))
    with pytest.raises(DivergenceError, match=r"learning rate 1e\+300 overflows .*use a smaller --lr"):
        tr.fit(train, val, epochs=3, checkpoint=path, hparams=model.hparams(), progress="off",
               schedule=lambda i: 1e300)
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npz"]


def test_divergence_in_the_first_epoch_writes_nothing(tmp_path):
    train, val = _toy_data()
    model, tr = _toy(clip=None)
    with pytest.raises(DivergenceError, match="training diverged"):
        tr.fit(train, val, epochs=2, checkpoint=tmp_path / "c.npz", schedule=lambda i: 1e300, progress="off")
    assert list(tmp_path.iterdir()) == []


def test_an_infinite_gradient_with_a_finite_loss_stops_the_run(tmp_path):
    w = theano.shared(np.full(4, 1e-300), name="w")
    x = T.matrix("x")
    tr = Trainer([x], T.sum(T.dot(x, w)), [w], lr=1e-3)
    data = (np.full((8, 4), 1e200),)
    assert math.isfinite(float(tr.eval_loss(*data)))
    with pytest.raises(DivergenceError, match=r"gradient norm became inf .* while the loss was finite"):
        tr.fit(data, epochs=1, checkpoint=tmp_path / "c.npz", progress="off")
    assert not (tmp_path / "c.npz").exists()


@pytest.mark.parametrize("part", ["training", "validation"])
def test_non_finite_data_are_refused_before_training(tmp_path, part):
    train, val = _toy_data()
    target = train if part == "training" else val
    target[0][2, 1, 0] = np.nan
    model, tr = _toy()
    before = tr.get_param_values()
    with pytest.raises(DataError, match=rf"the {part} data hold 1 non-finite value\(s\) \(input 1, first nan "
                                        r"at index \(2, 1, 0\)\)"):
        tr.fit(train, val, epochs=2, checkpoint=tmp_path / "c.npz", progress="off")
    assert list(tmp_path.iterdir()) == []
    for a, b in zip(before, tr.get_param_values()):
        np.testing.assert_array_equal(a, b)


def test_non_finite_initial_parameters_name_their_source(tmp_path):
    model = SequenceModel("lstm", 1, 5, 1, seed=3, forget_bias=float("nan"))
    X, y = T.tensor3("X"), T.matrix("y")
    tr = Trainer([X, y], mse(model.build(X), y), model.params, batch_axes=[1, 0])
    train, val = _toy_data()
    with pytest.raises(DivergenceError, match=r"holds NaN or infinity before training; .*--forget-bias"):
        tr.fit(train, val, epochs=1, checkpoint=tmp_path / "c.npz", progress="off")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# Crafted checkpoints: every field of the training state is checked on resume
# ---------------------------------------------------------------------------------------------


def _rewrite(path, meta=None, state=None):
    """Rewrite checkpoint ``path`` with ``meta(dict)`` / ``state(dict of arrays)`` edited in place."""
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(str(arrays["__meta__"][()]))
    if meta:
        meta(header["meta"])
    if state:
        for k, v in state.items():
            arrays["state/" + k] = np.asarray(v)
    arrays["__meta__"] = np.array(json.dumps(header))
    np.savez(path, **arrays)


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("ck") / "run.npz"
    train, val = _toy_data()
    model, tr = _toy()
    tr.fit(train, val, epochs=2, checkpoint=path, hparams=model.hparams(), progress="off")
    return path.read_bytes()


@pytest.mark.parametrize("edit, message", [
    (dict(meta=lambda m: m.update(epoch=-5)), r"meta.epoch must be an integer in \[1, "),
    (dict(meta=lambda m: m.update(epoch=True)), "meta.epoch must be an integer"),
    (dict(meta=lambda m: m.update(epoch=2.0)), "meta.epoch must be an integer"),
    (dict(meta=lambda m: m.update(bad_epochs=7)), r"meta.bad_epochs must be an integer in \[0, 2\]"),
    (dict(state={"train.lr": -1.0}), "state train.lr must be one positive number"),
    (dict(state={"train.lr": [0.1, 0.2]}), "state train.lr must be one positive number"),
    (dict(state={"adam.t": -3}), "state adam.t holds negative values"),
    (dict(meta=lambda m: m["history"].update(train_loss=[1.0])), "history.train_loss must be a list of 2"),
    (dict(meta=lambda m: m["history"].update(lr=[0.1, -0.1])), "history.lr holds -0.1"),
    (dict(meta=lambda m: m["history"].update(best_epoch=9)), r"history.best_epoch must be an integer in \[0, 2\]"),
    (dict(meta=lambda m: m["history"].update(stopped_early="no")), "history.stopped_early must be true or false"),
    (dict(meta=lambda m: m.update(rng={"bit_generator": "nope"})), "meta.rng is not a random generator state"),
    (dict(meta=lambda m: m.update(history=[])), "meta.history must be an object"),
])
def test_crafted_training_state_is_refused(tmp_path, saved_run, edit, message):
    path = tmp_path / "run.npz"
    path.write_bytes(saved_run)
    _rewrite(path, **edit)
    model, tr = _toy()
    before = tr.get_param_values()
    train, val = _toy_data()
    with pytest.raises(CheckpointError, match=message):
        tr.fit(train, val, epochs=4, checkpoint=path, hparams=model.hparams(), resume=True, progress="off")
    for a, b in zip(before, tr.get_param_values()):
        np.testing.assert_array_equal(a, b)


def test_nan_in_a_resumed_checkpoint_is_named(tmp_path, saved_run):
    path = tmp_path / "run.npz"
    path.write_bytes(saved_run)
    _rewrite(path, state={"adam.m.lstm0.W_x": np.full((1, 20), np.nan)})
    model, tr = _toy()
    train, val = _toy_data()
    with pytest.raises(CheckpointError, match=r"state adam.m.lstm0.W_x holds 20 non-finite value\(s\)"):
        tr.fit(train, val, epochs=4, checkpoint=path, hparams=model.hparams(), resume=True, progress="off")


def test_a_checkpoint_path_holding_a_users_file_is_refused_before_training(tmp_path):
    user = tmp_path / "notes.npz"
    user.write_bytes(b"mine")
    model, tr = _toy()
    before = tr.get_param_values()
    train, val = _toy_data()
    with pytest.raises(DataError, match="refusing to overwrite"):
        tr.fit(train, val, epochs=1, checkpoint=user, progress="off")
    assert user.read_bytes() == b"mine"
    for a, b in zip(before, tr.get_param_values()):
        np.testing.assert_array_equal(a, b)
