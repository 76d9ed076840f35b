"""Where each node of a program writes its result, so that the generated code allocates less.

Three ways, each used only where the graph proves it safe:

* **dead inputs**: an elementwise result goes into the buffer of an input that is read for the last
  time, is a fresh array (no view of it is alive) and has exactly the result's shape and dtype;
* **loop slots**: in a scan loop, a step output that is stored every step is computed straight into
  its row of the stored array (``Y[t]``) instead of being copied there;
* **slices of a concatenation**: the pieces of a ``concatenate`` whose only reader it is are computed
  straight into their slice of its result, so the join copies nothing.

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
    env: dict = field(default_factory=dict)      # values those expressions use
    stored: set = field(default_factory=set)     # output positions whose slot the program fills itself


def _static(v):
    return v.ndim > 0 and None not in v.type.shape


def plan_buffers(nodes, outputs, keep, last_use, slots=None):
    """The plan for ``nodes``; ``slots`` maps output positions to slot expressions (a loop's ``Y3[t]``)
    of the output's shape and dtype."""
    plan = BufferPlan()
    producer = {id(o): (pos, node) for pos, node in enumerate(nodes) for o in node.outputs}
    uses = Counter(id(v) for node in nodes for v in node.inputs) + Counter(id(v) for v in outputs)
    dest = {}      # value id -> (expression it is written into, allocated buffer it lies in or None)
    contiguous = {}  # value id -> True when its destination is C-contiguous
    alloc_at = {}  # allocated buffer -> position of the first node writing into it

    def writable(v, layout):
        """v is made here by a single-output node that can write it into a buffer of that layout."""
        if id(v) not in producer or id(v) in dest or not _static(v):
            return False
        _, node = producer[id(v)]
        how = node.op.writes_into(node) if len(node.outputs) == 1 else None
        return how == "any" or how == layout

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
        # Only a slice that is one contiguous block is worth writing into: numpy's loops into strided
        # outputs measured up to 2x slower than writing a fresh array and copying it.
        if not isinstance(node.op, Concatenate) or not _static(out) or not contiguous.get(id(out), id(out) not in dest) \
                or any(d != 1 for d in out.type.shape[:node.op.axis]):
            continue
        axis, start, pieces = node.op.axis, 0, []
        for k, x in enumerate(node.inputs):
            plan.env[f"_ix{pos}_{k}"] = (slice(None),) * axis + (slice(start, start + x.type.shape[axis]),)
            start += x.type.shape[axis]
            pieces.append((x, f"_ix{pos}_{k}", uses[id(x)] == 1 and id(x) not in keep and writable(x, "contiguous")))
        if not any(inside for *_, inside in pieces):
            continue
        if id(out) not in dest:
            dest[id(out)] = (f"b{pos}", f"b{pos}")
            plan.env[f"_shape{pos}"] = (tuple(out.type.shape), np.dtype(out.dtype))
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
    if alloc_at:
        plan.env["_empty"] = np.empty
    for pos, node in enumerate(nodes):
        if pos not in plan.joined and id(node.outputs[0]) in dest:
            plan.out[pos] = dest[id(node.outputs[0])][0]
    for pos, v in _dead_input_reuse(nodes, last_use, keep | set(dest)).items():
        if pos not in plan.out and pos not in plan.joined:
            plan.reuse[pos] = v
    return plan


def _dead_input_reuse(nodes, last_use, keep):
    """{position: input} for elementwise nodes that can write their result into a dead input's buffer.

    The input must be a fresh array (made by an op that never returns a view of its inputs), read for
    the last time by this node, not kept, with the result's dtype and exactly the result's shape (every
    other input fits inside it), and no view of it may be read later.  The output of an op not known
    to be fresh counts as a possible view of all its inputs.  Only numpy ufuncs qualify: they handle an
    output that is also an input.
    """
    fresh, reuse = set(), {}
    roots, views = {}, {}  # value id -> fresh arrays it may view; fresh id -> values that may view it
    end = len(nodes)

    def live_after(i, pos):
        return (end if i in keep else last_use.get(i, -1)) > pos

    for pos, node in enumerate(nodes):
        out = node.outputs[0]
        if isinstance(node.op, Elemwise) and node.op.fresh and len(node.outputs) == 1 and out.ndim \
                and isinstance(node.op.make_thunk(node), np.ufunc):
            for v in dict.fromkeys(node.inputs):
                if (id(v) in fresh and last_use.get(id(v)) == pos and id(v) not in keep
                        and v.dtype == out.dtype and v.type.shape == out.type.shape
                        and all(fits_inside(w, v) for w in node.inputs if w is not v)
                        and not any(live_after(w, pos) for w in views.get(id(v), ()))):
                    reuse[pos] = v
                    break
        for o in node.outputs:
            if getattr(node.op, "fresh", False):
                fresh.add(id(o))
                continue
            # o may view any of its inputs, and whatever they view
            roots[id(o)] = set().union(*({id(v)} if id(v) in fresh else roots.get(id(v), ()) for v in node.inputs))
            for r in roots[id(o)]:
                views.setdefault(r, []).append(id(o))
    return reuse
