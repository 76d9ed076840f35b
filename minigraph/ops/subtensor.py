"""Indexing: ``x[...]`` with ints, slices (steps, negative bounds), None, Ellipsis and
integer arrays, plus ``set_subtensor`` / ``inc_subtensor``.

An index is stored in the op as a tuple of entries; constant ints stay in the
entry, symbolic ones become inputs ('?'):

* ``('i', k)`` an integer, ``('s', start, stop, step)`` a slice,
* ``('a',)`` an integer array (always an input), ``('n',)`` a new axis.
"""
import operator

import numpy as np

from ..graph import Apply, Constant, Op, TensorType, Variable, as_variable, op
from .elemwise import ShapeError, T, broadcast_static

SYM = "?"


def _is_int_like(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def parse_index(x, index):
    """Split a Python index into (spec, symbolic inputs); validates against x's type."""
    if not isinstance(index, tuple):
        index = (index,)
    n_real = sum(1 for e in index if e is not None and e is not Ellipsis)
    if sum(e is Ellipsis for e in index) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    expanded = []
    for e in index:
        if e is Ellipsis:
            expanded.extend([slice(None)] * (x.ndim - n_real))
        else:
            expanded.append(e)
    spec, inputs = [], []

    def scalar(v, what):
        if v is None or _is_int_like(v):
            return None if v is None else int(v)
        v = as_variable(v)
        if isinstance(v, Constant) and v.ndim == 0 and v.data.dtype.kind in "iu":
            return int(v.data)
        if v.ndim != 0 or np.dtype(v.dtype).kind not in "iu":
            raise IndexError(f"{what} of an index into {x.describe()} must be an integer scalar, got {v.describe()}")
        inputs.append(v)
        return SYM

    for e in expanded:
        if e is None:
            spec.append(("n",))
        elif isinstance(e, slice):
            spec.append(("s", scalar(e.start, "slice start"), scalar(e.stop, "slice stop"), scalar(e.step, "slice step")))
            if spec[-1][3] == 0:
                raise IndexError("slice step cannot be zero")
        elif _is_int_like(e) or (isinstance(e, Variable) and e.ndim == 0):
            spec.append(("i", scalar(e, "an integer")))
        else:
            arr = as_variable(e)
            if np.dtype(arr.dtype).kind == "b":
                raise IndexError(f"boolean mask indexing of {x.describe()} gives a data-dependent shape; "
                                 "use T.switch (where) or integer indices instead")
            if np.dtype(arr.dtype).kind not in "iu":
                raise IndexError(f"array index into {x.describe()} must be integer, got {arr.describe()}")
            inputs.append(arr)
            spec.append(("a",))
    if sum(1 for s in spec if s[0] != "n") > x.ndim:
        raise IndexError(f"too many indices for {x.describe()}: {len(spec)} given")
    return tuple(spec), inputs


def indexed_shape(x, spec, inputs):
    """Static shape of x[spec]; raises IndexError for constant out-of-range integers."""
    it = iter(inputs)
    out, adv_shapes, adv_pos, axis = [], [], [], 0
    has_array = any(e[0] == "a" for e in spec)
    for entry in spec:
        kind = entry[0]
        if kind == "n":
            out.append(1)
            continue
        dim = x.type.shape[axis]
        if kind == "i":
            k = entry[1]
            if k == SYM:
                next(it)
            elif dim is not None and not -dim <= k < dim:
                raise IndexError(f"index {k} is out of bounds for axis {axis} of {x.describe()}")
            if has_array:  # numpy treats an integer next to array indices as a 0-d advanced index
                adv_pos.append(len(out))
                out.append("ADV")
        elif kind == "s":
            bounds = [next(it) if b == SYM else b for b in entry[1:]]
            if dim is not None and not any(isinstance(b, Variable) for b in bounds):
                out.append(len(range(*slice(*bounds).indices(dim))))
            elif entry[1:] == (None, None, None):
                out.append(dim)
            else:
                out.append(None)
        else:
            adv_shapes.append(next(it))
            adv_pos.append(len(out))
            out.append("ADV")
        axis += 1
    out.extend(x.type.shape[axis:])
    if not adv_shapes:
        return tuple(out)
    bshape = list(broadcast_static(adv_shapes, "advanced index"))
    contiguous = all(b - a == 1 for a, b in zip(adv_pos, adv_pos[1:]))
    rest = [s for s in out if s != "ADV"]
    if contiguous:
        return tuple(rest[:adv_pos[0]] + bshape + rest[adv_pos[0]:])
    return tuple(bshape + rest)


def _index_builder(spec):
    """A function from the symbolic index values to a numpy index tuple (specialised once per node)."""
    parts = []
    for entry in spec:
        kind = entry[0]
        if kind == "n":
            parts.append(lambda it: None)
        elif kind == "i":
            k = entry[1]
            parts.append((lambda it: int(next(it))) if k == SYM else (lambda it, k=k: k))
        elif kind == "a":
            parts.append(lambda it: next(it))
        else:
            b = entry[1:]
            if SYM not in b:
                parts.append(lambda it, s=slice(*b): s)
            else:
                parts.append(lambda it, b=b: slice(*[int(next(it)) if v == SYM else v for v in b]))
    if all(e[0] in "ns" and SYM not in e for e in spec) or all(e[0] != "a" and SYM not in e[1:] for e in spec):
        fixed = tuple(p(iter(())) for p in parts)
        return lambda vals: fixed
    return lambda vals: tuple(p(it) for it in [iter(vals)] for p in parts)


def _jax_index(op, x, vals):
    """The index of ``op.spec`` for a jax array: slice bounds must be static (known when traced); integer
    indices may be traced.  Static integers out of range raise IndexError as numpy would (jax would clamp)."""
    from .basic import static_values
    it, index, axis = iter(vals), [], 0
    for entry in op.spec:
        kind = entry[0]
        if kind == "n":
            index.append(None)
            continue
        if kind == "s":
            index.append(slice(*[int(static_values([next(it)], op)[0]) if b == SYM else b for b in entry[1:]]))
        elif kind == "a":
            index.append(next(it))
        else:
            k = next(it) if entry[1] == SYM else entry[1]
            if isinstance(k, (int, np.integer, np.ndarray)) and not -x.shape[axis] <= int(k) < x.shape[axis]:
                raise IndexError(f"index {int(k)} is out of bounds for axis {axis} with size {x.shape[axis]}")
            index.append(k)
        axis += 1
    return tuple(index)


def _is_int(e):
    return not isinstance(e, slice) and e is not None and getattr(e, "ndim", 0) == 0


def _update_box(x, index, y, replace):
    """``x`` with the box ``x[index]`` (integers and step-1 slices) set to, or incremented by, ``y``: one
    dynamic-update-slice (a scatter here would be slower, and XLA's CPU compiler aborts on the reversal
    of a scatter that covers the whole array)."""
    import jax.numpy as jnp
    from jax import lax
    starts, sizes = [], []
    for axis, dim in enumerate(x.shape):
        e = index[axis] if axis < len(index) else slice(None)
        if isinstance(e, slice):
            start, stop, _ = e.indices(dim)
            starts.append(start)
            sizes.append(max(stop - start, 0))
        else:
            starts.append(jnp.where(e < 0, e + dim, e))
            sizes.append(1)
    region = x[index]
    new = jnp.broadcast_to(y, region.shape) if replace else region + y
    return lax.dynamic_update_slice(x, new.reshape(sizes).astype(x.dtype), starts)


def _forward_steps(index, shape, y):
    """``x.at[index]`` with every negative-step slice made a positive-step one (``y`` flipped to match):
    the same elements get the same values, and XLA's CPU compiler aborts on the reversed index arrays
    that jax builds for negative steps."""
    if not any(isinstance(e, slice) and e.step is not None and e.step < 0 for e in index):
        return index, y
    out, axis, region = [], 0, 0  # region: the axis of the indexed region this entry gives
    region_ndim = sum(1 for e in index if e is None or isinstance(e, slice)) + len(shape) - sum(
        1 for e in index if e is not None)
    for e in index:
        if e is None:
            out.append(e)
            region += 1
            continue
        if isinstance(e, slice) and e.step is not None and e.step < 0:
            r = range(*e.indices(shape[axis]))
            e = slice(r[-1], r[0] + 1, -e.step) if len(r) else slice(0, 0)
            k = region - (region_ndim - y.ndim)  # the axis of y that broadcasts against this one
            if len(r) and k >= 0 and y.shape[k] != 1:
                y = y[(slice(None),) * k + (slice(None, None, -1),)]
        if isinstance(e, slice):
            region += 1
        out.append(e)
        axis += 1
    return tuple(out), y


def _spec_str(spec, sym=None):
    """The index as Python source; ``sym``: an iterator of the names standing for symbolic slice bounds
    (else they print as ``?``)."""
    out = []
    for e in spec:
        if sym is not None and e[0] == "s":
            e = e[:1] + tuple(next(sym) if v == SYM else v for v in e[1:])
        if e[0] == "n":
            out.append("None")
        elif e[0] == "a":
            out.append("[]")
        elif e[0] == "i":
            out.append(str(e[1]))
        else:
            s = ":".join("" if v is None else str(v) for v in e[1:3])
            out.append(s + ("" if e[3] is None else f":{e[3]}"))
    return ", ".join(out)


@op
class Subtensor(Op):
    """``x[index]``: basic and integer-array indexing with numpy semantics."""

    spec: tuple

    def make_node(self, x, *index_inputs):
        x = as_variable(x)
        index_inputs = [as_variable(v) for v in index_inputs]
        shape = indexed_shape(x, self.spec, index_inputs)
        return Apply(self, [x, *index_inputs], [TensorType(x.dtype, shape)])

    def make_thunk(self, node):
        if len(node.inputs) == 1 and node.inputs[0].ndim > 0:  # constant index: one C-level getitem per call
            return operator.itemgetter(_index_builder(self.spec)(()))
        build = _index_builder(self.spec)
        return lambda x, *vals: np.asarray(x)[build(vals)]

    def perform(self, x, *vals):
        return np.asarray(x)[_index_builder(self.spec)(vals)]

    def lower_numba(self, node):  # basic indices, symbolic only as slice bounds (numba clips those): a view
        from ..lowering import Lowering
        if node.inputs[0].ndim == 0 or any(e[0] == "a" or (e[0] == "i" and e[1] == SYM) for e in self.spec):
            return None
        names = iter([f"{{{k}}}" for k in range(1, len(node.inputs))])
        return Lowering("view", "{0}[" + (_spec_str(self.spec, names) or "()") + "]")

    def lower_jax(self, node):
        return lambda x, *vals: x[_jax_index(self, x, vals)]

    def pullback(self, inputs, outputs, gz):
        x, *idx = inputs
        return [IncSubtensor(self.spec, False)(T.zeros_like(x), gz[0], *idx)] + [None] * len(idx)

    def __str__(self):
        return f"subtensor[{_spec_str(self.spec)}]"


@op
class IncSubtensor(Op):
    """A copy of x with x[index] set to (or incremented by) y; repeated array indices accumulate."""

    spec: tuple
    set: bool
    broadcasts = True

    def make_node(self, x, y, *index_inputs):
        x, y = as_variable(x), as_variable(y)
        index_inputs = [as_variable(v) for v in index_inputs]
        sub = TensorType(x.dtype, indexed_shape(x, self.spec, index_inputs))()
        if y.ndim > sub.ndim:
            raise ShapeError(f"{self}: value {y.describe()} has more dimensions than the indexed region "
                             f"of {x.describe()} ({sub.type.shape})")
        broadcast_static([sub, y], str(self))
        return Apply(self, [x, y, *index_inputs], [x.type])

    def make_thunk(self, node):
        build = _index_builder(self.spec)
        has_array = any(e[0] == "a" for e in self.spec)

        def run(x, y, *vals):
            out = np.array(x, copy=True)
            idx = build(vals)
            if self.set:
                out[idx] = y
            elif has_array:
                np.add.at(out, idx, y)  # unbuffered: x[[0, 0]] += 1 adds twice
            else:
                out[idx] += y
            return out
        return run

    def perform(self, x, y, *vals):
        return self.make_thunk(None)(x, y, *vals)

    def lower_jax(self, node):
        def run(x, y, *vals):
            import jax.numpy as jnp
            x = jnp.asarray(x)
            index, y = _forward_steps(_jax_index(self, x, vals), x.shape, jnp.asarray(y, x.dtype))
            if all(isinstance(e, slice) and e.step in (None, 1) or _is_int(e) for e in index):
                return _update_box(x, index, y, self.set)  # a box: no scatter
            at = x.at[index]
            return at.set(y) if self.set else at.add(y)
        return run

    def pullback(self, inputs, outputs, gz):
        x, y, *idx = inputs
        g = gz[0]
        gx = IncSubtensor(self.spec, True)(g, T.zeros_like(y), *idx) if self.set else g
        gy = Subtensor(self.spec)(g, *idx)
        if self.set and any(e[0] == "a" for e in self.spec):
            gy = gy * _kept_writes(self.spec, x, gy, idx)
        return [gx, gy] + [None] * len(idx)

    def __str__(self):
        return f"{'set' if self.set else 'inc'}_subtensor[{_spec_str(self.spec)}]"


def _kept_writes(spec, x, region, idx):
    """Mask over x[idx]: True where set_subtensor's write survives.  With repeated array indices only one
    write per position lands (numpy keeps the last), so only that entry of y gets a gradient."""
    shape = T.shape(region)
    ids = T.reshape(T.arange(T.prod(shape)), shape)
    owner = IncSubtensor(spec, True)(T.zeros_like(x, dtype="int64"), ids, *idx)
    return T.eq(Subtensor(spec)(owner, *idx), ids)
