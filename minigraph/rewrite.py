"""Graph rewrites run by ``function`` before scheduling: pure functions ``outputs -> outputs``.

One pass rebuilds the graph bottom-up; on the way every node is merged with an
identical one (same op, same inputs: CSE), constant-folded when it can be, and
offered to the node rules that track its op type.  A rule returns replacement
variables, or says it does not apply (returns None or raises ``NotApplicable``);
replacements go through the same process, so rules compose.  Any other
exception from a rule is a bug and propagates as ``RewriteError`` naming it.

There is one registry (``REGISTRY``).  Each package registers its own rules
where it defines them (``@node_rule(Mul, phase="specialize")``, ``@graph_rule``);
users list them (``list_rules()``) and switch some off by name
(``function(..., rewrite=Rewrites(exclude=["scan_pushout_sequence"]))``).
"""
from dataclasses import dataclass

import numpy as np

from .graph import Constant, TensorType, as_variable
from .ops import basic as b
from .ops import elemwise as e
from .ops import nnet as nn
from .ops import shape as s
from .ops import subtensor as st

FOLD_LIMIT = 1 << 16  # constants larger than this many elements are not folded into the graph

# Node rules run in this order of phases (and, within a phase, in the order they were registered);
# graph rules run "before" or "after" the node rules.
PHASES = ("canonicalize", "stabilize", "specialize", "scan")
GRAPH_PHASES = ("before", "after")


class NotApplicable(Exception):
    """Raised by a rule (or a helper it calls) that does not apply to the node it was given."""


class RewriteError(RuntimeError):
    """A rewrite rule failed: a bug in the rule, reported with its name and the node."""


@dataclass(frozen=True)
class Rule:
    """One registered rewrite.  ``tracks``: the op types a node rule is offered (empty: every node)."""

    name: str
    fn: object
    phase: str
    tracks: tuple = ()
    graph: bool = False   # a whole-graph pass (outputs -> outputs, or None when nothing changed)

    @property
    def doc(self):
        return (self.fn.__doc__ or "").strip().split("\n")[0]


class Registry:
    """All rules, by name, in the order they run."""

    def __init__(self):
        self.rules = {}

    def add(self, rule):
        if rule.name in self.rules:
            raise ValueError(f"a rewrite rule named {rule.name!r} is already registered")
        phases = GRAPH_PHASES if rule.graph else PHASES
        if rule.phase not in phases:
            raise ValueError(f"rule {rule.name}: phase must be one of {phases}, got {rule.phase!r}")
        self.rules[rule.name] = rule
        return rule

    def node_rules(self, enabled):
        ordered = [r for p in PHASES for r in self.rules.values() if not r.graph and r.phase == p]
        return [r for r in ordered if r.name in enabled]

    def graph_rules(self, phase, enabled):
        return [r for r in self.rules.values() if r.graph and r.phase == phase and r.name in enabled]


REGISTRY = Registry()


def node_rule(*tracks, phase="canonicalize", name=None):
    """Register ``fn(node) -> replacements | None`` for nodes whose op is one of ``tracks`` (any if none)."""
    def register(fn):
        REGISTRY.add(Rule(name or fn.__name__, fn, phase, tuple(tracks)))
        return fn
    return register


def graph_rule(phase="after", name=None):
    """Register a whole-graph pass ``fn(outputs) -> new outputs | None`` run before or after the node rules."""
    def register(fn):
        REGISTRY.add(Rule(name or fn.__name__, fn, phase, graph=True))
        return fn
    return register


def list_rules():
    """Every registered rule, in the order rules run (``rule.name``, ``rule.phase``, ``rule.doc``)."""
    graph = [r for r in REGISTRY.rules.values() if r.graph]
    return ([r for r in graph if r.phase == "before"] + REGISTRY.node_rules(set(REGISTRY.rules))
            + [r for r in graph if r.phase == "after"])


class Rewrites:
    """Which rules a compilation runs: all registered ones, minus ``exclude`` (names), or only ``include``.

    ``function(..., rewrite=Rewrites(exclude=["scan_prune"]))``; ``rewrite=False`` runs none.
    Names are checked when the rules run (a package may register its rules after this is built).
    """

    def __init__(self, exclude=(), include=None, phases=None):
        if isinstance(exclude, str) or isinstance(include, str):
            raise TypeError("Rewrites(exclude=..., include=...) take lists of rule names, not a string")
        self.exclude = tuple(exclude)
        self.include = None if include is None else tuple(include)
        self.phases = None if phases is None else tuple(phases)

    def enabled(self):
        """The names of the rules this selection runs."""
        known = set(REGISTRY.rules)
        for n in self.exclude + (self.include or ()):
            if n not in known:
                raise ValueError(f"no rewrite rule named {n!r}; the rules are: {', '.join(sorted(known))}")
        chosen = known if self.include is None else set(self.include)
        if self.phases is not None:
            chosen = {n for n in chosen if REGISTRY.rules[n].phase in self.phases}
        return chosen - set(self.exclude)

    def __repr__(self):
        inc = f", include={list(self.include)}" if self.include is not None else ""
        return f"Rewrites(exclude={list(self.exclude)}{inc})"


ALL = Rewrites()


class Rewriter:
    """Rebuild a graph with merging, folding and the node rules of ``rewrites`` applied."""

    def __init__(self, rewrites=None, frozen=()):
        self.rules = REGISTRY.node_rules((rewrites or ALL).enabled())
        self.by_type = {}  # op type -> the rules tracking it
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

    def _rules_for(self, op_type):
        rules = self.by_type.get(op_type)
        if rules is None:
            rules = self.by_type[op_type] = [r for r in self.rules if not r.tracks or issubclass(op_type, r.tracks)]
        return rules

    def _apply_rules(self, node):
        for rule in self._rules_for(type(node.op)):
            try:
                result = rule.fn(node)
            except NotApplicable:
                continue
            except Exception as exc:
                raise RewriteError(f"rewrite rule {rule.name} failed on {node.op} (built at {node.where()}): "
                                   f"{type(exc).__name__}: {exc}") from exc
            if result is None:
                continue
            result = [as_variable(r) for r in result]
            if any(r.dtype != o.dtype or r.ndim != o.ndim for r, o in zip(result, node.outputs)):
                raise RewriteError(f"rewrite rule {rule.name} changed the type of {node.op}'s outputs "
                                   f"({', '.join(str(o.type) for o in node.outputs)} -> "
                                   f"{', '.join(str(r.type) for r in result)})")
            return [self.get(r) for r in result]
        return None


def rewrite_graph(outputs, rewrites=None):
    """Rewritten copies of ``outputs`` (the originals are untouched), with the rules of ``rewrites``
    (a ``Rewrites``; all rules when None).

    Whole-graph passes (e.g. scan pruning) that change something trigger
    another round of node rules, at most a few times.
    """
    rewrites = rewrites or ALL
    enabled = rewrites.enabled()
    outputs = list(outputs)
    for rule in REGISTRY.graph_rules("before", enabled):
        outputs = rule.fn(outputs)
    outputs = Rewriter(rewrites)(outputs)
    for _ in range(4):
        changed = False
        for rule in REGISTRY.graph_rules("after", enabled):
            new = rule.fn(outputs)
            if new is not None:
                outputs, changed = new, True
        if not changed:
            break
        outputs = Rewriter(rewrites)(outputs)
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

@node_rule(phase="canonicalize")
def fold_constants(node):
    """A node whose inputs are all constants becomes its value (up to FOLD_LIMIT elements)."""
    if not node.op.foldable or not all(isinstance(i, Constant) for i in node.inputs):
        return None
    for o in node.outputs:
        if None in o.type.shape or int(np.prod(o.type.shape, dtype=np.int64)) > FOLD_LIMIT:
            return None
    with np.errstate(all="ignore"):
        vals = node.op.make_thunk(node)(*[i.data for i in node.inputs])
    vals = [vals] if len(node.outputs) == 1 else list(vals)
    return [Constant(o.type, np.asarray(v).astype(o.dtype)) for o, v in zip(node.outputs, vals)]


@node_rule(b.Shape, b.ShapeI, phase="canonicalize")
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


@node_rule(phase="canonicalize")
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


@node_rule(e.Pow, phase="specialize")
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


@node_rule(b.SumToShape, phase="canonicalize")
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


@node_rule(s.DimShuffle, phase="canonicalize")
def merge_dimshuffles(node):
    """dimshuffle(dimshuffle(x)) -> one dimshuffle (or x itself when they cancel)."""
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


@node_rule(s.Reshape, phase="canonicalize")
def merge_reshapes(node):
    """reshape(reshape(x, s1), s2) -> reshape(x, s2)."""
    if isinstance(node.op, s.Reshape) and _owner_op(node.inputs[0], s.Reshape):
        return [s.Reshape()(node.inputs[0].owner.inputs[0], node.inputs[1])]
    return None


@node_rule(e.Log, phase="stabilize")
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


@node_rule(e.Mul, phase="specialize")
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


@node_rule(e.Add, phase="specialize")
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


__all__ = ["rewrite_graph", "node_rule", "graph_rule", "list_rules", "Rewrites", "Rewriter", "NotApplicable",
           "RewriteError", "REGISTRY", "count_nodes"]
