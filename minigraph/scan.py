"""``scan``: Theano-compatible loops, normalised onto one simple carry/sequence core op.

Reference semantics of the core ``Scan`` op (what ``perform`` does)::

    carries = inits
    for t in range(n_steps):
        carries, ys_t = step(*[s[t] for s in sequences], *carries, *non_sequences)
        traces[t] = carries;  ys[t] = ys_t
    return traces, ys

The Theano front end maps everything onto that: sequence taps become shifted
slices of the sequence, a multi-tap state ``taps=[-2, -1]`` becomes two
carries that shift each step, ``None`` outputs become ys, shared-variable
updates returned by the step become carries, and variables the step uses
without being given are captured as extra non-sequences.

The gradient of a scan is another scan, run backwards over the stored traces
(BPTT).  It carries the cotangent of every state and the accumulated gradient
of every non-sequence; intermediates of the forward step that the backward
step needs (the gates of an LSTM, say) are stored by the forward scan as extra
outputs, so nothing is recomputed.
"""
from collections import OrderedDict

import numpy as np

from .compile import ExecutionError, Program
from .grad import backprop
from .graph import (Apply, Constant, Op, SharedVariable, TensorType, as_variable, clone_replace,
                    graph_inputs, op, toposort)


class ScanError(TypeError):
    """A step function whose outputs do not fit the loop, found while building the graph."""


class Scan:
    """The core loop op.

    Outer inputs: ``[n_steps, *sequences, *inits, *non_sequences]``.  Inner
    outputs: ``[*new_carries, *ys, *sums]``.  Outer outputs: one trace per
    carry (``(n_steps, ...)``; ``(1, ...)`` holding only the last step when
    ``keep[k] == 'last'``), one stacked array per y, and for each ``sum``
    output the sum of its per-step values (how BPTT accumulates parameter
    gradients without storing them per step).
    """

    nout = None
    foldable = False
    broadcasts = False

    def __init__(self, inner_inputs, inner_outputs, n_seqs, n_carry, n_sums=0, n_steps_given=True, keep=None,
                 name="scan", origin=None, truncate_gradient=-1):
        self.inner_inputs = list(inner_inputs)
        self.inner_outputs = list(inner_outputs)
        self.n_seqs, self.n_carry, self.n_sums = n_seqs, n_carry, n_sums
        self.n_nonseq = len(self.inner_inputs) - n_seqs - n_carry
        self.n_ys = len(self.inner_outputs) - n_carry - n_sums
        self.n_steps_given = n_steps_given
        self.keep = tuple(keep or ("all",) * n_carry)
        self.name = name
        self.origin = origin if origin is not None else self
        self.truncate_gradient = truncate_gradient
        self._program = None
        self._specialized = {}
        # per-step integer vectors: candidates for folding as constants (the stored shapes of forward values)
        self._int_seqs = [i for i, p in enumerate(self.inner_inputs[:n_seqs])
                          if p.ndim == 1 and np.dtype(p.dtype).kind in "iu"]
        for k in range(n_carry):
            ph, out = self.inner_inputs[n_seqs + k], self.inner_outputs[k]
            if ph.dtype != out.dtype or ph.ndim != out.ndim:
                raise ScanError(f"{self}: carry {k} enters the step as {ph.describe()} but leaves as {out.describe()}")

    def __call__(self, *inputs):
        return self.make_node(*inputs).outputs

    def __str__(self):
        extra = f", sums={self.n_sums}" if self.n_sums else ""
        return f"scan{{{self.name}, carries={self.n_carry}, ys={self.n_ys}{extra}}}"

    def inner_graph(self):
        """The step's outputs (debugprint and the graphviz renderer show them under the scan)."""
        return self.inner_outputs

    @property
    def ys(self):
        return self.inner_outputs[self.n_carry:self.n_carry + self.n_ys]

    @property
    def sums(self):
        return self.inner_outputs[self.n_carry + self.n_ys:]

    def make_node(self, n_steps, *outer):
        n_steps = as_variable(n_steps)
        if n_steps.ndim != 0 or np.dtype(n_steps.dtype).kind not in "iu":
            raise ScanError(f"scan: n_steps must be an integer scalar, got {n_steps.describe()}")
        from .tensor import cast
        n_steps = cast(n_steps, "int64")
        outer = [as_variable(v) for v in outer]
        if len(outer) != len(self.inner_inputs):
            raise ScanError(f"{self}: expected {len(self.inner_inputs)} outer inputs, got {len(outer)}")
        for ph, v in zip(self.inner_inputs[self.n_seqs:], outer[self.n_seqs:]):
            if ph.dtype != v.dtype or ph.ndim != v.ndim:
                raise ScanError(f"{self}: outer input {v.describe()} does not fit inner {ph.describe()}")
        n = _const(n_steps)
        types = []
        for k in range(self.n_carry):
            t = self.inner_inputs[self.n_seqs + k].type
            lead = 1 if self.keep[k] == "last" else n
            types.append(TensorType(t.dtype, (lead,) + t.shape))
        types += [TensorType(y.dtype, (n,) + y.type.shape) for y in self.ys]
        types += [y.type for y in self.sums]
        return Apply(self, [n_steps] + outer, types)

    def with_(self, **changes):
        """A copy of this op with some fields changed (rewrites use it)."""
        fields = dict(inner_inputs=self.inner_inputs, inner_outputs=self.inner_outputs, n_seqs=self.n_seqs,
                      n_carry=self.n_carry, n_sums=self.n_sums, n_steps_given=self.n_steps_given, keep=self.keep,
                      name=self.name, origin=self.origin, truncate_gradient=self.truncate_gradient)
        fields.update(changes)
        return Scan(**fields)

    # ---- execution
    def program(self, seqs=None, rest=(), n=1):
        """The step compiled once (with rewrites) into straight-line code.

        Given a call's sequences (whole), carries and non-sequences (``rest``) and its number of
        steps, a version specialised to the shapes of the first step's inputs: every placeholder
        gets a fully static shape, so shape computations fold to constants and gradient reductions
        over broadcast axes that cannot happen disappear.  Small integer sequences whose first n
        rows are all equal (the stored shapes of forward values) are folded in as constants.
        Specialised programs are cached per signature (a few); the generic one is the fallback.
        """
        if self._program is None:
            from .rewrite import rewrite_graph
            outs = rewrite_graph(self.inner_outputs)
            self._program = Program(self.inner_inputs, outs, name=f"{self.name}_step")
        if seqs is None:
            return self._program
        constant = tuple([i for i in self._int_seqs if seqs[i].shape[1] <= 8
                          and (seqs[i].strides[0] == 0 or (seqs[i][:n] == seqs[i][0]).all())])
        try:  # the shapes of the first step's inputs, without slicing
            key = tuple([s.shape[1:] for s in seqs]) + tuple([a.shape for a in rest])
        except AttributeError:  # a Python number among the arguments
            key = tuple([np.shape(s)[1:] for s in seqs]) + tuple([np.shape(a) for a in rest])
        key += tuple([(i, seqs[i][0].tobytes()) for i in constant])
        prog = self._specialized.get(key)
        if prog is None:
            args = [s[0] for s in seqs] + list(rest)
            prog = self._specialize(args, constant) if len(self._specialized) < 16 else self._program
            self._specialized[key] = prog
        return prog

    def _specialize(self, args, constant):
        from .rewrite import rewrite_graph
        phs = [TensorType(p.dtype, np.shape(a))(p.name) for p, a in zip(self.inner_inputs, args)]
        repl = {p: (Constant(ph.type, args[i]) if i in constant else ph)
                for i, (p, ph) in enumerate(zip(self.inner_inputs, phs))}
        try:
            outs = rewrite_graph(clone_replace(self.inner_outputs, repl))
            prog = Program(phs, outs, name=f"{self.name}_step")
        except Exception:  # noqa: BLE001 - inconsistent shapes: the generic program reports them
            return self._program
        prog.fully_static = all(None not in o.type.shape for o in outs)
        return prog

    def make_thunk(self, node):
        return self.perform

    def lower_jax(self, node):
        from .backends.jax_scan import lower_scan
        return lower_scan(self, node)

    def _check_lengths(self, n, seqs):
        if n < 0:
            raise ExecutionError(f"{self}: n_steps must be >= 0, got {n}")
        given = self.n_steps_given
        for i, s in enumerate(seqs):
            length = len(s)
            if length < n or (not given and length != n):
                raise ExecutionError(
                    f"{self}: sequence {i} ({self.inner_inputs[i]}) has {length} steps but the loop runs {n}"
                    + ("" if self.n_steps_given else "; all sequences must have the same length (a sequence "
                       "with taps gives its length minus the span of its taps)"))

    def perform(self, n, *outer):
        return self._run(n, outer, fast=True)

    def _run(self, n, outer, fast):
        """The step is specialised to the shapes of step 0's inputs.  When that makes every output's
        shape static, the buffers are allocated from the types and all steps run in one generated loop
        with the step inlined; a failure there is re-run step by step, which names the step and the
        node.  Otherwise step 0 runs alone and fixes the shapes (checked at every later step)."""
        ns, nc, ny = self.n_seqs, self.n_carry, self.n_ys
        seqs, carries, nonseqs = outer[:ns], tuple(outer[ns:ns + nc]), tuple(outer[ns + nc:])
        n = int(n)
        if n > 1:  # a transposed weight read every step: one C-ordered copy makes each product up to 1.6x faster
            nonseqs = tuple(np.ascontiguousarray(v) if type(v) is np.ndarray and v.ndim > 1 and not v.flags.c_contiguous
                            else v for v in nonseqs)
        self._check_lengths(n, seqs)
        if fast and n > 0:
            program = self.program(seqs, carries + nonseqs, n)
            if getattr(program, "fully_static", False):
                return self._run_static(program, n, seqs, carries, nonseqs, outer)
        program = self.program()
        run = program.run
        stored = [k for k in range(nc) if self.keep[k] == "all"]
        traces, ys, sums = {}, [], []
        check_shapes = True
        for t in range(n):
            args = [s[t] for s in seqs] + list(carries) + list(nonseqs)
            if t == 0:
                program = self.program(seqs, carries + nonseqs, n)
                run = program.run
            try:
                outs = run(*args)
            except Exception as exc:  # noqa: BLE001 - name the step and the inner node
                if isinstance(exc, ExecutionError):  # a nested scan failed: add this loop's step
                    raise ExecutionError(f"{self}: step {t} failed: {exc}") from exc
                err = program.explain(args, exc)
                msg = f"{self}: step {t} failed"
                raise ExecutionError(f"{msg}: {err}" if err else f"{msg}: {type(exc).__name__}: {exc}") from exc
            if t == 0:  # shapes are known after the first step: allocate once
                self._check_carry_shapes(carries, [_shape(o) for o in outs[:nc]])
                traces = {k: np.empty((n,) + _shape(outs[k]), self.inner_inputs[ns + k].dtype) for k in stored}
                ys, y_stores = [], []
                for j, (how, y) in enumerate(zip(self._y_layout(program), outs[nc:nc + ny])):
                    if type(how) is int:  # the same variable as an earlier y: one buffer
                        ys.append(ys[how])
                        continue
                    if how == "const":  # one read-only row repeated: no memory, and seen as constant in O(1)
                        ys.append(np.broadcast_to(np.asarray(y, self.ys[j].dtype), (n,) + _shape(y)))
                    else:
                        ys.append(np.empty((n,) + _shape(y), self.ys[j].dtype))
                        y_stores.append((ys[j], nc + j))
                sums = [np.array(y, dtype=v.dtype) for y, v in zip(outs[nc + ny:], self.sums)]
                # a fully static specialised step returns the same shapes at every step
                check_shapes = not getattr(program, "fully_static", False)
            else:
                if check_shapes:
                    self._check_step_shapes(t, outs, traces, carries, ys, sums)
                for acc, y in zip(sums, outs[nc + ny:]):
                    np.add(acc, y, out=acc)
            carries = outs[:nc]
            for k in stored:
                traces[k][t] = carries[k]
            for buf, j in y_stores:
                buf[t] = outs[j]
        return self._results(n, outer, carries, traces, ys, sums)

    def _run_static(self, program, n, seqs, carries, nonseqs, outer):
        """All n steps in the generated loop, into buffers allocated from the static output types."""
        plan = program.__dict__.get("_static_plan")
        if plan is None:
            plan = program._static_plan = self._static_plan(program)
        carry_shapes, stored, traces_spec, ys_spec, y_stores, sums_spec, loop = plan
        self._check_carry_shapes(carries, carry_shapes)
        traces = [np.empty((n,) + shape, dtype) for shape, dtype in traces_spec]
        ys, rows = [], program.__dict__.setdefault("_constant_rows", {})
        for j, (how, row_or_shape, dtype) in enumerate(ys_spec):
            if how == "store":
                ys.append(np.empty((n,) + row_or_shape, dtype))
            elif how == "const":  # one read-only row repeated: no memory, and seen as constant in O(1)
                if (j, n) not in rows:
                    if len(rows) > 256:  # many different lengths: start afresh
                        rows.clear()
                    rows[(j, n)] = np.broadcast_to(row_or_shape, (n,) + row_or_shape.shape)
                ys.append(rows[(j, n)])
            else:  # the same variable as an earlier y: one buffer
                ys.append(ys[how])
        sums = [np.zeros(shape, dtype) for shape, dtype in sums_spec]
        try:
            carries = loop(n, *seqs, *carries, *nonseqs, *traces, *[ys[j] for j in y_stores], *sums)
        except Exception:  # noqa: BLE001 - redo step by step for a precise message
            return self._run(n, outer, fast=False)
        return self._results(n, outer, carries, dict(zip(stored, traces)), ys, sums)

    def _static_plan(self, program):
        """What ``_run_static`` allocates for a fully static step, and its loop (once per program)."""
        ns, nc, ny = self.n_seqs, self.n_carry, self.n_ys
        shapes = [o.type.shape for o in program.outputs]
        stored = [k for k in range(nc) if self.keep[k] == "all"]
        traces_spec = [(shapes[k], np.dtype(self.inner_inputs[ns + k].dtype)) for k in stored]
        ys_spec, y_stores = [], []
        for j, how in enumerate(self._y_layout(program)):
            dtype = np.dtype(self.ys[j].dtype)
            if how == "const":  # the constant row, repeated n times at run time
                ys_spec.append(("const", np.asarray(program.outputs[nc + j].data, dtype), dtype))
            else:
                ys_spec.append((how, shapes[nc + j], dtype))
                if how == "store":
                    y_stores.append(j)
        sums_spec = [(shapes[nc + ny + j], np.dtype(v.dtype)) for j, v in enumerate(self.sums)]
        loop = program.loop(ns, nc, stored, [nc + j for j in y_stores], range(nc + ny, nc + ny + len(sums_spec)))
        return shapes[:nc], stored, traces_spec, ys_spec, y_stores, sums_spec, loop

    def _check_carry_shapes(self, carries, out_shapes):
        for k, (c, shape) in enumerate(zip(carries, out_shapes)):
            if _shape(c) != shape:
                raise ExecutionError(
                    f"{self}: carry {k} ({self.inner_inputs[self.n_seqs + k]}) enters the loop with shape "
                    f"{_shape(c)} but step 0 returns shape {shape}; the initial state must have the shape "
                    "of the step's output")

    def _y_layout(self, program):
        """Per y of ``program``: "const" (the specialised step computes a constant: filled once, not per
        step), the index of an earlier y computed as the same variable (gradients that differed only by
        a no-op reduction share one buffer), or "store" (stored every step).  Cached on the program."""
        layout = program.__dict__.get("_y_layout")
        if layout is None:
            layout, first = [], {}
            for j in range(self.n_ys):
                o = program.outputs[self.n_carry + j]
                if id(o) in first and not isinstance(o, Constant):
                    layout.append(first[id(o)])
                else:
                    first[id(o)] = j
                    layout.append("const" if isinstance(o, Constant) else "store")
            program._y_layout = layout
        return layout

    def _check_step_shapes(self, t, outs, traces, carries, ys, sums):
        ref = [traces[k][0] if k in traces else carries[k] for k in range(self.n_carry)] + [b[0] for b in ys] + sums
        for j, (a, b) in enumerate(zip(ref, outs)):
            if _shape(a) != _shape(b):
                raise ExecutionError(f"{self}: output {j} of the step ({self.inner_outputs[j]}) has shape "
                                     f"{np.shape(b)} at step {t} but {np.shape(a)} at step 0; every step "
                                     "must return the same shapes")

    def _zero_step_shapes(self, outer):
        """Shapes of one step's ys and sums when the loop runs zero times (empty ys, zero sums).

        First from the static types of the step specialised to the inputs' shapes; where that
        leaves a length unknown, from a dry run of the step on zero-filled slices; else None
        (a y's unknown lengths then count as 0).
        """
        ns, nc = self.n_seqs, self.n_carry
        args = [np.zeros(np.shape(s)[1:], np.asarray(s).dtype) for s in outer[:ns]] + list(outer[ns:])
        wanted = self.inner_outputs[nc:]
        prog = self._specialize(args, ())
        static = [o.type.shape for o in prog.outputs[nc:]] if prog is not self._program else \
            [o.type.shape for o in wanted]
        if all(None not in s for s in static):
            return [tuple(s) for s in static]
        dry = self._dry_run(outer)
        if dry is not None:
            return [np.shape(y) for y in dry[nc:]]
        n_ys = self.n_ys
        return [tuple(d or 0 for d in s) if j < n_ys else (None if None in s else tuple(s))
                for j, s in enumerate(static)]

    def _dry_run(self, outer):
        """Zero steps: the shapes of the step's outputs are still needed (empty ys, zero sums; the gradient
        of a loop over an empty sequence is one).  Run the step once on zero-filled slices and discard the
        values; None if that fails."""
        ns = self.n_seqs
        args = [np.zeros(np.shape(s)[1:], np.asarray(s).dtype) for s in outer[:ns]] + list(outer[ns:])
        try:
            with np.errstate(all="ignore"):
                return self.program().run(*args)
        except Exception:  # noqa: BLE001 - fall back to the static shapes
            return None

    def _results(self, n, outer, carries, traces, ys, sums):
        nc, ny = self.n_carry, self.n_ys
        if n == 0:
            results = [np.empty((0,) + np.shape(c), np.asarray(c).dtype) for c in carries]
            shapes = self._zero_step_shapes(outer)
            results += [np.empty((0,) + s, v.dtype) for s, v in zip(shapes[:ny], self.ys)]
            for j, (s, v) in enumerate(zip(shapes[ny:], self.sums)):
                if s is None:
                    raise ExecutionError(f"{self}: zero steps, and the shape of summed output {j} is not static")
                results.append(np.zeros(s, v.dtype))
            return tuple(results)
        results = [np.asarray(carries[k])[None].copy() if self.keep[k] == "last" else traces[k] for k in range(nc)]
        return tuple(results + ys + sums)

    # ---- gradient
    def pullback(self, inputs, outputs, cotangents):
        return _scan_pullback(self, inputs, outputs, cotangents)


@op
class CheckLength(Op):
    """Identity on a sequence that checks its length against the loop's n_steps at run time.

    Rewrites that move sequence work out of a loop keep the loop's length rule with it:
    exactly n steps when n_steps was not given, at least n when it was.
    """

    exact: bool
    what: str = "sequence"

    def make_node(self, x, n):
        return Apply(self, [as_variable(x), as_variable(n)], [as_variable(x).type])

    def perform(self, x, n):
        length = np.shape(x)[0]
        if length < n or (self.exact and length != n):
            raise ExecutionError(f"scan: {self.what} has {length} steps but the loop runs {int(n)}"
                                 + ("; all sequences must have the same length" if self.exact else ""))
        return x

    def lower_jax(self, node):
        from .ops.basic import static_values
        return lambda x, n: self.perform(x, int(static_values([n], self)[0]))  # lengths are static under JAX

    def pullback(self, inputs, outputs, gz):
        return [gz[0], None]

    def __str__(self):
        return "check_length"


def _shape(a):
    """The shape of an array or numpy scalar, without numpy.shape's dispatch."""
    shape = getattr(a, "shape", None)
    return np.shape(a) if shape is None else shape


def _const(v):
    return int(v.data) if isinstance(v, Constant) else None


def _is_float(v):
    return np.dtype(v.dtype).kind in "fc"


# --------------------------------------------------------------------------- gradient (BPTT)

def _scan_pullback(op, inputs, outputs, cotangents):
    """BPTT as a scan running backwards over the forward traces.

    Backward step at time t (placeholders in brackets)::

        total_k   = [g_next_k] + [g_trace_k(t)]            cotangent of carry k leaving step t
        vjp       = pullback of the forward step at (x_t, c_{t-1}, theta) with (total, [g_y(t)], [g_sum])
        g_next_k' = vjp[c_{t-1}]                           carried to step t-1
        ys:   vjp[x_t]                                     gradient of each sequence at t
        sums: vjp[theta]                                   accumulated over steps: the parameter gradients
    """
    from . import tensor as T

    n_steps, outer = inputs[0], inputs[1:]
    if op.truncate_gradient == 0:  # no step is differentiated: the gradient is zero (and has no loop)
        return [None] + [T.zeros_like(v) if _is_float(v) else None for v in outer]
    ns, nc, ny = op.n_seqs, op.n_carry, op.n_ys
    seqs, inits = outer[:ns], outer[ns:ns + nc]
    P = op.inner_inputs
    p_seq, p_carry, p_nonseq = P[:ns], P[ns:ns + nc], P[ns + nc:]
    O = op.inner_outputs
    float_carry = [k for k in range(nc) if _is_float(p_carry[k])]
    if any(op.keep[k] == "last" and cotangents[k] is not None for k in range(nc)):
        raise NotImplementedError("gradient through a save-memory scan: differentiate the graph before compiling")

    # Placeholders of the backward step and the seeds of its vector-Jacobian product.
    g_next = {k: p_carry[k].type(f"g_{p_carry[k].name or 'c%d' % k}") for k in float_carry}
    # a trace read only at [-1] (many-to-one models) has a cotangent that is zero but for its last row:
    # that row starts the backward carry instead of being added in at every step
    last_only = {k: g for k in float_carry if cotangents[k] is not None
                 for g in [_last_row_only(cotangents[k])] if g is not None}
    g_trace = {k: p_carry[k].type(f"g_trace{k}") for k in float_carry
               if cotangents[k] is not None and k not in last_only}
    g_y = {j: O[nc + j].type(f"g_y{j}") for j in range(ny)
           if cotangents[nc + j] is not None and _is_float(O[nc + j])}
    g_sum = {j: O[nc + ny + j].type(f"g_sum{j}") for j in range(op.n_sums)
             if cotangents[nc + ny + j] is not None and _is_float(O[nc + ny + j])}
    seeds = {}

    def seed(v, g):
        seeds[v] = g if v not in seeds else seeds[v] + g

    for k in float_carry:
        seed(O[k], g_next[k] + g_trace[k] if k in g_trace else g_next[k])
    for j, g in g_y.items():
        seed(O[nc + j], g)
    for j, g in g_sum.items():
        seed(O[nc + ny + j], g)
    grads = backprop(seeds, list(P))
    g_seq, g_carry_prev, g_nonseq = grads[:ns], grads[ns:ns + nc], grads[ns + nc:]

    back_carry_out = [g_carry_prev[k] if g_carry_prev[k] is not None else T.zeros_like(g_next[k])
                      for k in float_carry]
    seq_idx = [i for i in range(ns) if g_seq[i] is not None]
    ns_idx = [i for i in range(len(p_nonseq)) if g_nonseq[i] is not None]
    back_outputs = back_carry_out + [g_seq[i] for i in seq_idx] + [g_nonseq[i] for i in ns_idx]

    # Simplify the backward step first (leaving the forward step's variables untouched), so that
    # what it reads from the forward step is what it really needs.
    from .rewrite import Rewriter
    frozen = list(P) + [o for n in toposort(O, stop_at=P) for o in n.outputs]
    back_outputs = Rewriter(frozen=frozen)(back_outputs)

    # Residuals: forward-step intermediates that the backward step reads are stored by the forward
    # scan (as extra ys), so the backward step never recomputes them.
    residuals = _residuals(O, P, p_nonseq, back_outputs)
    carry_of = {id(O[k]): k for k in range(nc)}
    extra_ys = [v for v in residuals if id(v) not in carry_of]
    res_ph = {id(v): v.type(f"res_{v.name or i}") for i, v in enumerate(residuals)}
    back_outputs = clone_replace(back_outputs, {v: _stand_in(v, res_ph[id(v)]) for v in residuals})

    # The forward scan again, keeping every carry's trace and the residuals.  It has the original's
    # inputs and outputs as a prefix, so at compile time the two merge into one loop.
    ys_end = nc + ny
    fwd_op = op.with_(inner_outputs=list(O[:ys_end]) + extra_ys + list(O[ys_end:]), keep=("all",) * nc)
    fwd = fwd_op.make_node(n_steps, *outer).outputs
    traces, extra_traces = fwd[:nc], fwd[ys_end:ys_end + len(extra_ys)]

    used = {id(v) for v in graph_inputs(back_outputs)}
    truncated = op.truncate_gradient >= 0
    k_back = T.minimum(n_steps, op.truncate_gradient) if truncated else n_steps

    def rev(x):
        return x[::-1]

    b_seq = []  # (placeholder, outer sequence in backward order)
    for i in range(ns):
        if id(p_seq[i]) in used:
            b_seq.append((p_seq[i], rev(seqs[i][:n_steps]) if op.n_steps_given else rev(seqs[i])))
    for k in range(nc):
        if id(p_carry[k]) in used:  # the value entering step t: init, then trace[:-1]
            prev = T.concatenate([T.stack([inits[k]]), traces[k][:-1]], axis=0)
            b_seq.append((p_carry[k], rev(prev)))
    for v in residuals:
        if id(res_ph[id(v)]) in used:
            src = traces[carry_of[id(v)]] if id(v) in carry_of else extra_traces[extra_ys.index(v)]
            b_seq.append((res_ph[id(v)], rev(src)))
    for k, ph in g_trace.items():
        if id(ph) in used:
            b_seq.append((ph, rev(cotangents[k])))
    for j, ph in g_y.items():
        if id(ph) in used:
            b_seq.append((ph, rev(cotangents[nc + j])))
    seq_ids = {id(ph) for ph, _ in b_seq}
    b_nonseq = [(p, outer[i]) for i, p in enumerate(P) if id(p) in used and id(p) not in seq_ids]
    b_nonseq += [(ph, cotangents[nc + ny + j]) for j, ph in g_sum.items() if id(ph) in used]

    b_carry_ph = [g_next[k] for k in float_carry]
    back_op = Scan([ph for ph, _ in b_seq] + b_carry_ph + [ph for ph, _ in b_nonseq], back_outputs,
                   n_seqs=len(b_seq), n_carry=len(b_carry_ph), n_sums=len(ns_idx), n_steps_given=True,
                   name=f"grad_of_{op.name}")
    b_out = back_op.make_node(k_back, *[o for _, o in b_seq],
                              *[T.zeros_like(inits[k]) + last_only[k] if k in last_only else T.zeros_like(inits[k])
                                for k in float_carry],
                              *[o for _, o in b_nonseq]).outputs
    nfc = len(float_carry)
    b_carry_traces, b_ys, b_sums = b_out[:nfc], b_out[nfc:nfc + len(seq_idx)], b_out[nfc + len(seq_idx):]

    result = [None] * len(inputs)
    for g_rev, i in zip(b_ys, seq_idx):
        g = rev(g_rev)
        if truncated or op.n_steps_given:  # only the steps that ran (and were not truncated) get gradient
            g = T.set_subtensor(T.zeros_like(seqs[i])[n_steps - k_back:n_steps], g)
        result[1 + i] = g
    carry_index = {id(p): k for k, p in enumerate(p_carry)}
    for trace, k in zip(b_carry_traces, float_carry):
        g0 = T.sum(trace[-1:], axis=0)  # the carry after the last backward step; zeros after none
        if not truncated:
            result[1 + ns + k] = g0
            continue
        # The backward loop stops at step b = n_steps - k_back: g0 is the cotangent of carry k entering step
        # b.  That value is an initial state only if b == 0 -- or if carry k is a pass-through chain (the
        # shifted slots of a state with taps [-2, -1], say: new c0 = old c1), along which the initial value
        # init[m] reaches step b untouched when the chain from k to m is b steps long.  Outputs of the
        # truncated steps get no gradient.
        b = n_steps - k_back
        chain = [k]
        while id(O[chain[-1]]) in carry_index and carry_index[id(O[chain[-1]])] not in chain:
            chain.append(carry_index[id(O[chain[-1]])])
        for j, m in enumerate(chain):
            g = T.switch(T.eq(b, j), g0, T.zeros_like(g0))
            result[1 + ns + m] = g if result[1 + ns + m] is None else result[1 + ns + m] + g
    for g, i in zip(b_sums, ns_idx):
        result[1 + ns + nc + i] = g
    return result


def _last_row_only(g):
    """``y`` when ``g`` is ``inc_subtensor(zeros[-1], y)`` (the cotangent of ``x[-1]``), else None."""
    from .ops.basic import Alloc
    from .ops.subtensor import IncSubtensor
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
    from .ops.shape import DimShuffle
    from .ops.subtensor import Subtensor
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
    from . import tensor as T
    from .ops.basic import Shape
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


# --------------------------------------------------------------------------- Theano front end

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
        taps = list(s.get("taps", [0]) or [0])
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
        taps = list(o.get("taps", [-1]))
        if any(t >= 0 for t in taps):
            raise ScanError(f"scan: outputs_info[{i}] taps must be negative, got {taps}")
        return as_variable(init), taps
    return as_variable(o), [-1]


def _step_type(v):
    """The type of one step of a sequence: the leading axis removed."""
    if v.ndim == 0:
        raise ScanError(f"scan: sequence {v.describe()} is a scalar; sequences need a leading time axis")
    return TensorType(v.dtype, v.type.shape[1:])


def scan(fn, sequences=None, outputs_info=None, non_sequences=None, n_steps=None, truncate_gradient=-1,
         go_backwards=False, mode=None, name=None, profile=False, allow_gc=None, strict=False,
         return_list=False):
    """Loop ``fn`` over ``sequences`` carrying states, as Theano's ``scan``; returns ``(outputs, updates)``.

    ``fn`` receives, in order: one slice per sequence tap, one value per state
    tap, then the non-sequences.  It returns the new states and other outputs
    (``outputs_info`` entries that are None), optionally with a dict of
    shared-variable updates.  See docs/scan.md for the full description.
    """
    from . import tensor as T

    name = name or getattr(fn, "__name__", "scan")
    if name == "<lambda>":
        name = "scan"
    seqs = [_normalize_sequence(s) for s in _as_list(sequences)]
    outs_info = [_normalize_output_info(o, i) for i, o in enumerate(_as_list(outputs_info))]
    non_seqs = [as_variable(v) for v in _as_list(non_sequences)]

    # ---- n_steps and the per-tap sequence slices
    n_given = n_steps is not None
    if n_given:
        n_steps = as_variable(n_steps)
        if isinstance(n_steps, Constant) and int(n_steps.data) < 0:
            raise ScanError(f"scan: n_steps must be >= 0, got {int(n_steps.data)}")
    elif not seqs:
        raise ScanError("scan: give sequences or n_steps (a loop needs to know how long it runs)")
    # As in Theano, step t reads tap k of a sequence at index t + k - lo, where lo = min(taps, 0) and
    # hi = max(taps, 0): a sequence of length L gives L - (hi - lo) steps.  With go_backwards each tap's
    # slice is reversed (the loop starts at the end; taps keep their meaning in the array's order).
    # Without n_steps all sequences must have the same length: every slice is cut to L - (largest span)
    # entries, from the end (forwards) or from the start (backwards), so their lengths agree exactly when
    # the sequences' lengths do, and the core op reports a mismatch.
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
            ph = _step_type(s)(f"{s.name or 'seq%d' % si}[t{tap:+d}]" if tap else f"{s.name or 'seq%d' % si}[t]")
            inner_seq.append(ph)
    if not n_given:
        n_steps = T.shape_i(outer_seq[0], 0)

    # ---- states: each tap list becomes carries that shift by one each step
    carry_inits, carry_ph, state_slots = [], [], []
    for oi, (init, taps) in enumerate(outs_info):
        if init is None:
            state_slots.append(None)
            continue
        depth = -min(taps)
        if depth == 1:
            inits = [init]
        else:
            if init.ndim == 0:
                raise ScanError(f"scan: outputs_info[{oi}] has taps {taps}, so its initial value needs a leading "
                                f"axis of at least {depth} entries; got {init.describe()}")
            inits = [init[k] for k in range(depth)]  # as in Theano: init[0] is the value at t-depth
        first = len(carry_ph)
        for k, iv in enumerate(inits):
            label = init.name or f"out{oi}"
            carry_inits.append(iv)
            carry_ph.append(iv.type(f"{label}[t{k - depth:+d}]"))
        state_slots.append((first, depth, taps))

    # As in Theano, shared variables (and constants) reach the step as themselves, not as placeholders: a
    # shared variable that the step also updates must read the value carried from the previous step.
    ns_ph = [v if isinstance(v, (Constant, SharedVariable)) else v.type(v.name) for v in non_seqs]

    # ---- call the step function in Theano's argument order
    args = list(inner_seq)
    for slot in state_slots:
        if slot is not None:
            first, depth, taps = slot
            args.extend(carry_ph[first + depth + t] for t in taps)
    args.extend(ns_ph)
    raw = fn(*args)
    outputs, updates = _split_step_result(raw)
    if outs_info and len(outputs) != len(outs_info):
        raise ScanError(f"scan: the step function returned {len(outputs)} output(s) but outputs_info has "
                        f"{len(outs_info)} entries (use None for outputs that are not fed back)")
    if not outs_info:
        state_slots = [None] * len(outputs)

    # ---- new carries and ys
    new_carries = [None] * len(carry_ph)
    ys, y_slot = [], {}
    for oi, (out, slot) in enumerate(zip(outputs, state_slots)):
        if slot is None:
            y_slot[oi] = len(ys)
            ys.append(out)
            continue
        first, depth, _ = slot
        init = outs_info[oi][0]
        _check_state_type(oi, out, carry_ph[first + depth - 1], init, strict)
        if out.dtype != carry_ph[first].dtype:
            out = T.cast(out, carry_ph[first].dtype)
        for k in range(depth - 1):
            new_carries[first + k] = carry_ph[first + k + 1]
        new_carries[first + depth - 1] = out

    # shared-variable updates become carries too: inside the step the shared variable reads the carry
    upd_items = list(updates.items())
    upd_first = len(carry_ph)
    for sv, new in upd_items:
        if not isinstance(sv, SharedVariable):
            raise ScanError(f"scan: updates returned by the step must be keyed by shared variables, got {sv}")
        ph = sv.type(f"{sv.name or 'shared'}[t-1]")
        carry_inits.append(sv)
        carry_ph.append(ph)
        new = as_variable(new)
        if new.dtype != sv.dtype:
            raise ScanError(f"scan: update of {sv.describe()} in the step has dtype {new.dtype}")
        new_carries.append(new)
    replace = {sv: carry_ph[upd_first + i] for i, (sv, _) in enumerate(upd_items)}

    inner_outputs = [as_variable(v) for v in new_carries + ys]
    if replace:
        inner_outputs = clone_replace(inner_outputs, replace)
    # Products that share an operand (a tutorial-style LSTM's eight per-step dots) become one
    # product of concatenated weights now, so that the gradient is built from the fused form.
    from .scan_rewrites import fuse_dots, fuse_sliced_elementwise
    inner_outputs = fuse_dots(inner_outputs) or inner_outputs
    inner_outputs = fuse_sliced_elementwise(inner_outputs, carry_ph) or inner_outputs

    # ---- capture free variables (shared variables, outer inputs) as extra non-sequences
    placeholders = inner_seq + carry_ph + [p for p, v in zip(ns_ph, non_seqs) if p is not v]
    outer_ns = [v for v, p in zip(non_seqs, ns_ph) if p is not v]
    captured = _free_variables(inner_outputs, placeholders)
    given = {id(v) for v in non_seqs}
    leaves = [v for v in graph_inputs(captured) if not isinstance(v, Constant) and id(v) not in given]
    if strict and leaves:
        raise ScanError(f"scan(strict=True): the step uses {', '.join(str(v) for v in leaves)} without "
                        "receiving it through non_sequences")
    if captured:
        cap_ph = [v.type(v.name) for v in captured]
        inner_outputs = clone_replace(inner_outputs, dict(zip(captured, cap_ph)))
        placeholders += cap_ph
        outer_ns += captured

    op = Scan(placeholders, inner_outputs, len(inner_seq), len(carry_ph), n_steps_given=n_given,
              name=name, truncate_gradient=truncate_gradient)
    node_outputs = op.make_node(n_steps, *outer_seq, *carry_inits, *outer_ns).outputs

    results = []
    for oi, slot in enumerate(state_slots):
        if slot is None:
            results.append(node_outputs[len(carry_ph) + y_slot[oi]])
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
        if v.owner is None or _is_float(v):
            found.append(v)
        else:
            stack.extend(reversed(v.owner.inputs))
    return found


def _split_step_result(raw):
    """(outputs list, updates dict) from whatever the step returned."""
    if isinstance(raw, dict):
        return [], OrderedDict(raw)
    if isinstance(raw, tuple) and len(raw) == 2 and isinstance(raw[1], dict):
        return [as_variable(v) for v in _as_list(raw[0])], OrderedDict(raw[1])
    if isinstance(raw, tuple) and len(raw) == 2 and isinstance(raw[0], dict):
        return [as_variable(v) for v in _as_list(raw[1])], OrderedDict(raw[0])
    return [as_variable(v) for v in _as_list(raw)], OrderedDict()


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


def map(fn, sequences, non_sequences=None, truncate_gradient=-1, go_backwards=False, mode=None, name=None):
    """Apply ``fn`` to each step of the sequences (scan with no states)."""
    return scan(fn, sequences=sequences, outputs_info=None, non_sequences=non_sequences,
                truncate_gradient=truncate_gradient, go_backwards=go_backwards, name=name or "map")


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
