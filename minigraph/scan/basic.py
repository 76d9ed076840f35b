"""``scan``: Theano's loop front end, normalised onto the one carry/sequence core op.

Phases of a call (one function each): the sequences' taps become shifted slices
(``_sequence_slices``); a multi-tap state ``taps=[-2, -1]`` becomes carries that
shift each step (``_state_carries``); the step function is called in Theano's
argument order (``_call_step``); its outputs become new carries or ys
(``_new_carries``), its shared-variable updates extra carries
(``_update_carries``); variables it uses without being given are captured as
extra non-sequences (``_capture``); then one ``Scan`` node is built and its
outputs handed back in Theano's form (``_results``).
"""
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from .. import tensor as T
from ..graph import Constant, SharedVariable, TensorType, as_variable, clone_replace, graph_inputs, toposort
from .op import Scan, ScanError, ScanTapError
from .rewrites import fuse_dots, fuse_sliced_elementwise


def _as_list(x):
    if x is None:
        return []
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def _normalize_sequence(s):
    if isinstance(s, dict):
        if "input" not in s:
            raise ScanError("scan: a sequence given as a dict needs an 'input' entry")
        taps = _taps(s.get("taps", [0])) or [0]
        return as_variable(s["input"]), taps
    return as_variable(s), [0]


def _normalize_output_info(o, i):
    """(initial value or None, taps) for one entry of outputs_info."""
    if o is None:
        return None, []
    if isinstance(o, dict):
        init = o.get("initial")
        if init is None:
            return None, []
        taps = _taps(o.get("taps", [-1]))
        if any(t >= 0 for t in taps) or len(set(taps)) != len(taps):
            raise ScanTapError(f"scan: outputs_info[{i}] taps must be distinct and negative, got {taps}")
        return _unbroadcast_shared(as_variable(init)), taps
    return _unbroadcast_shared(as_variable(o)), [-1]


def _taps(taps):
    """Taps as a list; Theano also takes a bare int."""
    return [int(taps)] if isinstance(taps, (int, np.integer)) else [int(t) for t in (taps or [])]


def _unbroadcast_shared(init):
    """A shared variable's length-1 axes are not broadcastable in Theano: a (4, 1) shared initial state
    may grow to (4, n) in the loop, as any other state of unknown length would."""
    if isinstance(init, SharedVariable) and 1 in init.type.shape:
        return T.unbroadcast(init, *[a for a, s in enumerate(init.type.shape) if s == 1])
    return init


def _step_type(v):
    """The type of one step of a sequence: the leading axis removed."""
    if v.ndim == 0:
        raise ScanError(f"scan: sequence {v.describe()} is a scalar; sequences need a leading time axis")
    return TensorType(v.dtype, v.type.shape[1:])


@dataclass
class _Carries:
    """The loop's carries as the front end builds them: initial values, placeholders, and for each
    entry of outputs_info its slot ``(first carry, depth, taps)`` or None (a y)."""

    inits: list = field(default_factory=list)
    placeholders: list = field(default_factory=list)
    slots: list = field(default_factory=list)


def scan(fn, sequences=None, outputs_info=None, non_sequences=None, n_steps=None, truncate_gradient=-1,
         go_backwards=False, mode=None, name=None, profile=False, allow_gc=None, strict=False,
         return_list=False, equal_lengths=False):
    """Loop ``fn`` over ``sequences`` carrying states, as Theano's ``scan``; returns ``(outputs, updates)``.

    ``fn`` receives, in order: one slice per sequence tap, one value per state
    tap, then the non-sequences.  It returns the new states and other outputs
    (``outputs_info`` entries that are None), optionally with a dict of
    shared-variable updates, and/or ``until(condition)``.  Sequences of different lengths run for the
    shortest, as in Theano (``equal_lengths=True`` makes a difference an error instead).  See
    docs/scan.md for the full description.
    """
    name = name or getattr(fn, "__name__", "scan")
    if name == "<lambda>":
        name = "scan"
    seqs = [_normalize_sequence(s) for s in _as_list(sequences)]
    outs_info = [_normalize_output_info(o, i) for i, o in enumerate(_as_list(outputs_info))]
    non_seqs = [as_variable(v) for v in _as_list(non_sequences)]
    n_steps, n_given = _given_steps(n_steps, seqs)
    outer_seq, inner_seq = _sequence_slices(seqs, n_given or not equal_lengths, go_backwards)
    if not n_given:
        n_steps, n_given = _shortest(outer_seq, equal_lengths)
    carries = _state_carries(outs_info)
    _inner_test_values(outer_seq, inner_seq, carries)
    # As in Theano, the step receives the outer non-sequences themselves (so T.grad(y[i], x) inside the step
    # differentiates the outer graph) and they are replaced by placeholders afterwards; shared variables and
    # constants stay themselves (a shared variable the step updates reads the carried value instead).
    ns_ph = [v if isinstance(v, (Constant, SharedVariable)) else v.type(v.name) for v in non_seqs]

    outputs, updates, until = _call_step(fn, inner_seq, carries, non_seqs, outs_info)
    if until is not None and truncate_gradient >= 0:
        # Theano truncates over the steps that ran: find how many did, then loop exactly that often
        kwargs = dict(sequences=sequences, outputs_info=outputs_info, non_sequences=non_sequences,
                      go_backwards=go_backwards, name=name, strict=strict, equal_lengths=equal_lengths)
        first, _ = scan(fn, n_steps=n_steps if n_given else None, return_list=True, **kwargs)
        return scan(_without_until(fn), n_steps=T.shape_i(first[0], 0), truncate_gradient=truncate_gradient,
                    return_list=return_list, **kwargs)
    _add_default_updates(outputs, updates)
    if not outs_info:
        carries.slots = [None] * len(outputs)
    new_carries, ys, y_slot = _new_carries(outputs, carries, outs_info, strict)
    upd_first = len(carries.placeholders)
    upd_items = list(updates.items())
    new_carries += _update_carries(upd_items, carries)
    replace = {sv: carries.placeholders[upd_first + i] for i, (sv, _) in enumerate(upd_items)}
    replace.update({v: p for v, p in zip(non_seqs, ns_ph) if p is not v})
    inner_outputs = [as_variable(v) for v in new_carries + ys]
    if until is not None:
        inner_outputs, active = _until_carries(inner_outputs, until, carries, len(new_carries))
    inner_outputs = _step_graph(inner_outputs, replace, carries.placeholders)
    placeholders = inner_seq + carries.placeholders + [p for p, v in zip(ns_ph, non_seqs) if p is not v]
    outer_ns = [v for v, p in zip(non_seqs, ns_ph) if p is not v]
    inner_outputs, cap_ph, captured = _capture(inner_outputs, placeholders, non_seqs, strict)
    op = Scan(placeholders + cap_ph, inner_outputs, len(inner_seq), len(carries.placeholders),
              n_steps_given=n_given, name=name, truncate_gradient=truncate_gradient)
    node = op.make_node(n_steps, *outer_seq, *carries.inits, *outer_ns, *captured)
    _node_test_values(node)
    node_outputs = node.outputs
    if until is not None:  # cut every trace to the steps that ran
        ran = T.sum(node_outputs[len(carries.placeholders) + active])
        node_outputs = [o[:ran] for o in node_outputs]
    return _results(node_outputs, carries, y_slot, n_steps, upd_items, upd_first, return_list)


def _step_graph(inner_outputs, replace, carry_placeholders):
    """The step's outputs read the placeholders (``replace``: outer variable -> placeholder), with products
    that share an operand (a tutorial-style LSTM's eight per-step dots) fused into one product of
    concatenated weights now, so that the gradient is built from the fused form."""
    if replace:
        inner_outputs = clone_replace(inner_outputs, replace)
    inner_outputs = fuse_dots(inner_outputs) or inner_outputs
    return fuse_sliced_elementwise(inner_outputs, carry_placeholders) or inner_outputs


def _given_steps(n_steps, seqs):
    """(n_steps as a variable or None, whether it was given), checked."""
    if n_steps is None:
        if not seqs:
            raise ScanError("scan: give sequences or n_steps (a loop needs to know how long it runs)")
        return None, False
    n_steps = as_variable(n_steps)
    if isinstance(n_steps, Constant) and int(n_steps.data) < 0:
        raise ScanError(f"scan: n_steps must be >= 0, got {int(n_steps.data)}")
    return n_steps, True


def _shortest(outer_seq, equal_lengths):
    """(n_steps, whether sequences may be longer than the loop): the shortest sequence's length, as Theano
    runs; with one sequence, or lengths known equal, or ``equal_lengths``, exactly the sequences' length."""
    lengths = [s.type.shape[0] for s in outer_seq]
    if equal_lengths or len(outer_seq) == 1 or (None not in lengths and len(set(lengths)) == 1):
        return T.shape_i(outer_seq[0], 0), False
    if None not in lengths:
        return T.constant(min(lengths), dtype="int64"), True
    n = T.shape_i(outer_seq[0], 0)
    for s in outer_seq[1:]:
        n = T.minimum(n, T.shape_i(s, 0))
    return n, True


def _sequence_slices(seqs, n_given, go_backwards):
    """(outer slices, step placeholders): one per sequence tap.

    As in Theano, step t reads tap k of a sequence at index t + k - lo, where lo = min(taps, 0) and
    hi = max(taps, 0): a sequence of length L gives L - (hi - lo) steps.  With go_backwards each tap's
    slice is reversed (the loop starts at the end; taps keep their meaning in the array's order).
    Without n_steps all sequences must have the same length: every slice is cut to L - (largest span)
    entries, from the end (forwards) or from the start (backwards), so their lengths agree exactly when
    the sequences' lengths do, and the core op reports a mismatch.
    """
    max_span = max((max(max(t), 0) - min(min(t), 0) for _, t in seqs), default=0)
    outer_seq, inner_seq = [], []
    for si, (s, taps) in enumerate(seqs):
        lo, hi = min(min(taps), 0), max(max(taps), 0)
        cut = 0 if n_given else max_span - (hi - lo)
        for tap in taps:
            start, end_off = tap - lo, hi - tap  # the slice s[start : L - end_off]
            if go_backwards:
                start += cut
            else:
                end_off += cut
            # a sequence shorter than end_off gives an empty slice (not a wrapped-around negative index)
            stop = T.maximum(T.shape_i(s, 0) - end_off, 0) if end_off else None
            piece = s[start:stop] if (start or stop is not None) else s
            outer_seq.append(piece[::-1] if go_backwards else piece)
            label = s.name or "seq%d" % si
            inner_seq.append(_step_type(s)(f"{label}[t{tap:+d}]" if tap else f"{label}[t]"))
    return outer_seq, inner_seq


def _inner_test_values(outer_seq, inner_seq, carries):
    """With test values on (config.compute_test_value), the step's placeholders get the first step's values,
    so the step is checked on them as it is built, as Theano does."""
    from ..config import config
    if config.compute_test_value == "off":
        return
    from ..testvalue import lookup
    for outer, ph in zip(outer_seq, inner_seq):
        found, value = lookup(outer)
        if found and len(value):
            ph.tag.test_value = value[0]
    for init, ph in zip(carries.inits, carries.placeholders):
        found, value = lookup(init)
        if found:
            ph.tag.test_value = value


def _node_test_values(node):
    from ..config import config
    if config.compute_test_value != "off":
        from ..testvalue import compute
        compute(node)


def _state_carries(outs_info):
    """Each state's tap list becomes carries that shift by one each step."""
    carries = _Carries()
    for oi, (init, taps) in enumerate(outs_info):
        if init is None:
            carries.slots.append(None)
            continue
        depth = -min(taps)
        if depth == 1:
            inits = [init]
        else:
            if init.ndim == 0:
                raise ScanError(f"scan: outputs_info[{oi}] has taps {taps}, so its initial value needs a leading "
                                f"axis of at least {depth} entries; got {init.describe()}")
            inits = [init[k] for k in range(depth)]  # as in Theano: init[0] is the value at t-depth
        first = len(carries.placeholders)
        for k, iv in enumerate(inits):
            carries.inits.append(iv)
            carries.placeholders.append(iv.type(f"{init.name or f'out{oi}'}[t{k - depth:+d}]"))
        carries.slots.append((first, depth, taps))
    return carries


def _call_step(fn, inner_seq, carries, non_seqs, outs_info):
    """Call the step function in Theano's argument order; (outputs, updates, until condition or None)."""
    args = list(inner_seq)
    for slot in carries.slots:
        if slot is not None:
            first, depth, taps = slot
            args.extend(carries.placeholders[first + depth + t] for t in taps)
    args.extend(non_seqs)
    outputs, updates, until = _split_step_result(fn(*args))
    if outs_info and len(outputs) != len(outs_info):
        raise ScanError(f"scan: the step function returned {len(outputs)} output(s) but outputs_info has "
                        f"{len(outs_info)} entries (use None for outputs that are not fed back)")
    return outputs, updates, until


def _new_carries(outputs, carries, outs_info, strict):
    """(new value of each carry, ys, {output index: y index}) from the step's outputs."""
    ph = carries.placeholders
    new_carries = [None] * len(ph)
    ys, y_slot = [], {}
    for oi, (out, slot) in enumerate(zip(outputs, carries.slots)):
        if slot is None:
            y_slot[oi] = len(ys)
            ys.append(out)
            continue
        first, depth, _ = slot
        _check_state_type(oi, out, ph[first + depth - 1], outs_info[oi][0], strict)
        if out.dtype != ph[first].dtype:
            out = T.cast(out, ph[first].dtype)
        for k in range(depth - 1):
            new_carries[first + k] = ph[first + k + 1]
        new_carries[first + depth - 1] = out
    return new_carries, ys, y_slot


def _add_default_updates(outputs, updates):
    """A shared variable the step reads that has a ``default_update`` (a random stream's state drawn in
    the step) advances every step and is returned among scan's updates, as in Theano."""
    for v in graph_inputs(list(outputs) + list(updates.values())):
        if isinstance(v, SharedVariable) and getattr(v, "default_update", None) is not None and v not in updates:
            updates[v] = v.default_update


def _update_carries(upd_items, carries):
    """Shared-variable updates become carries too: inside the step the shared variable reads the carry."""
    new_values = []
    for sv, new in upd_items:
        if not isinstance(sv, SharedVariable):
            raise ScanError(f"scan: updates returned by the step must be keyed by shared variables, got {sv}")
        carries.inits.append(sv)
        carries.placeholders.append(sv.type(f"{sv.name or 'shared'}[t-1]"))
        new = as_variable(new)
        if new.dtype != sv.dtype:
            raise ScanError(f"scan: update of {sv.describe()} in the step has dtype {new.dtype}")
        new_values.append(new)
    return new_values


def _capture(inner_outputs, placeholders, non_seqs, strict):
    """Free variables of the step (shared variables, outer inputs) captured as extra non-sequences:
    (step outputs reading placeholders for them, those placeholders, the captured outer variables)."""
    captured = _free_variables(inner_outputs, placeholders)
    given = {id(v) for v in non_seqs}
    leaves = [v for v in graph_inputs(captured) if not isinstance(v, Constant) and id(v) not in given]
    if strict and leaves:
        raise ScanError(f"scan(strict=True): the step uses {', '.join(str(v) for v in leaves)} without "
                        "receiving it through non_sequences")
    if not captured:
        return inner_outputs, [], []
    cap_ph = [v.type(v.name) for v in captured]
    return clone_replace(inner_outputs, dict(zip(captured, cap_ph))), cap_ph, captured


def _results(node_outputs, carries, y_slot, n_steps, upd_items, upd_first, return_list):
    """What ``scan`` returns: one output per outputs_info entry (the trace of a state), and the updates."""
    results = []
    for oi, slot in enumerate(carries.slots):
        if slot is None:
            results.append(node_outputs[len(carries.placeholders) + y_slot[oi]])
        else:
            first, depth, _ = slot
            results.append(node_outputs[first + depth - 1])
    # the value after the last step, or the shared variable's own value when the loop runs no step
    scan_updates = OrderedDict(
        (sv, T.switch(T.gt(n_steps, 0), T.sum(node_outputs[upd_first + i][-1:], axis=0, dtype=sv.dtype), sv))
        for i, (sv, _) in enumerate(upd_items))
    if len(results) == 1 and not return_list:
        return results[0], scan_updates
    return results, scan_updates


def _free_variables(outputs, placeholders):
    """Variables of the step's graph that do not depend on any placeholder, to be captured as non-sequences.

    The outermost float ones are captured as themselves, so that a computed outer variable (``W2 = 2 * W``
    used in the step) is computed once before the loop and ``grad`` with respect to it works, instead of
    being recomputed at every step from its leaves.  Integer and boolean ones (shapes, indices) stay in the
    step, computed from their leaves, because ops read static shapes from how they were built.  Constants
    stay in the step.
    """
    dep = {id(p) for p in placeholders}
    uses = []
    for node in toposort(outputs, stop_at=placeholders):
        if any(id(i) in dep for i in node.inputs):
            dep.update(id(o) for o in node.outputs)
            uses.extend(node.inputs)
    found, seen = [], set()
    stack = list(reversed(uses + list(outputs)))
    while stack:
        v = stack.pop()
        if id(v) in dep or id(v) in seen or isinstance(v, Constant):
            continue
        seen.add(id(v))
        if v.owner is None or v.type.is_float:
            found.append(v)
        else:
            stack.extend(reversed(v.owner.inputs))
    return found


class until:
    """``return outputs, until(condition)`` from a step: stop after the first step whose condition holds
    (Theano's ``theano.scan_module.until``; the loop still needs n_steps or sequences as its bound)."""

    def __init__(self, condition):
        self.condition = as_variable(condition)
        if self.condition.ndim != 0:
            raise ScanError(f"scan: until() needs a scalar condition, got {self.condition.describe()}")


def _is_updates(x):
    """A dict, or Theano's list of (shared variable, new value) pairs."""
    if isinstance(x, dict):
        return True
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(
        isinstance(p, (list, tuple)) and len(p) == 2 and isinstance(p[0], SharedVariable) for p in x)


def _split_step_result(raw):
    """(outputs list, updates dict, until or None) from whatever the step returned: outputs, updates (a
    dict or a list of pairs) and an ``until`` in any order, as Theano accepts."""
    parts = list(raw) if isinstance(raw, tuple) and any(
        isinstance(r, until) or _is_updates(r) for r in raw) and len(raw) <= 3 else [raw]
    outputs, updates, cond = [], OrderedDict(), None
    for part in parts:
        if isinstance(part, until):
            cond = part
        elif _is_updates(part):
            updates = OrderedDict(part.items() if isinstance(part, dict) else part)
        else:
            outputs = [as_variable(v) for v in _as_list(part)]
    return outputs, updates, cond


def _without_until(fn):
    """The step function with its ``until`` left out of what it returns."""
    def step(*args):
        raw = fn(*args)
        if isinstance(raw, tuple):
            return tuple(r for r in raw if not isinstance(r, until))
        return raw
    return step


def _until_carries(inner_outputs, cond, carries, n_carry):
    """A while loop on the fixed-length core op: a ``done`` carry turns on after the step whose condition
    holds; from then on every carry keeps its value, and an ``active`` y (1 while running) counts the steps
    that ran, so the traces can be cut to that length.  (new inner outputs, index of the active y)."""
    done = TensorType("bool", ())("done[t-1]")
    carries.inits.append(T.constant(False))
    carries.placeholders.append(done)
    frozen = [T.switch(done, ph, new) for ph, new in zip(carries.placeholders, inner_outputs[:n_carry])]
    ys = inner_outputs[n_carry:]
    active = T.cast(T.invert(done), "int64")
    return frozen + [T.or_(done, T.cast(cond.condition, "bool"))] + ys + [active], len(ys)
    

def _check_state_type(i, out, ph, init, strict):
    where = f"scan: output {i} of the step function ({out})"
    state = f"its initial state outputs_info[{i}] ({init.describe()})"
    if out.ndim != ph.ndim:
        raise ScanError(f"{where} has {out.ndim} dimensions but {state} has {ph.ndim}: the state must keep its "
                        "shape from step to step. Fix the step's output or the initial value.")
    if out.dtype != ph.dtype:
        raise ScanError(f"{where} has dtype {out.dtype} but {state} has dtype {ph.dtype}. Fix: give the initial "
                        f"state the step's dtype (T.cast(init, '{out.dtype}') or build it with that dtype), or "
                        f"cast the output with T.cast(out, '{ph.dtype}').")
    for axis, (a, b) in enumerate(zip(out.type.shape, ph.type.shape)):
        if b == 1 and a != 1:
            raise ScanError(f"{where} has length {'unknown' if a is None else a} on axis {axis}, but {state} is "
                            f"broadcastable (length 1) there. Fix: give the initial state its real shape, e.g. "
                            f"T.alloc(0., n, ...) instead of a (1, ...) constant, or T.patternbroadcast/"
                            f"dimshuffle the output.")
        if a is not None and b is not None and a != b:
            raise ScanError(f"{where} has length {a} on axis {axis} but {state} has length {b}.")


def map(fn, sequences, non_sequences=None, truncate_gradient=-1, go_backwards=False, mode=None, name=None,
        equal_lengths=False):
    """Apply ``fn`` to each step of the sequences (scan with no states)."""
    return scan(fn, sequences=sequences, outputs_info=None, non_sequences=non_sequences,
                truncate_gradient=truncate_gradient, go_backwards=go_backwards, name=name or "map",
                equal_lengths=equal_lengths)


def reduce(fn, sequences, outputs_info, non_sequences=None, go_backwards=False, mode=None, name=None):
    """Like scan, but returns only the final states."""
    outs, upd = scan(fn, sequences=sequences, outputs_info=outputs_info, non_sequences=non_sequences,
                     go_backwards=go_backwards, name=name or "reduce", return_list=True)
    finals = [o[-1] for o in outs]
    return (finals[0] if len(finals) == 1 else finals), upd


def foldl(fn, sequences, outputs_info, non_sequences=None, mode=None, name=None):
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=False, name=name or "foldl")


def foldr(fn, sequences, outputs_info, non_sequences=None, mode=None, name=None):
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=True, name=name or "foldr")


__all__ = ["scan", "map", "reduce", "foldl", "foldr", "Scan", "ScanError"]
