"""The numba backend: ``function(..., mode="NUMBA")`` runs the same schedule as native code.

The numpy executor stays the reference; this module lowers the program it scheduled (same graph,
same rewrites, same order) and nothing else:

* a **scan loop** whose step is fully static becomes one jitted loop, the step inlined, every
  step-local value in a buffer allocated once before the loop, so no step returns to Python
  (``lower_loop``, used by ``Scan`` in place of ``Program.loop``);
* the **program** itself is split into runs of nodes that have a lowering; a run with at least
  two nodes that compute becomes one jitted function (``NumbaProgram``), fused where elementwise;
  the other nodes -- an op without a numba lowering, a scan, a lone cheap node not worth a call
  into native code -- run as in numpy mode.  Ops without a lowering are named in one warning.

Importing this module imports numba; ``minigraph`` imports it only when such a function is built.
"""
import warnings

import numpy as np

from ..graph import Constant
from .numba_cache import jit
from .numba_emit import Emitter, lowering_of, static

COMPUTE = ("elemwise", "dot", "concat", "expr")
# A jitted segment costs a native call (a few microseconds with its arguments) where numpy spends about
# one per node; measured on the LSTM training step, segments of 2-3 computing nodes made it slower.
MIN_COMPUTE = 4
# and a segment of more nodes than this stays on numpy: compiling it would cost more than it saves
MAX_SEGMENT = 400
# numba calls libm's log, sin, ... one element at a time, numpy with SIMD: a loop whose step evaluates more
# than this many of them stays a numpy loop.  (exp, tanh and sigmoid do not count: loops call the
# vectorised versions of numba_math.)  Measured with libm's exp on the LSTM training step: ~100 a step
# (S1, B=1, H=20) ran 2.2x faster than numpy mode, ~20000 (S2, B=32, H=128) 1.6x slower.
MAX_TRANSCENDENTAL = 2048
# and numpy's vectorised loops still win on big arrays: the LSTM step at S2 (forward loop 53,248 elementwise
# results a step, backward 77,824) with its loops jitted took 1.02x the hand-written numpy step in float64
# (numpy loops: 1.05x) and 1.26x in float32 (1.08x), measured in one run with the vectorised exp.  The
# adding task's sizes (B=32, H=16: ~6,700 forward, ~9,700 backward) gain: with both loops jitted its
# training took 2.27 s of CPU against 3.17 s with the backward loop on numpy (numpy mode: 3.16 s).
MAX_ELEMENTWISE = 16384
# libm's functions, called per element (exp and tanh in loops call numba_math's vectorised versions)
_TRANSCENDENTAL = tuple(f"{lib}.{f}(" for lib in ("np", "math")
                        for f in ("exp", "tanh", "log", "log1p", "expm1", "sin", "cos", "logaddexp", "sqrt"))


def _scalar(x):
    """A 0-d value as a numpy scalar (numba takes it as a scalar, not a 0-d array)."""
    return x[()] if isinstance(x, np.ndarray) else x


def _as_0d(dtype):
    dt = np.dtype(dtype)
    return lambda x: np.asarray(x, dt)


# --------------------------------------------------------------------------- scan loops

def lower_loop(program, n_seqs, n_carry, traced, ys, sums):
    """A numba version of ``program.loop(n_seqs, n_carry, traced, ys, sums)`` (same signature and
    result), or None when some step node has no lowering, a shape is not static, or the step is too
    big to gain (see MAX_TRANSCENDENTAL).  The scan's static plan keeps it (built once)."""
    traced, ys, sums = list(traced), list(ys), list(sums)
    values = [v for n in program.nodes for v in n.inputs + n.outputs] + program.inputs + program.outputs
    if (any(lowering_of(n) is None for n in program.nodes) or not all(static(v) for v in values)
            or len(program.nodes) > MAX_SEGMENT):
        return None
    transcendental, elementwise = _work_per_step(program.nodes)
    if transcendental > MAX_TRANSCENDENTAL or elementwise > MAX_ELEMENTWISE:
        return None
    ins, outs = program.inputs, program.outputs
    seqs, carries, nonseqs = ins[:n_seqs], ins[n_seqs:n_seqs + n_carry], ins[n_seqs + n_carry:]
    names = {id(v): f"a{i}" for i, v in enumerate(seqs)}
    names.update({id(v): f"c{k}" for k, v in enumerate(carries)})
    names.update({id(v): f"p{i}" for i, v in enumerate(nonseqs)})
    em = Emitter(program.nodes, names, {id(o) for o in outs}, loops=True).emit()
    out_names = [em.ref(o, o.type.shape) if o.ndim == 0 else em.name_of(o) for o in outs]
    arrays = [k for k, c in enumerate(carries) if c.ndim]
    pad = " " * 8
    args = ([f"S{i}" for i in range(n_seqs)] + [f"c{k}_in" for k in range(n_carry)]
            + [f"p{i}" for i in range(len(nonseqs))] + [f"TR{k}" for k in traced]
            + [f"Y{j}" for j in range(len(ys))] + [f"ACC{j}" for j in range(len(sums))])
    consts = [name for name, _ in em.consts]
    lines = [f"def mg_loop(n, R, {', '.join(args + consts)}):"]
    lines += [f"    c{k} = c{k}_in.copy()" if k in arrays else f"    c{k} = c{k}_in" for k in range(n_carry)]
    lines += [f"    {line}" for line in em.setup]
    lines.append("    for t in range(n):")
    used = {id(v) for n in program.nodes for v in n.inputs} | {id(v) for v in outs}
    lines += [f"{pad}a{i} = S{i}[S{i}.shape[0] - 1 - t] if R[{i}] else S{i}[t]" for i, v in enumerate(seqs)
              if id(v) in used]
    lines += [pad + line for line in em.body]
    lines += [f"{pad}Y{j}[t] = {out_names[pos]}" for j, pos in enumerate(ys)]
    lines += [f"{pad}ACC{j}{_all(outs[pos].ndim)} += {out_names[pos]}" for j, pos in enumerate(sums)]
    lines += _carry_updates(program, carries, out_names, arrays, em, pad)
    lines += [f"{pad}TR{k}[t] = c{k}" for k in traced]
    lines.append(f"    return ({''.join(f'c{k}, ' for k in range(n_carry))})")
    fn = jit("mg_loop", lines)
    const_values = [c.data for _, c in em.consts]
    scalars = [i for i, v in enumerate(carries + nonseqs) if v.ndim == 0]
    back = {k: _as_0d(c.dtype) for k, c in enumerate(carries) if c.ndim == 0}
    first_buf = n_seqs + n_carry + len(nonseqs)

    def loop(n, *arrays_in):
        a = list(arrays_in)
        for i in scalars:
            a[n_seqs + i] = _scalar(a[n_seqs + i])
        for i in range(first_buf, len(a)):  # 0-d accumulators as 1-element views, written in place
            if a[i].ndim == 0:
                a[i] = a[i].reshape(1)
        reversed_ = tuple([_unreverse(a, i) for i in range(n_seqs)])
        result = fn(n, reversed_, *a, *const_values)
        return tuple(back[k](r) if k in back else r for k, r in enumerate(result))
    loop.source = fn.source
    return loop


def _unreverse(arrays, i):
    """Whether sequence ``i`` is a reversed view of a C-ordered array (the BPTT loop reads its
    sequences so); if so it is replaced by that array, read from the end: numba compiles a loop over
    C-ordered arrays into vector code, and over strided ones into scalar code."""
    s = arrays[i]
    if s.ndim and s.strides[0] < 0:
        forward = s[::-1]
        if forward.flags.c_contiguous:
            arrays[i] = forward
            return True
    return False


def _work_per_step(nodes):
    """(exp/tanh/... evaluated, elements computed, reduced or copied) by one run of ``nodes``: an
    elementwise node counts its result, a reduction, copy or allocation its biggest static operand
    (numpy's vectorised sums and copies win on big arrays as its ufuncs do); views and BLAS products
    do not count."""
    transcendental = elementwise = 0
    for node in nodes:
        low = lowering_of(node)
        size = _static_size(node.outputs[0])
        if low.kind == "elemwise":
            elementwise += size
            if any(f in (low.scalar or low.template) for f in _TRANSCENDENTAL):
                transcendental += size
        elif low.kind in ("expr", "concat"):
            elementwise += max([size] + [_static_size(v) for v in node.inputs])
    return transcendental, elementwise


def _static_size(v):
    """Elements of ``v`` where its type knows its shape, else 0 (sizes known at run time are checked
    then, see NumbaProgram._segment_lines)."""
    return int(np.prod(v.type.shape, dtype=np.int64)) if static(v) else 0


def _all(ndim):
    """The index of every element: ``[:, :]`` (and ``[0]`` for a 0-d value held as 1 element)."""
    return "[" + ", ".join([":"] * ndim) + "]" if ndim else "[0]"


def _carry_updates(program, carries, out_names, arrays, em, pad):
    """Copy each step's new carries into the carry buffers; a new carry that may share memory with
    an old one (a pass-through, or a view of a carry) is copied out first."""
    n_carry = len(carries)
    carry_ids = {id(c) for c in carries}
    lines, final = [], []
    for k in range(n_carry):
        out = program.outputs[k]
        name = out_names[k]
        if out is carries[k]:
            continue
        if k in arrays:
            if _may_view(out, carry_ids, em):
                lines.append(f"{pad}n{k} = {name}.copy()")
                name = f"n{k}"
            final.append(f"{pad}c{k}{_all(out.ndim)} = {name}")
        else:
            lines.append(f"{pad}n{k} = {name}")
            final.append(f"{pad}c{k} = n{k}")
    return lines + final


def _may_view(v, carry_ids, em):
    """``v`` is a carry or a view of one (it is no buffer this step wrote)."""
    while True:
        if id(v) in carry_ids:
            return True
        node = em.producer.get(id(v))
        if node is None or em.lowerings[id(node)].kind != "view":
            return False
        v = node.inputs[0]


# --------------------------------------------------------------------------- whole programs

class NumbaProgram:
    """``run(*input_values)`` for a scheduled ``Program``: jitted segments and numpy nodes in order."""

    def __init__(self, program):
        self.program = program
        nodes = program.nodes
        lowered = [lowering_of(n) is not None for n in nodes]
        missing = sorted({str(n.op).split("{")[0] for n, ok in zip(nodes, lowered)
                          if not ok and type(n.op).__name__ != "Scan"})
        if missing:
            warnings.warn(f"numba mode: no numba lowering for {', '.join(missing)}; "
                          "these run on numpy between the jitted segments", stacklevel=5)
        self.units = _hoist_views(_segments(nodes, lowered), program.outputs)
        self.run = self._generate()

    def _generate(self):
        prog = self.program
        names = {id(v): f"a{i}" for i, v in enumerate(prog.inputs + prog.shared)}
        env = {"_scalar": _scalar}
        lines = [f"def mg_numba({', '.join(names.values())}):"]
        last_use = {}
        for u, unit in enumerate(self.units):
            for node in unit:
                for v in node.inputs:
                    last_use[id(v)] = u
        for v in prog.outputs:
            last_use[id(v)] = len(self.units)
        for u, unit in enumerate(self.units):
            if len(unit) == 1 and not getattr(unit, "jitted", False):
                lines.append(self._numpy_line(u, unit[0], names, env))
            else:
                lines += self._segment_lines(u, unit, names, env, last_use)
        outs = [self._name(v, names, env) for v in prog.outputs]
        lines.append(f"    return ({''.join(o + ', ' for o in outs)})")
        self.source = "\n".join(lines)
        exec(compile(self.source, f"<minigraph {prog.name} numba>", "exec"), env)
        run = env["mg_numba"]
        run.lowered = self  # what was jitted, for inspection
        return run

    @staticmethod
    def _name(v, names, env):
        if id(v) not in names:
            if not isinstance(v, Constant):
                raise KeyError(f"numba backend: {v.describe()} is not available")
            names[id(v)] = f"k{len(names)}"
            env[names[id(v)]] = v.data
        return names[id(v)]

    def _numpy_line(self, u, node, names, env, indent="    "):
        env[f"f{u}"] = _thunk(node)
        ins = ", ".join(self._name(v, names, env) for v in node.inputs)
        outs = [f"v{u}_{j}" for j in range(len(node.outputs))]
        for o, name in zip(node.outputs, outs):
            names[id(o)] = name
        tuple_out = len(node.outputs) != 1 or node.op.nout is None
        return f"{indent}{', '.join(outs)}{',' if tuple_out else ''} = f{u}({ins})"

    def _segment_lines(self, u, nodes, names, env, last_use):
        made = {id(o) for n in nodes for o in n.outputs}
        inputs = [v for v in dict.fromkeys(v for n in nodes for v in n.inputs)
                  if id(v) not in made and not (isinstance(v, Constant) and v.ndim == 0)]
        needed = [o for n in nodes for o in n.outputs if last_use.get(id(o), -1) > u]
        loops = all(static(v) for n in nodes for v in n.inputs + n.outputs)
        arg_names = {id(v): f"x{i}" for i, v in enumerate(inputs)}
        em = Emitter(nodes, arg_names, {id(o) for o in needed}, loops=loops).emit()
        results = [_owned(o, em) for o in needed]
        body = [f"def mg_segment({', '.join(list(arg_names.values()) + [c for c, _ in em.consts])}):"]
        body += [f"    {line}" for line in em.setup + em.body]
        body.append(f"    return ({''.join(r + ', ' for r in results)})")
        env[f"g{u}"] = jit("mg_segment", body)
        args = [f"_scalar({self._name(v, names, env)})" if v.ndim == 0 else self._name(v, names, env)
                for v in inputs]
        for _, c in em.consts:
            args.append(self._name(c, names, env))
        outs = [f"v{u}_{j}" for j in range(len(needed))]
        pad = "    " if loops else "        "
        lines = [f"{pad}{''.join(o + ', ' for o in outs) or '_'} = g{u}({', '.join(args)})"]
        for o, name in zip(needed, outs):
            if o.ndim == 0:
                env[f"_as_{o.dtype}"] = _as_0d(o.dtype)
                lines.append(f"{pad}{name} = _as_{o.dtype}({name})")
        if not loops:  # sizes known only now: numba's loops for small arrays, numpy's vectorised ones for big
            env["_size"] = _total_size
            arrays = [self._name(v, names, env) for v in inputs if v.ndim]
            lines = [f"    if _size({', '.join(arrays)}) <= {MAX_ELEMENTWISE}:"] + lines + ["    else:"]
            for k, node in enumerate(nodes):
                lines.append(self._numpy_line(f"{u}n{k}", node, names, env, pad))
            lines += [f"{pad}{name} = {names[id(o)]}" for o, name in zip(needed, outs)]
        for o, name in zip(needed, outs):
            names[id(o)] = name
        return lines


class Segment(list):
    """Nodes run as one jitted function."""
    jitted = True


def _segments(nodes, lowered):
    """The nodes in order, grouped: runs of lowered nodes with ``MIN_COMPUTE`` that compute become one
    jitted segment; every other node is a unit of its own."""
    units, run = [], []

    def flush():
        worth = MIN_COMPUTE <= sum(lowering_of(n).kind in COMPUTE for n in run) and len(run) <= MAX_SEGMENT
        if worth and all(static(v) for n in run for v in n.outputs):
            transcendental, elementwise = _work_per_step(run)
            worth = transcendental <= MAX_TRANSCENDENTAL and elementwise <= MAX_ELEMENTWISE
        if worth:
            units.append(Segment(run))
        else:
            units.extend([n] for n in run)
        run.clear()
    for node, ok in zip(nodes, lowered):
        if ok:
            run.append(node)
        else:
            flush()
            units.append([node])
    flush()
    return units


def _hoist_views(units, outputs):
    """Views a segment would hand out run on numpy after it instead: a segment returns copies of its
    views (numpy would not know whose memory they share), where numpy's view costs nothing -- the
    BPTT loop reads a dozen reversed sequences.  The array viewed is returned instead (it is fresh,
    or an input).  A view also read inside its segment stays there too."""
    later = {id(v) for v in outputs}
    result = []
    for unit in reversed(units):
        if isinstance(unit, Segment):
            kept, moved = [], []
            read_inside = set()
            for node in reversed(unit):
                out = node.outputs[0]
                if lowering_of(node).kind == "view" and id(out) in later:
                    moved.append([node])
                    later.update(id(v) for v in node.inputs)
                    if id(out) not in read_inside:
                        continue
                kept.append(node)
                read_inside.update(id(v) for v in node.inputs)
            result += moved
            unit = Segment(kept[::-1]) if kept else None
        if unit is not None:
            result.append(unit)
            later.update(id(v) for node in unit for v in node.inputs)
    return result[::-1]


def _total_size(*arrays):
    return sum(a.size for a in arrays)


def _owned(v, em):
    """The name a segment returns for ``v``: a copy when it is a view (numba's views do not tell
    numpy whose memory they share, and the caller must not see its inputs change)."""
    name = em.name_of(v) if not (v.ndim == 0 and id(v) in em.inlined) else em.ref(v, ())
    node = em.producer.get(id(v))
    if node is not None and em.lowerings[id(node)].kind == "view" and v.ndim:
        return f"{name}.copy()"
    return name


def _thunk(node):
    """How a node outside the segments runs: its numpy thunk, and a scan with numba loops."""
    steps = getattr(node.op, "steps", None)  # a scan: its StepPrograms
    if steps is not None:
        return lambda n, *outer: steps.run(int(n), outer, lower_loop=lower_loop)
    return node.op.make_thunk(node)


def lower_program(program):
    """The backend's entry point (``minigraph.mode``): the callable running ``program``."""
    return NumbaProgram(program).run
