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


@dataclass(frozen=True, eq=False)
class Buffer:
    """An array the generated code allocates for the result of the node at ``pos``: before its first
    writer (every run or step), or once before a loop when ``scratch``."""

    pos: int
    shape: tuple
    dtype: np.dtype
    scratch: bool = False


@dataclass(frozen=True)
class Slot:
    """Row t of the loop's stored array for step output ``output`` (the loop names it)."""

    output: int


@dataclass(frozen=True, eq=False)
class Region:
    """The part ``index`` (a tuple of slices) of another destination: a piece of a join."""

    base: object   # Buffer | Slot | Region
    index: tuple

    @property
    def root(self):
        base = self.base
        while isinstance(base, Region):
            base = base.base
        return base


@dataclass(frozen=True)
class Join:
    """A concatenate whose ``inside`` pieces were computed into their regions of ``dest``: the others
    are copied in (``copies``: (index, variable)), and the join's value is ``dest`` itself."""

    dest: object
    copies: list
    inside: list


@dataclass
class BufferPlan:
    out: dict = field(default_factory=dict)      # node position -> destination passed as out=
    reuse: dict = field(default_factory=dict)    # node position -> dead input passed as out=
    joined: dict = field(default_factory=dict)   # concatenate position -> Join
    before: dict = field(default_factory=dict)   # node position -> Buffers to allocate first
    scratch: list = field(default_factory=list)  # Buffers allocated once, before a loop
    stored: set = field(default_factory=set)     # output positions whose slot the program fills itself


def _per_run_root(dest):
    """The Buffer allocated per run (or per step) that ``dest`` lies in, or None."""
    root = dest.root if isinstance(dest, Region) else dest
    return root if isinstance(root, Buffer) and not root.scratch else None


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
    """The plan for ``nodes``.  ``slots`` (only for the body of a loop): the output positions stored every
    step, each into a row of the output's shape and dtype (a ``Slot``); it turns on scratch buffers."""
    plan = BufferPlan()
    producer = {id(o): (pos, node) for pos, node in enumerate(nodes) for o in node.outputs}
    uses = Counter(id(v) for node in nodes for v in node.inputs) + Counter(id(v) for v in outputs)
    roots = _aliases(nodes)
    dest = {}        # value id -> the destination it is written into
    contiguous = {}  # value id -> True when its destination is C-contiguous
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

    def new_buffer(pos, v):
        return Buffer(pos, tuple(v.type.shape), np.dtype(v.dtype), scratch=step_local(v))

    for i in (slots or ()):  # a slot is a whole row of a C-ordered array: contiguous
        if writable(outputs[i], "contiguous"):
            dest[id(outputs[i])] = Slot(i)
            contiguous[id(outputs[i])] = True
            plan.stored.add(i)
    for pos in reversed(range(len(nodes))):  # outer joins first: an inner join may lie inside an outer one
        join = _plan_join(nodes[pos], pos, dest, contiguous, uses, keep, writable, new_buffer)
        if join is not None:
            plan.joined[pos] = join
    _allocations(plan, nodes, producer, dest)
    for pos, node in enumerate(nodes):
        out = node.outputs[0]
        if pos in plan.joined:
            continue
        if id(out) in dest:
            plan.out[pos] = dest[id(out)]
        elif step_local(out) and writable(out, "contiguous"):
            dest[id(out)] = plan.out[pos] = new_buffer(pos, out)
    plan.scratch = [b for b in {id(d): d for d in _destinations(plan)}.values() if isinstance(b, Buffer) and b.scratch]
    for pos, v in _dead_input_reuse(nodes, last_use, keep | set(dest), roots).items():
        if pos not in plan.out and pos not in plan.joined:
            plan.reuse[pos] = v
    return plan


def _plan_join(node, pos, dest, contiguous, uses, keep, writable, new_buffer):
    """A Join for the concatenate ``node`` when some of its pieces can be computed in place, else None."""
    out = node.outputs[0]
    if not isinstance(node.op, Concatenate) or not _static(out) or any(d != 1 for d in out.type.shape[:node.op.axis]):
        return None
    if not contiguous.get(id(out), id(out) not in dest):  # the join itself goes into a strided slice
        return None
    axis, start, pieces = node.op.axis, 0, []
    for x in node.inputs:
        index = (slice(None),) * axis + (slice(start, start + x.type.shape[axis]),)
        start += x.type.shape[axis]
        pieces.append((x, index, uses[id(x)] == 1 and id(x) not in keep and writable(x, "contiguous")))
    if not any(inside for *_, inside in pieces):
        return None
    if id(out) not in dest:
        dest[id(out)] = new_buffer(pos, out)
    for x, index, inside in pieces:
        if inside:
            dest[id(x)] = Region(dest[id(out)], index)
            contiguous[id(x)] = True
    return Join(dest[id(out)], [(index, x) for x, index, inside in pieces if not inside],
                [x for x, _, inside in pieces if inside])


def _allocations(plan, nodes, producer, dest):
    """Each per-run buffer of a join is allocated right before the first node writing into it."""
    def first_write(pos):
        return min(first_write(p) if p in plan.joined else p
                   for p in (producer[id(x)][0] for x in plan.joined[pos].inside))

    alloc_at = {}
    for pos, join in plan.joined.items():
        root = _per_run_root(join.dest)
        if root is not None:
            alloc_at[id(root)] = (root, min(alloc_at.get(id(root), (None, pos))[1], first_write(pos)))
    for root, pos in alloc_at.values():
        plan.before.setdefault(pos, []).append(root)


def _destinations(plan):
    for d in list(plan.out.values()) + [j.dest for j in plan.joined.values()]:
        yield d.root if isinstance(d, Region) else d


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
