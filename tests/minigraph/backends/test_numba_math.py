"""The vectorisable exp and tanh the numba backend's loops call agree with numpy's to a few ulp over
the whole float64 range (tails, subnormal results, infinities, NaN, signed zeros), and in float32.
(Their speed against numpy's ufuncs is measured by benchmarks/numba_math.py, never here.)"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

numba = pytest.importorskip("numba")
numba_math = pytest.importorskip("minigraph.backends.numba_math")

SPECIALS = [0.0, -0.0, np.inf, -np.inf, np.nan, 709.78, 709.79, -745.1, -745.2, -708.4, 1e-300, -1e-300,
            5e-324, 0.17328679513998632, -0.17328679513998632, 19.9, 20.0, 20.1, -30.0, 1e-8, -1e-8]


def _loop(fn):
    @numba.njit(error_model="numpy")  # as the backend compiles every generated function
    def apply(x, out):
        for i in range(x.shape[0]):
            out[i] = fn(x[i])
    return apply


EXP, TANH = _loop(numba_math.exp), _loop(numba_math.tanh)


def _ulps(got, want):
    """|got - want| in units of the last place of ``want`` (0 where both are the same non-finite value)."""
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    spacing = np.spacing(np.abs(np.where(np.isfinite(want), want, 1.0)))
    with np.errstate(invalid="ignore"):  # inf - inf where ``same`` already decided
        return np.where(same, 0.0, np.abs(got - want) / spacing)


def _assert_exp_close(got, want):
    """Within 1 ulp where numpy's result is a normal number; below that (subnormal results and 0)
    within one subnormal step; NaN exactly where numpy's is."""
    normal = want >= np.finfo(np.float64).tiny
    assert _ulps(got[normal], want[normal]).max(initial=0.0) <= 1.0
    tiny = ~normal & ~np.isnan(want)
    assert np.abs(got[tiny] - want[tiny]).max(initial=0.0) <= 5e-324
    assert np.array_equal(np.isnan(got), np.isnan(want))


def _points(seed):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.uniform(-746.0, 710.0, 200_000), rng.normal(0.0, 3.0, 50_000),
                           rng.normal(0.0, 1e-6, 5_000), SPECIALS])


def test_exp_within_one_ulp_of_numpy_for_normal_results():
    x = _points(0)
    got = np.empty_like(x)
    EXP(x, got)
    with np.errstate(over="ignore"):
        want = np.exp(x)
    _assert_exp_close(got, want)
    assert np.array_equal(np.isnan(got), np.isnan(x))
    assert got[x == np.inf].tolist() == [np.inf] and got[x == -np.inf].tolist() == [0.0]


def test_tanh_within_four_ulp_of_numpy_and_keeps_the_sign_of_zero():
    x = _points(1)
    got = np.empty_like(x)
    TANH(x, got)
    want = np.tanh(x)
    assert _ulps(got, want).max() <= 4.0
    assert np.array_equal(np.signbit(got), np.signbit(want))  # tanh(-0.0) is -0.0
    assert np.array_equal(np.isnan(got), np.isnan(x))


@settings(max_examples=60)
@given(st.floats(allow_nan=True, allow_infinity=True, width=64))
def test_any_float64(x):
    got, arr = np.empty(2), np.array([x, -x])
    EXP(arr, got)
    with np.errstate(over="ignore"):
        _assert_exp_close(got, np.exp(arr))
    TANH(arr, got)
    assert (_ulps(got, np.tanh(arr)) <= 4.0).all()


def test_float32_rounds_once_from_float64():
    x = _points(2).astype(np.float32)
    for fn, ref in [(EXP, np.exp), (TANH, np.tanh)]:
        got = np.empty_like(x)
        fn(x, got)  # computed in float64, stored as float32
        with np.errstate(over="ignore"):
            want = ref(x.astype(np.float64)).astype(np.float32)
        assert _ulps(got, want).max() <= 1.0  # in float32 ulps
