"""Where each node of a program writes its result, so that the generated code allocates less.

Four ways, each used only where the graph proves it safe:

* **dead inputs**: an elementwise result goes into the buffer of an input that is read for the last
  time, is a fresh array (no view of it is alive) and has exactly the result's shape and dtype;
* **loop slots**: in a scan loop, a step output that is stored every step is computed straight into
  its row of the stored array (``Y[t]``) instead of being copied there;
* **scratch buffers**: in a scan loop, a value that lives only within one step (it is no step output
  and no step output can be a view of it) gets one buffer for the whole loop, as a hand-written loop
  would preallocate it;
* **slices of a concatenation**: the pieces of a ``concatenate`` whose only reader it is are computed
  straight into their slice of its result, so the join copies nothing -- where that slice is one
  contiguous block (numpy's loops into strided outputs measured up to 2x slower than writing a
  fresh array and copying it).

An op takes part by saying (``Op.writes_into``) whether its thunk accepts ``out=``.
"""
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .ops.elemwise import Elemwise, fits_inside
from .ops.shape import Concatenate


@dataclass
class BufferPlan:
    out: dict = field(default_factory=dict)      # node position -> expression passed as out=
    reuse: dict = field(default_factory=dict)    # node position -> dead input passed as out=
    joined: dict = field(default_factory=dict)   # concatenate position -> (buffer, pieces to copy, pieces in place)
    before: dict = field(default_factory=dict)   # node position -> names of buffers to allocate first
    scratch: list = field(default_factory=list)  # names of buffers allocated once, before a loop
    env: dict = field(default_factory=dict)      # values those expressions use
    stored: set = field(default_factory=set)     # output positions whose slot the program fills itself


def _static(v):
    return v.ndim > 0 and None not in v.type.shape


def _aliases(nodes):
    """value id -> ids of the fresh arrays it may share memory with.  A fresh op's output is its own
    array; the output of any other op may view any of its inputs, and whatever they view."""
    roots = {}
    for node in nodes:
        fresh = getattr(node.op, "fresh", False)
        for o in node.outputs:
            roots[id(o)] = {id(o)} if fresh else set().union(*(roots.get(id(v), ()) for v in node.inputs))
    return roots


def plan_buffers(nodes, outputs, keep, last_use, slots=None):
    """The plan for ``nodes``.  ``slots`` (only for the body of a loop) maps output positions to slot
    expressions (``Y3[t]``) of the output's shape and dtype, and turns on scratch buffers."""
    plan = BufferPlan()
    producer = {id(o): (pos, node) for pos, node in enumerate(nodes) for o in node.outputs}
    uses = Counter(id(v) for node in nodes for v in node.inputs) + Counter(id(v) for v in outputs)
    roots = _aliases(nodes)
    dest = {}        # value id -> (expression it is written into, per-step buffer it lies in or None)
    contiguous = {}  # value id -> True when its destination is C-contiguous
    alloc_at = {}    # per-step buffer -> position of the first node writing into it
    in_loop = slots is not None
    viewed_by_kept = set().union(*(roots.get(k, ()) for k in keep))

    def writable(v, layout):
        """v is made here by a single-output node that can write it into a buffer of that layout."""
        if id(v) not in producer or id(v) in dest or not _static(v):
            return False
        _, node = producer[id(v)]
        how = node.op.writes_into(node) if len(node.outputs) == 1 else None
        return how == "any" or how == layout

    def step_local(v):
        """v lives only within one step of the loop: it may get a buffer for the whole loop."""
        return in_loop and id(v) not in keep and id(v) not in viewed_by_kept and roots.get(id(v)) == {id(v)}

    def first_write(pos):
        """Position of the first node writing into the result of the join at ``pos``."""
        return min(first_write(p) if p in plan.joined else p
                   for p in (producer[id(x)][0] for x in plan.joined[pos][2]))

    for i, expr in (slots or {}).items():  # a slot is a whole row of a C-ordered array: contiguous
        if writable(outputs[i], "contiguous"):
            dest[id(outputs[i])] = (expr, None)
            contiguous[id(outputs[i])] = True
            plan.stored.add(i)
    for pos in reversed(range(len(nodes))):  # outer joins first: an inner join may lie inside an outer one
        node = nodes[pos]
        out = node.outputs[0]
        if not isinstance(node.op, Concatenate) or not _static(out) or any(d != 1 for d in out.type.shape[:node.op.axis]):
            continue
        if not contiguous.get(id(out), id(out) not in dest):  # the join itself goes into a strided slice
            continue
        axis, start, pieces = node.op.axis, 0, []
        for k, x in enumerate(node.inputs):
            plan.env[f"_ix{pos}_{k}"] = (slice(None),) * axis + (slice(start, start + x.type.shape[axis]),)
            start += x.type.shape[axis]
            pieces.append((x, f"_ix{pos}_{k}", uses[id(x)] == 1 and id(x) not in keep and writable(x, "contiguous")))
        if not any(inside for *_, inside in pieces):
            continue
        if id(out) not in dest:
            name = f"b{pos}"
            plan.env[f"_shape{pos}"] = (tuple(out.type.shape), np.dtype(out.dtype))
            if step_local(out):
                plan.scratch.append(name)
                dest[id(out)] = (name, None)
            else:
                dest[id(out)] = (name, name)
        buf, root = dest[id(out)]
        for x, name, inside in pieces:
            if inside:
                dest[id(x)] = (f"{buf}[{name}]", root)
                contiguous[id(x)] = True
        plan.joined[pos] = (buf, [(name, x) for x, name, inside in pieces if not inside],
                            [x for x, _, inside in pieces if inside])
    for pos in plan.joined:
        root = dest[id(nodes[pos].outputs[0])][1]
        if root is not None:
            alloc_at[root] = min(alloc_at.get(root, pos), first_write(pos))
    for root, pos in alloc_at.items():
        plan.before.setdefault(pos, []).append(root)
    for pos, node in enumerate(nodes):
        out = node.outputs[0]
        if pos in plan.joined:
            continue
        if id(out) in dest:
            plan.out[pos] = dest[id(out)][0]
        elif step_local(out) and writable(out, "contiguous"):
            name = f"b{pos}"
            plan.env[f"_shape{pos}"] = (tuple(out.type.shape), np.dtype(out.dtype))
            plan.scratch.append(name)
            dest[id(out)] = (name, None)
            plan.out[pos] = name
    if alloc_at or plan.scratch:
        plan.env["_empty"] = np.empty
    for pos, v in _dead_input_reuse(nodes, last_use, keep | set(dest), roots).items():
        if pos not in plan.out and pos not in plan.joined:
            plan.reuse[pos] = v
    return plan


def _dead_input_reuse(nodes, last_use, keep, roots):
    """{position: input} for elementwise nodes that can write their result into a dead input's buffer.

    The input must be a fresh array (made by an op that never returns a view of its inputs), read for
    the last time by this node, not kept, with the result's dtype and exactly the result's shape (every
    other input fits inside it), and no view of it may be read later.  Only numpy ufuncs qualify: they
    handle an output that is also an input.
    """
    views = {}  # fresh id -> values that may view it
    for i, rs in roots.items():
        for r in rs:
            if r != i:
                views.setdefault(r, []).append(i)
    end, reuse = len(nodes), {}
    for pos, node in enumerate(nodes):
        out = node.outputs[0]
        if not (isinstance(node.op, Elemwise) and node.op.fresh and len(node.outputs) == 1 and out.ndim
                and isinstance(node.op.make_thunk(node), np.ufunc)):
            continue
        for v in dict.fromkeys(node.inputs):
            if (roots.get(id(v)) == {id(v)} and last_use.get(id(v)) == pos and id(v) not in keep
                    and v.dtype == out.dtype and v.type.shape == out.type.shape
                    and all(fits_inside(w, v) for w in node.inputs if w is not v)
                    and not any((end if w in keep else last_use.get(w, -1)) > pos for w in views.get(id(v), ()))):
                reuse[pos] = v
                break
    return reuse
