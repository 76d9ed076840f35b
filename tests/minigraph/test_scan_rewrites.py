"""Each scan rewrite really fires: checked on the compiled graph (where the work ends up), with the same
graph compiled without that rule (``Rewrites(exclude=[...])``) as the control, and values unchanged."""
import numpy as np
import pytest

import minigraph as theano
import minigraph.tensor as T
from minigraph.graph import toposort
from minigraph.ops.linalg import Dot, Tensordot
from minigraph.rewrite import Rewrites
from minigraph.scan import Scan

H, I, B, N = 4, 3, 2, 5


def _lstm_loss():
    rng = np.random.default_rng(0)
    W = theano.shared(rng.standard_normal((I, 4 * H)), "W")
    U = theano.shared(rng.standard_normal((H, 4 * H)) * 0.5, "U")
    X = T.tensor3("X")

    def step(x, h, c):
        z = T.dot(x, W) + T.dot(h, U)
        i, f, o = (T.nnet.sigmoid(z[:, k * H:(k + 1) * H]) for k in range(3))
        c = f * c + i * T.tanh(z[:, 3 * H:])
        return [o * T.tanh(c), c]

    zeros = T.zeros((X.shape[1], H))
    (hs, _), _ = theano.scan(step, sequences=[X], outputs_info=[zeros, zeros])
    return X, W, U, hs, rng.standard_normal((N, B, I))


def _scans(f):
    return [n for n in f.program.nodes if isinstance(n.op, Scan)]


def _compile_both(inputs, outputs, rule):
    on = theano.function(inputs, outputs)
    off = theano.function(inputs, outputs, rewrite=Rewrites(exclude=[rule]))
    return on, off


def _step_reads(op, kinds, from_what):
    """Inner nodes of ``op`` with an op of ``kinds`` that read one of the inner inputs ``from_what``."""
    ids = {id(v) for v in from_what}
    return [n for n in toposort(op.inner_outputs, stop_at=op.inner_inputs)
            if isinstance(n.op, kinds) and any(id(v) in ids for v in n.inputs)]


def test_input_product_leaves_the_loop():
    X, W, U, hs, x = _lstm_loss()
    on, off = _compile_both([X], hs, "scan_pushout_sequence")
    np.testing.assert_allclose(on(x), off(x))
    (loop_on,), (loop_off,) = _scans(on), _scans(off)
    assert _step_reads(loop_off.op, Dot, loop_off.op.seq_inputs), "control: x_t @ W is in the loop"
    assert not _step_reads(loop_on.op, (Dot, Tensordot), loop_on.op.seq_inputs)
    before = toposort(loop_on.inputs)  # everything the loop reads, computed before it
    assert any(isinstance(n.op, (Dot, Tensordot)) and any(v is X for v in theano.graph_inputs(n.inputs))
               for n in before), "X @ W is computed before the loop, for all steps at once"


def test_weight_gradient_becomes_one_product_after_the_loop():
    X, W, U, hs, x = _lstm_loss()
    cost = hs[-1].sum()
    gU = T.grad(cost, U)
    on, off = _compile_both([X], gU, "scan_pushout_sums")
    np.testing.assert_allclose(on(x), off(x), rtol=1e-10)
    back_on = [n for n in _scans(on) if n.op.name.startswith("grad_of")]
    back_off = [n for n in _scans(off) if n.op.name.startswith("grad_of")]
    assert back_off[0].op.n_sums >= 1, "control: the gradient is summed inside the loop"
    assert back_on[0].op.n_sums == 0
    # one product reads what the backward loop stored: it depends on the loop
    after = [n for n in on.program.nodes if isinstance(n.op, Tensordot)
             and any(m is back_on[0] for m in toposort(n.inputs))]
    assert len(after) >= 1
    assert not [n for n in off.program.nodes if isinstance(n.op, Tensordot)
                and any(m is back_off[0] for m in toposort(n.inputs))]


def test_only_the_last_step_is_kept_when_only_h_last_is_read():
    X, W, U, hs, x = _lstm_loss()
    on, off = _compile_both([X], hs[-1], "scan_prune")
    np.testing.assert_allclose(on(x), off(x))
    (loop_on,), (loop_off,) = _scans(on), _scans(off)
    assert "last" in loop_on.op.keep
    assert loop_off.op.keep == ("all",) * loop_off.op.n_carry


def test_forward_loop_and_grads_copy_merge_into_one():
    X, W, U, hs, x = _lstm_loss()
    cost = hs.sum()
    on, off = _compile_both([X], [cost, T.grad(cost, W)], "scan_merge_variants")
    for a, b in zip(on(x), off(x)):
        np.testing.assert_allclose(a, b, rtol=1e-10)
    forward = lambda f: [n for n in _scans(f) if not n.op.name.startswith("grad_of")]  # noqa: E731
    assert len(forward(on)) == 1
    assert len(forward(off)) >= 2  # the loop and the copy grad made of it (with residuals) run apart


def test_loop_invariant_work_is_hoisted():
    Wv, h0 = T.dmatrix("W"), T.dvector("h0")
    hs, _ = theano.scan(lambda h, w: T.tanh(T.dot(w.T * 2.0, h)), outputs_info=[h0], non_sequences=[Wv],
                        n_steps=4)
    on, off = _compile_both([Wv, h0], hs, "scan_pushout_invariant")
    w = np.random.default_rng(1).standard_normal((H, H))
    np.testing.assert_allclose(on(w, np.ones(H)), off(w, np.ones(H)))
    (loop_on,), (loop_off,) = _scans(on), _scans(off)
    inner = lambda op: toposort(op.inner_outputs, stop_at=op.inner_inputs)  # noqa: E731
    assert len(inner(loop_off.op)) > 2, "control: w.T * 2 is computed at every step"
    assert len(inner(loop_on.op)) == 2  # dot and tanh: w.T * 2 is computed once before the loop


def test_every_scan_rule_is_listed_and_can_be_switched_off():
    from minigraph.rewrite import list_rules
    names = {r.name for r in list_rules()}
    assert {"scan_merge_variants", "scan_pushout_sequence", "scan_pushout_invariant", "scan_pushout_sums",
            "scan_prune"} <= names
    x = T.dvector("x")
    with pytest.raises(ValueError, match="no rewrite rule named 'scan_pushout'; the rules are: .*scan_prune"):
        theano.function([x], x + 1, rewrite=Rewrites(exclude=["scan_pushout"]))
