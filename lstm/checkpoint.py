"""Checkpoints: parameters, hyperparameters and training state in one ``.npz`` file.

Format (a plain ``np.savez`` archive, loadable with ``allow_pickle=False``):

* ``param/<name>``: one array per parameter (shared variable), keyed by its name;
* ``state/<name>``: extra arrays (optimiser moments, Adam's step count, the epoch, rng state
  as an array, ...);
* ``__meta__``: a 0-d unicode array holding JSON: ``{"format", "version", "hparams",
  "params": [{"name", "shape", "dtype"}, ...] (in order), "state": [names], "meta": {...}}``.

The file is written atomically: to a temporary file in the target's directory, flushed and
fsynced, then moved over the target with ``os.replace``.  If anything fails, the previous
checkpoint stays intact and the temporary file is removed.  The path is used exactly as given
(no ".npz" is appended).

``load_checkpoint`` checks the file against the model BEFORE changing anything: hyperparameters,
parameter names, shapes and dtypes (and the names, shapes and dtypes of state variables to
restore).  Every mismatch is listed in one ``CheckpointError``; nothing is loaded then.
"""
import json
import os
import zipfile
from collections import namedtuple

import numpy as np

import minigraph as theano

from .data import DataError
from .files import Output, open_input, write_atomic

__all__ = ["save_checkpoint", "load_checkpoint", "read_checkpoint", "is_checkpoint", "checkpoint_output",
           "CheckpointError", "Checkpoint", "FORMAT", "VERSION", "INIT_ONLY", "MAX_CHECKPOINT_BYTES"]

FORMAT = "minigraph-lstm-checkpoint"
VERSION = 1
_META = "__meta__"
MAX_CHECKPOINT_BYTES = 4 * 1024 ** 3  # refused beyond this, packed or unpacked

Checkpoint = namedtuple("Checkpoint", ["hparams", "params", "state", "meta"])
Checkpoint.__doc__ = """What ``read_checkpoint``/``load_checkpoint`` return: ``hparams`` (dict), ``params``
and ``state`` ({name: array}, in saved order) and ``meta`` (the JSON-able dict given to save)."""


class CheckpointError(ValueError):
    """The checkpoint cannot be read, or does not fit the model it is loaded into."""


def _named(variables, what):
    """{name: shared variable} in order; names must exist and be unique."""
    out = {}
    for v in variables:
        if not isinstance(v, theano.SharedVariable):
            raise TypeError(f"{what} must be shared variables, got {type(v).__name__}")
        if not v.name:
            raise ValueError(f"every {what[:-1]} needs a name to be checkpointed; {v.describe()} has none")
        if v.name in out:
            raise ValueError(f"two {what} are named {v.name!r}; checkpoint names must be unique")
        out[v.name] = v
    return out


def _state_arrays(state):
    """{name: ndarray} from None, a dict (values: arrays, numbers or shared variables) or a list
    of named shared variables."""
    if state is None:
        return {}
    if isinstance(state, dict):
        items = state.items()
    else:
        items = _named(state, "state variables").items()
    out = {}
    for name, v in items:
        arr = v.get_value() if isinstance(v, theano.SharedVariable) else np.asarray(v)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"state entry {name!r} must be numeric, got dtype {arr.dtype}")
        out[str(name)] = arr
    return out


def _to_json(obj, what):
    try:
        return json.loads(json.dumps(obj, allow_nan=True))
    except TypeError as exc:
        raise TypeError(f"{what} must be JSON-able (numbers, strings, lists, dicts): {exc}") from None


def save_checkpoint(path, params, hparams, state=None, meta=None):
    """Write ``params`` (named shared variables), ``hparams`` (a JSON-able dict), ``state``
    (None, {name: array/number/shared}, or a list of named shared variables such as an
    optimiser's ``.state``) and ``meta`` (a JSON-able dict: epoch, history, ...) to ``path``
    atomically.  Returns ``path``."""
    path = os.fspath(path)
    named = _named(params, "params")
    hparams = _to_json(dict(hparams or {}), "hparams")
    meta = _to_json(dict(meta or {}), "meta")
    state_arrays = _state_arrays(state)
    arrays = {}
    for name, v in named.items():
        arrays["param/" + name] = v.get_value()
    for name, arr in state_arrays.items():
        arrays["state/" + name] = arr
    header = {"format": FORMAT, "version": VERSION, "hparams": hparams,
              "params": [{"name": n, "shape": list(a.shape), "dtype": a.dtype.name}
                         for n, a in ((n, arrays["param/" + n]) for n in named)],
              "state": list(state_arrays), "meta": meta}
    arrays[_META] = np.array(json.dumps(header))

    write_atomic(path, lambda fh: np.savez(fh, **arrays), what=checkpoint_output(path))
    return path


def is_checkpoint(path) -> bool:
    """True when ``path`` holds a checkpoint this program wrote (judged by its content: a zip
    archive with a ``__meta__`` entry naming :data:`FORMAT`); the recogniser used before a
    checkpoint path is overwritten."""
    try:
        with zipfile.ZipFile(path) as zf:
            if _META + ".npy" not in zf.namelist():
                return False
        with np.load(path, allow_pickle=False) as data:
            return json.loads(str(data[_META][()])).get("format") == FORMAT
    except (OSError, ValueError, KeyError, AttributeError, zipfile.BadZipFile):
        return False


def checkpoint_output(path) -> Output:
    """The :class:`lstm.files.Output` of a checkpoint path (for :func:`lstm.files.check_outputs`)."""
    return Output(os.fspath(path), "checkpoint", is_checkpoint)


def _open_archive(path):
    """Check that ``path`` is a regular zip file of sane size before numpy sees it."""
    if not os.path.exists(path):
        raise CheckpointError(f"no checkpoint at {path!r}")
    try:
        with open_input(path, "checkpoint", binary=True, max_bytes=MAX_CHECKPOINT_BYTES) as fh:
            if fh.read(4) != b"PK\x03\x04":
                raise CheckpointError(f"{path!r} is not a checkpoint: not an .npz (zip) archive")
        with zipfile.ZipFile(path) as zf:
            unpacked = sum(info.file_size for info in zf.infolist())
    except DataError as exc:
        raise CheckpointError(str(exc)) from None
    except zipfile.BadZipFile as exc:
        raise CheckpointError(f"cannot read checkpoint {path!r}: {exc}") from None
    if unpacked > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"{path!r} would unpack to {unpacked / 2 ** 20:.0f} MiB, more than the "
                              f"{MAX_CHECKPOINT_BYTES / 2 ** 20:.0f} MiB a checkpoint may hold")


def _check_header(header, path):
    """The JSON header's fields, each of the right type (see the module doc)."""
    if not isinstance(header, dict):
        raise CheckpointError(f"{path!r}: the header is a {type(header).__name__}, expected an object")
    if header.get("format") != FORMAT:
        raise CheckpointError(f"{path!r} has format {header.get('format')!r}, expected {FORMAT!r}")
    if header.get("version") != VERSION:
        raise CheckpointError(f"{path!r} has format version {header.get('version')}, this code reads "
                              f"version {VERSION}")
    for key, kind in (("hparams", dict), ("params", list), ("state", list), ("meta", dict)):
        if not isinstance(header.get(key, {} if key == "meta" else None), kind):
            raise CheckpointError(f"{path!r}: header field {key!r} must be a {kind.__name__}")
    for p in header["params"]:
        if not (isinstance(p, dict) and isinstance(p.get("name"), str) and isinstance(p.get("shape"), list)):
            raise CheckpointError(f"{path!r}: a parameter entry {str(p)[:60]} lacks a name or a shape")
    if not all(isinstance(n, str) for n in header["state"]):
        raise CheckpointError(f"{path!r}: header field 'state' must list names")


def _checked_array(arr, name, path, shape=None):
    """A saved array: numeric, of the recorded shape, every value finite."""
    if arr.dtype.kind not in "biuf":
        raise CheckpointError(f"{path!r}: {name} has dtype {arr.dtype}, expected numbers")
    if shape is not None and list(arr.shape) != list(shape):
        raise CheckpointError(f"{path!r}: {name} has shape {arr.shape} but the header says {tuple(shape)}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise CheckpointError(f"{path!r}: {name} holds {bad} non-finite value(s) (NaN or infinity); "
                              "it comes from a diverged or damaged run and cannot be used")
    return arr


def read_checkpoint(path):
    """Read a checkpoint without a model: a ``Checkpoint`` (hparams, params, state, meta).

    Refused with one :class:`CheckpointError` line: anything that is not a regular zip archive
    of sane size, a header of the wrong types, arrays that are not numeric, not of the recorded
    shape, or hold NaN or infinity."""
    path = os.fspath(path)
    _open_archive(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            if _META not in data.files:
                raise CheckpointError(f"{path!r} is not a checkpoint of this format (no {_META} entry)")
            header = json.loads(str(data[_META][()]))
            _check_header(header, path)
            params = {p["name"]: _checked_array(data["param/" + p["name"]], f"parameter {p['name']}", path,
                                                p["shape"]) for p in header["params"]}
            state = {n: _checked_array(data["state/" + n], f"state {n}", path) for n in header["state"]}
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001 - truncated zip, bad JSON, missing member, ...
        raise CheckpointError(f"cannot read checkpoint {path!r}: {type(exc).__name__}: {exc}") from None
    return Checkpoint(header["hparams"], params, state, header.get("meta", {}))


def _fmt(v):
    return json.dumps(v) if isinstance(v, str) else str(v)


def _compare_arrays(kind, saved, wanted, problems):
    """Append mismatches between saved arrays ({name: array}) and variables ({name: shared})."""
    missing = [n for n in wanted if n not in saved]
    extra = [n for n in saved if n not in wanted]
    if missing:
        problems.append(f"the model has {kind} missing from the checkpoint: {', '.join(missing)}")
    if extra:
        problems.append(f"the checkpoint has {kind} the model lacks: {', '.join(extra)}")
    for name, var in wanted.items():
        if name not in saved:
            continue
        arr, cur = saved[name], var.get_value(borrow=True)
        if arr.shape != cur.shape:
            problems.append(f"{kind[:-1]} {name}: checkpoint shape {arr.shape} but the model has {cur.shape}")
        elif arr.dtype != cur.dtype:
            problems.append(f"{kind[:-1]} {name}: checkpoint dtype {arr.dtype} but the model has {cur.dtype}")
        elif not var.type.accepts_shape(arr.shape):
            problems.append(f"{kind[:-1]} {name}: shape {arr.shape} does not fit {var.describe()}")


INIT_ONLY = ("seed", "init", "forget_bias")  # choose initial values only; a checkpoint overwrites them


def load_checkpoint(path, params, hparams=None, state=None, ignore=INIT_ONLY):
    """Load ``path`` into ``params`` (and the shared variables of ``state``, e.g. an optimiser's
    ``.state``), after checking that it fits.

    Checked: every key of ``hparams`` (when given) against the saved hyperparameters, except the
    keys in ``ignore`` (by default those that only choose initial values: seed, init,
    forget_bias) and keys saved but not given (e.g. training settings); that the
    checkpoint holds exactly the parameters of the model, by name, each with the same shape
    and dtype; the same for ``state`` variables when given.  Any mismatch raises one
    ``CheckpointError`` listing all of them, and nothing is changed.  Returns the
    ``Checkpoint`` (hparams, params, state arrays -- including ones not restored -- and meta).
    """
    ckpt = read_checkpoint(path)
    named = _named(params, "params")
    state_vars = _named(state, "state variables") if state is not None else {}
    problems = []
    if hparams is not None:
        saved_h = ckpt.hparams
        for key, value in _to_json(dict(hparams), "hparams").items():
            if key in ignore:
                continue
            if key not in saved_h:
                problems.append(f"checkpoint has no hyperparameter {key} (the model has {key}={_fmt(value)})")
            elif saved_h[key] != value:
                problems.append(f"checkpoint was saved for {key}={_fmt(saved_h[key])} but the model has "
                                f"{key}={_fmt(value)}")
    _compare_arrays("params", ckpt.params, named, problems)
    if state is not None:
        saved_state = {n: a for n, a in ckpt.state.items() if n in state_vars}
        missing = [n for n in state_vars if n not in ckpt.state]
        if missing:
            problems.append(f"the checkpoint lacks state variables: {', '.join(missing)}")
        _compare_arrays("state variables", saved_state, {n: v for n, v in state_vars.items() if n in saved_state},
                        problems)
    if problems:
        head = f"checkpoint {os.fspath(path)!r} does not fit the model"
        if len(problems) == 1:
            raise CheckpointError(f"{head}: {problems[0]}")
        raise CheckpointError(f"{head} ({len(problems)} problems):\n" + "\n".join(" - " + p for p in problems))
    for name, var in named.items():
        var.set_value(ckpt.params[name])
    for name, var in state_vars.items():
        var.set_value(ckpt.state[name])
    return ckpt
