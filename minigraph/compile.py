"""``function``: rewrite a graph, schedule it once, and run it as straight-line Python.

The schedule is turned into the source of one Python function, one line per
node (``v7 = f7(v3, v5)``), with ``del`` after each value's last use so its
buffer is freed early.  That is as lean as calling numpy by hand; a failure is
mapped back from the line number to the node, its inputs' shapes and the place
in the user's code where it was built.
"""
import itertools
import os
import warnings
from dataclasses import dataclass

import numpy as np

from .config import config
from .buffers import Buffer, Slot, plan_buffers
from .rewrite import Rewrites, rewrite_graph
from . import mode  # noqa: F401  (theano.compile.mode.get_default_mode)
from .mode import backend_of, get_default_mode, get_mode  # noqa: F401  (theano.compile.get_default_mode)
from .graph import (Constant, SharedVariable, Variable, as_variable, clone_replace, graph_inputs, paused_gc,
                    toposort)


class ExecutionError(ValueError):
    """A node failed at run time; the message names it, its input shapes and where it was built."""


class UnusedInputError(ValueError):
    """An input of ``function`` is not needed to compute the outputs."""


class MissingInputError(ValueError):
    """The outputs depend on a symbolic input that was not given to ``function``."""


_counter = itertools.count()


def _shape_str(value):
    if isinstance(value, (np.ndarray, np.generic)) or hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"{value.dtype}{list(value.shape)}"  # numpy's arrays, and a backend's (jax arrays and tracers)
    return type(value).__name__


def describe_failure(node, values, exc):
    ins = ", ".join(f"{v}: {_shape_str(val)}" for v, val in zip(node.inputs, values))
    return (f"{node.op} failed: {type(exc).__name__}: {exc}\n  inputs: {ins}\n"
            f"  node built at: {node.where()}")


class Program:
    """A scheduled graph: ``run(*input_values) -> tuple(output values)`` plus the data to explain failures."""

    def __init__(self, inputs, outputs, shared=(), name="program"):
        self.inputs = list(inputs)
        self.shared = list(shared)
        self.outputs = list(outputs)
        self.nodes = toposort(self.outputs, stop_at=self.inputs + self.shared)
        self.name = name
        self.loops = {}  # the generated loops over this step program (see loop), by their layout
        self.run = self._generate()

    def loop_sources(self):
        """Sources of the loops generated over this program so far."""
        return [fn.source for fn in self.loops.values()]

    def _emit(self, indent, slots=None):
        """The schedule as Python lines (``v3_0 = f3(a0, v2_0)  # dot at model.py:12``, ``del`` after last
        uses) with what they need, as an ``Emitted``.  ``slots`` (the body of a loop) maps step output
        positions to the expressions of their stored rows (``Y0[t]``); see ``plan_buffers``."""
        em = _Emitter(self, indent, slots or {})
        last_use = {}  # last use of every variable, to free buffers right after it
        for pos, node in enumerate(self.nodes):
            for v in node.inputs:
                last_use[id(v)] = pos
        keep = {id(v) for v in self.outputs} | {id(v) for v in self.inputs} | {id(v) for v in self.shared}
        plan = plan_buffers(self.nodes, self.outputs, keep, last_use, set(slots) if slots is not None else None)
        for pos, node in enumerate(self.nodes):
            em.node(pos, node, plan)
            dead = [em.names[id(v)] for v in dict.fromkeys(node.inputs)
                    if last_use.get(id(v)) == pos and id(v) not in keep and not isinstance(v, Constant)]
            if dead:
                em.lines.append(f"{indent}del {', '.join(dead)}")
        scratch = [f"{em.render(b)} = _empty(*_shape{b.pos})  # scratch buffer for {_where(self.nodes[b.pos])}"
                   for b in plan.scratch]
        return Emitted(em.lines, em.args, [em.name_of(v) for v in self.outputs], em.env, plan, scratch)

    def _generate(self):
        em = self._emit("    ")
        lines = [f"def mg_{_identifier(self.name)}({', '.join(em.args)}):"] + em.lines
        lines.append(f"    return ({', '.join(em.outs)}{',' if em.outs else ''})")
        self.source = "\n".join(lines)
        env = em.env
        exec(compile(self.source, f"<minigraph {self.name}>", "exec"), env)
        return env["mg_" + _identifier(self.name)]

    def loop(self, n_seqs, n_carry, traced, ys, sums):
        """A function running this step program for steps ``0 .. n-1`` with the step inlined.

        Signature: ``loop(n, *sequences, *carries, *non_sequences, *trace_buffers, *y_buffers,
        *sum_accumulators) -> final carries``.  ``traced`` lists the carries whose value is stored
        each step, ``ys`` / ``sums`` the output positions stored / accumulated.  Per step this is
        exactly the step's own lines plus the stores: no argument lists, no lookups.  On an error
        the exception carries the failing step as ``mg_step``.
        """
        key = (n_seqs, n_carry, tuple(traced), tuple(ys), tuple(sums))
        cache = self.loops
        if key in cache:
            return cache[key]
        # step outputs stored every step are computed straight into their rows where the plan allows
        slots = {pos: f"Y{j}[t]" for j, pos in enumerate(ys)}
        slots.update({k: f"TR{k}[t]" for k in traced if k not in slots})
        em = self._emit(" " * 12, slots)
        body, args, outs, env, stored = em.lines, em.args, em.outs, em.env, em.plan.stored
        env["np_add"] = np.add
        seqs = [f"S{i}" for i in range(n_seqs)]
        nonseq = args[n_seqs + n_carry:]
        carries = args[n_seqs:n_seqs + n_carry]
        bufs = [f"TR{k}" for k in traced] + [f"Y{j}" for j in range(len(ys))] + [f"ACC{j}" for j in range(len(sums))]
        lines = [f"def mg_loop(n, {', '.join(seqs + carries + nonseq + bufs)}):", "    t = 0"]
        lines += [f"    {line}" for line in em.scratch]  # one buffer for the whole loop
        lines += ["    try:", "        for t in range(n):"]
        # slice only the sequences this specialisation still reads (folded constants are not)
        used = {id(v) for node in self.nodes for v in node.inputs} | {id(v) for v in self.outputs}
        lines += [f"            a{i} = S{i}[t]" for i in range(n_seqs) if id(self.inputs[i]) in used]
        lines += body
        # store ys and sums before the carries are rebound: an output may be a carry's old value
        lines += [f"            Y{j}[t] = {outs[pos]}" for j, pos in enumerate(ys) if pos not in stored]
        lines += [f"            np_add(ACC{j}, {outs[pos]}, out=ACC{j})" for j, pos in enumerate(sums)]
        if carries:
            lines.append(f"            {', '.join(carries)}, = {', '.join(outs[k] for k in range(n_carry))},")
        lines += [f"            TR{k}[t] = {carries[k]}" for k in traced if k not in stored]
        lines += ["    except Exception as exc:", "        exc.mg_step = t", "        raise",
                  f"    return ({', '.join(carries)}{',' if carries else ''})"]
        source = "\n".join(lines)
        exec(compile(source, f"<minigraph {self.name} loop>", "exec"), env)
        cache[key] = env["mg_loop"]
        cache[key].source = source
        return cache[key]

    def explain(self, args, exc):
        """Re-run node by node to find which node raised ``exc``; return an ExecutionError for it."""
        try:
            self._interpret(args, check=False)
        except ExecutionError as err:
            return err
        return None

    def run_checked(self, *args):
        """Interpret node by node, checking every value against its static type and for NaN/Inf."""
        return self._interpret(args, check=True)

    def _interpret(self, args, check):
        """Run the schedule one node at a time; a failing node raises ExecutionError naming it."""
        values = {id(v): a for v, a in zip(self.inputs + self.shared, args)}
        for node in self.nodes:
            ins = [v.data if isinstance(v, Constant) else values[id(v)] for v in node.inputs]
            try:
                out = node.op.make_thunk(node)(*ins)
            except Exception as inner:  # noqa: BLE001 - re-raised with the node that failed
                raise ExecutionError(f"{self.name}: " + describe_failure(node, ins, inner)) from inner
            for o, val in zip(node.outputs, out if _returns_tuple(node) else [out]):
                if check:
                    _check_value(node, o, val, ins)
                values[id(o)] = val
        return tuple(v.data if isinstance(v, Constant) else values[id(v)] for v in self.outputs)


@dataclass
class Emitted:
    """The lines of a program's body and what they need (see ``Program._emit``)."""

    lines: list    # the body, one statement a line
    args: list     # parameter names: inputs a0.., shared s0..
    outs: list     # the expressions of the outputs
    env: dict      # the names the lines read: thunks f*, constants k*, buffer shapes and indices
    plan: object   # the BufferPlan the lines follow
    scratch: list  # allocations of the loop's scratch buffers (to run once, before a loop)


def _where(node):
    """``op at file:line`` of the user's code that built ``node``, for the comment on its line."""
    if node.tag.trace is None:
        return str(node.op)
    fname, line, _ = node.tag.trace
    return f"{node.op} at {os.path.basename(fname)}:{line}"


class _Emitter:
    """Names values and renders the typed buffer plan as Python source, one node at a time."""

    def __init__(self, program, indent, slots):
        self.program, self.indent, self.slots = program, indent, slots
        self.names, self.env, self.lines, self.args = {}, {"_asarray": np.asarray, "_empty": np.empty}, [], []
        for prefix, vs in (("a", program.inputs), ("s", program.shared)):
            for i, v in enumerate(vs):
                self.names[id(v)] = f"{prefix}{i}"
                self.args.append(f"{prefix}{i}")
        self.consts = 0

    def name_of(self, v):
        key = id(v)
        if key not in self.names:
            if not isinstance(v, Constant):
                raise MissingInputError(f"{self.program.name}: the graph needs {v.describe()}, which was not "
                                        "given as an input")
            self.names[key] = f"k{self.consts}"
            self.env[f"k{self.consts}"] = v.data
            self.consts += 1
        return self.names[key]

    def render(self, dest):
        """The expression of a destination of the plan (a Buffer, a loop Slot, or a Region of either)."""
        if isinstance(dest, Buffer):
            self.env[f"_shape{dest.pos}"] = (dest.shape, dest.dtype)
            return f"b{dest.pos}"
        if isinstance(dest, Slot):
            return self.slots[dest.output]
        name = f"_ix{len([k for k in self.env if k.startswith('_ix')])}"
        self.env[name] = dest.index
        return f"{self.render(dest.base)}[{name}]"

    def node(self, pos, node, plan):
        ind, where = self.indent, _where(node)
        fn = f"f{pos}"
        self.env[fn] = node.op.make_thunk(node)
        self.lines += [f"{ind}{self.render(b)} = _empty(*_shape{b.pos})  # buffer for {_where(self.program.nodes[b.pos])}"
                       for b in plan.before.get(pos, ())]
        outs = [f"v{pos}_{j}" for j in range(len(node.outputs))]
        if pos in plan.joined:  # the pieces are already in place: copy the others, then take the buffer
            join = plan.joined[pos]
            buf = self.render(join.dest)
            for k, (index, x) in enumerate(join.copies):
                self.env[f"_ix{pos}_{k}"] = index
                self.lines.append(f"{ind}{buf}[_ix{pos}_{k}] = {self.name_of(x)}  # {where}: piece")
            self.lines.append(f"{ind}{outs[0]} = {buf}  # {where}: pieces written in place")
            if isinstance(join.dest, Buffer) and not join.dest.scratch:
                self.lines.append(f"{ind}del {buf}")
        else:
            ins = ", ".join(self.name_of(v) for v in node.inputs)
            if pos in plan.out:
                ins += f", out={self.render(plan.out[pos])}"
            elif pos in plan.reuse:
                ins += f", out={self.names[id(plan.reuse[pos])]}"
            target = ", ".join(outs) + "," if _returns_tuple(node) else outs[0]
            self.lines.append(f"{ind}{target} = {fn}({ins})  # {where}")
        for o, name in zip(node.outputs, outs):
            self.names[id(o)] = name


def _returns_tuple(node):
    """Multi-output ops (and ops such as scan whose output count varies) return a tuple."""
    return len(node.outputs) != 1 or node.op.nout is None


def _check_value(node, var, val, ins):
    arr = np.asarray(val)
    problem = None
    if arr.dtype.name != var.dtype:
        problem = f"dtype {arr.dtype} but its type says {var.dtype}"
    elif not var.type.accepts_shape(arr.shape):
        problem = f"shape {arr.shape} but its static type says {var.type}"
    elif arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
        problem = "NaN or Inf values"
    if problem:
        ins_s = ", ".join(f"{v}: {_shape_str(x)}" for v, x in zip(node.inputs, ins))
        raise ExecutionError(f"check: output {var.index} of {node.op} has {problem}\n  inputs: {ins_s}\n"
                             f"  node built at: {node.where()}")


def _identifier(name):
    return "".join(c if c.isalnum() else "_" for c in name) or "program"


def _root(a):
    """The array that owns ``a``'s memory (``a`` itself unless it is a view)."""
    while isinstance(getattr(a, "base", None), np.ndarray):
        a = a.base
    return a


def _detach(vals, results):
    """``results`` as arrays that share memory with none of ``vals`` (the caller's arrays and the shared
    storage) nor with each other.  Ops may return views or an input itself (x.T, x[0], identity), and
    merged outputs are one array: copy exactly those, plus numpy scalars and read-only constants."""
    taken = {id(v) if v.base is None else id(_root(v)) for v in vals}
    out = []
    for r in results:
        if type(r) is not np.ndarray or not r.flags.writeable:
            r = np.array(r)
        else:
            key = id(r) if r.base is None else id(_root(r))
            if key in taken:
                r = np.array(r)
        taken.add(id(r) if r.base is None else id(_root(r)))
        out.append(r)
    return out


def _fast_filter(var, allow_downcast):
    """Validate one input value: a quick exact-type path, else the full conversion rules."""
    t = var.type
    dtype, ndim = np.dtype(t.dtype), t.ndim
    what = f"input {var.name or '<unnamed>'}"
    static = t.shape if any(s is not None for s in t.shape) else None

    def check(value):
        if type(value) is np.ndarray and value.dtype == dtype and value.ndim == ndim and (
                static is None or t.accepts_shape(value.shape)):
            return value
        if ndim == 0 and type(value) is dtype.type:  # a numpy scalar of exactly this dtype
            return np.asarray(value)
        return t.filter(value, allow_downcast=allow_downcast, what=what)
    return check


class Function:
    """A compiled callable; ``fn(*inputs)`` returns the outputs and applies ``updates`` after them."""

    @paused_gc
    def __init__(self, inputs, outputs, updates=None, givens=None, allow_input_downcast=None,
                 on_unused_input="raise", name=None, check=None, rewrite=None, no_default_updates=False):
        self._spec = dict(inputs=inputs, outputs=outputs, updates=updates, givens=givens,
                          allow_input_downcast=allow_input_downcast, on_unused_input=on_unused_input, name=name,
                          check=check, rewrite=rewrite, no_default_updates=no_default_updates)  # for pickling
        self.name = name or f"function_{next(_counter)}"
        self.single = isinstance(outputs, Variable)
        outputs = [] if outputs is None else ([outputs] if self.single else list(outputs))
        outputs = [as_variable(o) for o in outputs]
        inputs = list(inputs)
        self._check_inputs(inputs)
        updates = _normalize_updates(updates)
        inputs, outputs, updates = _cut_at_inputs(inputs, outputs, updates)
        updates += _default_updates(outputs, updates, no_default_updates)
        if givens:
            outputs, updates = _apply_givens(givens, outputs, updates)
        for s, u in updates:
            _check_update(s, u)
        all_outputs = outputs + [u for _, u in updates]
        needed = graph_inputs(all_outputs)
        needed_ids = {id(v) for v in needed}
        given_ids = {id(v) for v in inputs}
        for v in needed:
            if v.owner is None and not isinstance(v, (Constant, SharedVariable)) and id(v) not in given_ids:
                raise MissingInputError(
                    f"{self.name}: the outputs depend on the input {v.describe()}, which is not in the inputs "
                    "list; add it to inputs (or replace it with givens)")
        unused = [v for v in inputs if id(v) not in needed_ids]
        if unused and on_unused_input != "ignore":
            msg = (f"{self.name}: input(s) {', '.join(v.describe() for v in unused)} are not used to compute the "
                   "outputs; pass on_unused_input='ignore' (or 'warn') if this is intended")
            if on_unused_input == "raise":
                raise UnusedInputError(msg)
            warnings.warn(msg, stacklevel=3)
        shared = [v for v in needed if isinstance(v, SharedVariable)]
        for s, _ in updates:
            if all(s is not v for v in shared):
                shared.append(s)
        use_rewrites = (config.optimizer != "None") if rewrite is None else rewrite
        if use_rewrites:
            all_outputs = rewrite_graph(all_outputs, rewrite if isinstance(rewrite, Rewrites) else None)
        self.inputs = inputs
        self.outputs = all_outputs[:len(outputs)]
        self.updates = [(s, u) for (s, _), u in zip(updates, all_outputs[len(outputs):])]
        self.shared = shared
        self.program = Program(inputs, all_outputs, shared, self.name)
        self.run_program = self.program.run  # a backend other than numpy replaces it (see minigraph.mode)
        self.mode = None  # the Mode it was compiled in (set by function())
        self.maker = self  # Theano code reads fn.maker.fgraph
        self._filters = [_fast_filter(v, allow_input_downcast) for v in inputs]
        self._containers = [s.container for s in shared]
        self._update_containers = [s.container for s, _ in updates]
        self._lock = _update_lock(self._containers + self._update_containers) if updates else None
        self._n_out = len(outputs)
        self.check = config.check if check is None else check
        self._names = {v.name: i for i, v in enumerate(inputs) if v.name}

    @staticmethod
    def _check_inputs(inputs):
        seen = set()
        for i, v in enumerate(inputs):
            if not isinstance(v, Variable):
                raise TypeError(f"function inputs must be symbolic variables; input {i} is {type(v).__name__}")
            if isinstance(v, (Constant, SharedVariable)):
                raise TypeError(f"input {i} ({v.describe()}) is not a free input: constants and shared variables "
                                "are implicit (replace them with givens)")
            if id(v) in seen:
                raise ValueError(f"input {v.describe()} is given twice")
            seen.add(id(v))

    @property
    def fgraph(self):
        return self

    def toposort(self):
        """The compiled schedule's Apply nodes in order (Theano's ``f.maker.fgraph.toposort()``)."""
        return list(self.program.nodes)

    def __reduce__(self):
        """Pickled as its graph and options; unpickling compiles it again (as fast as the original).
        Shared variables pickled in the same pickle stay shared with it."""
        return _rebuild_function, (self._spec, getattr(self.mode, "name", None))

    def __call__(self, *args, **kwargs):
        if kwargs:
            args = list(args) + [None] * (len(self.inputs) - len(args))
            for k, val in kwargs.items():
                if k not in self._names:
                    raise TypeError(f"{self.name}: unknown input name {k!r}")
                args[self._names[k]] = val
        if len(args) != len(self.inputs):
            names = ", ".join(v.describe() for v in self.inputs) or "none"
            raise TypeError(f"{self.name} takes {len(self.inputs)} input(s) ({names}), got {len(args)}")
        vals = [f(a) for f, a in zip(self._filters, args)]
        if self._lock is None:
            results = self._run(vals)
        else:  # read the shared values, compute, write the updates: one step for other threads
            with self._lock:
                results = self._run(vals)
        outs = results[:self._n_out]
        return outs[0] if self.single else outs

    def _run(self, vals):
        """Outputs and updates for validated input values ``vals``; the updates are applied."""
        vals = vals + [c.value for c in self._containers]
        if self.check:
            results = self.program.run_checked(*vals)
        else:
            try:
                results = self.run_program(*vals)
            except Exception as exc:  # noqa: BLE001 - re-raised with the node that failed
                err = self.program.explain(vals, exc)
                if err is None:
                    raise
                raise err from exc
        results = _detach(vals, results)
        for c, v in zip(self._update_containers, results[self._n_out:]):
            c.value = v
        return results

    @property
    def source(self):
        """The generated Python source of this function's schedule."""
        return self.program.source

    def sources(self):
        """{name: generated source} of this function and of every step program and loop compiled inside
        it so far (a scan compiles its step when first called, specialised to the call's shapes)."""
        out = {self.program.name: self.program.source}
        for node in self.program.nodes:
            out.update(node.op.generated_sources())
        return out

    def debugprint(self, file=None):
        from .printing import debugprint
        return debugprint(self, file=file)


class _Locks:
    """Several containers' locks as one, always taken in the same order (so two functions never wait on
    each other's)."""

    __slots__ = ("locks",)

    def __init__(self, locks):
        self.locks = locks

    def __enter__(self):
        for lock in self.locks:
            lock.acquire()

    def __exit__(self, *exc):
        for lock in reversed(self.locks):
            lock.release()


def _update_lock(containers):
    """The lock making one call's read-compute-write of these shared variables atomic: each shared
    variable has its own lock (so functions on disjoint variables run in parallel), taken in the order
    the variables were created."""
    unique = sorted({id(c): c for c in containers}.values(), key=lambda c: c.order)
    return unique[0].lock if len(unique) == 1 else _Locks([c.lock for c in unique])


def _apply_givens(givens, outputs, updates):
    """``outputs`` and ``updates`` with the variables of ``givens`` replaced."""
    pairs = list(givens.items()) if isinstance(givens, dict) else list(givens)
    repl = {}
    for old, new in pairs:
        new = as_variable(new)
        if not isinstance(old, Variable):
            raise TypeError(f"givens keys must be variables, got {type(old).__name__}")
        if old.dtype != new.dtype or old.ndim != new.ndim:
            raise TypeError(f"givens: cannot replace {old.describe()} by {new.describe()}: "
                            "types differ (dtype and number of dimensions must match)")
        repl[old] = new
    replaced = clone_replace(outputs + [u for _, u in updates], repl)
    outputs, new_updates = replaced[:len(outputs)], replaced[len(outputs):]
    return outputs, [(s, u) for (s, _), u in zip(updates, new_updates)]


def _rebuild_function(spec, mode):
    return function(mode=mode, **spec)


def _cut_at_inputs(inputs, outputs, updates):
    """A computed variable given as an input cuts the graph there (as in Theano): it is replaced by a fresh
    input of its type, and what it was computed from is no longer needed."""
    cut = {v: v.type(v.name) for v in inputs if v.owner is not None}
    if not cut:
        return inputs, outputs, updates
    replaced = clone_replace(outputs + [u for _, u in updates], cut)
    updates = [(s, u) for (s, _), u in zip(updates, replaced[len(outputs):])]
    return [cut.get(v, v) for v in inputs], replaced[:len(outputs)], updates


def _default_updates(outputs, updates, no_default_updates):
    """Theano's default updates: a shared variable the graph reads that has a ``default_update`` (a random
    stream's state, say) is updated with it unless ``updates`` already updates it, or
    ``no_default_updates`` is True or lists it."""
    if no_default_updates is True:
        return []
    skip = {id(v) for v in (no_default_updates or ())} | {id(s) for s, _ in updates}
    found, frontier = [], outputs + [u for _, u in updates]
    while frontier:
        new = [v for v in graph_inputs(frontier) if isinstance(v, SharedVariable) and id(v) not in skip
               and getattr(v, "default_update", None) is not None]
        for v in new:
            skip.add(id(v))
            found.append((v, v.default_update))
        frontier = [u for _, u in found[len(found) - len(new):]]
    return found


def _normalize_updates(updates):
    if updates is None:
        return []
    pairs = list(updates.items()) if isinstance(updates, dict) else list(updates)
    out, seen = [], set()
    for pair in pairs:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise TypeError(f"updates must be (shared variable, new value) pairs, got {pair!r}")
        s, u = pair
        if not isinstance(s, SharedVariable):
            raise TypeError(f"update target {s!r} is not a shared variable")
        if id(s) in seen:
            raise ValueError(f"shared variable {s} is updated twice")
        seen.add(id(s))
        out.append((s, as_variable(u)))
    return out


def _check_update(s, u):
    if u.dtype != s.dtype:
        raise TypeError(f"update of {s.describe()}: the new value {u.describe()} has dtype {u.dtype}; "
                        f"cast it (T.cast(value, '{s.dtype}')) so the shared variable keeps its type")
    if u.ndim != s.ndim or any(a is not None and b is not None and a != b for a, b in zip(s.type.shape, u.type.shape)):
        raise TypeError(f"update of {s.describe()}: the new value {u.describe()} has a different shape")


def function(inputs, outputs=None, updates=None, givens=None, allow_input_downcast=None,
             on_unused_input="raise", name=None, mode=None, check=None, rewrite=None, no_default_updates=False):
    """Compile ``outputs`` as a function of ``inputs`` (see ``Function``).

    ``check=True`` validates every intermediate's shape and dtype and raises on
    the first NaN/Inf; ``rewrite=False`` runs the graph exactly as built and
    ``rewrite=Rewrites(exclude=[...])`` without the named rules
    (``minigraph.rewrite.list_rules()``).  ``mode``: a name from
    ``minigraph.mode`` (``FAST_RUN``, ``FAST_COMPILE``, ``DebugMode``,
    ``NanGuardMode``, or a backend such as ``NUMPY``), case-insensitive;
    default ``config.mode``.
    """
    chosen = get_mode(mode)
    if check is None and chosen.check:
        check = True
    if rewrite is None and chosen.rewrites is not True and config.optimizer != "None":
        rewrite = chosen.rewrites
    backend = backend_of(chosen)
    build = backend.function or Function  # a backend with its own call path (JAX: device-resident state)
    fn = build(inputs, outputs, updates, givens, allow_input_downcast, on_unused_input, name, check, rewrite,
               no_default_updates)
    lower = backend.lower
    if lower is not None:
        fn.run_program = lower(fn.program)
    fn.mode = chosen
    return fn
