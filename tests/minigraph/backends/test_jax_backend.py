"""The JAX backend's driver: one jit program per function, device-resident shared variables, dtypes,
static shapes, errors and host fallbacks."""
import numpy as np
import pytest

import minigraph as theano
import minigraph.tensor as T
from minigraph.compile import ExecutionError
from minigraph.graph import Apply, Op, TensorType, as_variable, op
from minigraph.testing import assert_same

jax = pytest.importorskip("jax")


def _sgd_model():
    x = T.matrix("x")
    w = theano.shared(np.linspace(-1, 1, 6).reshape(3, 2), "w")
    cost = T.nnet.sigmoid(T.dot(x, w)).sum()
    g = T.grad(cost, w)
    return x, w, cost, [(w, w - 0.1 * g)]


def test_training_steps_match_numpy_and_outputs_are_writable_arrays():
    X = np.random.default_rng(0).standard_normal((4, 3))
    results = {}
    for mode in ("FAST_RUN", "JAX"):
        x, w, cost, updates = _sgd_model()
        f = theano.function([x], cost, updates=updates, mode=mode)
        costs = [f(X) for _ in range(3)]
        results[mode] = costs + [w.get_value()]
    for want, got in zip(results["FAST_RUN"], results["JAX"]):
        assert type(got) is np.ndarray and got.flags.writeable
        assert_same(want, got, "JAX")


def test_updated_shared_values_stay_on_the_device_until_read():
    x, w, cost, updates = _sgd_model()
    f = theano.function([x], cost, updates=updates, mode="JAX")
    f(np.ones((2, 3)))
    assert isinstance(w.container.device, jax.Array)
    assert w.container._value is None  # no host copy was made by the call
    first = w.get_value()
    assert w.container._value is not None  # get_value made one copy ...
    first[:] = 99.0  # ... and returned a copy of it
    assert not np.any(w.get_value() == 99.0)


def test_set_value_is_seen_by_the_next_call_and_numpy_functions_see_device_updates():
    x, w, cost, updates = _sgd_model()
    f_jax = theano.function([x], cost, updates=updates, mode="JAX")
    f_np = theano.function([x], cost, updates=updates, mode="FAST_RUN")
    X = np.ones((2, 3))
    f_jax(X)
    w.set_value(np.zeros((3, 2)))
    assert float(f_jax(X)) == pytest.approx(2 * 2 * 0.5)  # sigmoid(0) everywhere
    after_jax = w.get_value()
    f_np(X)  # reads the value the JAX function left on the device
    f_jax(X)  # and the JAX function reads the numpy function's update
    ref = np.zeros((3, 2))
    for _ in range(3):
        ref = ref - 0.1 * X.T @ (lambda s: s * (1 - s))(1 / (1 + np.exp(-X @ ref)))
    assert_same(ref, w.get_value(), "three updates")
    assert not np.array_equal(after_jax, w.get_value())


def test_donated_updates_never_write_into_a_borrowed_user_array():
    user = np.arange(4.0)
    s = theano.shared(user, "s", borrow=True)
    f = theano.function([], [], updates=[(s, s * 2)], mode="JAX")
    f()
    f()
    assert np.array_equal(user, np.arange(4.0))
    assert np.array_equal(s.get_value(), np.arange(4.0) * 4)


def test_float64_runs_with_x64_for_that_function_only():
    before = jax.config.jax_enable_x64
    a = T.dvector("a")
    f64 = theano.function([a], [a * 1e-200 * 1e-100, T.cast(a, "int64") * 2**40], mode="JAX")
    small, big = f64(np.array([1.0, 2.0]))
    assert small.dtype == np.float64 and small[0] == pytest.approx(1e-300, rel=1e-12)  # 0 in float32
    assert big.dtype == np.int64 and big[1] == 2**41
    b = T.fvector("b")
    out = theano.function([b], b * 2, mode="JAX")(np.ones(2, "float32"))
    assert out.dtype == np.float32
    assert jax.config.jax_enable_x64 == before


def test_an_integer_input_that_sets_a_shape_retraces_per_value():
    x, k = T.dvector("x"), T.lscalar("k")
    f = theano.function([x, k], [x[:k] * 2, T.zeros((k, 2)).sum()], mode="JAX")
    v = np.arange(5.0)
    for kv in (2, 4, 2):
        a, s = f(v, kv)
        assert np.array_equal(a, v[:kv] * 2) and s == 0.0


def test_a_shape_computed_from_float_data_is_a_clear_error():
    x = T.dvector("x")
    f = theano.function([x], T.zeros((T.cast(x.sum(), "int64"),)), mode="JAX")
    with pytest.raises(ExecutionError, match="alloc: under JAX a shape .* run-time values"):
        f(np.ones(3))


def test_a_failing_node_is_named_with_its_shapes_and_line():
    a, b = T.dmatrix("a"), T.dmatrix("b")
    f = theano.function([a, b], T.dot(a, b), mode="JAX")
    with pytest.raises(ExecutionError, match=r"(?s)dot failed.*float64\[2, 3\].*float64\[2, 3\].*test_jax_backend.py"):
        f(np.ones((2, 3)), np.ones((2, 3)))


@op
class _Cumsum(Op):
    """A user-defined op with only a numpy perform (no JAX lowering)."""

    def make_node(self, x):
        x = as_variable(x)
        return Apply(self, [x], [TensorType(x.dtype, (None,) * x.ndim)])

    def perform(self, x):
        return np.cumsum(x, axis=0)


def test_an_op_without_a_lowering_runs_its_perform_on_the_host():
    x = T.dmatrix("x")
    f = theano.function([x], _Cumsum()(x * 2) + 1, mode="JAX")
    v = np.arange(6.0).reshape(3, 2)
    assert_same(np.cumsum(v * 2, axis=0) + 1, f(v), "host fallback")


def test_check_mode_names_the_node_that_makes_a_nan():
    x = T.dvector("x")
    f = theano.function([x], T.log(x) * 2, mode="JAX", check=True)
    with pytest.raises(ExecutionError, match="log.*NaN"):
        f(np.array([-1.0, 1.0]))


def test_config_mode_selects_jax(monkeypatch):
    monkeypatch.setattr(theano.config, "mode", "jax")
    x = T.dvector("x")
    f = theano.function([x], x + 1)
    assert type(f).__name__ == "JaxFunction" and f.mode.name == "JAX"
    assert np.array_equal(f(np.zeros(2)), np.ones(2))


def test_the_environment_variable_selects_jax_in_a_new_process():
    import os
    import subprocess
    import sys
    code = ("import numpy as np, minigraph as mg, minigraph.tensor as T; x = T.dvector('x');"
            "f = mg.function([x], x * 2); print(type(f).__name__, f(np.ones(2)))")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root,
                         env=dict(os.environ, MINIGRAPH_MODE="JAX", PYTHONPATH=root)).stdout
    assert out.split() == ["JaxFunction", "[2.", "2.]"]


def test_the_program_can_be_printed_with_its_primitives():
    x = T.dmatrix("x")
    f = theano.function([x], T.tanh(T.dot(x, x.T)).sum(), mode="JAX")
    text = f.jaxpr(np.ones((2, 2)))
    assert "dot_general" in text and "tanh" in text and "reduce_sum" in text


def test_an_until_loop_is_refused_with_a_clear_error_not_run_wrongly():
    """Under JAX an until loop's output length is known only at run time: refused, naming why
    (numpy mode runs it; docs/backends.md lists the gaps)."""
    from minigraph.scan_module import until
    max_value = T.dscalar("max_value")
    values, _ = theano.scan(lambda p, m: (p * 2, until(p * 2 > m)), outputs_info=T.constant(1.0),
                            non_sequences=max_value, n_steps=16)
    with pytest.raises(ExecutionError, match="must be known when the function is compiled"):
        theano.function([max_value], values, mode="JAX")(45.0)
    assert list(theano.function([max_value], values, mode="FAST_RUN")(45.0)) == [2, 4, 8, 16, 32, 64]
