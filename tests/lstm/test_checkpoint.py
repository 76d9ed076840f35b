"""Checkpoints: round trip, atomic writes, clear mismatch errors, and exact resume of training."""
import json
import os
import zipfile

import numpy as np
import pytest

import minigraph as theano
import minigraph.tensor as T

from lstm.checkpoint import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from lstm.layers import SequenceModel, mse
from lstm.optim import adam, clip_grad_norm


def model(**kw):
    args = dict(cell="lstm", n_in=2, n_hidden=3, n_out=1, dtype="float64", seed=0)
    args.update(kw)
    return SequenceModel(**args)


def test_round_trip(tmp_path):
    m = model(peephole=True, n_layers=2)
    rng = np.random.default_rng(0)
    for p in m.params:
        p.set_value(rng.normal(size=p.get_value().shape))
    path = tmp_path / "ckpt.npz"
    extra = {"epoch": 7, "rng": np.arange(5, dtype=np.uint32)}
    save_checkpoint(path, m.params, m.hparams(), state=extra, meta={"history": [1.5, 0.5], "note": "hi"})
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]

    fresh = model(peephole=True, n_layers=2, seed=1)
    assert not np.array_equal(fresh.params[0].get_value(), m.params[0].get_value())
    ck = load_checkpoint(path, fresh.params, fresh.hparams())
    for a, b in zip(m.params, fresh.params):
        np.testing.assert_array_equal(a.get_value(), b.get_value())
        assert b.get_value().dtype == a.get_value().dtype
    assert ck.hparams == m.hparams()
    assert int(ck.state["epoch"]) == 7 and ck.state["rng"].dtype == np.uint32
    assert ck.meta == {"history": [1.5, 0.5], "note": "hi"}
    assert list(ck.params) == [p.name for p in m.params]
    rebuilt = SequenceModel(**ck.hparams)  # hparams are the constructor's arguments
    assert [p.name for p in rebuilt.params] == list(ck.params)
    with pytest.raises(CheckpointError, match="seed=0 but the model has seed=1"):
        load_checkpoint(path, fresh.params, fresh.hparams(), ignore=())


def test_file_is_a_plain_npz_without_pickles(tmp_path):
    m = model()
    path = tmp_path / "c.npz"
    save_checkpoint(path, m.params, m.hparams())
    with np.load(path, allow_pickle=False) as data:
        header = json.loads(str(data["__meta__"][()]))
        assert header["format"] == "minigraph-lstm-checkpoint"
        assert [p["name"] for p in header["params"]] == [p.name for p in m.params]
        np.testing.assert_array_equal(data["param/lstm0.W_x"], m.cells[0].W_x.get_value())
    assert not any(np.load(path)[k].dtype == object for k in np.load(path).files)


def test_float32_round_trip(tmp_path):
    m = model(dtype="float32")
    save_checkpoint(tmp_path / "c", m.params, m.hparams())  # path used as given: no .npz appended
    assert os.path.exists(tmp_path / "c")
    f = model(dtype="float32", seed=3)
    load_checkpoint(tmp_path / "c", f.params, f.hparams())
    assert all(p.get_value().dtype == np.float32 for p in f.params)
    np.testing.assert_array_equal(f.params[0].get_value(), m.params[0].get_value())


# --------------------------------------------------------------------------- atomic writes

@pytest.mark.parametrize("partial", [False, True])
def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch, partial):
    m = model()
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, m.params, m.hparams(), meta={"epoch": 1})
    before = path.read_bytes()

    real_savez = np.savez

    def failing_savez(file, *args, **kwargs):
        if partial:  # write part of an archive, then die
            file.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(np, "savez", failing_savez)
    for p in m.params:
        p.set_value(p.get_value() + 1.0)
    with pytest.raises(OSError, match="simulated"):
        save_checkpoint(path, m.params, m.hparams(), meta={"epoch": 2})
    monkeypatch.setattr(np, "savez", real_savez)

    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]  # no temporary file left behind
    assert path.read_bytes() == before
    assert read_checkpoint(path).meta == {"epoch": 1}


def test_failed_first_write_leaves_nothing(tmp_path, monkeypatch):
    m = model()
    monkeypatch.setattr(np, "savez", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):
        save_checkpoint(tmp_path / "new.npz", m.params, m.hparams())
    assert os.listdir(tmp_path) == []


def test_unserialisable_hparams_fail_before_touching_the_file(tmp_path):
    m = model()
    path = tmp_path / "c.npz"
    save_checkpoint(path, m.params, m.hparams())
    before = path.read_bytes()
    with pytest.raises(TypeError, match="JSON"):
        save_checkpoint(path, m.params, {"f": object()})
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["c.npz"]


# --------------------------------------------------------------------------- mismatches

def test_hidden_size_mismatch_message(tmp_path):
    path = tmp_path / "c.npz"
    small = model(n_hidden=20)
    save_checkpoint(path, small.params, small.hparams())
    big = model(n_hidden=32)
    before = [p.get_value() for p in big.params]
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, big.params, big.hparams())
    msg = str(err.value)
    assert "checkpoint was saved for n_hidden=20 but the model has n_hidden=32" in msg
    assert "lstm0.W_h: checkpoint shape (20, 80) but the model has (32, 128)" in msg
    for p, b in zip(big.params, before):  # nothing was loaded
        np.testing.assert_array_equal(p.get_value(), b)
    with pytest.raises(CheckpointError, match=r"shape \(20, 80\)"):  # without hparams: shapes still checked
        load_checkpoint(path, big.params)


def test_missing_extra_and_dtype_mismatch_listed_together(tmp_path):
    path = tmp_path / "c.npz"
    m = model(peephole=True)
    save_checkpoint(path, m.params, m.hparams())
    plain = model(peephole=False)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, plain.params, plain.hparams())
    msg = str(err.value)
    assert "peephole=true but the model has peephole=false" in msg.lower()
    assert "the checkpoint has params the model lacks: lstm0.p_i, lstm0.p_f, lstm0.p_o" in msg

    gru = model(cell="gru")
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, gru.params)
    msg = str(err.value)
    assert "missing from the checkpoint: gru0.W_x, gru0.W_h, gru0.b, gru0.b_hn" in msg
    assert "problems" in msg

    f32 = model(peephole=True, dtype="float32")
    with pytest.raises(CheckpointError, match="lstm0.W_x: checkpoint dtype float64 but the model has float32"):
        load_checkpoint(path, f32.params)


def test_unreadable_files(tmp_path):
    m = model()
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "absent.npz", m.params)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(CheckpointError, match="not an .npz"):
        load_checkpoint(bad, m.params)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        load_checkpoint(other, m.params)
    trunc = tmp_path / "trunc.npz"
    save_checkpoint(trunc, m.params, m.hparams())
    trunc.write_bytes(trunc.read_bytes()[:200])
    with pytest.raises(CheckpointError):
        load_checkpoint(trunc, m.params)


def test_duplicate_or_unnamed_params_are_refused(tmp_path):
    a = theano.shared(np.zeros(2), name="a")
    with pytest.raises(ValueError, match="unique"):
        save_checkpoint(tmp_path / "c.npz", [a, a], {})
    with pytest.raises(ValueError, match="name"):
        save_checkpoint(tmp_path / "c.npz", [theano.shared(np.zeros(2))], {})
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- resume

def make_trainer(seed=0):
    m = model(n_layers=2, peephole=True, seed=seed)
    X, Y = T.tensor3("X"), T.matrix("Y")
    loss = mse(m.build(X), Y)
    grads = clip_grad_norm(theano.grad(loss, m.params), 1.0)
    opt = adam(m.params, grads, lr=0.01)
    return m, opt, theano.function([X, Y], loss, updates=opt.updates)


def test_resume_is_exact_including_adam_state(tmp_path):
    rng = np.random.default_rng(1)
    batches = [(rng.normal(size=(4, 3, 2)), rng.normal(size=(3, 1))) for _ in range(4)]

    straight, opt_s, step_s = make_trainer()
    losses_s = [float(step_s(*b)) for b in batches]

    first, opt_1, step_1 = make_trainer()
    losses_r = [float(step_1(*b)) for b in batches[:2]]
    path = tmp_path / "resume.npz"
    save_checkpoint(path, first.params, first.hparams(), state=opt_1.state, meta={"step": 2})

    resumed, opt_2, step_2 = make_trainer(seed=99)  # fresh model and optimiser, different init
    ck = load_checkpoint(path, resumed.params, resumed.hparams(), state=opt_2.state)  # seed is not compared
    assert ck.meta["step"] == 2 and int(opt_2.state[0].get_value()) == 2  # adam.t restored
    losses_r += [float(step_2(*b)) for b in batches[2:]]

    assert losses_r == losses_s
    for a, b in zip(straight.params, resumed.params):
        np.testing.assert_array_equal(a.get_value(), b.get_value())
    for a, b in zip(opt_s.state, opt_2.state):
        assert a.name == b.name
        np.testing.assert_array_equal(a.get_value(), b.get_value())


def test_resume_without_optimizer_state_differs(tmp_path):
    """The resume test above is not vacuous: dropping the Adam state changes the result."""
    rng = np.random.default_rng(1)
    batches = [(rng.normal(size=(4, 3, 2)), rng.normal(size=(3, 1))) for _ in range(4)]
    straight, _, step_s = make_trainer()
    for b in batches:
        step_s(*b)
    first, _, step_1 = make_trainer()
    for b in batches[:2]:
        step_1(*b)
    path = tmp_path / "c.npz"
    save_checkpoint(path, first.params, first.hparams())
    resumed, _, step_2 = make_trainer()
    load_checkpoint(path, resumed.params)
    for b in batches[2:]:
        step_2(*b)
    assert not np.array_equal(straight.params[0].get_value(), resumed.params[0].get_value())


def test_state_mismatch_is_reported(tmp_path):
    m, opt, _ = make_trainer()
    path = tmp_path / "c.npz"
    save_checkpoint(path, m.params, m.hparams(), state=opt.state)
    other = model(n_layers=2, peephole=True)
    W = theano.shared(np.zeros(3), name="W")
    opt2 = adam(other.params + [W], [T.zeros_like(p) for p in other.params + [W]])
    with pytest.raises(CheckpointError, match="lacks state variables: adam.m.W, adam.v.W"):
        load_checkpoint(path, other.params, state=opt2.state)
    # the archive is a normal zip: its members are the named arrays
    names = zipfile.ZipFile(path).namelist()
    assert "state/adam.t.npy" in names and "param/lstm0.W_x.npy" in names


# ---------------------------------------------------------------------------------------------
# Files that are not checkpoints, or crafted ones, are refused at read with one clear line
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [b"epoch,loss\n1,0.5\n", os.urandom(4096), b"\x93NUMPY\x01\x00v\x00{'descr': '|O'"])
def test_text_random_and_pickled_files_get_a_plain_refusal(tmp_path, payload):
    path = tmp_path / "ck.npz"
    path.write_bytes(payload)
    with pytest.raises(CheckpointError, match=r"is not a checkpoint: not an .npz \(zip\) archive") as info:
        read_checkpoint(path)
    assert "allow_pickle" not in str(info.value) and "\n" not in str(info.value)


def test_non_finite_values_are_refused_at_load(tmp_path):
    m = model()
    path = tmp_path / "nan.npz"
    m.params[0].set_value(np.full(m.params[0].get_value().shape, np.inf))
    save_checkpoint(path, m.params, m.hparams())
    with pytest.raises(CheckpointError, match=rf"parameter {m.params[0].name} holds \d+ non-finite value"):
        load_checkpoint(path, model().params)


def _edit_archive(path, edit):
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(str(arrays["__meta__"][()]))
    edit(arrays, header)
    arrays["__meta__"] = np.array(json.dumps(header))
    np.savez(path, **arrays)


@pytest.mark.parametrize("edit, message", [
    (lambda a, h: h.update(params="w"), "header field 'params' must be a list"),
    (lambda a, h: h.update(hparams=[]), "header field 'hparams' must be a dict"),
    (lambda a, h: h["params"].append(5), "lacks a name or a shape"),
    (lambda a, h: h.update(state=[1]), "'state' must list names"),
    (lambda a, h: h["params"][0].update(shape=[9, 9]), "has shape .* but the header says"),
    (lambda a, h: a.update({"param/" + h["params"][0]["name"]: np.array(["a", "b"])}),
     "has dtype <U1, expected numbers"),
])
def test_crafted_headers_and_arrays_are_refused(tmp_path, edit, message):
    m = model()
    path = tmp_path / "c.npz"
    save_checkpoint(path, m.params, m.hparams())
    _edit_archive(path, edit)
    with pytest.raises(CheckpointError, match=message):
        read_checkpoint(path)


def test_an_archive_that_unpacks_too_large_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("__meta__.npy", b"\0" * 2_000_000)
    assert path.stat().st_size < 100_000
    monkeypatch.setattr("lstm.checkpoint.MAX_CHECKPOINT_BYTES", 1_000_000)
    with pytest.raises(CheckpointError, match="would unpack to"):
        read_checkpoint(path)


def test_save_checkpoint_never_replaces_a_file_it_did_not_write(tmp_path):
    from lstm.data import DataError

    m = model()
    user = tmp_path / "results.csv"
    user.write_text("a,b\n")
    with pytest.raises(DataError, match="refusing to overwrite .* not a checkpoint this program wrote"):
        save_checkpoint(user, m.params, m.hparams())
    assert user.read_text() == "a,b\n"
    ours = tmp_path / "c.npz"
    save_checkpoint(ours, m.params, m.hparams())
    save_checkpoint(ours, m.params, m.hparams())  # our own is replaced
    assert sorted(os.listdir(tmp_path)) == ["c.npz", "results.csv"]
