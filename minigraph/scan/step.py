"""How a ``Scan`` runs: its step compiled, specialised to a call's shapes, and looped.

The step is compiled once (with rewrites) into a generic program.  A call specialises it to
the shapes of step 0's inputs: every placeholder gets a fully static shape, so shape
computations fold to constants and reductions over broadcast axes that cannot happen
disappear; small integer sequences whose rows are all equal (the stored shapes of forward
values) fold in as constants.  When that makes every output's shape static, the buffers are
allocated from the types and all steps run in one generated loop with the step inlined
(``StaticPlan``); otherwise the loop runs step by step, checking shapes.  A failure in the
generated loop is re-run step by step, which names the step and the node.

The op owns one ``StepPrograms``; nothing is cached on the compiled ``Program``.
"""
from dataclasses import dataclass, field

import numpy as np

from ..compile import ExecutionError, Program
from ..graph import Constant, TensorType, clone_replace
from ..rewrite import rewrite_graph

STORE, CONST = "store", "const"  # how a y is kept: stored every step, or one constant row (else: index of a twin)
MAX_SPECIALISED = 16


@dataclass(eq=False)
class StaticPlan:
    """What a fully static step allocates per call, and its generated loop (built once per program)."""

    carry_shapes: list   # the shape each carry must enter with
    stored: tuple        # carries whose trace is stored
    traces: list         # (shape, dtype) of one row of each stored trace
    ys: list             # per y: (STORE, shape, dtype) | (CONST, row, dtype) | (index of its twin, shape, dtype)
    y_stores: list       # ys written by the loop
    sums: list           # (shape, dtype) of each accumulator
    loop: object         # the generated loop (Program.loop)
    constant_rows: dict = field(default_factory=dict)  # (y, n) -> read-only broadcast of a constant row


@dataclass(eq=False)
class StepProgram:
    """One compiled version of the step: generic, or specialised to a call's shapes."""

    program: Program
    fully_static: bool
    y_layout: list                  # per y: STORE, CONST or the index of an earlier y with the same value
    plan: StaticPlan = None         # built on first use when fully_static
    lowered: dict = field(default_factory=dict)  # a backend's lower_loop -> its StaticPlan (see run)


def _shape(a):
    """The shape of an array or numpy scalar, without numpy.shape's dispatch."""
    shape = getattr(a, "shape", None)
    return np.shape(a) if shape is None else shape


def _y_layout(layout, outputs):
    """Per y: CONST (the step computes a constant: filled once, not per step), the index of an earlier
    y computed as the same variable (gradients that differed only by a no-op reduction share one
    buffer), or STORE."""
    how, first = [], {}
    for j in range(layout.n_ys):
        o = outputs[layout.y_index(j)]
        if id(o) in first and not isinstance(o, Constant):
            how.append(first[id(o)])
        else:
            first[id(o)] = j
            how.append(CONST if isinstance(o, Constant) else STORE)
    return how


class StepPrograms:
    """The compiled step programs of one ``Scan`` op and the code that runs a call."""

    def __init__(self, scan_op):
        self.op = scan_op
        self.layout = scan_op.layout
        self.generic = None
        self.specialised = {}
        # per-step integer vectors: candidates for folding as constants (the stored shapes of forward values)
        self.int_seqs = [i for i, p in enumerate(scan_op.inner_inputs[:self.layout.n_seqs])
                         if p.ndim == 1 and np.dtype(p.dtype).kind in "iu"]

    def _step(self, program, fully_static):
        return StepProgram(program, fully_static, _y_layout(self.layout, program.outputs))

    def sources(self):
        """{name: source} of every program and generated loop compiled so far."""
        out = {}
        labelled = [("generic", self.generic)] if self.generic else []
        labelled += [(f"specialised {i}", step) for i, step in enumerate(dict.fromkeys(self.specialised.values()))]
        for label, step in labelled:
            if label != "generic" and step is self.generic:
                continue
            name = f"{step.program.name} ({label})"
            out[name] = step.program.source
            for i, src in enumerate(step.program.loop_sources()):
                out[f"{name} loop {i}"] = src
            for node in step.program.nodes:  # nested scans
                out.update(node.op.generated_sources())
        return out

    def get(self, seqs=None, rest=(), n=1):
        """The generic step program, or (given a call's whole sequences, its carries and non-sequences
        and its number of steps) the one specialised to that call (cached per signature, a few)."""
        if self.generic is None:
            op = self.op
            prog = Program(op.inner_inputs, rewrite_graph(op.inner_outputs), name=f"{op.name}_step")
            self.generic = self._step(prog, False)
        if seqs is None:
            return self.generic
        constant = tuple([i for i in self.int_seqs if seqs[i].shape[1] <= 8
                          and (seqs[i].strides[0] == 0 or (seqs[i][:n] == seqs[i][0]).all())])
        try:  # the shapes of the first step's inputs, without slicing
            key = tuple([s.shape[1:] for s in seqs]) + tuple([a.shape for a in rest])
        except AttributeError:  # a Python number among the arguments
            key = tuple([np.shape(s)[1:] for s in seqs]) + tuple([np.shape(a) for a in rest])
        key += tuple([(i, seqs[i][0].tobytes()) for i in constant])
        step = self.specialised.get(key)
        if step is None:
            args = [s[0] for s in seqs] + list(rest)
            step = self.specialise(args, constant) if len(self.specialised) < MAX_SPECIALISED else self.generic
            self.specialised[key] = step
        return step

    def specialise(self, args, constant):
        """The step with placeholders of ``args``' shapes (and ``constant`` inputs folded in)."""
        op = self.op
        phs = [TensorType(p.dtype, np.shape(a))(p.name) for p, a in zip(op.inner_inputs, args)]
        repl = {p: (Constant(ph.type, args[i]) if i in constant else ph)
                for i, (p, ph) in enumerate(zip(op.inner_inputs, phs))}
        try:
            outs = rewrite_graph(clone_replace(op.inner_outputs, repl))
            prog = Program(phs, outs, name=f"{op.name}_step")
        except Exception:  # noqa: BLE001 - inconsistent shapes: the generic program reports them
            return self.get()
        return self._step(prog, all(None not in o.type.shape for o in outs))

    # ---- running a call
    def check_lengths(self, n, seqs):
        if n < 0:
            raise ExecutionError(f"{self.op}: n_steps must be >= 0, got {n}")
        given = self.layout.n_steps_given
        for i, s in enumerate(seqs):
            length = len(s)
            if length < n or (not given and length != n):
                raise ExecutionError(
                    f"{self.op}: sequence {i} ({self.op.inner_inputs[i]}) has {length} steps but the loop runs {n}"
                    + ("" if given else "; all sequences must have the same length (a sequence "
                       "with taps gives its length minus the span of its taps)"))

    def run(self, n, outer, fast=True, lower_loop=None):
        """The node's outputs for ``n`` steps over the outer input values ``outer`` (n_steps excluded).
        ``lower_loop``: a backend's version of ``Program.loop`` (same arguments, same loop; None where
        it has no lowering), used for a fully static step."""
        layout = self.layout
        ns, nc = layout.n_seqs, layout.n_carry
        seqs, carries, nonseqs = outer[:ns], tuple(outer[ns:ns + nc]), tuple(outer[ns + nc:])
        if n > 1:  # a transposed weight read every step: one C-ordered copy makes each product up to 1.6x faster
            nonseqs = tuple(np.ascontiguousarray(v) if type(v) is np.ndarray and v.ndim > 1 and not v.flags.c_contiguous
                            else v for v in nonseqs)
        self.check_lengths(n, seqs)
        if fast and n > 0:
            step = self.get(seqs, carries + nonseqs, n)
            if step.fully_static:
                return self._run_static(step, n, seqs, carries, nonseqs, outer, lower_loop)
        return self._run_steps(n, seqs, carries, nonseqs, outer)

    def _run_one(self, step, t, args):
        try:
            return step.program.run(*args)
        except Exception as exc:  # noqa: BLE001 - name the step and the inner node
            if isinstance(exc, ExecutionError):  # a nested scan failed: add this loop's step
                raise ExecutionError(f"{self.op}: step {t} failed: {exc}") from exc
            err = step.program.explain(args, exc)
            msg = f"{self.op}: step {t} failed"
            raise ExecutionError(f"{msg}: {err}" if err else f"{msg}: {type(exc).__name__}: {exc}") from exc

    def _allocate(self, step, n, outs):
        """Buffers for n steps, shaped as step 0's outputs: {carry: trace}, ys, [(y buffer, output)], sums."""
        layout, op = self.layout, self.op
        traces = {k: np.empty((n,) + _shape(outs[k]), op.inner_inputs[layout.n_seqs + k].dtype)
                  for k in layout.stored}
        ys, y_stores = [], []
        for j, how in enumerate(step.y_layout):
            y = outs[layout.y_index(j)]
            if type(how) is int:  # the same variable as an earlier y: one buffer
                ys.append(ys[how])
            elif how == CONST:  # one read-only row repeated: no memory, and seen as constant in O(1)
                ys.append(np.broadcast_to(np.asarray(y, op.ys[j].dtype), (n,) + _shape(y)))
            else:
                ys.append(np.empty((n,) + _shape(y), op.ys[j].dtype))
                y_stores.append((ys[j], layout.y_index(j)))
        sums = [np.array(y, dtype=v.dtype) for y, v in zip(outs[layout.sum_index(0):], op.sums)]
        return traces, ys, y_stores, sums

    def _run_steps(self, n, seqs, carries, nonseqs, outer):
        """Step by step: step 0 fixes the shapes (checked at every later step unless fully static)."""
        nc, first_sum = self.layout.n_carry, self.layout.sum_index(0)
        stored = self.layout.stored
        traces, ys, y_stores, sums = {}, [], [], []
        check_shapes = True
        step = self.get()
        for t in range(n):
            args = [s[t] for s in seqs] + list(carries) + list(nonseqs)
            if t == 0:
                step = self.get(seqs, carries + nonseqs, n)
            outs = self._run_one(step, t, args)
            if t == 0:  # shapes are known after the first step: allocate once
                self._check_carry_shapes(carries, [_shape(o) for o in outs[:nc]])
                traces, ys, y_stores, sums = self._allocate(step, n, outs)
                check_shapes = not step.fully_static  # a fully static step returns the same shapes every step
            else:
                if check_shapes:
                    self._check_step_shapes(t, outs, traces, carries, ys, sums)
                for acc, y in zip(sums, outs[first_sum:]):
                    np.add(acc, y, out=acc)
            carries = outs[:nc]
            for k in stored:
                traces[k][t] = carries[k]
            for buf, j in y_stores:
                buf[t] = outs[j]
        return self._results(n, outer, carries, traces, ys, sums)

    def _run_static(self, step, n, seqs, carries, nonseqs, outer, lower_loop=None):
        """All n steps in the generated loop, into buffers allocated from the static output types."""
        plan = step.plan if lower_loop is None else step.lowered.get(lower_loop)
        if plan is None:
            plan = self._static_plan(step, lower_loop)
            if lower_loop is None:
                step.plan = plan
            else:
                step.lowered[lower_loop] = plan
        self._check_carry_shapes(carries, plan.carry_shapes)
        traces = [np.empty((n,) + shape, dtype) for shape, dtype in plan.traces]
        ys, rows = [], plan.constant_rows
        for j, (how, row_or_shape, dtype) in enumerate(plan.ys):
            if how == STORE:
                ys.append(np.empty((n,) + row_or_shape, dtype))
            elif how == CONST:  # one read-only row repeated: no memory, and seen as constant in O(1)
                if (j, n) not in rows:
                    if len(rows) > 256:  # many different lengths: start afresh
                        rows.clear()
                    rows[(j, n)] = np.broadcast_to(row_or_shape, (n,) + row_or_shape.shape)
                ys.append(rows[(j, n)])
            else:  # the same variable as an earlier y: one buffer
                ys.append(ys[how])
        sums = [np.zeros(shape, dtype) for shape, dtype in plan.sums]
        try:
            carries = plan.loop(n, *seqs, *carries, *nonseqs, *traces, *[ys[j] for j in plan.y_stores], *sums)
        except Exception:  # noqa: BLE001 - redo step by step for a precise message
            return self.run(n, outer, fast=False)
        return self._results(n, outer, carries, dict(zip(plan.stored, traces)), ys, sums)

    def _static_plan(self, step, lower_loop=None):
        """What ``_run_static`` allocates for a fully static step, and its loop (the backend's if it
        lowers it)."""
        layout, op, program = self.layout, self.op, step.program
        nc = layout.n_carry
        shapes = [o.type.shape for o in program.outputs]
        traces = [(shapes[k], np.dtype(op.inner_inputs[layout.n_seqs + k].dtype)) for k in layout.stored]
        ys, y_stores = [], []
        for j, how in enumerate(step.y_layout):
            dtype, pos = np.dtype(op.ys[j].dtype), layout.y_index(j)
            if how == CONST:  # the constant row, repeated n times at run time
                ys.append((CONST, np.asarray(program.outputs[pos].data, dtype), dtype))
            else:
                ys.append((how, shapes[pos], dtype))
                if how == STORE:
                    y_stores.append(j)
        sums = [(shapes[layout.sum_index(j)], np.dtype(v.dtype)) for j, v in enumerate(op.sums)]
        loop_args = (layout.n_seqs, nc, layout.stored, [layout.y_index(j) for j in y_stores],
                     [layout.sum_index(j) for j in range(len(sums))])
        loop = (lower_loop and lower_loop(program, *loop_args)) or program.loop(*loop_args)
        return StaticPlan(shapes[:nc], layout.stored, traces, ys, y_stores, sums, loop)

    # ---- checks and results
    def _check_carry_shapes(self, carries, out_shapes):
        for k, (c, shape) in enumerate(zip(carries, out_shapes)):
            if _shape(c) != shape:
                raise ExecutionError(
                    f"{self.op}: carry {k} ({self.op.carry_inputs[k]}) enters the loop with shape "
                    f"{_shape(c)} but step 0 returns shape {shape}; the initial state must have the shape "
                    "of the step's output")

    def _check_step_shapes(self, t, outs, traces, carries, ys, sums):
        ref = ([traces[k][0] if k in traces else carries[k] for k in range(self.layout.n_carry)]
               + [b[0] for b in ys] + sums)
        for j, (a, b) in enumerate(zip(ref, outs)):
            if _shape(a) != _shape(b):
                raise ExecutionError(f"{self.op}: output {j} of the step ({self.op.inner_outputs[j]}) has shape "
                                     f"{np.shape(b)} at step {t} but {np.shape(a)} at step 0; every step "
                                     "must return the same shapes")

    def _zero_step_shapes(self, outer):
        """Shapes of one step's ys and sums when the loop runs zero times (empty ys, zero sums).

        First from the static types of the step specialised to the inputs' shapes; where that
        leaves a length unknown, from a dry run of the step on zero-filled slices; else None
        (a y's unknown lengths then count as 0).
        """
        ns, nc = self.layout.n_seqs, self.layout.n_carry
        args = [np.zeros(np.shape(s)[1:], np.asarray(s).dtype) for s in outer[:ns]] + list(outer[ns:])
        step = self.specialise(args, ())
        source = step.program.outputs if step is not self.generic else self.op.inner_outputs
        static = [o.type.shape for o in source[nc:]]
        if all(None not in s for s in static):
            return [tuple(s) for s in static]
        dry = self._dry_run(args)
        if dry is not None:
            return [np.shape(y) for y in dry[nc:]]
        n_ys = self.layout.n_ys
        return [tuple(d or 0 for d in s) if j < n_ys else (None if None in s else tuple(s))
                for j, s in enumerate(static)]

    def _dry_run(self, args):
        """Zero steps: the shapes of the step's outputs are still needed (empty ys, zero sums; the gradient
        of a loop over an empty sequence is one).  Run the step once on zero-filled slices and discard the
        values; None if that fails."""
        try:
            with np.errstate(all="ignore"):
                return self.get().program.run(*args)
        except Exception:  # noqa: BLE001 - fall back to the static shapes
            return None

    def _results(self, n, outer, carries, traces, ys, sums):
        layout, op = self.layout, self.op
        if n == 0:
            results = [np.empty((0,) + np.shape(c), np.asarray(c).dtype) for c in carries]
            shapes = self._zero_step_shapes(outer)
            results += [np.empty((0,) + s, v.dtype) for s, v in zip(shapes[:layout.n_ys], op.ys)]
            for j, (s, v) in enumerate(zip(shapes[layout.n_ys:], op.sums)):
                if s is None:
                    raise ExecutionError(f"{op}: zero steps, and the shape of summed output {j} is not static")
                results.append(np.zeros(s, v.dtype))
            return tuple(results)
        results = [np.asarray(carries[k])[None].copy() if layout.keep[k] == "last" else traces[k]
                   for k in range(layout.n_carry)]
        return tuple(results + ys + sums)
