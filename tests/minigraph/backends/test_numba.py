"""The numba backend agrees with numpy mode (values and gradients), falls back per op, caches on disk,
recovers from a damaged cache entry, and is safe to call from several threads."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigraph as theano
import minigraph.tensor as T
from minigraph.testing import BACKEND_TOLERANCE, assert_backend_agrees, check_grad

pytest.importorskip("scipy")  # numba's np.dot calls BLAS through scipy
numba_backend = pytest.importorskip("minigraph.backends.numba")  # needs numba (and scipy for its BLAS calls)
Segment = numba_backend.Segment


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """One cache directory for this module's tests (so they also run against a cold cache)."""
    monkeypatch.setenv("MINIGRAPH_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "numba-cache"))


UNARY = [T.tanh, T.nnet.sigmoid, T.exp, lambda x: -x, lambda x: x * x, T.abs, lambda x: T.maximum(x, 0.25)]
BINARY = [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b, lambda a, b: a / (1.5 + b * b)]


@settings(max_examples=12)
@given(st.sampled_from(["float64", "float32"]), st.sampled_from([(3,), (2, 3), (1, 3), (4, 1, 2)]),
       st.booleans(), st.lists(st.tuples(st.integers(0, len(UNARY) - 1), st.integers(0, len(BINARY) - 1)),
                                min_size=1, max_size=4), st.integers(0, 2**31 - 1))
def test_elementwise_chains_agree(dtype, shape, static, chain, seed):
    """Chains of elementwise ops over broadcast operands, and their gradients, with static shapes
    (explicit loops) and without (numba array expressions), in both float dtypes."""
    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape[-1:]).astype(dtype)]
    syms = [T.TensorType(dtype, x.shape if static else (None,) * x.ndim)(n) for x, n in zip(xs, "ab")]
    out = syms[0]
    for u, b in chain:
        out = UNARY[u](BINARY[b](out, syms[1]))
    cost = (out * out).sum()
    outputs = [out, cost] + T.grad(cost, syms)
    assert_backend_agrees(syms, outputs, xs, "NUMBA")
    if len(chain) >= 2:  # four or more elementwise nodes in a row: numba code ran, not only numpy
        units = theano.function(syms, outputs, mode="NUMBA").run_program.lowered.units
        assert any(isinstance(u, Segment) for u in units)


def _lstm_step_function(dtype, T_=6, B=2, I=3, H=4, mode="NUMBA"):
    rng = np.random.default_rng(1)
    params = {"W_x": rng.standard_normal((I, 4 * H)) * 0.5, "W_h": rng.standard_normal((H, 4 * H)) * 0.5,
              "b": rng.standard_normal(4 * H) * 0.1, "W_y": rng.standard_normal((H, 1))}
    shared = {k: theano.shared(v.astype(dtype), k) for k, v in params.items()}
    X, Y = T.tensor3("X", dtype=dtype), T.matrix("Y", dtype=dtype)

    def step(x_t, h, c, W_x, W_h, b):
        z = T.dot(x_t, W_x) + T.dot(h, W_h) + b
        i, f, o = (T.nnet.sigmoid(z[:, k * H:(k + 1) * H]) for k in range(3))
        c_new = f * c + i * T.tanh(z[:, 3 * H:])
        return [o * T.tanh(c_new), c_new]

    zeros = T.zeros((X.shape[1], H), dtype=dtype)
    (hs, _), _ = theano.scan(step, sequences=X, outputs_info=[zeros, zeros],
                             non_sequences=[shared["W_x"], shared["W_h"], shared["b"]])
    loss = T.mean((T.dot(hs[-1], shared["W_y"]) - Y) ** 2)
    plist = list(shared.values())
    updates = [(p, p - 0.1 * g) for p, g in zip(plist, T.grad(loss, plist))]
    data = [rng.standard_normal((T_, B, I)).astype(dtype), rng.standard_normal((B, 1)).astype(dtype)]
    return [X, Y], loss, updates, data


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lstm_training_step_agrees(dtype):
    """Forward scan, BPTT scan and the SGD updates: the loss and every updated parameter."""
    inputs, loss, updates, data = _lstm_step_function(dtype)
    assert_backend_agrees(inputs, loss, data, "NUMBA", updates=updates)


def test_gradients_match_finite_differences_in_numba_mode():
    theano.config.mode = "NUMBA"
    try:
        def f(x, w):
            def step(x_t, h):
                return T.tanh(T.dot(h, w) + x_t)
            hs, _ = theano.scan(step, sequences=x, outputs_info=T.zeros_like(x[0]))
            return hs
        rng = np.random.default_rng(0)
        check_grad(f, [rng.standard_normal((5, 2, 3)), rng.standard_normal((3, 3)) * 0.5])
    finally:
        theano.config.mode = "FAST_RUN"


def test_op_without_lowering_runs_on_numpy_with_one_warning():
    x = T.matrix("x")
    y = T.tanh(x * 2.0 + 1.0)
    out = T.exp(-y.argmax(axis=1) * 0.5 + y.sum(axis=1)) * 3.0 - 1.0  # argmax and sum: no lowering
    with pytest.warns(UserWarning, match="no numba lowering for .*argmax"):
        f = theano.function([x], out, mode="NUMBA")
    value = np.random.default_rng(0).standard_normal((3, 4))
    np.testing.assert_allclose(f(value), theano.function([x], out)(value), rtol=BACKEND_TOLERANCE["float64"])


def test_mode_is_case_insensitive_and_read_from_config():
    from minigraph.mode import choices
    assert "NUMBA" in choices()
    x = T.vector("x")
    a = theano.function([x], T.tanh(x) * 2.0 + x, mode="numba")
    assert a.mode.backend == "NUMBA"
    theano.config.mode = "NUMBA"
    try:
        assert theano.function([x], x + 1.0).mode.backend == "NUMBA"
    finally:
        theano.config.mode = "FAST_RUN"


def test_a_function_called_from_several_threads_gives_the_sequential_results():
    inputs, loss, _, data = _lstm_step_function("float64")
    fn = theano.function(inputs, loss, mode="NUMBA")
    rng = np.random.default_rng(3)
    batches = [[d + rng.standard_normal(d.shape) for d in data] for _ in range(8)]
    want = [fn(*b) for b in batches]
    got = [None] * len(batches)

    def work(k):
        for _ in range(20):
            got[k] = fn(*batches[k])
    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [float(g) for g in got] == [float(w) for w in want]


_CHILD = """
import numpy as np, minigraph as theano, minigraph.tensor as T
x, w = T.matrix('x'), T.matrix('w')
h, _ = theano.scan(lambda x_t, h: T.tanh(T.dot(h, w) + x_t), sequences=x, outputs_info=T.zeros_like(x[0]))
f = theano.function([x, w], [h, T.grad((h ** 2).sum(), w)], mode='NUMBA')
rng = np.random.default_rng(0)
print(repr(float(f(rng.standard_normal((4, 3)), rng.standard_normal((3, 3)))[1].sum())))
"""


def _child(cache, extra_env=None):
    env = dict(os.environ, PYTHONPATH=ROOT, MINIGRAPH_CACHE_DIR=str(cache), NUMBA_DEBUG_CACHE="1", **(extra_env or {}))
    return subprocess.Popen([sys.executable, "-c", _CHILD], env=env, cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(proc):
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return out


def test_disk_cache_shared_by_processes_and_a_corrupted_entry_is_recompiled(tmp_path):
    # two processes compile the same function at the same time
    first = [_finish(p) for p in [_child(tmp_path), _child(tmp_path)]]
    value = first[0].splitlines()[-1]
    assert first[1].splitlines()[-1] == value
    entries = [p for p in (tmp_path / "numba" / "__pycache__").iterdir() if p.suffix in (".nbi", ".nbc")]
    assert entries
    # a third process loads every function from the cache
    third = _finish(_child(tmp_path))
    assert "[cache] data loaded" in third and "data saved" not in third
    assert third.splitlines()[-1] == value
    # damage every entry: the next process recompiles, with a warning, and gets the same result
    for p in entries:
        p.write_bytes(b"not a numba cache entry")
    proc = _child(tmp_path)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert "recompiling" in err
    assert out.splitlines()[-1] == value


def _ops_without_lowering():
    import importlib
    import pkgutil

    from minigraph.graph import Op
    from minigraph.ops import elemwise
    for mod in pkgutil.walk_packages(theano.__path__, "minigraph."):  # every op class, loaded or not yet
        importlib.import_module(mod.name)

    def subclasses(c):
        for s in c.__subclasses__():
            yield s
            yield from subclasses(s)
    missing = set()
    for c in subclasses(Op):
        if c.__name__.startswith("_") or c is elemwise.Elemwise or not c.__module__.startswith("minigraph"):
            continue
        has = c in elemwise._NUMBA if issubclass(c, elemwise.Elemwise) else getattr(c, "lower_numba", None) is not None
        if not has and c.__name__ not in ("Reduce", "Scan"):  # an abstract base; scan: its loop is lowered
            missing.add(c.__name__)
    return missing


def test_docs_list_the_ops_without_a_lowering():
    text = open(os.path.join(ROOT, "docs", "numba.md")).read()
    listed = text.split("<!-- ops-without-numba")[1].split("-->", 1)[1].split("<!-- end -->")[0]
    assert {n.strip() for n in listed.replace("\n", " ").split(",")} == _ops_without_lowering()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_lowered_unary_function_agrees(dtype):
    """One function using each lowered transcendental and rounding op (one compile), in its domain."""
    x = T.TensorType(dtype, (2, 3))("x")
    y = x * 0.8 + 0.1  # in (0.1, 0.9): inside every domain below
    fns = [T.trunc, T.tan, T.arcsin, T.arccos, T.arctan, T.sinh, T.cosh, T.arcsinh, T.arctanh, T.log2, T.log10,
           T.exp2, T.deg2rad, T.rad2deg, T.log1p, T.expm1, T.sqrt, T.sin, T.cos, T.log, T.nnet.softplus]
    terms = [f(y) for f in fns] + [T.arccosh(1.0 + y), T.arctan2(y, 1.0 - y)]
    value = np.random.default_rng(0).random((2, 3)).astype(dtype)
    assert_backend_agrees([x], terms, [value], "NUMBA")


def _jitted_ops(fn):
    """The names of the ops that ran inside jitted segments of a numba-mode function."""
    return {str(n.op).split("{")[0] for u in fn.run_program.lowered.units if isinstance(u, Segment) for n in u}


@pytest.mark.parametrize("static", [True, False])
def test_shape_cast_alloc_and_reduction_ops_agree_and_run_jitted(static):
    """The ops graphs build around the arithmetic: shapes and shape vectors, casts, alloc of a
    scalar and of a row, sums (over some axes and all), gradients summed back to a broadcast
    operand's shape, tensordot, stacks, and slices with symbolic bounds."""
    shape = (4, 3, 5) if static else (None, None, None)
    x, w = T.TensorType("float64", shape)("x"), T.matrix("w")
    k, i = T.lscalar("k"), T.ivector("i")
    b = T.TensorType("float64", (1, 5) if static else (None, None))("b")
    rows = T.zeros((x.shape[0], x.shape[2])) + b                      # shape_i, stack, alloc; add of a row
    h = T.tanh(T.dot(x[:, 0, :], w) + rows[:, :3].sum(axis=1, keepdims=False)[:, None])
    total = (h * h).sum() + T.cast(i, "float64").sum() * x[:k].sum(axis=(0, 2)).sum()
    outputs = [h, total, T.tensordot(x, x, axes=[[0, 1], [0, 1]]), T.alloc(b[0], 2, 5),
               T.shape(x), T.cast(i, "int64"), T.stack([h, h * 2.0], axis=1)] + T.grad(total, [x, w, b])
    rng = np.random.default_rng(0)
    values = [rng.standard_normal((4, 3, 5)), rng.standard_normal((5, 3)), np.int64(3),
              np.array([1, -2, 3], np.int32), rng.standard_normal((1, 5))]
    inputs = [x, w, k, i, b]
    assert_backend_agrees(inputs, outputs, values, "NUMBA")
    for bound in (0, 2, 9, -1):  # a symbolic slice bound past the end, or negative, clips as in numpy
        assert_backend_agrees(inputs, outputs, values[:2] + [np.int64(bound)] + values[3:], "NUMBA")
    fn = theano.function(inputs, outputs, mode="NUMBA")
    assert {"alloc", "sum", "tensordot", "cast"} | ({"shape_i", "stack"} if not static else set()) <= _jitted_ops(fn)


def test_scan_length_check_fails_as_in_numpy_mode():
    """The rewrites move a sequence's product out of the loop with a check of its length; jitted, a
    sequence too short for n_steps still gets the numpy executor's message."""
    x, w, k = T.matrix("x"), T.matrix("w"), T.lscalar("k")
    out, _ = theano.scan(lambda a, h: T.tanh(T.dot(a, w) * 2.0 + h), sequences=[x],
                         outputs_info=T.zeros((x.shape[1],)), n_steps=k)
    cost = (out * out).sum()
    rng = np.random.default_rng(0)
    values = [rng.standard_normal((4, 3)), rng.standard_normal((3, 3))]
    fns = [theano.function([x, w, k], [cost] + T.grad(cost, [x, w]), mode=m, name="f") for m in ("FAST_RUN", "NUMBA")]
    assert "check_length" in _jitted_ops(fns[1])
    assert_backend_agrees([x, w, k], [cost] + T.grad(cost, [x, w]), values + [np.int64(3)], "NUMBA")
    messages = []
    for fn in fns:
        with pytest.raises(Exception) as info:
            fn(*values, 6)
        messages.append(str(info.value))
    assert messages[0] == messages[1] and "4 steps but the loop runs 6" in messages[0]
