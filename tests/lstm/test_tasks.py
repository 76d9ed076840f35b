"""Tests for lstm.tasks: the generators produce the right targets; a tiny training run works."""
import numpy as np
import pytest

from lstm import tasks
from lstm.tasks import TaskConfig, adding_batch, copy_batch, run_task, temporal_order_batch


@pytest.mark.parametrize("length", [6, 10, 37, 100])
def test_adding_batch_marks_and_targets(length):
    rng = np.random.default_rng(length)
    X, y, marked = adding_batch(rng, 500, length)
    assert X.shape == (length, 500, 2) and y.shape == (500, 1)
    values, markers = X[:, :, 0].T, X[:, :, 1].T
    assert np.all((values >= -1) & (values <= 1))
    assert np.all((markers == 1.0).sum(axis=1) == 2)
    first, second = marked[:, 0], marked[:, 1]
    assert np.all(first != second)
    assert np.all(first < min(10, length))
    assert np.all(second < length // 2 - 1)
    rows = np.arange(500)
    np.testing.assert_allclose(y[:, 0], 0.5 + (values[rows, first] + values[rows, second]) / 4)
    assert np.all((y >= 0) & (y <= 1))
    # first and last steps carry -1 unless marked; everything else is 0
    for b in range(500):
        expect = np.zeros(length)
        expect[0] = expect[-1] = -1.0
        expect[[first[b], second[b]]] = 1.0
        np.testing.assert_array_equal(markers[b], expect)
    # the paper sets X1 to zero when the first pair is the one marked first
    assert np.all(values[first == 0, 0] == 0.0)


def test_adding_batch_second_mark_is_uniform_over_the_allowed_span():
    _, _, marked = adding_batch(np.random.default_rng(0), 20000, 20)  # span = 9 positions
    counts = np.bincount(marked[:, 1], minlength=9)
    assert counts.size == 9 and counts.min() > 0.7 * counts.mean()


def test_adding_batch_rejects_tiny_lengths():
    with pytest.raises(ValueError, match="length must be an integer >= 6"):
        adding_batch(np.random.default_rng(0), 2, 5)


@pytest.mark.parametrize("length", [10, 100])
def test_temporal_order_batch(length):
    X, labels, pos = temporal_order_batch(np.random.default_rng(1), 400, length)
    assert X.shape == (length, 400, 8) and labels.shape == (400,) and labels.dtype == np.int64
    np.testing.assert_array_equal(X.sum(-1), 1.0)  # one-hot
    sym = X.argmax(-1).T                            # (batch, length)
    assert np.all(sym[:, 0] == 6) and np.all(sym[:, -1] == 7)  # E ... B
    t1, t2 = pos[:, 0], pos[:, 1]
    assert np.all((t1 >= max(1, length // 10)) & (t1 <= max(1, length // 5)))
    assert np.all((t2 >= length // 2) & (t2 <= length // 2 + length // 10))
    xy = np.isin(sym, (4, 5))
    assert np.all(xy.sum(axis=1) == 2)
    rows = np.arange(400)
    order = ["".join("X" if s == 4 else "Y" for s in pair) for pair in zip(sym[rows, t1], sym[rows, t2])]
    assert [tasks.TEMPORAL_CLASSES[k] for k in labels] == order
    assert set(labels.tolist()) == {0, 1, 2, 3}
    middle = np.delete(sym, [0, length - 1], axis=1)
    assert np.all((middle <= 5))


def test_copy_batch():
    X, labels = copy_batch(np.random.default_rng(2), 50, delay=7, n_copy=3, n_symbols=4)
    assert X.shape == (7 + 6, 50, 6) and labels.shape == (3, 50)
    sym = X.argmax(-1)
    np.testing.assert_array_equal(sym[:3], labels)       # the symbols come first...
    assert np.all(sym[3:9] == 4)                          # ...then delay - 1 blanks
    assert np.all(sym[9] == 5)                            # the delimiter
    assert np.all(sym[10:] == 4)                          # and n_copy - 1 blanks to answer in
    assert labels.max() < 4


def test_chance_levels():
    cfg = TaskConfig(task="adding", length=20, test_size=2000).resolved()
    test = tasks._test_set(cfg)
    assert 0.1 < tasks.chance_correct(cfg, test) < 0.2
    cfg = TaskConfig(task="temporal-order", length=20, test_size=2000).resolved()
    assert 0.2 < tasks.chance_correct(cfg, tasks._test_set(cfg)) < 0.3


def test_test_set_is_fixed_and_lengths_vary():
    cfg = TaskConfig(task="adding", length=50, test_size=450).resolved()
    a, b = tasks._test_set(cfg), tasks._test_set(cfg)
    assert sum(X.shape[1] for X, _ in a) == 450
    for (Xa, ya), (Xb, yb) in zip(a, b):
        np.testing.assert_array_equal(Xa, Xb)
    assert all(50 <= X.shape[0] <= 55 for X, _ in a)


def test_tiny_training_run_learns_the_short_adding_problem():
    cfg = TaskConfig(task="adding", length=6, cell="lstm", sequences=3200, eval_every=3200, test_size=200,
                     lr=0.02, seed=0)
    res = run_task(cfg)
    assert res.sequences_seen <= 3200
    assert res.test_correct > 0.5 > res.chance_correct  # far above the constant-0.5 predictor
    assert "adding T=6 LSTM" in res.summary()
    table = tasks.format_results_table([res])
    assert table[0].startswith("| task | T | cell") and "| adding | 6 | LSTM |" in table[2]


@pytest.mark.parametrize("task,cell", [("temporal-order", "rnn"), ("copy", "peephole"), ("adding", "gru"),
                                       ("adding", "lstm1997")])
def test_every_task_and_cell_trains(task, cell):
    res = run_task(TaskConfig(task=task, length=10, cell=cell, sequences=64, eval_every=64, test_size=20,
                              hidden=4))
    assert res.sequences_seen == 64 and 0.0 <= res.test_correct <= 1.0
    assert res.curve == [(64, res.test_correct)]


def test_cells_and_labels_come_from_the_registry():
    from lstm.cells import CELLS
    assert tasks.CELL_CHOICES == tuple(CELLS)
    assert [tasks.cell_label(c) for c in CELLS] == [k.label for k in CELLS.values()]


def test_checkpoint_holds_the_trained_network_and_its_task(tmp_path):
    from lstm.checkpoint import read_checkpoint
    path = tmp_path / "a.npz"
    res = run_task(TaskConfig(task="adding", length=8, cell="lstm1997", sequences=64, eval_every=64, test_size=20,
                              hidden=3, checkpoint=str(path)))
    saved = read_checkpoint(path)
    assert saved.hparams["task"] == "adding" and saved.hparams["length"] == 8 and saved.hparams["cell"] == "lstm1997"
    assert saved.meta["sequences_seen"] == res.sequences_seen == 64
    assert set(saved.params) == {"lstm19970.W_x", "lstm19970.W_h", "lstm19970.b", "out.W", "out.b"}
    with pytest.raises(Exception, match="does not exist"):
        run_task(TaskConfig(task="adding", length=8, sequences=32, checkpoint=str(tmp_path / "no" / "a.npz")))


def test_config_validation():
    with pytest.raises(ValueError, match="task must be one of"):
        TaskConfig(task="xor").resolved()
    with pytest.raises(ValueError, match="cell must be one of"):
        TaskConfig(cell="transformer").resolved()
    d = TaskConfig(task="copy").resolved()
    assert d.hidden == tasks.task_defaults("copy")["hidden"]
