"""Per-call overhead of a compiled minigraph function against the same numpy calls written by hand.

The graph is about 30 small elementwise and dot nodes on small arrays (a two-layer gated cell), where the
time is dominated by Python overhead rather than arithmetic.  Prints the median time per call of both
versions and their ratio (target: within 1.5x).

    python benchmarks/overhead.py [--repeat 25] [--number 2000] [--profile]
"""
import argparse
import cProfile
import os
import pstats
import sys
import time
import timeit

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import minigraph as theano  # noqa: E402
import minigraph.tensor as T  # noqa: E402
from minigraph.rewrite import count_nodes  # noqa: E402

rng = np.random.default_rng(0)
B, D = 4, 8
X = rng.standard_normal((B, D))
H0 = rng.standard_normal((B, D))
W1, W2, U = (rng.standard_normal((D, D)) * 0.3 for _ in range(3))
B1, B2 = rng.standard_normal(D), rng.standard_normal(D)


def graph(x, h, w1, w2, u, b1, b2):
    """The benchmarked computation; it works on numpy arrays and on symbolic variables alike, except
    for the functions passed explicitly below."""
    return _cell(x, h, w1, w2, u, b1, b2, dot=T.dot, tanh=T.tanh, sigmoid=T.nnet.sigmoid, exp=T.exp,
                 maximum=T.maximum, sqrt=T.sqrt)


def by_hand(x, h, w1, w2, u, b1, b2):
    return _cell(x, h, w1, w2, u, b1, b2, dot=np.dot, tanh=np.tanh, sigmoid=_np_sigmoid, exp=np.exp,
                 maximum=np.maximum, sqrt=np.sqrt)


def _np_sigmoid(z):
    return 1 / (1 + np.exp(-z))  # what one writes by hand (it overflows for z < -709; fine here)


def _cell(x, h, w1, w2, u, b1, b2, dot, tanh, sigmoid, exp, maximum, sqrt):
    a = dot(x, w1) + dot(h, u) + b1
    gate = sigmoid(a)
    cand = tanh(dot(x, w2) + b2)
    h1 = gate * h + (1 - gate) * cand
    r = maximum(h1, 0) * 0.5 + exp(-h1 * h1)
    s = sqrt(r * r + 1) - tanh(r)
    out = dot(s, w1) * gate - h1
    return out, (out * out).sum(), (s - a).mean(axis=0)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=25)
    p.add_argument("--number", type=int, default=2000)
    p.add_argument("--profile", action="store_true", help="cProfile the compiled function's calls")
    args = p.parse_args()

    xs = [T.dmatrix("x"), T.dmatrix("h"), T.dmatrix("w1"), T.dmatrix("w2"), T.dmatrix("u"), T.dvector("b1"),
          T.dvector("b2")]
    f = theano.function(xs, list(graph(*xs)))
    values = [X, H0, W1, W2, U, B1, B2]
    for got, want in zip(f(*values), by_hand(*values)):
        np.testing.assert_allclose(got, want, rtol=1e-12)

    def median_us(fn):
        # CPU time of this process: far less disturbed than wall time by other jobs on a shared machine
        runs = timeit.repeat(lambda: fn(*values), number=args.number, repeat=args.repeat, timer=time.process_time)
        return float(np.median(runs)) / args.number * 1e6

    # interleave the two measurements so that machine noise hits both alike
    t_np, t_mg = [], []
    for _ in range(3):
        t_np.append(median_us(by_hand))
        t_mg.append(median_us(f))
    t_np, t_mg = min(t_np), min(t_mg)
    print(f"compiled graph: {count_nodes(f.outputs)} nodes, arrays of shape {X.shape}")
    print(f"numpy by hand : {t_np:8.2f} us per call (median)")
    print(f"minigraph     : {t_mg:8.2f} us per call (median)")
    print(f"ratio         : {t_mg / t_np:8.2f}x (target <= 1.5x)")
    _update_overhead(median_us)
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.number):
            f(*values)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)


def _update_overhead(median_us):
    """A function that updates three shared variables against one returning the same values: the cost of
    applying updates atomically (one lock per shared variable, taken in a fixed order)."""
    ws = [theano.shared(w.copy(), f"w{i}") for i, w in enumerate((W1, W2, U))]
    x = T.dmatrix("x")
    new = [w * 1.0 + T.dot(x, w)[:1].sum() * 0.0 for w in ws]
    f_out = theano.function([x], new)
    f_upd = theano.function([x], [], updates=list(zip(ws, new)))
    t_out, t_upd = [], []
    for _ in range(3):
        t_out.append(median_us(lambda *_: f_out(X)))
        t_upd.append(median_us(lambda *_: f_upd(X)))
    t_out, t_upd = min(t_out), min(t_upd)
    print(f"3 values returned: {t_out:8.2f} us per call; as 3 shared-variable updates: {t_upd:8.2f} us per call "
          f"({t_upd / t_out:.2f}x)")


if __name__ == "__main__":
    main()
