"""Graph rewrites run by ``function`` before scheduling: pure functions ``outputs -> outputs``.

One pass rebuilds the graph bottom-up; on the way every node is merged with an
identical one (same op, same inputs: CSE), constant-folded when it can be, and
offered to the local rules below.  A rule returns replacement variables or
None; replacements go through the same process, so rules compose.
"""
import numpy as np

from .graph import Constant, TensorType, as_variable
from .ops import basic as b
from .ops import elemwise as e
from .ops import nnet as nn
from .ops import shape as s
from .ops import subtensor as st

FOLD_LIMIT = 1 << 16  # constants larger than this many elements are not folded into the graph

LOCAL_RULES = []


def local_rule(fn):
    """Register ``fn(node) -> list of replacement variables | None`` as a rewrite rule."""
    LOCAL_RULES.append(fn)
    return fn


class Rewriter:
    """Rebuild a graph with merging, folding and local rules applied."""

    def __init__(self, rules=None, frozen=()):
        self.rules = LOCAL_RULES if rules is None else rules
        self.canon = {id(v): v for v in frozen}  # frozen variables are kept exactly as they are
        self.merged = {}
        self.consts = {}
        # canon is keyed by id(): every keyed object is kept alive here, or a freed variable's
        # id could be reused by a new one and hit a stale entry.
        self.alive = []

    def __call__(self, outputs):
        return [self.get(v) for v in outputs]

    def get(self, var):
        """The canonical (rewritten) version of ``var``, processing any nodes not seen yet."""
        hit = self.canon.get(id(var))
        if hit is not None:
            return hit
        if isinstance(var, Constant):
            return self._constant(var)
        if var.owner is None:
            return var
        stack = [(var.owner, False)]
        while stack:
            node, expanded = stack.pop()
            if id(node.outputs[0]) in self.canon:
                continue
            if expanded:
                self._visit(node)
                continue
            stack.append((node, True))
            for i in reversed(node.inputs):
                if i.owner is not None and id(i) not in self.canon:
                    stack.append((i.owner, False))
        return self.canon[id(var)]

    def _constant(self, c):
        key = c.signature()
        canon = self.consts.setdefault(key, c)
        self.alive.append(c)
        self.canon[id(c)] = canon
        return canon

    def _visit(self, node):
        ins = [self.get(v) for v in node.inputs]
        if all(a is b_ for a, b_ in zip(ins, node.inputs)):
            new = node
        else:
            new = node.op.make_node(*ins)
            new.tag.trace, new.tag.grad_of = node.tag.trace, node.tag.grad_of
            for o_old, o_new in zip(node.outputs, new.outputs):
                o_new.name = o_old.name
        self.alive.append((node, new))
        key = (new.op, tuple(map(id, new.inputs)))
        try:
            hash(key)
        except TypeError:
            key = None
        outs = None
        if key is not None and key in self.merged:
            outs = self.merged[key].outputs
        else:
            outs = self._apply_rules(new)
            if outs is None:
                outs = new.outputs
                if key is not None:
                    self.merged[key] = new
        for o_old, o_new, o_made in zip(node.outputs, outs, new.outputs):
            if o_old.name and not o_new.name:
                o_new.name = o_old.name
            self.canon[id(o_old)] = o_new
            self.canon[id(o_made)] = o_new
            self.canon.setdefault(id(o_new), o_new)

    def _apply_rules(self, node):
        for rule in self.rules:
            try:
                result = rule(node)
            except Exception:  # noqa: BLE001 - a rule that cannot apply leaves the node alone
                result = None
            if result is None:
                continue
            result = [as_variable(r) for r in result]
            if any(r.dtype != o.dtype or r.ndim != o.ndim for r, o in zip(result, node.outputs)):
                continue  # a rule must never change a type
            return [self.get(r) for r in result]
        return None


PRE_PASSES = []   # whole-graph passes before the local rules: outputs -> outputs
POST_PASSES = []  # whole-graph passes after them: outputs -> new outputs, or None when nothing changed


def rewrite_graph(outputs, rules=None):
    """Rewritten copies of ``outputs`` (the originals are untouched).

    Whole-graph passes (e.g. scan pruning) that change something trigger
    another round of local rules, at most a few times.
    """
    outputs = list(outputs)
    for p in PRE_PASSES:
        outputs = p(outputs)
    outputs = Rewriter(rules)(outputs)
    for _ in range(4):
        changed = False
        for p in POST_PASSES:
            new = p(outputs)
            if new is not None:
                outputs, changed = new, True
        if not changed:
            break
        outputs = Rewriter(rules)(outputs)
    return outputs


# --------------------------------------------------------------------------- helpers

def _const_value(v):
    return v.data if isinstance(v, Constant) else None


def _is_const(v, value):
    d = _const_value(v)
    if d is None or d.size == 0:
        return False
    return d.item() == value if d.size == 1 else bool(np.all(d == value))  # (the scalar case is hot)


def _same_type(a, b_):
    return a.type == b_.type


def _owner_op(v, cls):
    return v.owner is not None and isinstance(v.owner.op, cls)


# --------------------------------------------------------------------------- rules

@local_rule
def fold_constants(node):
    if not node.op.foldable or not all(isinstance(i, Constant) for i in node.inputs):
        return None
    for o in node.outputs:
        if None in o.type.shape or int(np.prod(o.type.shape, dtype=np.int64)) > FOLD_LIMIT:
            return None
    with np.errstate(all="ignore"):
        vals = node.op.make_thunk(node)(*[i.data for i in node.inputs])
    vals = [vals] if len(node.outputs) == 1 else list(vals)
    return [Constant(o.type, np.asarray(v).astype(o.dtype)) for o, v in zip(node.outputs, vals)]


@local_rule
def static_shapes(node):
    """shape(x) and x.shape[i] become constants where the static type knows them."""
    if isinstance(node.op, b.Shape):
        shape = node.inputs[0].type.shape
        if None not in shape:
            return [Constant(node.outputs[0].type, np.array(shape, dtype=np.int64))]
    if isinstance(node.op, b.ShapeI):
        dim = node.inputs[0].type.shape[node.op.i]
        if dim is not None:
            return [Constant(TensorType("int64", ()), dim)]
    return None


_NEUTRAL = {e.Mul: (1, True), e.Add: (0, True), e.Sub: (0, False), e.TrueDiv: (1, False), e.Pow: (1, False)}


@local_rule
def remove_identities(node):
    """x*1, x+0, x-0, x/1, x**1, --x, exp(log x), log(exp x), identity, cast to own dtype,
    gradient-only ops, reshape/alloc/sum_to_shape that change nothing."""
    op, ins, out = node.op, node.inputs, node.outputs[0]
    if isinstance(op, (e.Identity, b.GradTransform)):
        return [ins[0]]
    if isinstance(op, b.SpecifyShape) and _same_type(ins[0], out):
        return [ins[0]]
    if isinstance(op, b.Cast) and ins[0].dtype == op.dtype:
        return [ins[0]]
    kind = _NEUTRAL.get(type(op))
    if kind is not None:
        value, commutes = kind
        if _is_const(ins[1], value) and _same_type(ins[0], out):
            return [ins[0]]
        if commutes and _is_const(ins[0], value) and _same_type(ins[1], out):
            return [ins[1]]
    if isinstance(op, e.Neg) and _owner_op(ins[0], e.Neg):
        return [ins[0].owner.inputs[0]]
    if isinstance(op, e.Exp) and _owner_op(ins[0], e.Log) and _same_type(ins[0].owner.inputs[0], out):
        return [ins[0].owner.inputs[0]]
    if isinstance(op, e.Log) and _owner_op(ins[0], e.Exp) and _same_type(ins[0].owner.inputs[0], out):
        return [ins[0].owner.inputs[0]]
    if isinstance(op, (s.Reshape, b.Alloc, b.SumToShape)) and _same_type(ins[0], out) and None not in out.type.shape:
        return [ins[0]]
    if isinstance(op, b.SumToShape) and _owner_op(ins[1], b.Shape) and ins[1].owner.inputs[0] is ins[0]:
        return [ins[0]]
    return None


@local_rule
def specialize_powers(node):
    """x**2 -> sqr(x), x**0.5 -> sqrt(x), x**-1 -> 1/x: one cheap ufunc instead of the general power."""
    if not isinstance(node.op, e.Pow) or _const_value(node.inputs[1]) is None or node.inputs[1].type.ndim:
        return None
    x, out = node.inputs[0], node.outputs[0]
    if x.type != out.type:
        return None
    k = _const_value(node.inputs[1]).item()
    if k == 2:
        return [e.Sqr()(x)]
    if k == 0.5 and out.type.is_float:
        return [e.Sqrt()(x)]
    if k == -1 and out.type.is_float:
        return [e.TrueDiv()(np.ones((), x.dtype), x)]
    return None


@local_rule
def sum_to_shape_of_same_shape(node):
    """sum_to_shape(g, shape(x)) is g when g provably has x's shape (computed from x without broadcasting)."""
    if not isinstance(node.op, b.SumToShape) or not _owner_op(node.inputs[1], b.Shape):
        return None
    g, like = node.inputs[0], node.inputs[1].owner.inputs[0]
    if g.type.shape == like.type.shape and _provably_same_shape(g, like):
        return [g]
    return None


def _provably_same_shape(a, b_, depth=6):
    """True when ``a`` provably has the run-time shape of ``b_`` (built from it without broadcasting)."""
    if a is b_:
        return True
    if depth == 0 or a.owner is None or a.type.shape != b_.type.shape:
        return False
    op, ins = a.owner.op, a.owner.inputs
    if isinstance(op, (e.Elemwise, b.GradTransform, b.Cast)):
        same = [_provably_same_shape(i, b_, depth - 1) for i in ins]
        return any(same) and all(ok or _fits_inside(i, b_) for ok, i in zip(same, ins))
    if isinstance(op, (b.SumToShape, b.Alloc)) and _owner_op(ins[1], b.Shape):
        return _provably_same_shape(ins[1].owner.inputs[0], b_, depth - 1)
    return False


_fits_inside = e.fits_inside


@local_rule
def merge_dimshuffles(node):
    if not isinstance(node.op, s.DimShuffle):
        return None
    x = node.inputs[0]
    pattern = node.op.pattern
    if pattern == tuple(range(x.ndim)):
        return [x]
    if _owner_op(x, s.DimShuffle):
        inner = x.owner.op.pattern
        composed = tuple("x" if p == "x" else inner[p] for p in pattern)
        base = x.owner.inputs[0]
        if composed == tuple(range(base.ndim)):
            return [base]
        return [s.DimShuffle(composed)(base)]
    return None


@local_rule
def merge_reshapes(node):
    if isinstance(node.op, s.Reshape) and _owner_op(node.inputs[0], s.Reshape):
        return [s.Reshape()(node.inputs[0].owner.inputs[0], node.inputs[1])]
    return None


@local_rule
def stable_logs(node):
    """log(softmax x) -> log_softmax x; log(sigmoid x) -> -softplus(-x); log(1 - sigmoid x) -> -softplus(x)."""
    if not isinstance(node.op, e.Log):
        return None
    (x,) = node.inputs
    if _owner_op(x, nn.Softmax):
        return [nn.LogSoftmax(x.owner.op.axis)(x.owner.inputs[0])]
    if _owner_op(x, e.Sigmoid):
        return [-e.Softplus()(-x.owner.inputs[0])]
    if _owner_op(x, e.Sub) and _is_const(x.owner.inputs[0], 1) and _owner_op(x.owner.inputs[1], e.Sigmoid):
        z = x.owner.inputs[1].owner.inputs[0]
        if z.type == node.outputs[0].type:
            return [-e.Softplus()(z)]
    return None


@local_rule
def fuse_activation_grads(node):
    """g * (1 - y*y) (or y**2, sqr(y)) with y = tanh(.) becomes tanh_grad(y, g); g * (y * (1 - y)) and
    (g * y) * (1 - y) with y = sigmoid(.) become sigmoid_grad(y, g).  (minigraph's own pullbacks emit the
    fused ops directly; this catches hand-written gradients.)"""
    if not isinstance(node.op, e.Mul):
        return None
    for g, f in (node.inputs, node.inputs[::-1]):
        if _owner_op(f, e.Sub) and _is_const(f.owner.inputs[0], 1):
            sq = f.owner.inputs[1]
            y = None
            if _owner_op(sq, e.Mul) and sq.owner.inputs[0] is sq.owner.inputs[1]:
                y = sq.owner.inputs[0]
            elif _owner_op(sq, e.Sqr) or (_owner_op(sq, e.Pow) and _is_const(sq.owner.inputs[1], 2)):
                y = sq.owner.inputs[0]
            if y is not None and _owner_op(y, e.Tanh):
                return [e.TanhGrad()(y, g)]
            if _owner_op(sq, e.Sigmoid) and _owner_op(g, e.Mul) and any(v is sq for v in g.owner.inputs):
                a, c = g.owner.inputs  # (g' * y) * (1 - y)
                return [e.SigmoidGrad()(sq, c if a is sq else a)]
        if _owner_op(f, e.Mul):
            a, c = f.owner.inputs
            for y, one_minus in ((a, c), (c, a)):
                if (_owner_op(y, e.Sigmoid) and _owner_op(one_minus, e.Sub)
                        and _is_const(one_minus.owner.inputs[0], 1) and one_minus.owner.inputs[1] is y):
                    return [e.SigmoidGrad()(y, g)]
    return None


@local_rule
def join_disjoint_increments(node):
    """inc_subtensor(zeros, g0)[:, 0:n0] + ... + inc_subtensor(zeros, gk)[:, a:b] that tile an axis
    -> concatenate([g0, ..., gk]).  This is how the gradient of slicing a fused gate matrix into its
    gates comes back together: one copy instead of k zero-filled buffers and k-1 additions."""
    if not isinstance(node.op, e.Add):
        return None
    pieces = _slice_pieces(node.outputs[0])
    if pieces is None:
        return None
    axis, size, parts = pieces
    parts = sorted(parts, key=lambda p: p[0])
    if parts[0][0] != 0 or parts[-1][1] != size or any(a[1] != b_[0] for a, b_ in zip(parts, parts[1:])):
        return None
    ys = [y for _, _, y in parts]
    if any(y.ndim != node.outputs[0].ndim for y in ys):
        return None
    return [s.Concatenate(axis)(*ys)]


def _slice_pieces(v):
    """(axis, axis length, [(start, stop, value)]) when ``v`` is a sum of increments of zeros on
    constant slices of one axis with static length; else None."""
    if v.owner is None:
        return None
    op, ins = v.owner.op, v.owner.inputs
    if isinstance(op, e.Add):
        a, c = _slice_pieces(ins[0]), _slice_pieces(ins[1])
        if a is None or c is None or a[:2] != c[:2] or ins[0].type != ins[1].type:
            return None
        return a[0], a[1], a[2] + c[2]
    if not (isinstance(op, st.IncSubtensor) and not op.set and len(ins) == 2 and _is_zeros(ins[0])):
        return None
    spec = op.spec
    axis = len(spec) - 1
    if any(entry != ("s", None, None, None) for entry in spec[:-1]) or spec[-1][0] != "s":
        return None
    start, stop, step = spec[-1][1:]
    size = v.type.shape[axis]
    if size is None or step not in (None, 1) or "?" in (start, stop):
        return None
    start, stop, _ = slice(start, stop).indices(size)
    return axis, size, [(start, stop, ins[1])]


def _is_zeros(v):
    return (_is_const(v, 0) or (_owner_op(v, b.Alloc) and _is_const(v.owner.inputs[0], 0)))


def count_nodes(outputs):
    """Number of Apply nodes needed for ``outputs`` (used to show that rewrites shrink graphs)."""
    from .graph import toposort
    return len(toposort(outputs if isinstance(outputs, (list, tuple)) else [outputs]))


from . import scan_rewrites  # noqa: E402,F401  (registers the scan rules)

__all__ = ["rewrite_graph", "local_rule", "Rewriter", "count_nodes", "LOCAL_RULES"]
