"""``function``: outputs, updates, shared variables, input checking, config, check mode, rewrites, aliasing."""
import os
import subprocess
import sys

import numpy as np
import pytest

import minigraph as theano
import minigraph.tensor as T
from minigraph.compile import ExecutionError, UnusedInputError
from minigraph.rewrite import count_nodes

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def floatx32():
    old = theano.config.floatX
    theano.config.floatX = "float32"
    yield
    theano.config.floatX = old


def test_single_list_and_empty_outputs():
    x = T.dvector("x")
    v = np.array([1.0, 2.0])
    single = theano.function([x], x * 2)(v)
    assert isinstance(single, np.ndarray)
    np.testing.assert_array_equal(single, [2.0, 4.0])
    listed = theano.function([x], [x * 2, x.sum()])(v)
    assert isinstance(listed, list) and len(listed) == 2
    assert isinstance(listed[1], np.ndarray) and listed[1].shape == () and listed[1] == 3.0
    assert theano.function([x], [x * 2])(v)[0].tolist() == [2.0, 4.0]  # a one-element list stays a list
    assert theano.function([], [])() == []
    assert theano.function([], None)() == []
    assert theano.function([x], [], on_unused_input="ignore")(v) == []


def test_constant_and_input_outputs():
    x = T.dvector("x")
    f = theano.function([x], [x, T.constant(3.0), x + 1])
    out = f(np.array([1.0]))
    np.testing.assert_array_equal(out[0], [1.0])
    assert out[1] == 3.0 and out[1].flags.writeable


def test_updates_as_list_dict_and_implicit_shared_values():
    w = theano.shared(np.array([1.0, 2.0]), "w")
    x = T.dvector("x")
    f = theano.function([x], (w * x).sum())
    assert f(np.ones(2)) == 3.0
    w.set_value(np.array([5.0, 5.0]))
    assert f(np.ones(2)) == 10.0  # the shared value is read at each call, not frozen at compile time
    inc = theano.function([x], [], updates=[(w, w + x)])
    inc(np.ones(2))
    np.testing.assert_array_equal(w.get_value(), [6.0, 6.0])
    dec = theano.function([x], w.sum(), updates={w: w - x})
    assert dec(np.array([1.0, 2.0])) == 12.0  # outputs see the values from before the updates
    np.testing.assert_array_equal(w.get_value(), [5.0, 4.0])
    c = theano.shared(np.int64(0), "c")
    unused = theano.function([], [], updates=[(c, c + 1)])  # an updated shared variable need not be an output
    unused()
    unused()
    assert int(c.get_value()) == 2


def test_update_errors():
    w = theano.shared(np.zeros(2), "w")
    x = T.dvector("x")
    with pytest.raises(TypeError, match=r"update of w.*float32.*cast"):
        theano.function([x], [], updates=[(w, T.cast(w, "float32"))], on_unused_input="ignore")
    with pytest.raises(TypeError, match="not a shared variable"):
        theano.function([x], [], updates=[(x, x + 1)])
    with pytest.raises(ValueError, match="updated twice"):
        theano.function([], [], updates=[(w, w + 1), (w, w + 2)])
    with pytest.raises(TypeError, match="different shape"):
        theano.function([], [], updates=[(w, T.zeros((3,), dtype="float64"))])


@pytest.mark.parametrize("mode", ["raise", "warn", "ignore"])
def test_on_unused_input(mode):
    x, y = T.dvector("x"), T.dvector("y")
    if mode == "raise":
        with pytest.raises(UnusedInputError, match=r"input\(s\) y float64\(\?\) are not used"):
            theano.function([x, y], x * 2)
        return
    if mode == "warn":
        with pytest.warns(UserWarning, match="not used"):
            f = theano.function([x, y], x * 2, on_unused_input="warn")
    else:
        f = theano.function([x, y], x * 2, on_unused_input="ignore")
    np.testing.assert_array_equal(f(np.ones(1), np.ones(5)), [2.0])


def test_eval():
    x = T.dvector("x")
    assert T.constant(2.0).eval() == 2.0
    np.testing.assert_array_equal((x * 2).eval({x: np.array([1.0, 3.0])}), [2.0, 6.0])
    w = theano.shared(np.array([1.0, 2.0]), "w")
    assert (w ** 2).sum().eval() == 5.0


def test_keyword_arguments():
    x, y = T.dscalar("x"), T.dscalar("y")
    f = theano.function([x, y], x - y)
    assert f(y=1.0, x=3.0) == 2.0
    with pytest.raises(TypeError, match="unknown input name 'z'"):
        f(1.0, z=2.0)


def test_floatx_is_settable(floatx32):
    assert T.matrix().dtype == "float32"
    assert T.vector().dtype == "float32"
    assert T.dmatrix().dtype == "float64"
    assert theano.shared(1.5).dtype == "float32"
    assert (T.lvector() * 0.5).dtype == "float32"  # a Python float meeting ints gives floatX
    assert T.mean(T.lvector()).dtype == "float64"  # Theano: the int64 sum divided in float64
    x = T.vector("x")
    assert theano.function([x], x * 2.0 + 1)(np.ones(2, dtype="float32")).dtype == np.float32
    with pytest.raises(ValueError, match="floatX must be one of"):
        theano.config.floatX = "float128"


@pytest.mark.parametrize("env", [{"MINIGRAPH_FLOATX": "float32"}, {"THEANO_FLAGS": "device=cpu,floatX=float32"}])
def test_floatx_from_environment(env):
    code = ("import minigraph as m, minigraph.tensor as T; "
            "print(m.config.floatX, T.matrix().dtype, m.shared(0.5).dtype)")
    full_env = {k: v for k, v in os.environ.items() if k not in ("MINIGRAPH_FLOATX", "THEANO_FLAGS")}
    full_env.update(env, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env, cwd=ROOT,
                         check=True)
    assert out.stdout.split() == ["float32", "float32", "float32"]


def test_allow_input_downcast():
    x = T.fvector("x")
    f = theano.function([x], x * 2)
    with pytest.raises(TypeError, match=r"input x.*float32.*float64.*allow_input_downcast=True"):
        f(np.array([1.0, 2.0]))
    g = theano.function([x], x * 2, allow_input_downcast=True)
    out = g(np.array([1.0, 2.0]))
    assert out.dtype == np.float32 and out.tolist() == [2.0, 4.0]
    strict = theano.function([x], x * 2, allow_input_downcast=False)
    with pytest.raises(TypeError, match="input x"):
        strict([1.0, 2.0])
    np.testing.assert_array_equal(strict(np.array([1, 2], dtype="int16")), [2.0, 4.0])  # lossless casts pass
    i = T.ivector("i")
    with pytest.raises(TypeError, match="input i"):
        theano.function([i], i)(np.array([1, 2], dtype="int64"))


def test_python_numbers_are_accepted(floatx32):
    x, s = T.vector("x"), T.scalar("s")
    f = theano.function([x, s], x * s)
    out = f([1.0, 2.5], 0.5)  # Python floats and lists of them go into floatX inputs
    assert out.dtype == np.float32 and out.tolist() == [0.5, 1.25]
    assert f([1, 2], 3).tolist() == [3.0, 6.0]
    d = T.dscalar("d")
    assert theano.function([d], d * 2)(1.5) == 3.0


def test_check_mode_raises_on_first_nan_naming_the_node():
    x = T.dvector("x")
    y = T.log(x)            # the first NaN appears here ...
    z = T.exp(y) * 2 + y    # ... and propagates
    f = theano.function([x], z, check=True)
    np.testing.assert_allclose(f(np.array([1.0])), [2.0])
    pattern = r"(?s)output 0 of log has NaN or Inf.*inputs: x: float64\[2\].*test_compile\.py:\d+"
    with np.errstate(invalid="ignore"), pytest.raises(ExecutionError, match=pattern):
        f(np.array([1.0, -1.0]))
    debug = theano.function([x], z, mode="DebugMode")
    with np.errstate(invalid="ignore"):
        with pytest.raises(ExecutionError, match="log"):
            debug(np.array([-1.0]))
        assert np.isnan(theano.function([x], z)(np.array([-1.0]))[0])  # without check: NaN comes back


def test_rewrite_false_gives_the_same_values():
    x = T.dmatrix("x")
    w = theano.shared(np.linspace(-1, 1, 12).reshape(4, 3), "w")
    h = T.tanh(T.dot(x, w) * 1 + 0)
    cost = -T.log(T.nnet.softmax(h)).mean() + T.exp(T.log(x ** 2 + 1)).sum() + (h * h + h * h).sum()
    outs = [cost, *T.grad(cost, [x, w])]
    v = np.random.default_rng(0).standard_normal((5, 4))
    on = theano.function([x], outs)(v)
    off = theano.function([x], outs, rewrite=False)(v)
    for a, b in zip(on, off):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    old = theano.config.optimizer
    theano.config.optimizer = "None"
    try:
        f = theano.function([x], outs)
    finally:
        theano.config.optimizer = old
    assert count_nodes(f.outputs) == count_nodes(outs)


def test_outputs_are_not_aliased_to_shared_storage():
    w = theano.shared(np.array([1.0, 2.0, 3.0]), "w")
    x = T.dvector("x")
    for out in (w, w.T, w[1:], w * 1, T.zero_grad(w), w.reshape((3, 1)), w.copy()):
        r = theano.function([], out)()
        r[...] = 99.0
        np.testing.assert_array_equal(w.get_value(), [1.0, 2.0, 3.0])
    # an output that is also the new value of a shared variable
    f = theano.function([x], w + x, updates=[(w, w + x)])
    r = f(np.zeros(3))
    r[0] = -5.0
    np.testing.assert_array_equal(w.get_value(), [1.0, 2.0, 3.0])
    # outputs and updates do not alias the caller's arrays either
    a = np.array([7.0, 8.0, 9.0])
    r = theano.function([x], x[::-1], updates=[(w, x)])(a)
    r[0] = 0.0
    a[1] = 0.0
    np.testing.assert_array_equal(w.get_value(), [7.0, 8.0, 9.0])
    np.testing.assert_array_equal(r, [0.0, 8.0, 7.0])


def test_shared_variable_basics():
    v = np.array([1.0, 2.0])
    w = theano.shared(v, "w")
    v[0] = 100.0  # shared() copies unless borrow=True
    np.testing.assert_array_equal(w.get_value(), [1.0, 2.0])
    got = w.get_value()
    got[0] = 50.0
    np.testing.assert_array_equal(w.get_value(), [1.0, 2.0])
    with pytest.raises(TypeError, match=r"expected static shape \(2,\), got \(3,\)"):
        w.set_value(np.zeros(3))
    resizable = theano.shared(np.zeros(2), "r", shape=(None,))
    resizable.set_value(np.zeros(5))
    assert theano.function([], resizable.sum() + resizable.shape[0])() == 5.0
    with pytest.raises(TypeError, match="strict"):
        theano.shared(np.zeros(2), "s", strict=True).set_value([1.0, 2.0])


def test_function_name_and_maker_compatibility():
    x = T.dvector("x")
    f = theano.function([x], x + 1, name="my fn")
    assert f.name == "my fn"
    assert f.maker.fgraph is f
    assert "mg_my_fn" in f.program.source


def _reused(f):
    """Lines of the generated code that write into a dead input's buffer."""
    return [line.strip() for line in f.program.source.splitlines() if "out=" in line]


def test_results_are_written_into_dead_buffers():
    a, b = T.dmatrix("a"), T.dmatrix("b")
    c = T.dvector("c")
    f = theano.function([a, b, c], T.tanh(T.dot(a, b) + c) * 2.0)
    assert len(_reused(f)) >= 1  # the bias add goes into the product's buffer
    A, B, C = np.ones((2, 3)), np.full((3, 4), 0.1), np.arange(4.0)
    np.testing.assert_allclose(f(A, B, C), np.tanh(A @ B + C) * 2.0)


def test_no_buffer_is_reused_while_a_view_of_it_is_alive():
    a, b = T.dmatrix("a"), T.dmatrix("b")
    d = T.dot(a, b)
    view = d[:, :2]                    # a view of d's buffer, read after d's last direct use
    e = T.exp(d)
    f = theano.function([a, b], (e * 2.0)[:, :2] + view, rewrite=False)
    A, B = np.full((2, 3), 0.5), np.arange(12.0).reshape(3, 4) / 10
    D = A @ B
    np.testing.assert_allclose(f(A, B), (np.exp(D) * 2.0)[:, :2] + D[:, :2])
    g = theano.function([a, b], [d.T, T.exp(d)])  # an output viewing d: d must stay intact
    t, ex = g(A, B)
    np.testing.assert_allclose(t, D.T)
    np.testing.assert_allclose(ex, np.exp(D))
    h = theano.function([a, b], [d, d + 1.0])      # an output itself is never overwritten
    np.testing.assert_allclose(h(A, B)[0], D)


def test_buffers_of_inputs_shared_variables_and_broadcast_results_are_not_reused():
    x = T.dmatrix("x")
    w = theano.shared(np.ones((1, 3)), "w")
    v = T.dvector("v")
    f = theano.function([x, v], [x * 2.0, w + 1.0, T.exp(v) + x])
    assert _reused(f) == []  # exp(v) is fresh but smaller than the broadcast result
    X, V = np.ones((2, 3)), np.zeros(3)
    out = f(X, V)
    np.testing.assert_array_equal(X, 1.0)
    np.testing.assert_array_equal(w.get_value(), 1.0)
    np.testing.assert_allclose(out[2], np.exp(V) + X)


def test_lossless_python_data_is_accepted_as_theano_does():
    """Theano converts Python lists and numbers when nothing is lost ([1, 2, 3] or 11.0 for float32),
    and refuses a lossy one (0.1 is not a float32) unless allow_input_downcast=True."""
    v, s, i = T.fvector("v"), T.fscalar("s"), T.bscalar("i")
    f = theano.function([v, s, i], [v * 2, s, i])
    got = f([1, 2, 3], 11.0, 7)
    assert [g.dtype for g in got] == ["float32", "float32", "int8"]
    np.testing.assert_array_equal(got[0], [2.0, 4.0, 6.0])
    if theano.config.floatX != "float32":
        with pytest.raises(TypeError, match="lose precision"):
            f([1, 2, 3], 0.1, 7)
    with pytest.raises(TypeError):
        f([1, 2, 3], 11.0, 300)  # does not fit int8
    with pytest.raises(TypeError):
        f(np.array([1.0, 2.0]), 11.0, 7)  # an ndarray of a wider dtype is not converted silently
    np.testing.assert_allclose(theano.function([s], s, allow_input_downcast=True)(0.1), np.float32(0.1))


@pytest.mark.numpy_executor  # reads the numpy executor's generated loop sources
def test_generated_lines_name_their_op_and_the_users_line():
    x = T.dmatrix("x")
    w = theano.shared(np.ones((2, 2)), "w")
    hs, _ = theano.scan(lambda r, h: T.tanh(T.dot(h, w) + r), sequences=[x], outputs_info=[T.zeros((2,))])
    f = theano.function([x], [hs, T.exp(x).sum()])
    f(np.ones((3, 2)))
    sources = f.sources()
    assert sources[f.name] == f.source and len(sources) >= 3  # the function, the step, the step's loop
    loops = [src for name, src in sources.items() if " loop " in name]
    assert loops and all("for t in range(n):" in src for src in loops)
    here = os.path.basename(__file__)
    for src in sources.values():
        calls = [line for line in src.splitlines() if "= f" in line]
        assert calls
        for line in calls:
            op_name = line.split("#", 1)[1].strip()
            assert f" at {here}:" in op_name, line
    assert any("# tanh at" in line for src in sources.values() for line in src.splitlines())
    assert any("# scan{scan, carries=1, ys=0} at" in line for line in f.source.splitlines())


# ---- issue 10 #5: one call's read-compute-write of its updates is atomic under threads
def test_shared_updates_are_not_lost_under_threads():
    import threading
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: without the lock ~5,000 of 8,000
    try:
        c = theano.shared(np.array(0.0), "c")
        other = theano.shared(np.array(0.0), "other")
        f = theano.function([], c, updates=[(c, c + 1)])
        g = theano.function([], [], updates=[(c, c + 1), (other, other + c)])  # overlapping sets of variables

        def work(fn):
            for _ in range(1000):
                fn()
        threads = [threading.Thread(target=work, args=(f if i % 2 else g,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert float(c.get_value()) == 8000.0


def test_a_computed_variable_given_as_input_cuts_the_graph():
    x = T.dvector("x")
    h = T.tanh(x) * 2
    f = theano.function([h], h.sum() + 1)
    assert f(np.array([1.0, 2.0])) == 4.0  # h's own value, not recomputed from x
    with pytest.raises(theano.MissingInputError):
        theano.function([h], h.sum() + x.sum())  # x is still needed elsewhere


def test_compiled_functions_pickle_with_their_shared_variables():
    import pickle
    W = theano.shared(np.ones((3, 3)), "W")
    X = T.dmatrix("X")
    hs, _ = theano.scan(lambda xt, hp: T.tanh(T.dot(hp, W) + xt), sequences=X, outputs_info=T.zeros(3))
    f = theano.function([X], [hs, T.grad(hs.sum(), W)], updates=[(W, W * 0.5)])
    g, W2 = pickle.loads(pickle.dumps((f, W)))
    data = np.random.default_rng(0).random((4, 3))
    for a, b in zip(f(data), g(data)):
        np.testing.assert_allclose(a, b)
    assert W.get_value()[0, 0] == W2.get_value()[0, 0] == 0.5
    assert W2 is not W and W2.get_value()[0, 0] == 0.5


def test_fgraph_toposort_lists_the_compiled_nodes_as_in_theano():
    x = T.dvector("x")
    hs, _ = theano.scan(lambda a: a * 2, sequences=x)
    f = theano.function([x], hs)
    nodes = f.maker.fgraph.toposort()
    assert f.outputs[0].owner in nodes  # the node computing the (rewritten) output is scheduled
    assert all(i.owner in nodes for n in nodes for i in n.inputs if i.owner is not None)  # a closed schedule
    y = theano.clone(hs, replace={x: x * 3}, strict=True, share_inputs=True)
    np.testing.assert_allclose(theano.function([x], y)(np.array([1.0, 2.0])), [6.0, 12.0])
