"""exp and tanh in a jitted loop: minigraph's vectorisable versions (minigraph.backends.numba_math)
against numba's libm calls, with numpy's SIMD ufuncs as the reference (ratio 1.0), on the array
sizes of an LSTM's gates.  Run:  python benchmarks/numba_math.py"""
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import numba  # noqa: E402

from minigraph.backends import numba_math  # noqa: E402


def _loop(fn):
    @numba.njit(error_model="numpy")
    def apply(x, out):
        for i in range(x.shape[0]):
            out[i] = fn(x[i])
    return apply


@numba.njit(inline="always")
def _libm_exp(x):
    return np.exp(x)


@numba.njit(inline="always")
def _libm_tanh(x):
    return np.tanh(x)


def _time(fn, x, out, repeats):
    fn(x, out)
    rounds = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(repeats):
            fn(x, out)
        rounds.append((time.perf_counter() - t0) / repeats)
    return statistics.median(rounds)


def main():
    rows = [("exp", np.exp, _loop(numba_math.exp), _loop(_libm_exp)),
            ("tanh", np.tanh, _loop(numba_math.tanh), _loop(_libm_tanh))]
    print("microseconds per call; ratio = time / numpy ufunc's in the same run")
    print(f"{'function':8} {'dtype':8} {'n':>7} {'numpy':>8} {'minigraph':>10} {'ratio':>6} {'libm loop':>10} {'ratio':>6}")
    for name, ufunc, ours, libm in rows:
        for dtype in (np.float64, np.float32):
            for n in (80, 2048, 65536):
                x = np.random.default_rng(0).normal(0.0, 3.0, n).astype(dtype)
                out = np.empty_like(x)
                repeats = max(10, 2_000_000 // n)
                ref = _time(lambda a, o: ufunc(a, out=o), x, out, repeats)
                t_ours, t_libm = _time(ours, x, out, repeats), _time(libm, x, out, repeats)
                print(f"{name:8} {np.dtype(dtype).name:8} {n:7d} {ref * 1e6:8.2f} {t_ours * 1e6:10.2f} "
                      f"{t_ours / ref:6.2f} {t_libm * 1e6:10.2f} {t_libm / ref:6.2f}")


if __name__ == "__main__":
    main()
