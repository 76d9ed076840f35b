"""Jitted helpers the numba backend's generated code calls where one expression cannot say it.

Each is inlined into the generated function.  A helper that refuses its input raises a short
error; the driver then re-runs the call on the numpy executor, whose message names the node.
"""
import numba


@numba.njit(inline="always")
def check_length(x, n, exact):
    """``x`` itself, after checking that it has ``n`` rows (at least ``n`` unless ``exact``)."""
    length = x.shape[0]
    if length < n or (exact and length != n):
        raise ValueError("scan: a sequence's length does not match the loop's number of steps")
    return x
