"""The gradient of a scan (BPTT): another scan, run backwards over the forward traces.

Three phases, one function each:

* ``backward_step``: the step of the backward loop -- the pullback of the forward step, with the
  cotangents of the carries as its carries and the parameter gradients as its sums -- and the
  forward intermediates it reads (residuals), which the forward loop stores as extra ys;
* ``backward_sequences``: what the backward loop iterates over (sequences, carries entering each
  step, residuals, cotangents of traces and ys), reversed in time, and what it reads whole;
* ``truncated_initial_gradients``: with ``truncate_gradient``, which initial states the last
  backward step still reaches.

Backward step at time t (placeholders in brackets)::

    total_k   = [g_next_k] + [g_trace_k(t)]            cotangent of carry k leaving step t
    vjp       = pullback of the forward step at (x_t, c_{t-1}, theta) with (total, [g_y(t)], [g_sum])
    g_next_k' = vjp[c_{t-1}]                           carried to step t-1
    ys:   vjp[x_t]                                     gradient of each sequence at t
    sums: vjp[theta]                                   accumulated over steps: the parameter gradients
"""
from dataclasses import dataclass

import numpy as np

from .. import tensor as T
from ..grad import backprop
from ..graph import Constant, TensorType, clone_replace, graph_inputs, toposort
from ..ops.basic import Alloc, Shape
from ..ops.shape import DimShuffle
from ..ops.subtensor import IncSubtensor, Subtensor
from ..rewrite import Rewriter
from .op import Scan


@dataclass
class BackwardStep:
    """The backward loop's step and what it needs from the forward loop."""

    outputs: list        # [*carry cotangents entering step t-1, *sequence gradients, *parameter gradients]
    float_carry: list    # carries that have a cotangent (float ones), in order
    g_next: dict         # carry -> placeholder of its cotangent carried from step t+1
    g_trace: dict        # carry -> placeholder of the cotangent of its trace at t
    g_y: dict            # y -> placeholder of its cotangent at t
    g_sum: dict          # sum -> placeholder of its cotangent (read whole)
    last_only: dict      # carry -> the last row of a trace cotangent that is zero elsewhere
    seq_idx: list        # sequences that get a gradient
    ns_idx: list         # non-sequences that get a gradient
    residuals: list      # forward-step values the backward step reads
    res_ph: dict         # id(residual) -> its placeholder


def scan_pullback(op, inputs, outputs, cotangents):
    """The gradient of every outer input of a scan node, built as a backward scan."""
    layout = op.layout
    n_steps, seqs, inits, nonseqs = layout.split_outer_inputs(inputs)
    if op.truncate_gradient == 0:  # no step is differentiated: the gradient is zero (and has no loop)
        return [None] + [T.zeros_like(v) if v.type.is_float else None for v in inputs[1:]]
    if any(op.keep[k] == "last" and cotangents[k] is not None for k in range(layout.n_carry)):
        raise NotImplementedError("gradient through a save-memory scan: differentiate the graph before compiling")
    back = backward_step(op, cotangents)
    # The forward scan again, keeping every carry's trace and the residuals.  It has the original's
    # inputs and outputs as a prefix, so at compile time the two merge into one loop.
    carry_of = {id(v): k for k, v in enumerate(op.carries)}
    extra_ys = [v for v in back.residuals if id(v) not in carry_of]
    carries_out, ys_out, sums_out = layout.split_inner_outputs(op.inner_outputs)
    fwd_op = op.with_(inner_outputs=carries_out + ys_out + extra_ys + sums_out, keep=("all",) * layout.n_carry)
    fwd = fwd_op.make_node(n_steps, *inputs[1:]).outputs
    traces, extra_traces = fwd[:layout.n_carry], fwd[layout.y_index(layout.n_ys):][:len(extra_ys)]
    stored = {id(v): (traces[carry_of[id(v)]] if id(v) in carry_of else extra_traces[extra_ys.index(v)])
              for v in back.residuals}
    truncated = op.truncate_gradient >= 0
    k_back = T.minimum(n_steps, op.truncate_gradient) if truncated else n_steps
    b_seq, b_nonseq = backward_sequences(op, inputs, cotangents, back, traces, stored)
    b_carry_ph = [back.g_next[k] for k in back.float_carry]
    back_op = Scan([ph for ph, _ in b_seq] + b_carry_ph + [ph for ph, _ in b_nonseq], back.outputs,
                   n_seqs=len(b_seq), n_carry=len(b_carry_ph), n_sums=len(back.ns_idx), n_steps_given=True,
                   name=f"grad_of_{op.name}")
    starts = [T.zeros_like(inits[k]) + back.last_only[k] if k in back.last_only else T.zeros_like(inits[k])
              for k in back.float_carry]
    b_out = back_op.make_node(k_back, *[o for _, o in b_seq], *starts, *[o for _, o in b_nonseq]).outputs
    b_carry_traces, b_ys, b_sums = back_op.layout.split_outer_outputs(b_out)

    result = [None] * len(inputs)
    for g_rev, i in zip(b_ys, back.seq_idx):
        g = g_rev[::-1]
        if truncated or op.n_steps_given:  # only the steps that ran (and were not truncated) get gradient
            g = T.set_subtensor(T.zeros_like(seqs[i])[n_steps - k_back:n_steps], g)
        if g.type.shape != seqs[i].type.shape:  # the sequence's static lengths hold for its gradient too
            g = T.specify_shape(g, seqs[i].type.shape)
        result[layout.outer_seq(i)] = g
    for trace, k in zip(b_carry_traces, back.float_carry):
        g0 = T.sum(trace[-1:], axis=0)  # the carry after the last backward step; zeros after none
        if not truncated:
            result[layout.outer_init(k)] = g0
            continue
        for m, g in truncated_initial_gradients(op, k, g0, n_steps - k_back):
            pos = layout.outer_init(m)
            result[pos] = g if result[pos] is None else result[pos] + g
    for g, i in zip(b_sums, back.ns_idx):
        result[layout.outer_nonseq(i)] = g
    return result


def backward_step(op, cotangents):
    """The backward loop's step: the forward step's pullback seeded with placeholders for the cotangents."""
    layout, P, O = op.layout, op.inner_inputs, op.inner_outputs
    p_seq, p_carry, p_nonseq = layout.split_inner_inputs(P)
    nc = layout.n_carry
    float_carry = [k for k in range(nc) if p_carry[k].type.is_float]
    g_next = {k: p_carry[k].type(f"g_{p_carry[k].name or 'c%d' % k}") for k in float_carry}
    # a trace read only at [-1] (many-to-one models) has a cotangent that is zero but for its last row:
    # that row starts the backward carry instead of being added in at every step
    last_only = {k: g for k in float_carry if cotangents[k] is not None
                 for g in [_last_row_only(cotangents[k])] if g is not None}
    g_trace = {k: p_carry[k].type(f"g_trace{k}") for k in float_carry
               if cotangents[k] is not None and k not in last_only}
    g_y = {j: O[layout.y_index(j)].type(f"g_y{j}") for j in range(layout.n_ys)
           if cotangents[layout.y_index(j)] is not None and O[layout.y_index(j)].type.is_float}
    g_sum = {j: O[layout.sum_index(j)].type(f"g_sum{j}") for j in range(layout.n_sums)
             if cotangents[layout.sum_index(j)] is not None and O[layout.sum_index(j)].type.is_float}
    seeds = {}

    def seed(v, g):
        seeds[v] = g if v not in seeds else seeds[v] + g

    for k in float_carry:
        seed(O[k], g_next[k] + g_trace[k] if k in g_trace else g_next[k])
    for j, g in g_y.items():
        seed(O[layout.y_index(j)], g)
    for j, g in g_sum.items():
        seed(O[layout.sum_index(j)], g)
    g_seq, g_carry_prev, g_nonseq = layout.split_inner_inputs(backprop(seeds, list(P)))

    carry_out = [g_carry_prev[k] if g_carry_prev[k] is not None else T.zeros_like(g_next[k]) for k in float_carry]
    seq_idx = [i for i in range(layout.n_seqs) if g_seq[i] is not None]
    ns_idx = [i for i in range(len(p_nonseq)) if g_nonseq[i] is not None]
    outputs = carry_out + [g_seq[i] for i in seq_idx] + [g_nonseq[i] for i in ns_idx]
    # Simplify the backward step first (leaving the forward step's variables untouched), so that
    # what it reads from the forward step is what it really needs.
    frozen = list(P) + [o for n in toposort(O, stop_at=P) for o in n.outputs]
    outputs = Rewriter(frozen=frozen)(outputs)
    # Residuals: forward-step intermediates that the backward step reads are stored by the forward
    # scan (as extra ys), so the backward step never recomputes them.
    residuals = _residuals(O, P, p_nonseq, outputs)
    res_ph = {id(v): v.type(f"res_{v.name or i}") for i, v in enumerate(residuals)}
    outputs = clone_replace(outputs, {v: _stand_in(v, res_ph[id(v)]) for v in residuals})
    return BackwardStep(outputs, float_carry, g_next, g_trace, g_y, g_sum, last_only, seq_idx, ns_idx,
                        residuals, res_ph)


def backward_sequences(op, inputs, cotangents, back, traces, stored):
    """(placeholder, outer value) pairs the backward loop iterates over, reversed in time, and those it
    reads whole (non-sequences and the cotangents of summed outputs)."""
    layout = op.layout
    n_steps, seqs, inits, _ = layout.split_outer_inputs(inputs)
    p_seq, p_carry, _ = layout.split_inner_inputs(op.inner_inputs)
    used = {id(v) for v in graph_inputs(back.outputs)}
    b_seq = []
    for i in range(layout.n_seqs):
        if id(p_seq[i]) in used:
            b_seq.append((p_seq[i], (seqs[i][:n_steps] if op.n_steps_given else seqs[i])[::-1]))
    for k in range(layout.n_carry):
        if id(p_carry[k]) in used:  # the value entering step t: init, then trace[:-1]
            prev = T.concatenate([T.stack([inits[k]]), traces[k][:-1]], axis=0)
            b_seq.append((p_carry[k], prev[::-1]))
    for v in back.residuals:
        if id(back.res_ph[id(v)]) in used:
            b_seq.append((back.res_ph[id(v)], stored[id(v)][::-1]))
    for k, ph in back.g_trace.items():
        if id(ph) in used:
            b_seq.append((ph, cotangents[k][::-1]))
    for j, ph in back.g_y.items():
        if id(ph) in used:
            b_seq.append((ph, cotangents[layout.y_index(j)][::-1]))
    seq_ids = {id(ph) for ph, _ in b_seq}
    b_nonseq = [(p, inputs[1 + i]) for i, p in enumerate(op.inner_inputs) if id(p) in used and id(p) not in seq_ids]
    b_nonseq += [(ph, cotangents[layout.sum_index(j)]) for j, ph in back.g_sum.items() if id(ph) in used]
    return b_seq, b_nonseq


def truncated_initial_gradients(op, k, g0, b):
    """[(carry m, gradient of its initial value)] when the backward loop stops at step ``b``.

    ``g0`` is the cotangent of carry k entering step b.  That is an initial state's gradient only
    if b == 0 -- or if carry k is a pass-through chain (the shifted slots of a state with taps
    [-2, -1], say: new c0 = old c1), along which the initial value init[m] reaches step b untouched
    when the chain from k to m is b steps long.  Outputs of the truncated steps get no gradient.
    """
    carry_index = {id(p): j for j, p in enumerate(op.carry_inputs)}
    O = op.inner_outputs
    chain = [k]
    while id(O[chain[-1]]) in carry_index and carry_index[id(O[chain[-1]])] not in chain:
        chain.append(carry_index[id(O[chain[-1]])])
    return [(m, T.switch(T.eq(b, j), g0, T.zeros_like(g0))) for j, m in enumerate(chain)]


def _last_row_only(g):
    """``y`` when ``g`` is ``inc_subtensor(zeros[-1], y)`` (the cotangent of ``x[-1]``), else None."""
    node = g.owner
    if node is None or not isinstance(node.op, IncSubtensor) or node.op.spec != (("i", -1),) or len(node.inputs) != 2:
        return None
    zeros = node.inputs[0].owner
    if zeros is None or not isinstance(zeros.op, Alloc) or not isinstance(zeros.inputs[0], Constant) \
            or np.any(zeros.inputs[0].data != 0):
        return None
    return node.inputs[1]


def _residuals(forward_outputs, placeholders, p_nonseq, back_outputs):
    """What the forward scan must store for the backward step: the frontier between the
    forward side (computable from the step's own inputs) and the rest of the backward graph.

    Loop-invariant values are left out (recomputed from the non-sequences and hoisted out of
    the loop by the rewrites).  A node of the gradient that only reads the forward side (the
    shape of a gate matrix, say) counts as forward side, so only its small result is stored.
    """
    forward_side = {id(p) for p in placeholders}
    for node in toposort(list(forward_outputs) + list(back_outputs), stop_at=placeholders):
        if isinstance(node.op, (DimShuffle, Subtensor)) and node.inputs[0].owner is None:
            continue  # a view of a step input is re-taken in the backward step, never stored
        if all(id(v) in forward_side or isinstance(v, Constant) for v in node.inputs):
            forward_side.update(id(o) for o in node.outputs)
    invariant = _invariant_vars(list(forward_outputs) + list(back_outputs), placeholders,
                                {id(p) for p in p_nonseq})
    ph_ids = {id(p) for p in placeholders}
    found, seen = [], set()

    def take(v):
        if (id(v) in forward_side and id(v) not in invariant and id(v) not in ph_ids
                and not isinstance(v, Constant) and id(v) not in seen):
            seen.add(id(v))
            found.append(v)

    for node in toposort(back_outputs, stop_at=placeholders):
        if id(node.outputs[0]) not in forward_side:
            for v in node.inputs:
                take(v)
    for v in back_outputs:
        take(v)
    # A view (slice, dimshuffle) of another stored value is re-taken from it in the backward step
    # rather than stored twice: the gates sliced out of one fused sigmoid, say.
    stored = {id(v) for v in found}
    return [v for v in found if not (isinstance(v.owner.op, (DimShuffle, Subtensor)) and len(v.owner.inputs) == 1
                                     and id(v.owner.inputs[0]) in stored)]


def _stand_in(v, ph):
    """What replaces the residual ``v`` in the backward step: its placeholder ``ph`` -- except for a shape
    vector, whose statically known entries stay constants (ops such as sum_to_shape and dimshuffle read
    the static shape from how a shape vector is built; an opaque placeholder would lose it)."""
    if v.owner is None or not isinstance(v.owner.op, Shape):
        return ph
    static = v.owner.inputs[0].type.shape
    if None not in static:
        return Constant(v.type, np.array(static, dtype=v.dtype))
    return T.stack([Constant(TensorType(v.dtype, ()), s) if s is not None else ph[i] for i, s in enumerate(static)])


def _invariant_vars(outputs, placeholders, nonseq_ids):
    """ids of inner variables that depend only on non-sequences and constants (same at every step)."""
    varying = {id(p) for p in placeholders if id(p) not in nonseq_ids}
    invariant = set()
    for node in toposort(outputs, stop_at=placeholders):
        if not any(id(i) in varying for i in node.inputs) and not isinstance(node.op, Scan):
            invariant.update(id(o) for o in node.outputs)
        else:
            varying.update(id(o) for o in node.outputs)
    return invariant
