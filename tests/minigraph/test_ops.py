"""One table of op cases, three checks each: value vs numpy, inferred static type vs the computed value,
and the gradient vs central finite differences to first and second order (float64).

A case is ``C(id, symbolic_fn, numpy_fn, *args)``; ``numpy_fn=None`` means the same function computes the
numpy reference (operators and methods that numpy arrays share).  Adding an op is adding one line.
"""
import numpy as np
import pytest

import minigraph as theano
import minigraph.tensor as T
from minigraph.graph import TensorType
from minigraph.testing import check_grad

from .helpers import assert_static_matches, build_and_run

rng = np.random.default_rng(20240611)


def N(*shape):
    """Standard normal floats (no exact zeros or ties, so kinks of abs/relu/max are avoided)."""
    return rng.standard_normal(shape)


def P(*shape):
    """Positive floats away from zero (domains of log, sqrt, division)."""
    return rng.uniform(0.5, 2.0, shape)


def U(*shape):
    """Floats in (0.1, 0.9): probabilities."""
    return rng.uniform(0.1, 0.9, shape)


def I(*shape, lo=-6, hi=7):
    return rng.integers(lo, hi, shape)


def B(*shape):
    return rng.random(shape) > 0.5


def softmax_np(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax_np(x, axis=-1):
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def sigmoid_np(x):
    return np.exp(-np.logaddexp(0, -x))


def set_np(index):
    """numpy reference of set_subtensor(a[index], b)."""
    def run(a, b):
        out = a.copy()
        out[index] = b
        return out
    return run


def inc_np(index):
    """numpy reference of inc_subtensor(a[index], b): repeated indices add up."""
    def run(a, b):
        out = a.copy()
        np.add.at(out, index, b)
        return out
    return run


class C:
    """One op case: ``sym`` builds it from symbolic inputs, ``ref`` computes it with numpy (default: ``sym``).
    The gradient is checked when every argument is a float (``grad`` overrides); ``f32=False`` marks cases
    where a strong int64 or float64 operand legitimately upcasts a float32 graph."""

    def __repr__(self):
        return f"C({self.id})"

    def __init__(self, id, sym, ref, *args, grad=None, f32=True):
        self.id, self.sym, self.ref, self.args, self.f32 = id, sym, ref or sym, args, f32
        floats = all(np.asarray(a).dtype.kind == "f" for a in args)
        self.grad = (floats and bool(args)) if grad is None else grad


M34, M34b = N(3, 4), N(3, 4)
REP = np.array([0, 2, 0, 3, 2])          # integer index vector with repeated entries
ZEROS1 = np.array([[1.5, 0.0, 2.0], [0.3, -0.7, 1.1]])    # one zero
ZEROS2 = np.array([[1.5, 0.0, 0.0, -0.7], [0.0, 0.0, 0.0, 2.0]])  # two and three zeros in a row
PROBS = softmax_np(N(3, 4))
CONST = N(3, 4)


CASES = [
    # ---- arithmetic, with broadcasting
    C("add", lambda a, b: a + b, None, N(3, 4), N(3, 4)),
    C("add-row", lambda a, b: a + b, None, N(3, 4), N(4)),
    C("add-outer", lambda a, b: a + b, None, N(3, 1), N(1, 4)),
    C("add-scalar", lambda a, b: a + b, None, N(), N(2, 3)),
    C("add-3", lambda a, b, c: T.add(a, b, c), lambda a, b, c: a + b + c, N(2, 3), N(3), N(2, 1)),
    C("sub", lambda a, b: a - b, None, N(3, 4), N(3, 1)),
    C("mul", lambda a, b: a * b, None, N(3, 4), N(4)),
    C("truediv", lambda a, b: a / b, None, N(3, 4), P(3, 4)),
    C("truediv-int", lambda a, b: a / b, None, I(3, 4), I(3, 4, lo=1)),
    C("floordiv", lambda a, b: a // b, None, 3 * N(3, 4), P(3, 4)),
    C("floordiv-int", lambda a, b: a // b, None, I(3, 4), I(3, 4, lo=1)),
    C("mod", lambda a, b: a % b, None, 3 * N(3, 4), P(3, 4)),
    C("mod-int", lambda a, b: a % b, None, I(3, 4), I(3, 4, lo=1)),
    C("pow", lambda a, b: a ** b, None, P(3, 4), N(3, 4)),
    C("pow-int", lambda a, b: a ** b, None, I(3, 4), I(3, 4, lo=0, hi=4)),
    C("neg", lambda a: -a, None, N(3, 4)),
    C("abs", abs, None, N(3, 4)),
    C("T.abs", T.abs, np.abs, N(2, 3)),
    # ---- comparisons and logic
    C("lt", lambda a, b: a < b, None, N(3, 4), N(4)),
    C("le", lambda a, b: a <= b, None, N(3, 4), N(3, 4)),
    C("gt", lambda a, b: a > b, None, N(3, 4), N(3, 1)),
    C("ge", lambda a, b: a >= b, None, I(3, 4), I(3, 4)),
    C("eq", T.eq, np.equal, I(3, 4, lo=0, hi=3), I(3, 4, lo=0, hi=3)),
    C("neq", T.neq, np.not_equal, I(3, 4, lo=0, hi=3), I(4, lo=0, hi=3)),
    C("and", lambda a, b: a & b, None, B(3, 4), B(3, 4)),
    C("or", lambda a, b: a | b, None, B(3, 4), B(4)),
    C("xor", lambda a, b: a ^ b, None, B(3, 4), B(3, 4)),
    C("invert", lambda a: ~a, None, B(3, 4)),
    C("and-int", T.and_, np.bitwise_and, I(3, 4), I(3, 4)),
    C("invert-int", T.invert, np.invert, I(3, 4)),
    C("and-of-comparisons", lambda a, b: T.and_(a > 0, b > 0), lambda a, b: (a > 0) & (b > 0), N(5), N(5)),
    C("switch", lambda a, b: T.switch(a > 0, a, b), lambda a, b: np.where(a > 0, a, b), N(3, 4), N(3, 4)),
    C("switch-broadcast", lambda c, a, b: T.switch(c > 0, a, b), lambda c, a, b: np.where(c > 0, a, b),
      N(3, 1), N(4), N(3, 4)),
    C("where-scalar", lambda a: T.where(a > 0.2, 2 * a, 0.5), lambda a: np.where(a > 0.2, 2 * a, 0.5), N(3, 4)),
    # ---- unary math
    C("exp", T.exp, np.exp, N(3, 4)),
    C("log", T.log, np.log, P(3, 4)),
    C("log1p", T.log1p, np.log1p, P(3, 4)),
    C("expm1", T.expm1, np.expm1, N(3, 4)),
    C("sqrt", T.sqrt, np.sqrt, P(3, 4)),
    C("sin", T.sin, np.sin, N(3, 4)),
    C("cos", T.cos, np.cos, N(3, 4)),
    C("tanh", T.tanh, np.tanh, N(3, 4)),
    C("sigmoid", T.sigmoid, sigmoid_np, 3 * N(3, 4)),
    C("softplus", T.softplus, lambda a: np.logaddexp(0, a), 3 * N(3, 4)),
    C("relu", T.relu, lambda a: np.maximum(a, 0), N(3, 4)),
    C("relu-leaky", lambda a: T.relu(a, 0.1), lambda a: np.where(a > 0, a, 0.1 * a), N(3, 4)),
    C("maximum", T.maximum, np.maximum, N(3, 4), N(4)),
    C("minimum", T.minimum, np.minimum, N(3, 4), N(3, 4)),
    C("clip", lambda a: T.clip(a, -0.5, 0.7), lambda a: np.clip(a, -0.5, 0.7), N(3, 4)),
    C("clip-bounds", lambda a, lo, hi: T.clip(a, lo, hi), np.clip, 2 * N(3, 4), N(4) - 1, N(3, 1) + 1),
    C("sqr", T.sqr, np.square, N(3, 4)),
    C("sign", T.sign, np.sign, N(3, 4)),
    C("inv", T.inv, lambda a: 1 / a, P(4)),
    C("clip-upper-is-x", lambda a: T.clip(a, 0, a), lambda a: np.clip(a, 0, a), N(3, 4)),
    C("clip-lower-is-x", lambda a: T.clip(a, a, 0), lambda a: np.clip(a, a, 0), N(3, 4)),
    C("clip-both-are-x", lambda a: T.clip(0, a, a), lambda a: np.clip(0, a, a), N(3, 4)),
    C("clip-x-x-x", lambda a: T.clip(a, a, a), lambda a: np.clip(a, a, a), N(3, 4)),
    # ---- Theano's other elementwise functions
    C("tan", T.tan, np.tan, N(3, 4)),
    C("arcsin", T.arcsin, np.arcsin, U(3, 4) - 0.5),
    C("arccos", T.arccos, np.arccos, U(3, 4) - 0.5),
    C("arctan", T.arctan, np.arctan, N(3, 4)),
    C("arctan2", T.arctan2, np.arctan2, N(3, 4), N(4)),
    C("sinh", T.sinh, np.sinh, N(3, 4)),
    C("cosh", T.cosh, np.cosh, N(3, 4)),
    C("arcsinh", T.arcsinh, np.arcsinh, N(3, 4)),
    C("arccosh", T.arccosh, np.arccosh, 1 + P(3, 4)),
    C("arctanh", T.arctanh, np.arctanh, U(3, 4) - 0.5),
    C("log2", T.log2, np.log2, P(3, 4)),
    C("log10", T.log10, np.log10, P(3, 4)),
    C("exp2", T.exp2, np.exp2, N(3, 4)),
    C("deg2rad", T.deg2rad, np.deg2rad, 90 * N(3, 4)),
    C("rad2deg", T.rad2deg, np.rad2deg, N(3, 4)),
    C("conj", T.conj, np.conj, N(3, 4)),
    C("sgn", T.sgn, np.sign, N(3, 4)),
    C("trunc", T.trunc, np.trunc, 3 * N(3, 4)),
    C("floor", T.floor, np.floor, 3 * N(3, 4)),
    C("ceil", T.ceil, np.ceil, 3 * N(3, 4)),
    # ties on purpose (no derivative there): values only; "round-grad" checks the zero gradient
    C("round_half_to_even", T.round_half_to_even, np.round, np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.3]),
      grad=False),
    C("round_half_away_from_zero", T.round_half_away_from_zero, lambda a: np.array([-3, -2, -1, 1, 2, 3, 0.0]),
      np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.3]), grad=False),
    C("round-default", T.round, lambda a: np.array([-3, -2, -1, 1, 2, 3, 0.0]),
      np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.3]), grad=False),
    C("round-grad", T.round, np.round, 3 * N(3, 4)),
    C("ceil_intdiv", T.ceil_intdiv, lambda a, b: -(-a // b), I(3, 4), I(3, 4, lo=1)),
    C("ceil_intdiv-neg", T.ceil_intdiv, lambda a, b: -(-a // b), I(3, 4), -I(3, 4, lo=1)),
    # ---- products
    C("dot-vv", T.dot, np.dot, N(4), N(4)),
    C("dot-vm", T.dot, np.dot, N(3), N(3, 4)),
    C("dot-mv", T.dot, np.dot, N(2, 3), N(3)),
    C("dot-mm", T.dot, np.dot, N(2, 3), N(3, 4)),
    C("dot-3m", T.dot, np.dot, N(2, 3, 4), N(4, 5)),
    C("dot-3v", T.dot, np.dot, N(2, 3, 4), N(4)),
    C("dot-scalar", T.dot, np.dot, N(), N(3)),
    C("outer", T.outer, np.outer, N(3), N(4)),
    C("matmul-batched", T.matmul, np.matmul, N(2, 3, 4), N(2, 4, 5)),
    C("matmul-broadcast", T.matmul, np.matmul, N(1, 3, 4), N(2, 4, 5)),
    C("matmul-3x2", T.matmul, np.matmul, N(2, 3, 4), N(4, 5)),
    C("matmul-1x3", T.matmul, np.matmul, N(4), N(2, 4, 5)),
    C("matmul-3x1", T.matmul, np.matmul, N(2, 3, 4), N(4)),
    C("@", lambda a, b: a @ b, None, N(2, 3), N(3, 4)),
    C("tensordot-1", lambda a, b: T.tensordot(a, b, 1), lambda a, b: np.tensordot(a, b, 1), N(2, 3), N(3, 4)),
    C("tensordot-2", lambda a, b: T.tensordot(a, b, 2), lambda a, b: np.tensordot(a, b, 2), N(2, 3, 4), N(3, 4, 2)),
    C("tensordot-lists", lambda a, b: T.tensordot(a, b, [[0, 2], [1, 0]]),
      lambda a, b: np.tensordot(a, b, [[0, 2], [1, 0]]), N(2, 3, 4), N(4, 2, 5)),
    C("tensordot-int-lists", lambda a, b: T.tensordot(a, b, [1, 0]), lambda a, b: np.tensordot(a, b, [1, 0]),
      N(2, 3), N(3, 4)),
    C("dot-3d-3d", T.dot, np.dot, N(2, 3, 4), N(5, 4, 2)),
    C("dot-2d-3d", T.dot, np.dot, N(2, 4), N(3, 4, 2)),
    C("batched_dot-3x3", T.batched_dot, np.matmul, N(3, 5, 7), N(3, 7, 2)),
    C("batched_dot-3x2", T.batched_dot, lambda a, b: np.einsum("bnk,bk->bn", a, b), N(3, 5, 7), N(3, 7)),
    C("batched_dot-2x3", T.batched_dot, lambda a, b: np.einsum("bk,bkm->bm", a, b), N(3, 7), N(3, 7, 2)),
    C("batched_dot-2x2", T.batched_dot, lambda a, b: np.einsum("bk,bk->b", a, b), N(3, 7), N(3, 7)),
    C("batched_dot-1x2", T.batched_dot, lambda a, b: a[:, None] * b, N(3), N(3, 7)),
    # ---- reductions (see REDUCTIONS below for the axis/keepdims grid)
    C("prod-one-zero", lambda a: a.prod(axis=1), None, ZEROS1),
    C("prod-one-zero-all", lambda a: a.prod(), None, ZEROS1),
    C("prod-many-zeros", lambda a: a.prod(axis=1), None, ZEROS2),
    C("prod-many-zeros-0", lambda a: T.prod(a, axis=0, keepdims=True), lambda a: a.prod(axis=0, keepdims=True),
      ZEROS2),
    C("var-ddof", lambda a: T.var(a, axis=0, ddof=1), lambda a: np.var(a, axis=0, ddof=1), N(4, 3)),
    C("std-corrected", lambda a: T.std(a, axis=1, corrected=True), lambda a: np.std(a, axis=1, ddof=1), N(3, 5)),
    C("sum-int", lambda a: a.sum(axis=0), None, I(3, 4)),
    C("mean-int", lambda a: a.mean(), None, I(3, 4)),
    C("mean-bool", lambda a: T.mean(a, axis=1), lambda a: a.mean(axis=1), B(3, 4)),
    C("max-int", lambda a: a.max(axis=1), None, I(3, 4)),
    C("sum-scalar", lambda a: a.sum(), None, N()),
    C("mean-int-is-float64", lambda a: a.mean(axis=0), lambda a: a.mean(axis=0), I(3, 4).astype("int32")),
    C("sum-numpy-axis", lambda a: T.sum(a, axis=np.int64(1)), lambda a: a.sum(axis=1), N(3, 4)),
    C("sum-array-axes", lambda a: T.sum(a, axis=np.array([0, 2])), lambda a: a.sum(axis=(0, 2)), N(2, 3, 4)),
    C("max_and_argmax", lambda a: T.max_and_argmax(a, axis=1)[0], lambda a: a.max(axis=1), N(3, 4)),
    C("max_and_argmax-arg", lambda a: T.max_and_argmax(a, axis=1)[1], lambda a: a.argmax(axis=1), N(3, 4)),
    C("tile", lambda a: T.tile(a, (2, 3)), lambda a: np.tile(a, (2, 3)), N(3, 4)),
    C("tile-vector-2d", lambda a: T.tile(a, (2, 3)), lambda a: np.tile(a, (2, 3)), N(4)),
    # ---- shapes
    C("reshape", lambda a: a.reshape((4, 3)), None, N(3, 4)),
    C("reshape-neg1", lambda a: a.reshape((2, -1)), None, N(3, 4)),
    C("reshape-flat", lambda a: T.reshape(a, -1), lambda a: a.reshape(-1), N(3, 4)),
    C("reshape-3d", lambda a: a.reshape(2, 3, 2), None, N(3, 4)),
    C("reshape-symbolic", lambda a: a.reshape((a.shape[1], -1)), lambda a: a.reshape((a.shape[1], -1)), N(3, 4)),
    C("flatten", lambda a: a.flatten(), None, N(2, 3, 4)),
    C("flatten-2", lambda a: T.flatten(a, 2), lambda a: a.reshape(2, -1), N(2, 3, 4)),
    C("dimshuffle-x", lambda a: a.dimshuffle(1, "x", 0), lambda a: a.T[:, None, :], N(3, 4)),
    C("dimshuffle-lead-x", lambda a: a.dimshuffle("x", 0, 1), lambda a: a[None], N(3, 4)),
    C("dimshuffle-drop", lambda a: a.dimshuffle(1), lambda a: a[0], N(1, 4)),
    C("dimshuffle-perm3", lambda a: T.dimshuffle(a, 2, 0, 1), lambda a: a.transpose(2, 0, 1), N(2, 3, 4)),
    C(".T", lambda a: a.T, None, N(3, 4)),
    C("transpose-axes", lambda a: T.transpose(a, (1, 0, 2)), lambda a: np.transpose(a, (1, 0, 2)), N(2, 3, 4)),
    C("transpose-method", lambda a: a.transpose(), None, N(2, 3, 4)),
    C("swapaxes", lambda a: T.swapaxes(a, 0, 2), lambda a: np.swapaxes(a, 0, 2), N(2, 3, 4)),
    C("concatenate-0", lambda a, b: T.concatenate([a, b]), lambda a, b: np.concatenate([a, b]), N(2, 4), N(3, 4)),
    C("concatenate-1", lambda a, b, c: T.concatenate([a, b, c], axis=1),
      lambda a, b, c: np.concatenate([a, b, c], axis=1), N(3, 1), N(3, 2), N(3, 4)),
    C("concatenate-neg", lambda a, b: T.concatenate([a, b], axis=-1),
      lambda a, b: np.concatenate([a, b], axis=-1), N(2, 2, 1), N(2, 2, 3)),
    C("stack", lambda a, b: T.stack([a, b]), lambda a, b: np.stack([a, b]), N(3, 4), N(3, 4)),
    C("stack-1", lambda a, b, c: T.stack([a, b, c], axis=1), lambda a, b, c: np.stack([a, b, c], axis=1),
      N(3), N(3), N(3)),
    C("stack-neg", lambda a, b: T.stack([a, b], axis=-1), lambda a, b: np.stack([a, b], axis=-1), N(2, 3), N(2, 3)),
    C("stack-scalars", lambda a, b: T.stack([a, b]), lambda a, b: np.stack([a, b]), N(), N()),
    C("shape", lambda a: a.shape, lambda a: np.array(a.shape), N(3, 4)),
    C("shape-i", lambda a: a.shape[1], lambda a: np.int64(a.shape[1]), N(3, 4)),
    C("shape-neg-i", lambda a: a.shape[-1], lambda a: np.int64(a.shape[-1]), N(2, 3, 4), grad=False),
    C("shape-arith", lambda a: a * a.shape[0], lambda a: a * a.shape[0], N(3, 4), f32=False),  # int64 upcasts
    C("size", lambda a: a.size, lambda a: np.int64(a.size), N(3, 4), grad=False),
    C("expand_dims", lambda a: T.expand_dims(a, 1), lambda a: np.expand_dims(a, 1), N(3, 4)),
    C("squeeze", T.squeeze, np.squeeze, N(3, 1, 4)),
    # ---- indexing
    C("index-int", lambda a: a[1], None, N(3, 4)),
    C("index-neg", lambda a: a[-1], None, N(3, 4)),
    C("index-2int", lambda a: a[1, -2], None, N(3, 4)),
    C("index-col", lambda a: a[:, 1], None, N(3, 4)),
    C("slice", lambda a: a[1:3], None, N(4, 3)),
    C("slice-step", lambda a: a[::2], None, N(5, 3)),
    C("slice-neg-step", lambda a: a[::-1], None, N(5)),
    C("slice-neg-bounds", lambda a: a[-3:-1], None, N(5)),
    C("slice-neg-step-bounds", lambda a: a[3:0:-2, ::3], None, N(5, 7)),
    C("slice-int-mix", lambda a: a[1, ::2], None, N(3, 5)),
    C("slice-past-end", lambda a: a[2:10], None, N(4)),
    C("index-none", lambda a: a[None, 1], None, N(3, 4)),
    C("index-newaxis-mid", lambda a: a[:, None], None, N(3, 4)),
    C("index-ellipsis", lambda a: a[..., 1], None, N(2, 3, 4)),
    C("index-symbolic", lambda a: a[a.shape[0] - 2], lambda a: a[a.shape[0] - 2], N(4, 3)),
    C("slice-symbolic", lambda a: a[1:a.shape[0] - 1], lambda a: a[1:a.shape[0] - 1], N(5, 2)),
    C("adv-repeated", lambda a: a[REP], None, N(4, 3)),
    C("adv-2d-index", lambda a: a[np.array([[0, 1], [1, 1]])], None, N(3, 2)),
    C("adv-pair", lambda a: a[np.array([0, 2, 2]), np.array([1, 1, 0])], None, N(3, 4)),
    C("adv-after-slice", lambda a: a[1:, REP], None, N(3, 4)),
    C("adv-int-separated", lambda a: a[0, :, np.array([0, 1, 1, 3])], None, N(2, 3, 4)),
    C("adv-int-adjacent", lambda a: a[:, 0, np.array([0, 1, 1, 3])], None, N(2, 3, 4)),
    C("adv-negative", lambda a: a[np.array([-1, 0, -1])], None, N(4)),
    C("set-slice", lambda a, b: T.set_subtensor(a[1:3], b), set_np(np.s_[1:3]), N(4, 3), N(2, 3)),
    C("set-broadcast", lambda a, b: T.set_subtensor(a[:, 1], b), set_np(np.s_[:, 1]), N(4, 3), N()),
    C("set-repeated", lambda a, b: T.set_subtensor(a[REP], b), set_np(REP), N(4, 3), N(5, 3)),
    C("set-repeated-bcast", lambda a, b: T.set_subtensor(a[REP], b), set_np(REP), N(4, 3), N(3)),
    C("inc-slice", lambda a, b: T.inc_subtensor(a[::2, 1:], b), inc_np(np.s_[::2, 1:]), N(4, 3), N(2, 2)),
    C("inc-repeated", lambda a, b: T.inc_subtensor(a[REP], b), inc_np(REP), N(4, 3), N(5, 3)),
    C("inc-repeated-scalar", lambda a, b: T.inc_subtensor(a[REP, 1], b), inc_np((REP, 1)), N(4, 3), N()),
    C("set-int", lambda a: T.set_subtensor(a[-1], 5), lambda a: set_np(-1)(a, 5), I(3, 4)),
    # ---- constructors and casts
    C("arange", lambda: T.arange(5), lambda: np.arange(5)),
    C("arange-step", lambda: T.arange(2, 11, 3), lambda: np.arange(2, 11, 3)),
    C("arange-float", lambda: T.arange(0.0, 1.0, 0.25), lambda: np.arange(0.0, 1.0, 0.25)),
    C("arange-symbolic", lambda a: a * T.arange(a.shape[0]), lambda a: a * np.arange(a.shape[0]), N(4), f32=False),
    C("zeros_like", lambda a: T.zeros_like(a) + a, lambda a: np.zeros_like(a) + a, N(3, 4)),
    C("ones_like", T.ones_like, np.ones_like, N(3, 4)),
    C("ones_like-int", lambda a: T.ones_like(a, dtype="int32"), lambda a: np.ones_like(a, dtype="int32"), N(2)),
    C("zeros", lambda: T.zeros((2, 3)), lambda: np.zeros((2, 3))),
    C("ones", lambda: T.ones(4, dtype="int64"), lambda: np.ones(4, dtype="int64")),
    C("zeros-symbolic", lambda a: T.zeros((a.shape[0], 2)), lambda a: np.zeros((a.shape[0], 2)), N(3), f32=False),
    C("alloc", lambda a: T.alloc(a, 2, 3), lambda a: np.broadcast_to(a, (2, 3)), N(3)),
    C("alloc-scalar", lambda a: T.alloc(a, 2, 2), lambda a: np.full((2, 2), a), N()),
    C("alloc-col", lambda a: T.alloc(a, 3, 4), lambda a: np.broadcast_to(a, (3, 4)), N(3, 1)),
    C("fill", lambda a: T.fill(a, 2.5), lambda a: np.full_like(a, 2.5), N(3, 4)),
    C("fill-var", lambda a, b: T.fill(a, b), lambda a, b: np.broadcast_to(b, a.shape), N(3, 4), N()),
    C("cast-int", lambda a: T.cast(a, "int64"), lambda a: a.astype("int64"), 3 * N(3, 4)),
    C("cast-float", lambda a: T.cast(a, "float64"), lambda a: a.astype("float64"), I(3, 4)),
    C("cast-mixed", lambda a: T.cast(a, "int32") * a, lambda a: a.astype("int32") * a, 3 * N(3, 4), f32=False),
    C("astype", lambda a: a.astype("float32"), None, N(3), grad=False),  # float32 is too coarse for the check
    # ---- nnet
    C("nnet.sigmoid", T.nnet.sigmoid, sigmoid_np, 4 * N(3, 4)),
    C("nnet.softplus", T.nnet.softplus, lambda a: np.logaddexp(0, a), N(3, 4)),
    C("nnet.relu", T.nnet.relu, lambda a: np.maximum(a, 0), N(3, 4)),
    C("softmax", T.nnet.softmax, softmax_np, N(3, 4)),
    C("softmax-axis0", lambda a: T.nnet.softmax(a, axis=0), lambda a: softmax_np(a, axis=0), N(3, 4)),
    C("softmax-vector", T.nnet.softmax, lambda a: softmax_np(a)[None], N(5)),  # Theano: a (1, n) row
    C("log_softmax-vector", T.nnet.log_softmax, lambda a: log_softmax_np(a)[None], N(5)),
    C("softmax_graph", T.nnet.softmax_graph, softmax_np, N(3, 4)),
    C("softmax_with_bias", T.nnet.softmax_with_bias, lambda a, b: softmax_np(a + b), N(3, 4), N(4)),
    C("hard_sigmoid", T.nnet.hard_sigmoid, lambda a: np.clip(0.2 * a + 0.5, 0, 1), 2 * N(3, 4)),
    C("softsign", T.nnet.softsign, lambda a: a / (1 + np.abs(a)), N(3, 4)),
    C("elu", T.nnet.elu, lambda a: np.where(a > 0, a, np.expm1(a)), N(3, 4)),
    C("log_softmax", T.nnet.log_softmax, log_softmax_np, N(3, 4)),
    C("log_softmax-axis0", lambda a: T.nnet.log_softmax(a, 0), lambda a: log_softmax_np(a, 0), N(2, 3, 4)),
    C("log(softmax)", lambda a: T.log(T.nnet.softmax(a)), log_softmax_np, N(3, 4)),
    C("cce-probs", lambda a, t: T.nnet.categorical_crossentropy(T.nnet.softmax(a), t),
      lambda a, t: -(t * log_softmax_np(a)).sum(-1), N(3, 4), PROBS),
    C("cce-plain-probs", lambda p, t: T.nnet.categorical_crossentropy(p, t),
      lambda p, t: -(t * np.log(p)).sum(-1), U(3, 4), PROBS),
    C("cce-int", lambda a: T.nnet.categorical_crossentropy(T.nnet.softmax(a), np.array([1, 0, 3])),
      lambda a: -log_softmax_np(a)[np.arange(3), [1, 0, 3]], N(3, 4)),
    C("cce-int-3d", lambda a: T.nnet.categorical_crossentropy(T.nnet.softmax(a), np.array([[1, 0, 3], [2, 2, 0]])),
      lambda a: -np.take_along_axis(log_softmax_np(a), np.array([[1, 0, 3], [2, 2, 0]])[..., None], -1)[..., 0],
      N(2, 3, 4)),
    C("bce-sigmoid", lambda z, t: T.nnet.binary_crossentropy(T.nnet.sigmoid(z), t),
      lambda z, t: -(t * np.log(sigmoid_np(z)) + (1 - t) * np.log(1 - sigmoid_np(z))), 3 * N(3, 4), U(3, 4)),
    C("bce-probs", T.nnet.binary_crossentropy, lambda p, t: -(t * np.log(p) + (1 - t) * np.log(1 - p)),
      U(3, 4), U(3, 4)),
    # ---- operators and methods on variables
    C("method-sum-axis0", lambda a: a.sum(axis=0), None, N(3, 4)),
    C("method-mean", lambda a: a.mean(), None, N(3, 4)),
    C("method-max-keepdims", lambda a: a.max(axis=1, keepdims=True), None, N(3, 4)),
    C("method-var", lambda a: a.var(), None, N(3, 4)),
    C("method-std-axis", lambda a: a.std(axis=0), None, N(3, 4)),
    C("method-argmax", lambda a: a.argmax(axis=1), None, N(3, 4)),
    C("method-clip", lambda a: a.clip(-0.5, 0.5), None, N(3, 4)),
    C("method-dot", lambda a, b: a.dot(b), None, N(2, 3), N(3)),
    C("method-exp-log-sqrt-tanh", lambda a: a.exp().log().sqrt().tanh(), lambda a: np.tanh(np.sqrt(a)), P(3)),
    C("x**2", lambda a: a ** 2, None, N(3, 4)),
    C("x**3", lambda a: a ** 3, None, N(3, 4)),
    C("x**0.5", lambda a: a ** 0.5, None, P(3, 4)),
    C("2**x", lambda a: 2 ** a, None, N(3, 4)),
    C("2-x", lambda a: 2 - a, None, N(3, 4)),
    C("3/x", lambda a: 3 / a, None, P(3, 4)),
    C("x/2", lambda a: a / 2, None, N(3, 4)),
    C("x//2", lambda a: a // 2, None, I(3, 4)),
    C("x%1.5", lambda a: a % 1.5, None, 3 * N(3, 4)),
    C("1.5%x", lambda a: 1.5 % a, None, P(3, 4)),
    C("7//x", lambda a: 7 // a, None, I(3, 4, lo=1)),
    C("int*float", lambda a: a * 2.5, None, I(3)),
    C("bool+int", lambda a: a + 1, None, B(3)),
    C("ndarray+var", lambda a: CONST + a, None, N(3, 4), f32=False),
    C("ndarray*var", lambda a: CONST[0] * a, None, N(3, 4), f32=False),
    C("ndarray@var", lambda a: CONST @ a, None, N(4, 2), f32=False),
    C("ndarray<var", lambda a: CONST < a, None, N(3, 4), f32=False),
    C("numpy-scalar*var", lambda a: np.float64(2.0) * a, None, N(3), f32=False),
    C("pos", lambda a: +a, None, N(3)),
    C("copy", lambda a: a.copy() * 2, None, N(3)),
    C("chain", lambda a, b: ((a * b).sum(axis=1) - a.max(axis=1)) / (1 + b.T.dot(a).sum()), None, N(3, 4), P(3, 4)),
]

# Reductions: every axis/keepdims variant of each reduction, one line per reduction.
REDUCTIONS = [
    ("sum", T.sum, np.sum, N(2, 3, 4)),
    ("mean", T.mean, np.mean, N(2, 3, 4)),
    ("prod", T.prod, np.prod, P(2, 3, 4) * np.sign(N(2, 3, 4))),
    ("max", T.max, np.max, N(2, 3, 4)),
    ("min", T.min, np.min, N(2, 3, 4)),
    ("var", T.var, np.var, N(2, 3, 4)),
    ("std", T.std, np.std, N(2, 3, 4)),
]
for _axis in (None, 0, 1, -1, (0, 2)):
    for _keep in (False, True):
        for _name, _sym, _ref, _x in REDUCTIONS:
            CASES.append(C(f"{_name}-axis{_axis}-keep{_keep}",
                           lambda a, f=_sym, ax=_axis, k=_keep: f(a, axis=ax, keepdims=k),
                           lambda a, f=_ref, ax=_axis, k=_keep: f(a, axis=ax, keepdims=k), _x))
for _axis in (None, 0, 1, -1):
    for _keep in (False, True):
        for _name, _sym, _ref in (("argmax", T.argmax, np.argmax), ("argmin", T.argmin, np.argmin)):
            CASES.append(C(f"{_name}-axis{_axis}-keep{_keep}",
                           lambda a, f=_sym, ax=_axis, k=_keep: f(a, axis=ax, keepdims=k),
                           lambda a, f=_ref, ax=_axis, k=_keep: f(a, axis=ax, keepdims=k), N(2, 3, 4)))

IDS = [c.id for c in CASES]
assert len(set(IDS)) == len(IDS), "case ids must be unique"
GRAD_CASES = [c for c in CASES if c.grad]


def _reference(case):
    with np.errstate(all="raise"):
        return np.asarray(case.ref(*[np.array(a) for a in case.args]))


@pytest.mark.parametrize("static", [True, False], ids=["static-shapes", "unknown-shapes"])
@pytest.mark.parametrize("rewrite", [True, False], ids=["rewrite", "no-rewrite"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_value_and_inferred_type(case, rewrite, static):
    expected = _reference(case)
    out, got = build_and_run(case.sym, case.args, static=static, rewrite=rewrite)
    assert_static_matches(out, got)
    assert got.dtype == expected.dtype, f"computed {got.dtype}, numpy gives {expected.dtype}"
    assert got.shape == expected.shape
    if expected.dtype.kind in "fc":
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-13)
    else:
        np.testing.assert_array_equal(got, expected)


F64_CASES = [c for c in CASES if c.f32 and c.args and all(np.asarray(a).dtype == np.float64 for a in c.args)]


@pytest.mark.parametrize("case", F64_CASES, ids=[c.id for c in F64_CASES])
def test_float32_inputs_give_float32(case):
    """The same graph on float32 inputs stays float32 (weak Python constants never upcast it)."""
    out, got = build_and_run(case.sym, case.args, dtype="float32")
    assert_static_matches(out, got)
    if got.dtype.kind == "f":
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, _reference(case), rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("case", GRAD_CASES, ids=[c.id for c in GRAD_CASES])
def test_gradient_matches_finite_differences(case, order):
    check_grad(case.sym, [np.array(a) for a in case.args], order=order)


def test_table_covers_the_required_ops():
    """Guard against the table silently losing cases."""
    assert len(CASES) > 250 and len(GRAD_CASES) > 200


@pytest.mark.parametrize("fn", [T.nnet.softmax, T.nnet.log_softmax, lambda i: i / 2, lambda i: i * 0.5,
                                lambda i: T.cast(i, "floatX")],
                         ids=["softmax", "log_softmax", "div", "mul-float", "cast-floatX"])
@pytest.mark.parametrize("floatx", ["float32", "float64"])
def test_float_results_of_integer_inputs_are_floatx(fn, floatx):
    old = theano.config.floatX
    theano.config.floatX = floatx
    try:
        i = T.ivector("i")
        out = fn(i)
        assert out.dtype == floatx
        got = theano.function([i], out, check=True)(np.array([1, 2, 3], dtype="int32"))  # check: dtypes agree
    finally:
        theano.config.floatX = old
    assert got.dtype == floatx
    d = T.dvector("d")
    expected = theano.function([d], fn(d))(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(got, expected, rtol=1e-6)


UPGRADE_TO_FLOAT = {"bool": "float32", "int8": "float32", "uint8": "float32", "int16": "float32", "uint16": "float32",
                    "int32": "float64", "uint32": "float64", "int64": "float64", "uint64": "float64"}


@pytest.mark.parametrize("floatx", ["float32", "float64"])
@pytest.mark.parametrize("dtype", sorted(UPGRADE_TO_FLOAT))
@pytest.mark.parametrize("name", ["exp", "log1p", "sqrt", "tanh", "sigmoid", "softplus", "sin", "arctan", "log2",
                                  "exp2", "deg2rad", "floor", "ceil", "trunc"])
def test_integer_inputs_upgrade_to_float_as_in_theano(name, dtype, floatx):
    """Theano's upgrade_to_float: 8- and 16-bit integers become float32, wider ones float64, whatever floatX says."""
    old = theano.config.floatX
    theano.config.floatX = floatx
    try:
        i = T.vector(dtype=dtype)
        out = getattr(T, name)(i)
        assert out.dtype == UPGRADE_TO_FLOAT[dtype]
        values = np.array([1, 1, 1] if dtype == "bool" else [1, 2, 3], dtype=dtype)
        got = theano.function([i], out, check=True)(values)
    finally:
        theano.config.floatX = old
    assert got.dtype == UPGRADE_TO_FLOAT[dtype]
    reference = {"sigmoid": sigmoid_np, "softplus": lambda a: np.logaddexp(0, a)}.get(name, getattr(np, name, None))
    np.testing.assert_allclose(got, reference(values.astype("float64")), rtol=1e-6)


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "bool"])
def test_mean_of_integers_is_float64(dtype):
    i = T.vector(dtype=dtype)
    assert T.mean(i).dtype == "float64"
    np.testing.assert_allclose(theano.function([i], T.mean(i))(np.array([1, 0, 1], dtype=dtype)), 2 / 3)


# --------------------------------------------------------------------------- numerical stability


def _eval(fn, *values):
    return build_and_run(fn, [np.asarray(v, dtype=float) for v in values])[1]


def test_log_softmax_extreme_logits_is_exact():
    got = _eval(T.nnet.log_softmax, [1000.0, 0.0])
    np.testing.assert_allclose(got, [[0.0, -1000.0]], rtol=1e-15)
    # log(softmax(x)) is rewritten to log_softmax, so it is finite as well
    got = _eval(lambda a: T.log(T.nnet.softmax(a)), [[1000.0, 0.0], [0.0, -1000.0]])
    np.testing.assert_allclose(got, [[0.0, -1000.0], [0.0, -1000.0]], rtol=1e-15)


def test_softmax_extreme_logits():
    got = _eval(T.nnet.softmax, [1000.0, 0.0, -1000.0])
    np.testing.assert_array_equal(got, [[1.0, 0.0, 0.0]])


def test_log_softmax_gradient_at_extreme_logits():
    x = T.dvector("x")
    g = theano.grad(T.nnet.log_softmax(x)[0, 1], x)
    np.testing.assert_allclose(theano.function([x], g)(np.array([1000.0, 0.0])), [-1.0, 1.0])


def test_categorical_crossentropy_confident_and_wrong_is_finite():
    z = np.array([[1000.0, 0.0, -1000.0]])
    for targets in (np.array([2]), np.array([[0.0, 0.0, 1.0]])):
        got = _eval(lambda a: T.nnet.categorical_crossentropy(T.nnet.softmax(a), targets), z)
        np.testing.assert_allclose(got, [2000.0])


def test_binary_crossentropy_of_saturated_sigmoid():
    z = T.dscalar("z")
    t = T.dscalar("t")
    f = theano.function([z, t], T.nnet.binary_crossentropy(T.nnet.sigmoid(z), t))
    assert f(50.0, 0.0) == pytest.approx(50.0, rel=1e-15)        # softplus(50) = 50 + log1p(e^-50)
    assert f(-50.0, 1.0) == pytest.approx(50.0, rel=1e-15)
    assert f(50.0, 1.0) == pytest.approx(np.log1p(np.exp(-50.0)), rel=1e-12)
    assert f(800.0, 0.0) == pytest.approx(800.0)
    g = theano.function([z, t], theano.grad(T.nnet.binary_crossentropy(T.nnet.sigmoid(z), t), z))
    assert g(800.0, 0.0) == pytest.approx(1.0) and g(-800.0, 1.0) == pytest.approx(-1.0)


def test_sigmoid_tails_keep_relative_precision():
    x = np.array([-700.0, -50.0, -20.0, -3.0, 0.0, 3.0, 20.0, 50.0, 700.0])
    np.testing.assert_allclose(_eval(T.nnet.sigmoid, x), sigmoid_np(x), rtol=1e-14, atol=0)
    np.testing.assert_allclose(_eval(T.softplus, x), np.logaddexp(0, x), rtol=1e-14, atol=0)
    # log(sigmoid(x)) is rewritten to -softplus(-x): finite where sigmoid underflows
    np.testing.assert_allclose(_eval(lambda a: T.log(T.nnet.sigmoid(a)), [-800.0, 0.0]), [-800.0, np.log(0.5)])
    np.testing.assert_allclose(_eval(lambda a: T.log(1 - T.nnet.sigmoid(a)), [800.0]), [-800.0])


def test_sigmoid_float32_extremes():
    x = np.array([-80.0, -30.0, 0.0, 30.0, 100.0], dtype=np.float32)
    got = build_and_run(T.nnet.sigmoid, [x])[1]
    assert got.dtype == np.float32 and np.all(np.isfinite(got))
    np.testing.assert_allclose(got, sigmoid_np(x.astype(float)), rtol=1e-6, atol=0)


def test_prod_with_zeros_gradient_values():
    """d prod / dx_i is the product of the other entries, also where x_i or another entry is zero."""
    x = T.dvector("x")
    g = theano.function([x], theano.grad(T.prod(x), x))
    np.testing.assert_allclose(g(np.array([2.0, 0.0, 3.0])), [0.0, 6.0, 0.0])
    np.testing.assert_allclose(g(np.array([2.0, 0.0, 0.0])), [0.0, 0.0, 0.0])
    np.testing.assert_allclose(g(np.array([2.0, 5.0, 3.0])), [15.0, 6.0, 10.0])
    h = theano.function([x], theano.grad(theano.grad(T.prod(x), x)[2], x))  # row 2 of the Hessian
    np.testing.assert_allclose(h(np.array([2.0, 0.0, 0.0])), [0.0, 2.0, 0.0])
    np.testing.assert_allclose(h(np.array([2.0, 0.0, 5.0])), [0.0, 2.0, 0.0])
    np.testing.assert_allclose(h(np.array([0.0, 0.0, 0.0])), [0.0, 0.0, 0.0])


def test_set_subtensor_repeated_indices_last_write_wins_and_gets_the_gradient():
    x = T.dvector("x")
    y = T.dvector("y")
    out = T.set_subtensor(x[[0, 2, 0]], y)
    f = theano.function([x, y], [out, *theano.grad((out * np.array([1.0, 2.0, 3.0, 4.0])).sum(), [x, y])])
    value, gx, gy = f(np.zeros(4), np.array([5.0, 6.0, 7.0]))
    np.testing.assert_array_equal(value, [7.0, 0.0, 6.0, 0.0])
    np.testing.assert_array_equal(gx, [0.0, 2.0, 0.0, 4.0])
    np.testing.assert_array_equal(gy, [0.0, 3.0, 1.0])


def test_inc_subtensor_repeated_indices_accumulate():
    x = T.dvector("x")
    out = T.inc_subtensor(x[[0, 2, 0]], 1.0)
    f = theano.function([x], [out, theano.grad(out.sum(), x)])
    value, gx = f(np.zeros(3))
    np.testing.assert_array_equal(value, [2.0, 0.0, 1.0])
    np.testing.assert_array_equal(gx, [1.0, 1.0, 1.0])


def test_static_shapes_propagate_for_known_inputs():
    """With fully known input shapes the common ops infer fully known output shapes."""
    x = TensorType("float64", (3, 4))("x")
    w = TensorType("float64", (4, 5))("w")
    for v, shape in [(T.dot(x, w), (3, 5)), (x.sum(axis=0), (4,)), (x.reshape((2, -1)), (2, 6)), (x.T, (4, 3)),
                     (x[1:, ::2], (2, 2)), (x[[0, 0, 1]], (3, 4)), (T.concatenate([x, x]), (6, 4)),
                     (T.stack([x, x], axis=1), (3, 2, 4)), (x.dimshuffle(1, "x", 0), (4, 1, 3)),
                     (T.nnet.softmax(x), (3, 4)), (T.zeros_like(x), (3, 4)), (x.flatten(), (12,)),
                     (T.arange(7), (7,)), (x + T.row(), (3, 4)), (x.mean(axis=1, keepdims=True), (3, 1))]:
        assert v.type.shape == shape, (v, v.type.shape, shape)
