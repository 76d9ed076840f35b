"""The JAX lowering of the core ``Scan`` op: one ``lax.scan``.

The Theano front end has already normalised every loop onto the core op (see ``basic.py``):
sequence taps are shifted slices, a multi-tap state is a window of carries that shift each step,
``go_backwards`` is a reversed slice, shared-variable updates are carries.  So the lowering maps the
core op one to one: the carries are ``lax.scan``'s carry, the sequences its ``xs``, the stored
traces and ys its stacked ``ys``; a carry kept only at its last step (save-memory) is not stacked
at all, and summed outputs (BPTT's parameter gradients) are accumulated in the carry.  A loop whose
sequences are all reversed slices (``go_backwards``, and the backward loops of BPTT) runs with
``reverse=True`` over the unreversed sequences.  The step is
the op's own rewritten step program, lowered by the same driver, so nested loops and the backward
loops that ``grad`` builds lower the same way.

Values known while tracing stay known across the loop: a y the step computes as a constant (the
shape of a gate, stored for the backward loop) is a constant sequence, not a stacked output, and a
constant sequence whose rows are equal reaches the step as that row -- so the backward step's
shape arithmetic folds as the forward step's did, and JAX sees static shapes.
"""
import numpy as np

import jax
import jax.numpy as jnp
from jax import lax

from ..backends.jax_backend import concrete, lower_program
from ..compile import ExecutionError
from ..ops.basic import static_values


def lower_scan(op, node):
    """A function of (n_steps, *sequences, *initial carries, *non-sequences) returning the op's outputs."""
    ns, nc, ny = op.n_seqs, op.n_carry, op.n_ys
    step = lower_program(op.steps.get().program)
    carry_dtypes = [np.dtype(p.dtype) for p in op.inner_inputs[ns:ns + nc]]
    y_dtypes = [np.dtype(v.dtype) for v in op.ys]
    stored = [k for k in range(nc) if op.keep[k] == "all"]
    backwards = ns > 0 and all(_is_reversal(v) for v in node.inputs[1:1 + ns])

    def run(n, *outer):
        n = int(static_values([n], op)[0])
        seqs, carries, nonseqs = outer[:ns], outer[ns:ns + nc], outer[ns + nc:]
        op.steps.check_lengths(n, seqs)
        seqs = [s[:n] for s in seqs]
        fixed = {i: s[0] for i, s in enumerate(seqs) if concrete(s) and n and (s == s[0]).all()}
        moving = [i for i in range(ns) if i not in fixed]
        carries = [jnp.asarray(c, d) for c, d in zip(carries, carry_dtypes)]

        def step_at(xs, carries):
            rows = iter(xs)
            return step(*[fixed[i] if i in fixed else next(rows) for i in range(ns)], *carries, *nonseqs)

        known = {}  # ys the step computes as constants (known while tracing)

        def probe(xs, carries):
            outs = step_at(xs, carries)
            known.update({j: np.asarray(y, y_dtypes[j]) for j, y in enumerate(outs[nc:nc + ny]) if concrete(y)})
            return outs
        rows = [jax.ShapeDtypeStruct(np.shape(seqs[i])[1:], seqs[i].dtype) for i in moving]
        shapes = jax.eval_shape(probe, rows, carries)
        _check_carries(op, carries, shapes[:nc])
        sums0 = [jnp.zeros(s.shape, v.dtype) for s, v in zip(shapes[nc + ny:], op.sums)]
        traced_ys = [j for j in range(ny) if j not in known]

        slot = {}  # position in the stacked outputs of each stored trace ("c", k) and y ("y", j)

        def body(state, xs):
            carries, sums = state
            outs = step_at(xs, carries)
            new = [jnp.asarray(o, d) for o, d in zip(outs[:nc], carry_dtypes)]
            sums = [a + jnp.asarray(b, a.dtype) for a, b in zip(sums, outs[nc + ny:])]
            return (new, sums), _stack_once([(("c", k), outs[k], new[k]) for k in stored] + [
                (("y", j), outs[nc + j], jnp.asarray(outs[nc + j], y_dtypes[j])) for j in traced_ys], slot)

        xs = [seqs[i] for i in moving]
        if backwards:  # every sequence is x[::-1] (go_backwards, BPTT): loop over x with reverse=True instead
            xs = [x[::-1] for x in xs]  # XLA cancels the two reversals
        (last, sums), stacked = lax.scan(body, (carries, sums0), xs, length=n, reverse=backwards)
        if backwards:  # outputs in the loop's order, as the op defines them (a consumer's reversal cancels)
            stacked = [y[::-1] for y in stacked]
        results = [stacked[slot["c", k]] if ("c", k) in slot else
                   (last[k][None] if n else jnp.zeros((0,) + last[k].shape, last[k].dtype)) for k in range(nc)]
        results += [stacked[slot["y", j]] if ("y", j) in slot else np.broadcast_to(known[j], (n,) + known[j].shape)
                    for j in range(ny)]
        return tuple(results + sums)
    return run


def _stack_once(entries, slot):
    """The values to stack from ``entries`` (key, step output, value): a step output stored twice (a state
    that is also a y) is stacked once; ``slot[key]`` says where each key's value is."""
    stacked, first = [], {}
    for key, out, value in entries:
        if id(out) not in first:
            first[id(out)] = len(stacked)
            stacked.append(value)
        slot[key] = first[id(out)]
    return stacked


def _is_reversal(v):
    """``v`` is ``x[::-1]``, or a forward slice of one (``x[::-1][:n, :, a:b]``): how go_backwards and the
    backward loops of BPTT give their sequences."""
    from ..ops.subtensor import Subtensor
    from .op import CheckLength
    if v.owner is not None and isinstance(v.owner.op, CheckLength):  # an identity
        return _is_reversal(v.owner.inputs[0])
    if v.owner is None or not isinstance(v.owner.op, Subtensor):
        return False
    spec = v.owner.op.spec
    if not all(e[0] in "si" for e in spec):  # no new or advanced axes
        return False
    first = spec[0]
    if first == ("s", None, None, -1) and len(v.owner.inputs) == 1:
        return True
    return first[0] == "s" and first[3] is None and _is_reversal(v.owner.inputs[0])  # a forward slice of one


def _check_carries(op, carries, out_shapes):
    for k, (c, out) in enumerate(zip(carries, out_shapes)):
        if tuple(c.shape) != tuple(out.shape):
            raise ExecutionError(
                f"{op}: carry {k} ({op.inner_inputs[op.n_seqs + k]}) enters the loop with shape {tuple(c.shape)} "
                f"but the step returns shape {tuple(out.shape)}; the initial state must have the shape of the "
                "step's output")
