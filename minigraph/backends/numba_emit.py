"""Source of the numba functions: a run of scheduled nodes as nopython Python lines.

Each node is lowered by its op (``lower_numba``, a ``Lowering``).  Values live as arrays, or as
scalars when they are 0-d.  Elementwise nodes whose result only one elementwise node reads are
inlined into it, so a chain becomes one expression: with static shapes (``loops``) one explicit
loop nest over the data writing into a buffer allocated once (before a scan loop, not per step),
else one numba array expression (which numba compiles into one loop).  Matrix products call BLAS
through ``np.dot``, into a preallocated buffer where shapes are static; views are views; a join is
written piece by piece into its buffer.
"""
import numpy as np

from ..graph import Constant

_EXP_LIMIT = {"float32": "np.float32(88.0)", "float64": "np.float64(709.0)"}
MAX_FUSED = 24  # elementwise nodes fused into one expression at most (numba's compile time grows with it)
SUPPORTED_DTYPES = ("float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                    "uint64", "bool")


def lowering_of(node):
    """The node's ``Lowering``, or None when its op has none for it (or a dtype numba cannot take)."""
    lower = getattr(node.op, "lower_numba", None)
    if lower is None or any(v.dtype not in SUPPORTED_DTYPES for v in node.inputs + node.outputs):
        return None
    return lower(node)


def literal(value, dtype):
    """A nopython literal of ``value`` in ``dtype`` (so it never upcasts its partners)."""
    if dtype == "bool":
        return repr(bool(value))
    if np.dtype(dtype).kind in "iu":
        return f"np.{dtype}({int(value)})"
    x = float(value)
    text = repr(x) if np.isfinite(x) else ("np.nan" if np.isnan(x) else ("np.inf" if x > 0 else "-np.inf"))
    return f"np.{dtype}({text})"


def fill(template, args, dtype):
    """A template with its inputs and the dtype's named constants filled in."""
    return template.format(*args, one=literal(1, dtype), zero=literal(0, dtype),
                           exp_limit=_EXP_LIMIT.get(dtype, "np.inf"), dt=f"np.{dtype}")


def static(v):
    return None not in v.type.shape


class Emitter:
    """Lines of one nopython function computing ``nodes`` (every one of which has a lowering).

    ``names`` maps the ids of the values available on entry to their names; ``needed`` holds the
    ids of values read after these nodes (never inlined); ``loops``: every shape is static.
    After ``emit()``: ``setup`` (allocations, hoisted out of any loop), ``body``, ``consts``
    (array constants, passed in as arguments) and ``names`` for every value computed.
    """

    def __init__(self, nodes, names, needed, loops):
        self.nodes, self.names, self.needed, self.loops = nodes, dict(names), set(needed), loops
        self.lowerings = {id(n): lowering_of(n) for n in nodes}
        self.setup, self.body, self.consts = [], [], []
        self.producer = {id(o): n for n in nodes for o in n.outputs}
        self.inlined = set()

    def emit(self):
        uses = {}
        readers = {}
        for node in self.nodes:
            for v in dict.fromkeys(node.inputs):
                uses[id(v)] = uses.get(id(v), 0) + 1
                readers[id(v)] = node
        depth = {}  # nodes inlined into the expression each value is computed by
        for node in self.nodes:
            out = node.outputs[0]
            reader = readers.get(id(out))
            here = 1 + sum(depth.get(id(v), 0) for v in node.inputs if id(v) in self.inlined)
            if (self._kind(node) == "elemwise" and uses.get(id(out)) == 1 and id(out) not in self.needed
                    and self._kind(reader) == "elemwise" and here < MAX_FUSED
                    and (not self.loops or reader.outputs[0].type.shape == out.type.shape)):
                self.inlined.add(id(out))
                depth[id(out)] = here
        for pos, node in enumerate(self.nodes):
            if id(node.outputs[0]) not in self.inlined:
                self._statement(pos, node)
        return self

    def _kind(self, node):
        low = self.lowerings.get(id(node)) if node is not None else None
        return low.kind if low is not None else None

    def name_of(self, v):
        if id(v) not in self.names:
            if not isinstance(v, Constant):
                raise KeyError(f"numba backend: {v.describe()} is not available here")
            name = f"k{len(self.consts)}"
            self.consts.append((name, v))
            self.names[id(v)] = name
        return self.names[id(v)]

    def ref(self, v, shape):
        """The expression of ``v`` read at the loop indices of an output of ``shape`` (loops), or whole."""
        if id(v) in self.inlined:
            return self._expr(self.producer[id(v)], shape)
        if isinstance(v, Constant) and v.ndim == 0:
            return literal(v.data, v.dtype)
        name = self.name_of(v)
        if not self.loops or v.ndim == 0:
            return name
        lead = len(shape) - v.ndim
        index = ["0" if s == 1 else _index(shape, lead + k) for k, s in enumerate(v.type.shape)]
        return f"{name}[{', '.join(index)}]"

    def _expr(self, node, shape):
        low = self.lowerings[id(node)]
        scalar_ctx = self.loops or node.outputs[0].ndim == 0
        template = low.scalar if (scalar_ctx and low.scalar) else low.template
        return fill(template, [self.ref(v, shape) for v in node.inputs], node.outputs[0].dtype)

    def _buffer(self, pos, out):
        name = f"b{pos}"
        dims = ", ".join(str(s) for s in out.type.shape)
        self.setup.append(f"{name} = np.empty(({dims},), np.{out.dtype})")
        return name

    def _statement(self, pos, node):
        low, out = self.lowerings[id(node)], node.outputs[0]
        kind, result = low.kind, f"v{pos}"
        ins = [] if kind == "elemwise" else [self.ref(v, ()) if v.ndim == 0 else self.name_of(v) for v in node.inputs]
        if kind == "elemwise" and self.loops and out.ndim:
            result = self._buffer(pos, out)
            shape = out.type.shape
            self._loop_nest(shape, f"{result}[{', '.join(_index(shape, k) for k in range(out.ndim))}]",
                            self._expr(node, shape))
        elif kind == "elemwise":
            self.body.append(f"{result} = {self._expr(node, out.type.shape)}")
        elif kind == "dot" and self.loops and out.ndim:
            result = self._buffer(pos, out)
            self.body.append(f"np.dot({ins[0]}, {ins[1]}, {result})")
        elif kind == "concat" and self.loops:
            result = self._buffer(pos, out)
            start = 0
            for v, name in zip(node.inputs, ins):
                stop = start + v.type.shape[low.axis]
                index = [":"] * low.axis + [f"{start}:{stop}"] + [":"] * (out.ndim - low.axis - 1)
                self.body.append(f"{result}[{', '.join(index)}] = {name}")
                start = stop
        elif kind == "concat":
            self.body.append(f"{result} = np.concatenate(({', '.join(ins)},), axis={low.axis})")
        else:  # view, expr, and dot without a static 2-D result
            self.body.append(f"{result} = {fill(low.template, ins, out.dtype)}")
        self.names[id(out)] = result

    def _loop_nest(self, shape, target, expr):
        """One loop per axis longer than 1 (an axis of length 1 is indexed 0)."""
        depth = 0
        for k, s in enumerate(shape):
            if s != 1:
                self.body.append("    " * depth + f"for i{k} in range({s}):")
                depth += 1
        self.body.append("    " * depth + f"{target} = {expr}")


def _index(shape, axis):
    """The loop index of ``axis`` of an output of ``shape`` (0 where the axis has length 1)."""
    return "0" if shape[axis] == 1 else f"i{axis}"
