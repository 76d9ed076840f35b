"""Elementwise ops: numpy broadcasting, dtype promotion and one pullback each.

Every op here is a subclass of ``Elemwise`` naming its numpy function and its
gradient.  The grad driver sums each input's gradient back to that input's
shape (``broadcasts = True``), so no rule below deals with broadcasting.
"""
import numpy as np

from ..config import config
from ..graph import Apply, Constant, Op, TensorType, as_variable, op


class ShapeError(ValueError):
    """Shapes that cannot work together, found while building the graph."""


def broadcast_static(inputs, opname):
    """Static output shape of broadcasting ``inputs``; raises ShapeError naming them when impossible."""
    shapes = [v.type.shape for v in inputs if v.ndim]
    if not shapes or all(s == shapes[0] for s in shapes):  # the common case: scalars and one shape
        return shapes[0] if shapes else ()
    ndim = max(v.ndim for v in inputs)
    shapes = [(1,) * (ndim - v.ndim) + v.type.shape for v in inputs]
    out = []
    for axis in range(ndim):
        dims = [s[axis] for s in shapes]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            desc = ", ".join(f"{v.describe()}" for v in inputs)
            raise ShapeError(f"{opname}: shapes cannot be broadcast together on axis {axis} "
                             f"(sizes {sorted(known)}): {desc}")
        if known:
            out.append(known.pop())
        elif all(d == 1 for d in dims):
            out.append(1)
        else:
            out.append(None)
    return tuple(out)


def fits_inside(v, ref):
    """``v`` broadcasts against ``ref`` without enlarging it: each of its axes is 1 or ref's known size."""
    if v.ndim > ref.ndim:
        return False
    tail = ref.type.shape[ref.ndim - v.ndim:]
    return all(s == 1 or (s is not None and s == r) for s, r in zip(v.type.shape, tail))


_KINDS = {}     # dtype name -> numpy kind character
_PROBED = {}    # (elementwise op, input dtypes) -> dtype numpy computes
_PROMOTED = {}  # (floatX, (dtype, weak) per input) -> result dtype; graphs ask the same few questions


def _kind(dtype):
    k = _KINDS.get(dtype)
    if k is None:
        k = _KINDS[dtype] = np.dtype(dtype).kind
    return k


def _promote(inputs):
    """Result dtype of combining ``inputs``; weak (Python-number) constants do not upcast tensors."""
    key = (config.floatX, tuple((v.dtype, getattr(v, "weak", False)) for v in inputs))
    dtype = _PROMOTED.get(key)
    if dtype is None:
        dtype = _PROMOTED[key] = _promote_uncached(inputs)
    return dtype


def _promote_uncached(inputs):
    strong = [v.dtype for v in inputs if not getattr(v, "weak", False)]
    weak = [v.dtype for v in inputs if getattr(v, "weak", False)]
    if not strong:
        return np.result_type(*weak).name
    dtype = np.result_type(*strong)
    weak_kinds = {np.dtype(d).kind for d in weak}
    if "f" in weak_kinds and dtype.kind in "biu":
        return config.floatX
    if "i" in weak_kinds and dtype.kind == "b":
        return "int64"
    return dtype.name


# Theano's ``upgrade_to_float``: the float an integer input becomes in exp, log, sin, ...: small integers
# fit float32 exactly, larger ones need float64 (whatever floatX says).
UPGRADE_TO_FLOAT = {"bool": "float32", "int8": "float32", "uint8": "float32", "int16": "float32",
                    "uint16": "float32", "int32": "float64", "uint32": "float64", "int64": "float64",
                    "uint64": "float64"}


@op
class Elemwise(Op):
    """Base of elementwise ops.  Subclasses set ``fn`` (numpy) and ``kind``: 'same' (result of
    promotion), 'float' (integers upgraded as Theano does: int8/int16 -> float32, int32/int64 ->
    float64), 'floatX' (integers become floatX, like Theano's true division) or 'bool'."""

    broadcasts = True
    fresh = True
    kind = "same"
    fn = None

    def output_dtype(self, dtype):
        if self.kind == "bool":
            return "bool"
        if self.kind == "float" and _kind(dtype) in "biu":
            return UPGRADE_TO_FLOAT[dtype]
        if self.kind == "floatX" and _kind(dtype) in "biu":
            return config.floatX
        return dtype

    def make_node(self, *inputs):
        inputs = [as_variable(x) for x in inputs]
        in_dtype = _promote(inputs)
        # A weak constant takes the dtype its partners settled on, so numpy never upcasts at run time.
        inputs = [Constant(TensorType(in_dtype, v.type.shape), v.data) if getattr(v, "weak", False)
                  and _kind(in_dtype) in "fc" else v for v in inputs]
        shape = broadcast_static(inputs, str(self))
        return Apply(self, inputs, [TensorType(self.output_dtype(in_dtype), shape)])

    def make_thunk(self, node):
        # the numpy function itself when the op does not override perform: no Python frame per call
        fn = type(self).fn if type(self).perform is Elemwise.perform else self.perform
        want = np.dtype(node.outputs[0].dtype)
        key = (self, tuple(v.dtype for v in node.inputs))
        got = _PROBED.get(key)
        if got is None:  # what numpy returns for these input dtypes (one probe per op and dtypes)
            probe = [np.ones((1,), dtype=v.dtype) for v in node.inputs]
            with np.errstate(all="ignore"):
                got = _PROBED[key] = np.asarray(fn(*probe)).dtype
        if got == want:
            return fn
        if self.kind in ("float", "floatX") and any(_kind(v.dtype) in "biu" for v in node.inputs):
            # compute in the output's float (numpy would pick float16 for int8 and round there)
            return lambda *args: np.asarray(fn(*[np.asarray(a, dtype=want) for a in args])).astype(want, copy=False)
        return lambda *args: np.asarray(fn(*args)).astype(want, copy=False)

    def writes_into(self, node):
        thunk = self.make_thunk(node)
        return "any" if self.fresh and (isinstance(thunk, np.ufunc) or getattr(thunk, "takes_out", False)) else None

    def perform(self, *inputs):
        return type(self).fn(*inputs)

    def lower_numba(self, node):
        """The numba template from ``_NUMBA`` below, where every input has the output's dtype."""
        from ..lowering import Lowering
        tpl = _NUMBA.get(type(self))
        args = node.inputs[1:] if isinstance(self, Switch) else node.inputs
        want = node.outputs[0].dtype if self.kind != "bool" else args[0].dtype
        if tpl is None or any(v.dtype != want for v in args):
            return None
        return Lowering("elemwise", *tpl) if isinstance(tpl, tuple) else Lowering("elemwise", tpl)
    def lower_jax(self, node):
        rule = _JAX.get(type(self))
        return None if rule is None else _jax_elemwise(rule, node.inputs, node)


def _elemwise(name, fn, kind="same", doc=""):
    """Define an elementwise op class from a numpy function; its pullback is attached below."""
    cls = type(name, (Elemwise,), {"fn": staticmethod(fn), "kind": kind, "__doc__": doc,
                                    "__str__": lambda self: name.lower()})
    cls.__module__ = __name__
    return op(cls)


def _no_grad(self, inputs, outputs, gz):
    return [None] * len(inputs)


def _zero_grad(self, inputs, outputs, gz):
    """Piecewise-constant ops (floor, sign, ...): connected, with a zero gradient, as in Theano."""
    return [T.zeros_like(i) if np.dtype(i.dtype).kind in "fc" else None for i in inputs]


_EXP_LIMIT = {}  # float dtype -> largest argument exp takes without overflowing


def _takes_out(fn):
    """Mark a forward function that accepts ``out=`` (an array not aliasing its inputs)."""
    fn.takes_out = True
    return fn


@_takes_out
def _sigmoid(x, out=None):
    # 1 / (1 + exp(-x)) keeps full relative precision in both tails (sigmoid(-700) is right to 1e-14
    # relative in float64, where 0.5 + 0.5 tanh(x/2) rounds everything below x = -40 to 0).  Only exp(-x)
    # can overflow; clipping -x at log(max) first costs one cheap pass and keeps numpy from warning, and
    # changes the result only where it is below the smallest normal number.  Five in-place passes over
    # one fresh buffer: measured 3.8-6x faster than the old tanh form with a separate tail fix-up.
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(UPGRADE_TO_FLOAT[x.dtype.name])
    if x.dtype == np.float16:  # exp overflows float16 from x = -11: compute in float32, round once
        y = _sigmoid(x.astype(np.float32)).astype(np.float16)
        return y if out is None else np.copyto(out, y) or out
    limit = _EXP_LIMIT.get(x.dtype)
    if limit is None:
        limit = _EXP_LIMIT[x.dtype] = x.dtype.type(np.floor(np.log(np.finfo(x.dtype).max)))
    if x.ndim == 0:
        return x.dtype.type(1) / (1 + np.exp(min(-x, limit)))
    t = np.negative(x, out=out)
    np.minimum(t, limit, out=t)
    np.exp(t, out=t)
    t += 1
    return np.reciprocal(t, out=t)


def _round_half_away(x):
    x = np.asarray(x)
    return np.copysign(np.floor(np.abs(x) + 0.5), x) if x.dtype.kind == "f" else x


def _relu(x):
    return np.maximum(x, 0)


# ---- arithmetic
Add = _elemwise("Add", np.add, doc="a + b")
Sub = _elemwise("Sub", np.subtract, doc="a - b")
Mul = _elemwise("Mul", np.multiply, doc="a * b")
TrueDiv = _elemwise("TrueDiv", np.true_divide, "floatX", "a / b (ints give floatX)")
FloorDiv = _elemwise("FloorDiv", np.floor_divide, doc="a // b")
Mod = _elemwise("Mod", np.mod, doc="a % b (sign of b, like Python)")
Pow = _elemwise("Pow", np.power, doc="a ** b")
Maximum = _elemwise("Maximum", np.maximum)
Minimum = _elemwise("Minimum", np.minimum)
Neg = _elemwise("Neg", np.negative)
Abs = _elemwise("Abs", np.abs)
Sign = _elemwise("Sign", np.sign)
Floor = _elemwise("Floor", np.floor, "float")
Ceil = _elemwise("Ceil", np.ceil, "float")
Trunc = _elemwise("Trunc", np.trunc, "float", "round towards zero")
Round = _elemwise("Round", np.round, doc="round half to even, like numpy (Theano's round_half_to_even)")
RoundHalfAwayFromZero = _elemwise("RoundHalfAwayFromZero", _round_half_away, doc="round half away from zero (Theano's default round), like C's round()")
Conj = _elemwise("Conj", np.conj, doc="complex conjugate (the identity on reals)")
Sqr = _elemwise("Sqr", np.square)
Identity = _elemwise("Identity", lambda x: x)
Identity.fresh = False  # returns its input
# ---- transcendental
Exp = _elemwise("Exp", np.exp, "float")
Log = _elemwise("Log", np.log, "float")
Log1p = _elemwise("Log1p", np.log1p, "float")
Expm1 = _elemwise("Expm1", np.expm1, "float")
Sqrt = _elemwise("Sqrt", np.sqrt, "float")
Sin = _elemwise("Sin", np.sin, "float")
Cos = _elemwise("Cos", np.cos, "float")
Tanh = _elemwise("Tanh", np.tanh, "float")
Sigmoid = _elemwise("Sigmoid", _sigmoid, "float", "1 / (1 + exp(-x)), computed stably")
Softplus = _elemwise("Softplus", lambda x: np.logaddexp(0, x), "float", "log(1 + exp(x)), stable for large |x|")
Relu = _elemwise("Relu", _relu)
Tan = _elemwise("Tan", np.tan, "float")
ArcSin = _elemwise("ArcSin", np.arcsin, "float")
ArcCos = _elemwise("ArcCos", np.arccos, "float")
ArcTan = _elemwise("ArcTan", np.arctan, "float")
ArcTan2 = _elemwise("ArcTan2", np.arctan2, "float", "arctan2(y, x): the angle of the point (x, y)")
Sinh = _elemwise("Sinh", np.sinh, "float")
Cosh = _elemwise("Cosh", np.cosh, "float")
ArcSinh = _elemwise("ArcSinh", np.arcsinh, "float")
ArcCosh = _elemwise("ArcCosh", np.arccosh, "float")
ArcTanh = _elemwise("ArcTanh", np.arctanh, "float")
Log2 = _elemwise("Log2", np.log2, "float")
Log10 = _elemwise("Log10", np.log10, "float")
Exp2 = _elemwise("Exp2", np.exp2, "float")
Deg2Rad = _elemwise("Deg2Rad", np.deg2rad, "float")
Rad2Deg = _elemwise("Rad2Deg", np.rad2deg, "float")
# ---- comparison and logic (no gradient: their outputs are boolean)
Lt = _elemwise("Lt", np.less, "bool")
Le = _elemwise("Le", np.less_equal, "bool")
Gt = _elemwise("Gt", np.greater, "bool")
Ge = _elemwise("Ge", np.greater_equal, "bool")
Eq = _elemwise("Eq", np.equal, "bool")
Neq = _elemwise("Neq", np.not_equal, "bool")
And = _elemwise("And", np.bitwise_and)
Or = _elemwise("Or", np.bitwise_or)
Xor = _elemwise("Xor", np.bitwise_xor)
Invert = _elemwise("Invert", np.invert)
IsNan = _elemwise("IsNan", np.isnan, "bool")
IsInf = _elemwise("IsInf", np.isinf, "bool")


def _where(c, a, b):
    return np.where(c, a, b)


@op
class Switch(Elemwise):
    """switch(cond, a, b): a where cond is true, else b (numpy.where)."""

    fn = staticmethod(_where)

    def make_node(self, cond, a, b):
        cond, a, b = as_variable(cond), as_variable(a), as_variable(b)
        node = Elemwise.make_node(self, cond, a, b)
        dtype = _promote([a, b])
        node.outputs[0].type = TensorType(dtype, node.outputs[0].type.shape)
        return node

    def __str__(self):
        return "switch"

    def lower_jax(self, node):
        where = _JAX[Switch]
        return lambda c, a, b: _jax_elemwise(where, node.inputs[1:], node)(a, b, cond=c)

    def pullback(self, inputs, outputs, gz):
        c = inputs[0]
        zero = T.zeros_like(gz[0])
        return [None, switch(c, gz[0], zero), switch(c, zero, gz[0])]


@op
class Clip(Elemwise):
    """clip(x, lo, hi) = minimum(maximum(x, lo), hi), as numpy computes it (hi wins when lo > hi).

    The gradient goes to whichever operand the output equals: x where lo <= x <= hi, lo where x < lo <= hi,
    hi where max(x, lo) > hi.  When a bound is x itself (clip(x, 0, x)) the contributions add up, so the
    gradient is 1 wherever the output is x."""

    fn = staticmethod(np.clip)

    def __str__(self):
        return "clip"

    def pullback(self, inputs, outputs, gz):
        x, lo, hi = inputs
        g = gz[0]
        inside = T.and_(T.ge(x, lo), T.le(x, hi))
        return [g * inside, g * T.and_(T.lt(x, lo), T.le(lo, hi)), g * T.gt(T.maximum(x, lo), hi)]


@op
class TanhGrad(Elemwise):
    """g * (1 - y*y): the tanh pullback in terms of the forward output y."""

    @_takes_out
    def perform(self, y, g, out=None):
        # g - (g*y)*y: three passes, the first into a fresh array that the other two reuse
        r = np.multiply(g, y, out=out)
        if type(r) is not np.ndarray:
            return g - r * y
        np.multiply(r, y, out=r)
        return np.subtract(g, r, out=r)

    def __str__(self):
        return "tanh_grad"

    def pullback(self, inputs, outputs, gz):
        y, g = inputs
        return [-2.0 * y * g * gz[0], TanhGrad()(y, gz[0])]


@op
class SigmoidGrad(Elemwise):
    """g * y * (1 - y): the sigmoid pullback in terms of the forward output y."""

    @_takes_out
    def perform(self, y, g, out=None):
        # (1 - y) * y * g: three passes over one buffer, no temporary
        t = np.subtract(1, y, out=out)
        if type(t) is not np.ndarray:
            return t * y * g
        np.multiply(t, y, out=t)
        return np.multiply(t, g, out=t if out is not None or t.shape == np.shape(g) else None)

    def __str__(self):
        return "sigmoid_grad"

    def pullback(self, inputs, outputs, gz):
        y, g = inputs
        return [g * (1.0 - 2.0 * y) * gz[0], SigmoidGrad()(y, gz[0])]


class _TensorAPI:
    """The tensor API that gradient rules build their graphs with.  Ops sit below minigraph.tensor and never
    import it; minigraph.tensor binds itself here when it is imported (``bind``)."""

    module = None

    def bind(self, module):
        type(self).module = module

    def __getattr__(self, name):
        return getattr(self.module, name)


T = _TensorAPI()


def switch(c, a, b):
    return Switch()(c, a, b)


# ---- gradients: each one line, next to its math.
_RULES = {
    Add: lambda i, o, g: [g, g],
    Sub: lambda i, o, g: [g, -g],
    Mul: lambda i, o, g: [g * i[1], g * i[0]],
    TrueDiv: lambda i, o, g: [g / i[1], -g * o / i[1]],            # d(a/b)/db = -a/b^2 = -out/b
    Mod: lambda i, o, g: [g, -g * T.floor_div(i[0], i[1])],         # a % b = a - b*floor(a/b)
    Pow: lambda i, o, g: [g * i[1] * T.pow(i[0], i[1] - 1), _pow_exponent_grad(i, o, g)],
    Maximum: lambda i, o, g: [g * T.ge(i[0], i[1]), g * T.lt(i[0], i[1])],
    Minimum: lambda i, o, g: [g * T.le(i[0], i[1]), g * T.gt(i[0], i[1])],
    Neg: lambda i, o, g: [-g],
    Abs: lambda i, o, g: [g * T.sign(i[0])],
    Sqr: lambda i, o, g: [g * 2.0 * i[0]],
    Identity: lambda i, o, g: [g],
    Exp: lambda i, o, g: [g * o],
    Log: lambda i, o, g: [g / i[0]],
    Log1p: lambda i, o, g: [g / (i[0] + 1.0)],
    Expm1: lambda i, o, g: [g * (o + 1.0)],
    Sqrt: lambda i, o, g: [g * 0.5 / o],
    Sin: lambda i, o, g: [g * T.cos(i[0])],
    Cos: lambda i, o, g: [-g * T.sin(i[0])],
    Tanh: lambda i, o, g: [TanhGrad()(o, g)],
    Sigmoid: lambda i, o, g: [SigmoidGrad()(o, g)],
    Softplus: lambda i, o, g: [g * T.sigmoid(i[0])],
    Relu: lambda i, o, g: [g * T.gt(i[0], 0)],
    Tan: lambda i, o, g: [g * (1.0 + T.sqr(o))],
    ArcSin: lambda i, o, g: [g / T.sqrt(1.0 - T.sqr(i[0]))],
    ArcCos: lambda i, o, g: [-g / T.sqrt(1.0 - T.sqr(i[0]))],
    ArcTan: lambda i, o, g: [g / (1.0 + T.sqr(i[0]))],
    ArcTan2: lambda i, o, g: [g * i[1] / (T.sqr(i[0]) + T.sqr(i[1])), -g * i[0] / (T.sqr(i[0]) + T.sqr(i[1]))],
    Sinh: lambda i, o, g: [g * T.cosh(i[0])],
    Cosh: lambda i, o, g: [g * T.sinh(i[0])],
    ArcSinh: lambda i, o, g: [g / T.sqrt(T.sqr(i[0]) + 1.0)],
    ArcCosh: lambda i, o, g: [g / T.sqrt(T.sqr(i[0]) - 1.0)],
    ArcTanh: lambda i, o, g: [g / (1.0 - T.sqr(i[0]))],
    Log2: lambda i, o, g: [g / (i[0] * float(np.log(2.0)))],
    Log10: lambda i, o, g: [g / (i[0] * float(np.log(10.0)))],
    Exp2: lambda i, o, g: [g * o * float(np.log(2.0))],
    Deg2Rad: lambda i, o, g: [g * float(np.pi / 180.0)],
    Rad2Deg: lambda i, o, g: [g * float(180.0 / np.pi)],
    Conj: lambda i, o, g: [T.conj(g)],
}


# numba lowerings (minigraph.backends.numba): one expression each, valid on arrays and scalars, or
# (on arrays, on scalars); exp and tanh on scalars (in the generated loops) call the vectorisable
# versions of minigraph.backends.numba_math, rounded to the op's dtype
_NUMBA = {
    Add: "({0} + {1})", Sub: "({0} - {1})", Mul: "({0} * {1})", TrueDiv: "({0} / {1})",
    Maximum: "np.maximum({0}, {1})", Minimum: "np.minimum({0}, {1})", Neg: "(-{0})", Abs: "np.abs({0})",
    Sign: "np.sign({0})", Floor: "np.floor({0})", Ceil: "np.ceil({0})", Sqr: "({0} * {0})", Identity: "{0}",
    Exp: ("np.exp({0})", "{dt}(mg_exp({0}))"), Log: "np.log({0})", Log1p: "np.log1p({0})", Expm1: "np.expm1({0})",
    Sqrt: "np.sqrt({0})", Sin: "np.sin({0})", Cos: "np.cos({0})", Tanh: ("np.tanh({0})", "{dt}(mg_tanh({0}))"),
    Sigmoid: ("({one} / ({one} + np.exp(np.minimum(-{0}, {exp_limit}))))",
              "({one} / ({one} + {dt}(mg_exp(np.minimum(-{0}, {exp_limit})))))"),
    Softplus: "np.logaddexp({zero}, {0})", Relu: "np.maximum({0}, {zero})",
    Lt: "({0} < {1})", Le: "({0} <= {1})", Gt: "({0} > {1})", Ge: "({0} >= {1})", Eq: "({0} == {1})",
    Neq: "({0} != {1})", IsNan: "np.isnan({0})", IsInf: "np.isinf({0})",
    Switch: ("np.where({0}, {1}, {2})", "({1} if {0} else {2})"),
    Clip: "np.minimum(np.maximum({0}, {1}), {2})",
    TanhGrad: "({1} - ({1} * {0}) * {0})",
    SigmoidGrad: "((({one} - {0}) * {0}) * {1})",
    Trunc: "np.trunc({0})", Tan: "np.tan({0})", ArcSin: "np.arcsin({0})", ArcCos: "np.arccos({0})",
    ArcTan: "np.arctan({0})", ArcTan2: "np.arctan2({0}, {1})", Sinh: "np.sinh({0})", Cosh: "np.cosh({0})",
    ArcSinh: "np.arcsinh({0})", ArcCosh: "np.arccosh({0})", ArcTanh: "np.arctanh({0})", Log2: "np.log2({0})",
    Log10: "np.log10({0})", Exp2: "np.exp2({0})", Deg2Rad: "np.deg2rad({0})", Rad2Deg: "np.rad2deg({0})",
}


def _pow_exponent_grad(i, o, g):
    """d(x ** y)/dy = x ** y log x, taken as 0 where x == 0 (as Theano does: x ** y is 0 or 1 there)."""
    x = i[0]
    return T.switch(T.eq(x, 0), T.zeros_like(o), g * o * T.log(T.switch(T.eq(x, 0), T.ones_like(x), x)))


_ZERO_GRAD = (FloorDiv, Sign, Floor, Ceil, Trunc, Round, RoundHalfAwayFromZero)
_NO_GRAD = (Lt, Le, Gt, Ge, Eq, Neq, And, Or, Xor, Invert, IsNan, IsInf)  # boolean/integer results


for _cls, _rule in _RULES.items():
    _cls.pullback = (lambda rule: lambda self, inputs, outputs, gz: rule(inputs, outputs[0], gz[0]))(_rule)
for _cls in _ZERO_GRAD:
    _cls.pullback = _zero_grad
for _cls in _NO_GRAD:
    _cls.pullback = _no_grad


# ---- JAX lowerings: the jax.numpy twin of each numpy function, given jax.numpy as ``j``.
_JAX = {
    Add: lambda j, a, b: j.add(a, b), Sub: lambda j, a, b: j.subtract(a, b),
    Mul: lambda j, a, b: j.multiply(a, b), TrueDiv: lambda j, a, b: j.true_divide(a, b),
    FloorDiv: lambda j, a, b: j.floor_divide(a, b), Mod: lambda j, a, b: j.mod(a, b),
    Pow: lambda j, a, b: j.power(a, b), Maximum: lambda j, a, b: j.maximum(a, b),
    Minimum: lambda j, a, b: j.minimum(a, b), Neg: lambda j, x: j.negative(x), Abs: lambda j, x: j.abs(x),
    Sign: lambda j, x: j.sign(x), Floor: lambda j, x: j.floor(x), Ceil: lambda j, x: j.ceil(x),
    Round: lambda j, x: j.round(x), Sqr: lambda j, x: j.square(x), Identity: lambda j, x: x,
    Exp: lambda j, x: j.exp(x), Log: lambda j, x: j.log(x), Log1p: lambda j, x: j.log1p(x),
    Expm1: lambda j, x: j.expm1(x), Sqrt: lambda j, x: j.sqrt(x), Sin: lambda j, x: j.sin(x),
    Cos: lambda j, x: j.cos(x), Tanh: lambda j, x: j.tanh(x),
    Sigmoid: lambda j, x: 1 / (1 + j.exp(-_sigmoid_input(j, x))),  # numpy's formula
    Softplus: lambda j, x: j.logaddexp(0, x), Relu: lambda j, x: j.maximum(x, 0),
    Lt: lambda j, a, b: j.less(a, b), Le: lambda j, a, b: j.less_equal(a, b),
    Gt: lambda j, a, b: j.greater(a, b), Ge: lambda j, a, b: j.greater_equal(a, b),
    Eq: lambda j, a, b: j.equal(a, b), Neq: lambda j, a, b: j.not_equal(a, b),
    And: lambda j, a, b: j.bitwise_and(a, b), Or: lambda j, a, b: j.bitwise_or(a, b),
    Xor: lambda j, a, b: j.bitwise_xor(a, b), Invert: lambda j, x: j.invert(x),
    IsNan: lambda j, x: j.isnan(x), IsInf: lambda j, x: j.isinf(x),
    Switch: lambda j, a, b, cond: j.where(cond, a, b), Clip: lambda j, x, lo, hi: j.clip(x, lo, hi),
    TanhGrad: lambda j, y, g: g - g * y * y, SigmoidGrad: lambda j, y, g: (1 - y) * y * g,
    Trunc: lambda j, x: j.trunc(x), RoundHalfAwayFromZero: lambda j, x: j.sign(x) * j.floor(j.abs(x) + 0.5),
    Conj: lambda j, x: j.conj(x), Tan: lambda j, x: j.tan(x), ArcSin: lambda j, x: j.arcsin(x),
    ArcCos: lambda j, x: j.arccos(x), ArcTan: lambda j, x: j.arctan(x), ArcTan2: lambda j, a, b: j.arctan2(a, b),
    Sinh: lambda j, x: j.sinh(x), Cosh: lambda j, x: j.cosh(x), ArcSinh: lambda j, x: j.arcsinh(x),
    ArcCosh: lambda j, x: j.arccosh(x), ArcTanh: lambda j, x: j.arctanh(x), Log2: lambda j, x: j.log2(x),
    Log10: lambda j, x: j.log10(x), Exp2: lambda j, x: j.exp2(x), Deg2Rad: lambda j, x: j.deg2rad(x),
    Rad2Deg: lambda j, x: j.rad2deg(x),
}


def _sigmoid_input(j, x):
    """float16 computed in float32 and integers (unsigned ones too) in floatX, as ``_sigmoid`` does."""
    if x.dtype == j.float16:
        return x.astype(j.float32)
    return x if j.issubdtype(x.dtype, j.floating) else x.astype(config.floatX)


def _jax_elemwise(rule, operands, node):
    """``rule`` on jax arrays with numpy's dtypes: the operands in the dtype numpy would compute in (jax's
    own promotion differs, e.g. int64 with float32), the result in the node's output dtype."""
    import jax.numpy as jnp
    common = np.result_type(*[v.dtype for v in operands])
    want = np.dtype(node.outputs[0].dtype)

    def run(*xs, **kw):
        return rule(jnp, *[jnp.asarray(x, common) for x in xs], **kw).astype(want)
    return run
