"""Gradient checking: symbolic gradients against central finite differences.

The checker compares, for a random direction ``v``, the analytic directional
derivative ``<grad f(x), v>`` with ``(f(x + eps v) - f(x - eps v)) / (2 eps)``,
which is accurate to second order in ``eps`` and costs two evaluations at any
size.  Non-scalar outputs are projected on a fixed random tensor first.  With
``order=2`` the same check is applied to ``x -> <grad f(x), u>``, which tests
the gradient of the gradient.
"""
import numpy as np

from .compile import function
from .graph import Constant, TensorType, Variable, as_variable
from .grad import grad


class GradientError(AssertionError):
    """The symbolic gradient disagrees with finite differences."""


def _scalar_cost(out, rng, xs, points):
    """A scalar whose gradient exercises every entry of ``out``: sum(out * R) for a fixed random R."""
    out = as_variable(out)
    if out.ndim == 0 and TensorType(out.dtype, ()).is_float:
        return out
    shape = out.type.shape
    if None in shape:  # known only at run time (e.g. a slice with symbolic bounds): run it once
        shape = np.shape(function(xs, out, on_unused_input="ignore")(*points))
    r = rng.standard_normal(shape).astype(out.dtype if TensorType(out.dtype, ()).is_float else "float64")
    return (out * Constant(TensorType(r.dtype, r.shape), r)).sum()


def check_grad(fun, points, order=1, eps=1e-6, rtol=1e-5, atol=1e-8, n_directions=2, rng=None):
    """Assert that the gradient (and with order=2 the second derivative) of ``fun`` is right at ``points``.

    ``fun`` takes symbolic variables (one per point, same dtype and shape) and
    returns a symbolic output.  Use float64 points.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    points = [np.asarray(p, dtype=np.float64) if np.asarray(p).dtype.kind != "f" else np.asarray(p) for p in points]
    xs = [TensorType(p.dtype, p.shape)(f"arg{i}") for i, p in enumerate(points)]
    cost = _scalar_cost(fun(*xs), rng, xs, points)
    if order == 2:
        gs = grad(cost, xs, disconnected_inputs="ignore")
        us = [Constant(TensorType(p.dtype, p.shape), rng.standard_normal(p.shape)) for p in points]
        cost = sum(((g * u).sum() for g, u in zip(gs, us)), as_variable(np.float64(0.0)))
    elif order != 1:
        raise ValueError("order must be 1 or 2")
    gs = grad(cost, xs, disconnected_inputs="ignore")
    f_cost = function(xs, cost, on_unused_input="ignore")
    f_grad = function(xs, gs, on_unused_input="ignore")
    analytic = [np.asarray(g, dtype=np.float64) for g in f_grad(*points)]
    for _ in range(n_directions):
        vs = [rng.standard_normal(p.shape) for p in points]
        # perturb in each input's own dtype; the step actually taken (after rounding) is the direction
        plus_pts = [(p + eps * v).astype(p.dtype) for p, v in zip(points, vs)]
        minus_pts = [(p - eps * v).astype(p.dtype) for p, v in zip(points, vs)]
        numeric = (float(f_cost(*plus_pts)) - float(f_cost(*minus_pts))) / (2 * eps)
        steps = [(a.astype(np.float64) - b.astype(np.float64)) / (2 * eps) for a, b in zip(plus_pts, minus_pts)]
        symbolic = sum(float(np.sum(g * d)) for g, d in zip(analytic, steps))
        if not np.isclose(symbolic, numeric, rtol=rtol, atol=atol):
            raise GradientError(f"order-{order} gradient mismatch: symbolic directional derivative {symbolic!r}, "
                                f"finite differences {numeric!r} (abs err {abs(symbolic - numeric):.3g})")
    return analytic


# Theano's verify_grad defaults per dtype: the finite-difference step, and the tolerance
_EPS = {"float16": 1e-1, "float32": 3e-4, "float64": 1e-6}
_TOL = {"float16": 5e-2, "float32": 1e-2, "float64": 1e-5}


def verify_grad(fun, pt, n_tests=2, rng=None, eps=None, out_type=None, abs_tol=None, rel_tol=None, mode=None,
                cast_to_output_type=False, no_debug_ref=True):
    """Theano's ``verify_grad``: ``check_grad`` (first order) with Theano's step and tolerance for the
    least precise input dtype (float32 points are perturbed in float32, by 3e-4, to 1e-2 relative).
    ``out_type``, ``mode``, ``cast_to_output_type`` and ``no_debug_ref`` are accepted and unused."""
    if isinstance(rng, np.random.RandomState):
        rng = np.random.default_rng(rng.randint(2**31))
    pt = [np.asarray(p) for p in pt]
    floats = [p.dtype.name for p in pt if p.dtype.kind == "f"] or ["float64"]
    coarsest = max(floats, key=lambda d: _EPS.get(d, 1e-6))
    tol = _TOL.get(coarsest, 1e-5)
    check_grad(fun, pt, order=1, eps=eps or _EPS.get(coarsest, 1e-6), rtol=rel_tol or tol,
               atol=abs_tol or (tol if coarsest != "float64" else 1e-8), n_directions=n_tests, rng=rng)


verify_grad.E_grad = GradientError


def numeric_grad(f, x, eps=1e-6):
    """Central-difference gradient of a scalar numpy function ``f`` at ``x`` (entry by entry; small x only)."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        fp = f(x)
        x[i] = old - eps
        fm = f(x)
        x[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


# Agreement of a backend with numpy mode: float64 to 1e-12, float32 to 1e-5 (relative to each output's
# largest entry as well, so that an entry cancelling to ~0 is judged at the scale it was computed at).
BACKEND_RTOL = {"float64": 1e-12, "float32": 1e-5, "float16": 1e-2}


class BackendMismatch(AssertionError):
    """A backend computes something else than numpy mode."""


def assert_backend_agrees(inputs, outputs, values, mode, updates=None, **kwargs):
    """Compile ``outputs`` (and ``updates``) of ``inputs`` in numpy mode and in ``mode``, call both on
    ``values`` and assert the outputs and the updated shared values agree (see ``BACKEND_RTOL``).
    Shared variables are restored between the two runs.  Returns the backend's outputs."""
    shared = [s for s, _ in (updates.items() if isinstance(updates, dict) else updates or ())]
    saved = [s.get_value() for s in shared]
    results = []
    for m in ("FAST_RUN", mode):
        for s, v in zip(shared, saved):
            s.set_value(v.copy())
        fn = function(inputs, outputs, updates=updates, mode=m, **kwargs)
        outs = fn(*[np.copy(v) for v in values])
        results.append(([outs] if fn.single else list(outs)) + [s.get_value() for s in shared])
    for i, (want, got) in enumerate(zip(*results)):
        want, got = np.asarray(want), np.asarray(got)
        what = f"output {i}" if i < len(results[0]) - len(shared) else f"update of {shared[i - len(results[0])]}"
        if want.dtype != got.dtype or want.shape != got.shape:
            raise BackendMismatch(f"{mode}: {what} is {got.dtype}{list(got.shape)}, numpy mode gives "
                                  f"{want.dtype}{list(want.shape)}")
        if want.dtype.kind not in "fc":
            if not np.array_equal(want, got):
                raise BackendMismatch(f"{mode}: {what} differs from numpy mode: {got!r} vs {want!r}")
            continue
        rtol = BACKEND_RTOL[want.dtype.name]
        scale = np.max(np.abs(want[np.isfinite(want)]), initial=0.0)
        bad = ~((np.abs(got - want) <= rtol * (np.abs(want) + scale)) | (want == got) | (np.isnan(want) & np.isnan(got)))
        if bad.any():
            k = np.argwhere(bad)[0]
            raise BackendMismatch(f"{mode}: {what} differs from numpy mode at {tuple(k)}: {got[tuple(k)]!r} vs "
                                  f"{want[tuple(k)]!r} (rtol {rtol})")
    return results[1]


__all__ = ["assert_backend_agrees", "BackendMismatch", "BACKEND_RTOL", "check_grad", "verify_grad", "numeric_grad", "GradientError", "Variable"]
