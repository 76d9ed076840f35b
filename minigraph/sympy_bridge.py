"""Elementwise minigraph graphs to and from sympy expressions.

Why: sympy is an independent oracle.  ``to_sympy`` turns a scalar or
elementwise graph into a sympy expression (so ``sympy.diff`` can check
``minigraph.grad``), and ``from_sympy`` builds a graph from a formula derived
or simplified by hand in sympy.  Each input becomes a real ``Symbol`` named
after its variable; an elementwise graph on tensors reads as the formula for
one element.

sympy is imported only inside these functions, so ``import minigraph`` never
needs it.
"""
from fractions import Fraction

import numpy as np

from .graph import Constant, Variable, toposort
from .ops import basic as _b
from .ops import elemwise as _e


def _sympy_rules(sp):
    """op class -> function of the argument expressions giving the sympy expression."""
    step = lambda rel: sp.Piecewise((1, rel), (0, True))  # noqa: E731  a comparison used as 0/1
    return {
        _e.Add: lambda a, b: a + b,
        _e.Sub: lambda a, b: a - b,
        _e.Mul: lambda a, b: a * b,
        _e.TrueDiv: lambda a, b: a / b,
        _e.Pow: lambda a, b: a ** b,
        _e.Neg: lambda a: -a,
        _e.Identity: lambda a: a,
        _e.Sqr: lambda a: a ** 2,
        _e.Abs: sp.Abs,
        _e.Sign: sp.sign,
        _e.Maximum: sp.Max,
        _e.Minimum: sp.Min,
        _e.Relu: lambda a: sp.Max(a, 0),
        _e.Exp: sp.exp,
        _e.Log: sp.log,
        _e.Log1p: lambda a: sp.log(1 + a),
        _e.Expm1: lambda a: sp.exp(a) - 1,
        _e.Sqrt: sp.sqrt,
        _e.Sin: sp.sin,
        _e.Cos: sp.cos,
        _e.Tanh: sp.tanh,
        _e.Sigmoid: lambda a: 1 / (1 + sp.exp(-a)),
        _e.Softplus: lambda a: sp.log(1 + sp.exp(a)),
        _e.TanhGrad: lambda y, g: g * (1 - y ** 2),
        _e.SigmoidGrad: lambda y, g: g * y * (1 - y),
        _e.Lt: lambda a, b: step(a < b),
        _e.Le: lambda a, b: step(a <= b),
        _e.Gt: lambda a, b: step(a > b),
        _e.Ge: lambda a, b: step(a >= b),
        _b.Cast: lambda a: a,
    }


def _number(sp, value):
    """A sympy number for a scalar: integers and short fractions stay exact (0.5 -> 1/2)."""
    value = value.item()
    if isinstance(value, (bool, np.bool_)):
        return sp.Integer(int(value))
    if isinstance(value, int) or float(value).is_integer():
        return sp.Integer(int(value))
    frac = Fraction(value).limit_denominator(1000)
    if float(frac) == value:
        return sp.Rational(frac.numerator, frac.denominator)
    return sp.Float(value)


def _symbol_names(leaves, symbols):
    """A sympy Symbol for each input leaf: from ``symbols`` ({Variable: Symbol or name}) or its name."""
    import sympy as sp
    symbols = symbols or {}
    result, owner_of = {}, {}
    for k, v in enumerate(leaves):
        given = symbols.get(v)  # Variables hash and compare by identity
        sym = given if isinstance(given, sp.Symbol) else sp.Symbol(given or v.name or f"input{k}", real=True)
        other = owner_of.setdefault(sym.name, v)
        if other is not v:
            raise ValueError(f"to_sympy: two different inputs are both called {sym.name!r}; pass "
                             "symbols={variable: name} to tell them apart")
        result[id(v)] = sym
    return result


def to_sympy(variable, symbols=None):
    """The sympy expression computed by ``variable`` (an elementwise or scalar graph).

    Inputs and shared variables become real Symbols named after them (``symbols`` maps
    variables to Symbols or names to override); scalar constants become sympy numbers.
    Raises TypeError naming the first op that has no sympy counterpart.
    """
    import sympy as sp
    rules = _sympy_rules(sp)
    nodes = toposort([variable])
    leaves = [v for n in nodes for v in n.inputs if v.owner is None and not isinstance(v, Constant)]
    if variable.owner is None and not isinstance(variable, Constant):
        leaves.append(variable)
    syms = _symbol_names(list({id(v): v for v in leaves}.values()), symbols)

    def leaf(v):
        if isinstance(v, Constant):
            if v.data.size != 1:
                raise TypeError(f"to_sympy: the constant {v} of shape {v.data.shape} is not a scalar")
            return _number(sp, v.data)
        return syms[id(v)]

    memo = {}
    for node in nodes:
        rule = rules.get(type(node.op))
        if isinstance(node.op, _b.Cast) and np.dtype(node.op.dtype).kind not in "fc":
            rule = None  # a cast to int or bool truncates: not the identity
        if rule is None or len(node.outputs) != 1:
            raise TypeError(f"to_sympy: the op {node.op} ({type(node.op).__name__}, built at {node.where()}) "
                            "has no sympy counterpart; supported ops are elementwise arithmetic and functions: "
                            + ", ".join(sorted(c.__name__ for c in rules)))
        args = [memo[id(v)] if v.owner is not None else leaf(v) for v in node.inputs]
        memo[id(node.outputs[0])] = rule(*args)
    return memo[id(variable)] if variable.owner is not None else leaf(variable)


def _tensor_rules(sp, T):
    """sympy function class -> function of the argument graphs building the minigraph graph."""
    def chain(fn):
        def build(*args):
            out = args[0]
            for a in args[1:]:
                out = fn(out, a)
            return out
        return build
    return {
        sp.exp: T.exp, sp.log: T.log, sp.tanh: T.tanh, sp.sin: T.sin, sp.cos: T.cos, sp.Abs: T.abs,
        sp.sign: T.sign, sp.Max: chain(T.maximum), sp.Min: chain(T.minimum),
    }


def from_sympy(expr, mapping):
    """Build the minigraph graph of a sympy expression.

    ``mapping`` maps each free Symbol (or its name) to a minigraph Variable.  Supports numbers,
    + - * /, powers (x**2 -> sqr, x**0.5 -> sqrt, x**-1 -> 1/x, other exponents -> pow), exp, log,
    tanh, sin, cos, Abs, sign, Max and Min; other functions raise TypeError naming them.
    """
    import sympy as sp
    import minigraph.tensor as T
    by_name = {}
    for key, var in mapping.items():
        if not isinstance(var, Variable):
            raise TypeError(f"from_sympy: mapping[{key!r}] is a {type(var).__name__}, not a minigraph Variable")
        by_name[key.name if isinstance(key, sp.Symbol) else str(key)] = var
    missing = sorted(s.name for s in expr.free_symbols if s.name not in by_name)
    if missing:
        raise KeyError(f"from_sympy: no variable given for symbol(s) {', '.join(missing)}")
    return _FromSympy(sp, T, by_name).build(sp.sympify(expr))


class _FromSympy:
    """One translation: sympy trees are shallow; the memo makes repeated subexpressions one node."""

    def __init__(self, sp, T, by_name):
        self.sp, self.T, self.by_name = sp, T, by_name
        self.rules = _tensor_rules(sp, T)
        self.memo = {}

    @staticmethod
    def number(e):
        return int(e) if e.is_Integer else float(e)

    def build(self, e):
        if e in self.memo:
            return self.memo[e]
        if e.is_Symbol:
            out = self.by_name[e.name]
        elif e.is_Number or e.is_NumberSymbol:
            out = self.T.as_tensor_variable(self.number(e))
        elif e.is_Add:
            out = self.sum(e.as_ordered_terms())  # sympy's printing order: stable across runs
        elif e.is_Mul:
            out = self.product(e)
        elif e.is_Pow:
            out = self.power(e.base, e.exp)
        elif e.func in self.rules:
            out = self.rules[e.func](*[self.build(a) for a in e.args])
        else:
            raise TypeError(f"from_sympy: no minigraph op for the sympy function {e.func.__name__} in {e}")
        self.memo[e] = out
        return out

    def sum(self, terms):
        pos = [t for t in terms if not t.could_extract_minus_sign()]
        neg = [-t for t in terms if t.could_extract_minus_sign()]
        if not pos:
            return self.T.neg(self.sum(neg))
        out = self.build(pos[0])
        for t in pos[1:]:
            out = out + self.build(t)
        for t in neg:
            out = out - self.build(t)
        return out

    def product(self, e):
        sp = self.sp
        num, den = [], []
        coeff, rest = e.as_coeff_Mul()
        for f in rest.as_ordered_factors():
            if f.is_Pow and f.exp.is_negative:
                den.append(f.base ** -f.exp)
            else:
                num.append(f)
        sign = -1 if coeff < 0 else 1
        coeff = abs(coeff)
        if coeff.is_Rational and coeff.q != 1:
            den.insert(0, sp.Integer(coeff.q))
            coeff = sp.Integer(coeff.p)
        if coeff != 1 or not num:
            num.insert(0, coeff)
        out = self.build(num[0])
        for f in num[1:]:
            out = out * self.build(f)
        for f in den:
            out = out / self.build(f)
        return -out if sign < 0 else out

    def power(self, base, exp):
        T = self.T
        if exp.is_Number and exp.is_negative:
            return 1.0 / self.power(base, -exp)
        b = self.build(base)
        if exp == 1:
            return b
        if exp == 2:
            return T.sqr(b)
        if exp == self.sp.Rational(1, 2):
            return T.sqrt(b)
        if exp.is_Number:
            return T.pow(b, self.number(exp))
        return T.pow(b, self.build(exp))
