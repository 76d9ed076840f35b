"""Rewrites that make scans fast; each keeps values and is measured in benchmarks/.

* ``merge_variants``: the forward scan and the copy that ``grad`` made of it
  (which also stores residuals) become one loop.
* ``pushout_invariant``: work that depends only on non-sequences (``W.T``,
  sums of weights) is done once before the loop.
* ``pushout_sequence``: work that depends only on sequences (the LSTM's input
  projections ``x_t @ W_x``) is done for all steps at once, as one matrix product.
* ``pushout_sums``: a summed output ``sum_t a_t^T b_t`` (the weight gradient of
  BPTT) becomes one matrix product after the loop; ``sum_t sum_to_shape(g_t)``
  becomes one reduction.
* ``prune``: drops outputs nobody reads, inputs the step no longer reads, and
  keeps only the last step of a state whose trace is only read at ``[-1]``
  (save-memory).
"""
from .. import tensor as T
from ..graph import Constant, clone_replace, graph_inputs, toposort
from ..ops import basic as b
from ..ops import elemwise as e
from ..ops import linalg as la
from ..ops import reduce as r
from ..ops import shape as sh
from ..ops import subtensor as st
from ..rewrite import NotApplicable, graph_rule, node_rule
from .op import CheckLength, Scan


def _is_scan(node):
    return node is not None and isinstance(node.op, Scan)


class _Parts:
    """The pieces of a scan node, editable: sequences, carries, non-sequences (inner and outer)."""

    def __init__(self, node):
        op, layout = node.op, node.op.layout
        self.node = node
        p_seq, p_carry, p_nonseq = layout.split_inner_inputs(op.inner_inputs)
        _, seqs, inits, nonseqs = layout.split_outer_inputs(node.inputs)
        self.seq = list(zip(p_seq, seqs))
        self.carry = list(zip(p_carry, inits))
        self.nonseq = list(zip(p_nonseq, nonseqs))
        self.carries, self.ys, self.sums = layout.split_inner_outputs(op.inner_outputs)

    def lift(self, values, label):
        """Replace step values by new placeholders (returned); the caller feeds them from outside."""
        phs = [v.type(v.name or label) for v in values]
        self.replace(dict(zip(values, phs)))
        return phs

    def replace(self, swap):
        """Substitute inner variables in all step outputs at once (shared subgraphs stay shared)."""
        n1, n2 = len(self.carries), len(self.carries) + len(self.ys)
        try:
            outs = clone_replace(self.carries + self.ys + self.sums, swap)
        except (TypeError, ValueError) as exc:  # a lifted value lost static shape an inner op relies on
            raise NotApplicable(f"the step cannot be rebuilt with {len(swap)} value(s) replaced: {exc}") from exc
        self.carries, self.ys, self.sums = outs[:n1], outs[n1:n2], outs[n2:]

    def build(self, keep=None):
        op, node = self.node.op, self.node
        outputs = self.carries + self.ys + self.sums
        read = {id(v) for n in toposort(outputs, stop_at=[p for p, _ in self.seq + self.carry + self.nonseq])
                for v in n.inputs} | {id(v) for v in outputs}
        seq = [(p, o) for p, o in self.seq if id(p) in read]
        nonseq = [(p, o) for p, o in self.nonseq if id(p) in read]
        inner = [p for p, _ in seq + self.carry + nonseq]
        outer = [o for _, o in seq + self.carry + nonseq]
        new_op = op.with_(inner_inputs=inner, inner_outputs=outputs, n_seqs=len(seq), n_carry=len(self.carry),
                          n_sums=len(self.sums), keep=op.keep if keep is None else keep)
        new = new_op.make_node(node.inputs[0], *outer)
        new.tag.trace, new.tag.grad_of = node.tag.trace, node.tag.grad_of
        return new


def _frontier(op, nodes, kind, reader_kinds, pick):
    """The values, each once and in graph order, that step nodes of ``reader_kinds`` read or that the
    step returns, as mapped by ``pick`` (None: not wanted) — what a push-out moves out of the loop."""
    found, seen = [], set()

    def visit(v):
        v = pick(v)
        if v is not None and id(v) not in seen:
            seen.add(id(v))
            found.append(v)

    for n in nodes:
        if kind[id(n.outputs[0])] in reader_kinds:
            for v in n.inputs:
                visit(v)
    for v in op.inner_outputs:
        visit(v)
    return found


def _kinds(op):
    """Classify every inner variable: 'inv' (same at every step), 'seq' (from sequences and
    invariants only) or 'var' (depends on a carry)."""
    P = op.inner_inputs
    kind = {}
    for role, group in zip(("seq", "var", "inv"), op.layout.split_inner_inputs(P)):
        kind.update((id(p), role) for p in group)
    nodes = toposort(op.inner_outputs, stop_at=P)
    for node in nodes:
        ks = [kind.get(id(v), "inv") for v in node.inputs]  # constants are invariant
        k = "var" if "var" in ks else ("seq" if "seq" in ks else "inv")
        for o in node.outputs:
            kind[id(o)] = k
    return kind, nodes


# --------------------------------------------------------------------------- merge the grad variant

@graph_rule(phase="before", name="scan_merge_variants")
def merge_variants(outputs):
    """Replace each scan by the grad-made variant with the same inputs that computes a superset."""
    groups = {}
    for node in toposort(outputs):
        if _is_scan(node):
            key = (id(node.op.origin), tuple(id(i) for i in node.inputs))
            groups.setdefault(key, []).append(node)
    repl = {}
    for group in groups.values():
        if len(group) < 2:
            continue
        best = max(group, key=lambda n: len(n.outputs))
        for node in group:
            if node is best:
                continue
            index = _output_index(node.op, best.op)
            if index is not None:
                for o, j in zip(node.outputs, index):
                    repl[o] = best.outputs[j]
    return clone_replace(outputs, repl) if repl else outputs


def _output_index(a, b_):
    """Where each of ``a``'s outputs is among ``b_``'s, or None when ``b_`` does not compute them all."""
    if a.inner_inputs != b_.inner_inputs or a.n_carry != b_.n_carry or a.n_seqs != b_.n_seqs:
        return None
    if any(x is not y for x, y in zip(a.inner_outputs[:a.n_carry], b_.inner_outputs[:b_.n_carry])):
        return None
    if "last" in a.keep or "last" in b_.keep:
        return None
    index = list(range(a.n_carry))
    for group_a, group_b, offset in ((a.ys, b_.ys, b_.n_carry), (a.sums, b_.sums, b_.n_carry + b_.n_ys)):
        for v in group_a:
            pos = next((j for j, w in enumerate(group_b) if w is v), None)
            if pos is None:
                return None
            index.append(offset + pos)
    return index


# --------------------------------------------------------------------------- push-out rules

def fuse_dots(outputs):
    """dot(a, W1), dot(a, W2), ... sharing their first operand -> one dot(a, [W1 W2 ...]) and slices.

    The seed tutorial's LSTM computes eight small products per step; fused, it is two (and the
    input one then moves out of the loop).  Returns new outputs, or None when nothing fused.
    """
    groups = {}
    for n in toposort(outputs):
        if isinstance(n.op, la.Dot) and n.inputs[1].ndim == 2 and n.inputs[1].type.shape[1] is not None:
            groups.setdefault(id(n.inputs[0]), []).append(n)
    repl = {}
    for group in groups.values():
        group = [n for n in group if n.inputs[1].dtype == group[0].inputs[1].dtype]
        if len(group) < 2:
            continue
        a = group[0].inputs[0]
        big = la.Dot()(a, sh.Concatenate(1)(*[n.inputs[1] for n in group]))
        start = 0
        for n in group:
            width = n.inputs[1].type.shape[1]
            repl[n.outputs[0]] = big[(slice(None),) * (big.ndim - 1) + (slice(start, start + width),)]
            start += width
    return clone_replace(outputs, repl) if repl else None


def _last_axis_slice(v):
    """(base, start, stop) when ``v`` is ``base[..., start:stop]`` (constant bounds, last axis only)."""
    sub = v.owner
    if sub is None or not isinstance(sub.op, st.Subtensor) or len(sub.inputs) != 1:
        return None
    spec, base = sub.op.spec, sub.inputs[0]
    last = spec[-1] if spec else None
    if (len(spec) != base.ndim or any(entry != ("s", None, None, None) for entry in spec[:-1])
            or last[0] != "s" or last[3] not in (None, 1)):
        return None
    size = base.type.shape[-1]
    start, stop = last[1] or 0, last[2] if last[2] is not None else size
    if stop is None or start < 0 or stop < 0 or start >= stop:
        return None
    return base, start, stop


def fuse_sliced_elementwise(outputs, carries=()):
    """One elementwise op applied block by block to adjacent slices of the last axis -> one op on the
    whole block, and slices of its result.

    The blocks' other operands are joined: ``f(z[:, 0:H], b_0), f(z[:, H:2H], b_1)`` becomes
    ``f(z[:, 0:2H], concat(b_0, b_1))`` -- only for operands that do not depend on ``carries`` (the
    join is then done once, outside the loop), or one operand shared by every block.  Repeated to a
    fixed point, a per-gate LSTM (``sigmoid(x W_i + h U_i + b_i)`` for each gate) turns into the
    fused one: one sum for all gates, one sigmoid for the three sigmoid gates.  Returns new
    outputs, or None when nothing fused.
    """
    changed = False
    for _ in range(8):  # each pass fuses one layer: the sums of products, the bias, the activation
        fused = _fuse_sliced_once(outputs, {id(c) for c in carries})
        if fused is None:
            break
        outputs, changed = fused, True
    return outputs if changed else None


def _fuse_sliced_once(outputs, carry_ids):
    varying, groups = set(carry_ids), {}
    for n in toposort(outputs):
        if any(id(v) in varying for v in n.inputs):
            varying.update(id(o) for o in n.outputs)
        if not isinstance(n.op, e.Elemwise) or len(n.outputs) != 1:
            continue
        out, sliced, key = n.outputs[0], {}, []
        for p, v in enumerate(n.inputs):
            sl = _last_axis_slice(v)
            if sl is not None and sl[0].ndim == out.ndim:
                sliced[p] = sl
        spans = {(lo, hi) for _, lo, hi in sliced.values()}
        if len(spans) != 1:
            continue
        lo, hi = spans.pop()
        if out.type.shape[-1] != hi - lo:
            continue
        for p, v in enumerate(n.inputs):
            if p in sliced:
                key.append(("slice", id(sliced[p][0])))
            elif v.ndim == 0 or v.type.shape[-1] == 1:  # broadcast along the blocks: must be the same for all
                key.append(("same", (v.dtype, v.type.shape, v.data.tobytes()) if isinstance(v, Constant) else id(v)))
            elif v.type.shape[-1] == hi - lo and id(v) not in varying:
                key.append(("join", v.type.shape[:-1], v.dtype))
            else:
                break
        else:
            groups.setdefault((n.op, tuple(key)), []).append((lo, hi, n, sliced))
    repl = {}
    for members in groups.values():
        members.sort(key=lambda m: m[0])
        runs, run = [], [members[0]]
        for m in members[1:]:
            if m[0] == run[-1][1]:
                run.append(m)
            else:
                runs.append(run)
                run = [m]
        runs.append(run)
        for run in runs:
            if len(run) < 2:
                continue
            lo, hi, first, sliced = run[0][0], run[-1][1], run[0][2], run[0][3]
            args = []
            for p, v in enumerate(first.inputs):
                if p in sliced:
                    base = sliced[p][0]
                    whole = lo == 0 and hi == base.type.shape[-1]
                    args.append(base if whole else base[(slice(None),) * (base.ndim - 1) + (slice(lo, hi),)])
                elif v.ndim == 0 or v.type.shape[-1] == 1:
                    args.append(v)
                else:
                    args.append(sh.Concatenate(v.ndim - 1)(*[m[2].inputs[p] for m in run]))
            fused = first.op(*args)
            lead = (slice(None),) * (fused.ndim - 1)
            for start, stop, n, _ in run:
                repl[n.outputs[0]] = fused[lead + (slice(start - lo, stop - lo),)]
    return clone_replace(outputs, repl) if repl else None


@node_rule(Scan, phase="scan", name="scan_fuse_step_dots")
def fuse_step_dots(node):
    """fuse_dots inside a scan's step (the fused weights are then hoisted out of the loop)."""
    fused = fuse_dots(node.op.inner_outputs)
    if fused is None:
        return None
    parts = _Parts(node)
    n1, n2 = len(parts.carries), len(parts.carries) + len(parts.ys)
    parts.carries, parts.ys, parts.sums = fused[:n1], fused[n1:n2], fused[n2:]
    return parts.build().outputs


@node_rule(Scan, phase="scan", name="scan_regroup_sums")
def regroup_sums(node):
    """(x_t W + h W_h) + b -> (x_t W + b) + h W_h inside a step: terms that do not depend on the
    carries are added first, so that pushout_sequence computes their sum for all steps at once
    (the LSTM's bias joins the input projection outside the loop)."""
    op = node.op
    kind, nodes = _kinds(op)
    uses = {}
    for n in nodes:
        for v in n.inputs:
            uses[id(v)] = uses.get(id(v), 0) + 1
    for v in op.inner_outputs:
        uses[id(v)] = uses.get(id(v), 0) + 1

    def terms(v, dtype):
        # flatten a tree of additions whose inner sums are used only here
        if (v.owner is not None and isinstance(v.owner.op, e.Add) and v.dtype == dtype
                and (uses.get(id(v), 0) == 1)):
            return terms(v.owner.inputs[0], dtype) + terms(v.owner.inputs[1], dtype)
        return [v]

    swap = {}
    for n in nodes:
        out = n.outputs[0]
        if not isinstance(n.op, e.Add) or kind[id(out)] != "var":
            continue
        flat = terms(n.inputs[0], out.dtype) + terms(n.inputs[1], out.dtype)
        fixed = [t for t in flat if kind.get(id(t), "inv") != "var"]
        moving = [t for t in flat if kind.get(id(t), "inv") == "var"]
        if len(fixed) < 2 or not moving or any(t.dtype != out.dtype for t in flat):
            continue
        if n.inputs[0] in fixed or all(kind.get(id(i), "inv") != "var" for i in n.inputs[:1]) \
                or all(a is b_ for a, b_ in zip(flat, fixed + moving)):
            continue  # already grouped: the left operand holds the fixed terms, or they come first
        total = fixed[0]
        for t in fixed[1:] + moving:
            total = e.Add()(total, t)
        if total.type == out.type:
            swap[out] = total
    if not swap:
        return None
    parts = _Parts(node)
    parts.replace(swap)
    return parts.build().outputs


@node_rule(Scan, phase="scan", name="scan_pushout_sums")
def pushout_sums(node):
    """sum_t dot(a_t.T, b_t) -> one product of the stacked a and b after the loop;
    sum_t outer(a_t, b_t) likewise; sum_t sum_to_shape(g_t, w) -> one sum_to_shape of the stack."""
    if not node.op.n_sums:
        return None
    op = node.op
    kind, _ = _kinds(op)
    parts = _Parts(node)
    seq_outer = {id(ph): o for ph, o in parts.seq}
    n_steps = node.inputs[0]
    plans, kept = [], []
    for j, s in enumerate(op.sums):
        plan = _sum_plan(s, kind)
        if plan is None:
            kept.append(s)
        plans.append(plan)
    if len(kept) == len(op.sums):
        return None
    # each factor is either an outer sequence already (use it) or becomes a new y
    new_ys = []

    def stacked(v):
        if id(v) in seq_outer:
            o = seq_outer[id(v)]
            return ("outer", o[:n_steps] if op.n_steps_given else o)
        for k, y in enumerate(parts.ys + new_ys):
            if y is v:
                return ("y", k)
        new_ys.append(v)
        return ("y", len(parts.ys) + len(new_ys) - 1)

    factor_refs = [None if p is None else (p[0], [stacked(v) for v in p[1]], p[2]) for p in plans]
    parts.ys = parts.ys + new_ys
    parts.sums = kept
    new = parts.build()
    nc = len(parts.carries)
    ys_out = new.outputs[nc:nc + len(parts.ys)]
    sums_out = iter(new.outputs[nc + len(parts.ys):])

    def resolve(ref):
        return ref[1] if ref[0] == "outer" else ys_out[ref[1]]

    outputs = list(new.outputs[:nc + len(parts.ys) - len(new_ys)])
    for plan in factor_refs:
        if plan is None:
            outputs.append(next(sums_out))
            continue
        outputs.append(_summed(plan[0], [resolve(x) for x in plan[1]], plan[2], parts))
    return outputs


def _summed(how, vals, extra, parts):
    """The outer expression for a summed output, from its stacked per-step factors."""
    if how == "dotT":      # sum_t a_t^T b_t over time and batch rows at once
        return la.Tensordot(2)(vals[0], vals[1])
    if how == "outer":     # sum_t a_t b_t^T
        return la.Tensordot(1)(vals[0], vals[1])
    if how == "index":     # (sum_t x_t)[idx]
        inner, sub = extra
        return sub(_summed(inner[0], vals, inner[2], parts))
    # sum_t sum_to_shape(g_t, w) = sum_to_shape(G, w)
    return b.SumToShape()(vals[0], clone_replace(extra, {ph: o for ph, o in parts.nonseq}))


@node_rule(Scan, phase="scan", name="scan_pushout_invariant")
def pushout_invariant(node):
    """Hoist loop-invariant inner computations out of the loop."""
    op = node.op
    kind, nodes = _kinds(op)
    targets = _frontier(op, nodes, kind, ("seq", "var"),
                        lambda v: v if kind.get(id(v)) == "inv" and v.owner is not None else None)
    targets = [v for v in targets if not (isinstance(v.owner.op, b.Alloc) and v.owner.inputs[0].ndim == 0
                                          and kind.get(id(v.owner.inputs[1])) != "inv")]
    if not targets:
        return None
    parts = _Parts(node)
    to_outer = {ph: o for ph, o in parts.nonseq}
    outer_vals = clone_replace(targets, to_outer)
    new_ph = parts.lift(targets, "hoisted")
    parts.nonseq += list(zip(new_ph, outer_vals))
    return parts.build().outputs


def _batch(node, batched_inputs, kinds):
    """The whole-sequence version of a per-step node whose inputs are sequence-only or invariant;
    None when the op has no batching rule.  Sequence values carry a leading time axis."""
    op = node.op
    out = node.outputs[0]
    if isinstance(op, e.Elemwise):
        ins = []
        for v, bv, k in zip(node.inputs, batched_inputs, kinds):
            if k == "seq" and v.ndim < out.ndim:  # keep time leftmost under right-aligned broadcasting
                bv = T.dimshuffle(bv, 0, *(["x"] * (out.ndim - v.ndim)), *range(1, v.ndim + 1))
            ins.append(bv)
        return type(op).make_node(op, *ins).outputs[0]
    if isinstance(op, la.Dot):
        (a, b_), (ka, kb) = batched_inputs, kinds
        if ka == "seq" and kb == "inv" and b_.ndim == 2:
            return la.Dot()(a, b_)
        if ka == "inv" and kb == "seq" and node.inputs[1].ndim == 1 and a.ndim == 2:
            return la.Dot()(b_, T.transpose(a))
        return None
    if isinstance(op, sh.DimShuffle) and kinds[0] == "seq":
        return sh.DimShuffle((0,) + tuple("x" if p == "x" else p + 1 for p in op.pattern))(batched_inputs[0])
    if (isinstance(op, st.Subtensor) and kinds[0] == "seq" and len(node.inputs) == 1
            and all(entry[0] in "isn" for entry in op.spec)):  # constant basic index: keep time in front
        return st.Subtensor((("s", None, None, None),) + op.spec)(batched_inputs[0])
    if isinstance(op, b.Cast) and kinds[0] == "seq":
        return op(batched_inputs[0])
    if isinstance(op, r.Reduce) and not isinstance(op, r.Argmax) and kinds[0] == "seq":
        return type(op)(tuple(a + 1 for a in op.axes), op.keepdims)(batched_inputs[0])
    return None


@node_rule(Scan, phase="scan", name="scan_pushout_sequence")
def pushout_sequence(node):
    """Compute sequence-only inner work for all steps before the loop (x_t @ W -> X @ W)."""
    op = node.op
    kind, nodes = _kinds(op)
    parts = _Parts(node)
    n_steps = node.inputs[0]
    outer_of = {}
    for ph, o in parts.seq:
        checked = CheckLength(not op.n_steps_given, f"sequence {ph}")(o, n_steps)
        outer_of[id(ph)] = checked[:n_steps] if op.n_steps_given else checked
    for ph, o in parts.nonseq:
        outer_of[id(ph)] = o
    batched = {}

    def outer(v):
        if id(v) in batched:
            return batched[id(v)]
        if id(v) in outer_of:
            return outer_of[id(v)]
        if isinstance(v, Constant):
            return v
        if kind.get(id(v)) == "inv":
            return clone_replace(v, {ph: o for ph, o in parts.nonseq})
        return None

    for n in nodes:
        if kind[id(n.outputs[0])] != "seq" or len(n.outputs) != 1:
            continue
        ins = [outer(v) for v in n.inputs]
        if any(i is None for i in ins):
            continue
        try:
            res = _batch(n, ins, [kind.get(id(v), "inv") for v in n.inputs])
        except Exception:  # noqa: BLE001 - no batching for this node
            res = None
        if res is not None:
            batched[id(n.outputs[0])] = res
    # roots: batched values read by per-step ('var') nodes or returned as outputs.  A mere view
    # (dimshuffle) of a sequence gains nothing from batching and would hide patterns from
    # pushout_sums, so the view stays inside and its input is the root.
    def root(v):
        while v.owner is not None and isinstance(v.owner.op, sh.DimShuffle):
            v = v.owner.inputs[0]
        return v if id(v) in batched else None

    roots = _frontier(op, nodes, kind, ("var",), root)
    if not roots:
        return None
    new_ph = parts.lift(roots, "pushed")
    parts.seq += [(ph, batched[id(v)]) for ph, v in zip(new_ph, roots)]
    return parts.build().outputs


def _sum_plan(s, kind):
    """How to compute sum_t s_t outside the loop: (kind, per-step factors, extra), or None."""
    if kind.get(id(s)) not in ("seq", "var") or s.owner is None:
        return None
    op, ins = s.owner.op, s.owner.inputs
    if isinstance(op, la.Dot) and all(v.ndim == 2 for v in ins):
        a_t, b_t = ins
        if (a_t.owner is not None and isinstance(a_t.owner.op, sh.DimShuffle) and a_t.owner.op.pattern == (1, 0)
                and kind.get(id(a_t.owner.inputs[0])) in ("seq", "var") and kind.get(id(b_t)) in ("seq", "var")):
            return ("dotT", [a_t.owner.inputs[0], b_t], None)
    if isinstance(op, e.Mul) and s.ndim == 2:
        x, y = ins
        if (x.owner is not None and y.owner is not None and isinstance(x.owner.op, sh.DimShuffle)
                and isinstance(y.owner.op, sh.DimShuffle) and x.owner.op.pattern == (0, "x")
                and y.owner.op.pattern == ("x", 0) and kind.get(id(x.owner.inputs[0])) in ("seq", "var")
                and kind.get(id(y.owner.inputs[0])) in ("seq", "var")):
            return ("outer", [x.owner.inputs[0], y.owner.inputs[0]], None)
    if (isinstance(op, b.SumToShape) and kind.get(id(ins[1]), "inv") == "inv"  # constants are invariant too
            and kind.get(id(ins[0])) in ("seq", "var")):
        return ("sum_to_shape", [ins[0]], ins[1])
    if isinstance(op, st.Subtensor) and len(ins) == 1 and all(entry[0] in "is" for entry in op.spec):
        inner = _sum_plan(ins[0], kind)  # sum_t x_t[idx] = (sum_t x_t)[idx]
        if inner is not None:
            return ("index", inner[1], (inner, op))
    return None


# --------------------------------------------------------------------------- pruning and save-memory

def _is_last_index(node):
    if not isinstance(node.op, st.Subtensor) or len(node.inputs) != 1:
        return False
    spec = node.op.spec
    return spec in ((("i", -1),), (("s", -1, None, None),))


@graph_rule(phase="after", name="scan_prune")
def prune(outputs):
    """Drop unread scan outputs and dead carries; keep only the last step of states read at [-1]."""
    nodes = toposort(outputs)
    users = {}
    for n in nodes:
        for v in n.inputs:
            users.setdefault(id(v), []).append(n)
    out_ids = {id(v) for v in outputs}
    repl = {}
    for node in nodes:
        if not _is_scan(node):
            continue
        op, layout = node.op, node.op.layout
        nc, ny = layout.n_carry, layout.n_ys
        used = [id(o) in out_ids or bool(users.get(id(o))) for o in node.outputs]
        last_only = [id(o) not in out_ids and all(_is_last_index(u) for u in users.get(id(o), []))
                     for o in node.outputs[:nc]]
        needed_carries = _needed_carries(op, used)
        keep_ys = [j for j in range(ny) if used[layout.y_index(j)]]
        keep_sums = [j for j in range(layout.n_sums) if used[layout.sum_index(j)]]
        keep = tuple("last" if (last_only[k] or not used[k]) else "all" for k in range(nc))
        if (len(needed_carries) == nc and len(keep_ys) == ny and len(keep_sums) == op.n_sums
                and keep == op.keep):
            continue
        parts = _Parts(node)
        dropped = {k for k in range(nc) if k not in needed_carries}
        parts.carry = [c for k, c in enumerate(parts.carry) if k not in dropped]
        parts.carries = [c for k, c in enumerate(parts.carries) if k not in dropped]
        parts.ys = [parts.ys[j] for j in keep_ys]
        parts.sums = [parts.sums[j] for j in keep_sums]
        new = parts.build(keep=tuple(kp for k, kp in enumerate(keep) if k not in dropped))
        new_traces, new_ys, new_sums = new.op.layout.split_outer_outputs(new.outputs)
        repl.update(zip([node.outputs[k] for k in range(nc) if k not in dropped], new_traces))
        repl.update(zip([node.outputs[layout.y_index(j)] for j in keep_ys], new_ys))
        repl.update(zip([node.outputs[layout.sum_index(j)] for j in keep_sums], new_sums))
    if not repl:
        return None
    return clone_replace(outputs, repl)


def _needed_carries(op, used):
    """Carries whose value some used output depends on (through the loop)."""
    nc, P = op.n_carry, op.inner_inputs
    ph_index = {id(p): k for k, p in enumerate(op.carry_inputs)}
    deps = []
    for v in op.inner_outputs:
        deps.append({ph_index[id(i)] for i in _inputs_of(v, P) if id(i) in ph_index})
    needed = {k for k in range(nc) if used[k]}
    frontier = [deps[j] for j in range(nc, len(op.inner_outputs)) if used[j]] + [deps[k] for k in needed]
    while frontier:
        for k in frontier.pop():
            if k not in needed:
                needed.add(k)
                frontier.append(deps[k])
    return sorted(needed)


def _inputs_of(v, stop):
    return graph_inputs([v], stop_at=stop)


graph_rule(phase="after", name="scan_fuse_dots")(fuse_dots)
