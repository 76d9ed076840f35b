"""LSTM training step (forward + BPTT + SGD) built with minigraph vs hand-written numpy.

Prints median milliseconds per step for each implementation and their ratio, measured
alternately in one run (machines here are noisy), for several sizes and dtypes, with the
rewrites on and off, plus compile time.  Run:  python benchmarks/lstm_step.py [--quick]
"""
import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import minigraph as mg  # noqa: E402
import minigraph.tensor as T  # noqa: E402
from lstm import reference as ref  # noqa: E402

SIZES = {"S1": (50, 1, 8, 20), "S2": (100, 32, 64, 128), "S3": (100, 64, 256, 512)}


def build_minigraph_step(params, dtype, rewrite=True):
    """The Theano-style LSTM (fused gates), compiled as one SGD training step."""
    shared = {k: mg.shared(v.copy(), k) for k, v in params.items()}
    H = params["W_h"].shape[0]
    X = T.tensor3("X", dtype=dtype)
    Y = T.matrix("Y", dtype=dtype)
    lr = T.scalar("lr", dtype=dtype)

    def step(x_t, h, c, W_x, W_h, b):
        z = T.dot(x_t, W_x) + T.dot(h, W_h) + b
        i = T.nnet.sigmoid(z[:, :H])
        f = T.nnet.sigmoid(z[:, H:2 * H])
        o = T.nnet.sigmoid(z[:, 2 * H:3 * H])
        g = T.tanh(z[:, 3 * H:])
        c_new = f * c + i * g
        return [o * T.tanh(c_new), c_new]

    B = X.shape[1]
    h0 = T.zeros((B, H), dtype=dtype)
    c0 = T.zeros((B, H), dtype=dtype)
    (hs, cs), _ = mg.scan(step, sequences=X, outputs_info=[h0, c0],
                          non_sequences=[shared["W_x"], shared["W_h"], shared["b"]])
    y = T.dot(hs[-1], shared["W_y"]) + shared["b_y"]
    loss = T.mean((y - Y) ** 2)
    names = ["W_x", "W_h", "b", "W_y", "b_y"]
    grads = T.grad(loss, [shared[n] for n in names])
    updates = [(shared[n], shared[n] - lr * g) for n, g in zip(names, grads)]
    t0 = time.perf_counter()
    fn = mg.function([X, Y, lr], loss, updates=updates, rewrite=rewrite, allow_input_downcast=True)
    compile_s = time.perf_counter() - t0
    return fn, shared, compile_s


# CPU time of this process: with one BLAS thread it is the work done, and it is far less disturbed
# than wall time by other jobs on a shared machine.  --wall switches to wall-clock time.
CLOCK = time.process_time


def median_ms(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = CLOCK()
        fn()
        times.append((CLOCK() - t0) * 1e3)
    return statistics.median(times)


def run(size, dtype, repeats, rewrite=True):
    Tn, B, I, H = SIZES[size]
    rng = np.random.default_rng(0)
    params = ref.init_lstm_params(I, H, 1, rng, dtype)
    X = rng.standard_normal((Tn, B, I)).astype(dtype)
    Y = rng.standard_normal((B, 1)).astype(dtype)
    fn, shared, compile_s = build_minigraph_step(params, dtype, rewrite)
    # agreement: one step each from the same parameters
    p_ref = {k: v.copy() for k, v in params.items()}
    loss_ref = ref.lstm_sgd_step(p_ref, X, Y, dtype(0.1))
    loss_mg = fn(X, Y, 0.1)
    tol = 1e-4 if dtype == np.float32 else 1e-9
    agree = abs(float(loss_mg) - float(loss_ref)) <= tol * max(1.0, abs(float(loss_ref))) and all(
        np.allclose(shared[k].get_value(), p_ref[k], rtol=tol * 10, atol=tol) for k in p_ref)
    lr = dtype(1e-6)
    t_mg, t_ref = [], []
    for _ in range(repeats):  # alternate to share the machine's noise fairly
        t_mg.append(median_ms(lambda: fn(X, Y, lr), 1))
        t_ref.append(median_ms(lambda: ref.lstm_sgd_step(p_ref, X, Y, lr), 1))
    # the ratio is the median over adjacent pairs: each pair shared the machine's state of the moment
    ratio = statistics.median(m / r for m, r in zip(t_mg, t_ref))
    return statistics.median(t_mg), statistics.median(t_ref), ratio, compile_s, agree


def memory_report(Tn=1000, B=32, I=64, H=128, dtype=np.float32):
    """Peak memory allocated during one BPTT training step over a long sequence, against the
    theoretical minimum of storing every step's gates (4H) and states (h, c: 2H)."""
    import tracemalloc
    params = ref.init_lstm_params(I, H, 1, np.random.default_rng(0), dtype)
    X = np.random.default_rng(1).standard_normal((Tn, B, I)).astype(dtype)
    Y = np.zeros((B, 1), dtype)
    fn, _, _ = build_minigraph_step(params, dtype)
    fn(X, Y, 0.0)  # warm up: specialise the loops
    item = np.dtype(dtype).itemsize
    theory = Tn * B * (4 * H + 2 * H) * item
    rows = []
    for label, run in (("minigraph", lambda: fn(X, Y, 0.0)),
                       ("numpy reference", lambda: ref.lstm_sgd_step({k: v.copy() for k, v in params.items()},
                                                                      X, Y, dtype(0.0)))):
        tracemalloc.start()
        run()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rows.append((label, peak))
    print(f"\nmemory, one training step, T={Tn} B={B} I={I} H={H} {np.dtype(dtype).name}: "
          f"theoretical gates+states {theory / 2**20:.1f} MiB")
    for label, peak in rows:
        print(f"  {label:16} peak {peak / 2**20:7.1f} MiB  ({peak / theory:.2f}x theory)")
    fwd = mg.function([], build_forward_only(params, dtype, X))
    tracemalloc.start()
    fwd()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"  {'forward only, h[-1]':16} peak {peak / 2**20:7.1f} MiB  (save-memory: no traces kept; "
          f"one (B,H) state is {B * H * item / 2**10:.0f} KiB)")


def build_forward_only(params, dtype, X_value):
    """The same LSTM, forward only, returning h[-1]: the save-memory path keeps no traces."""
    H = params["W_h"].shape[0]
    X = mg.shared(X_value, "X")
    W_x, W_h, b = (mg.shared(params[k], k) for k in ("W_x", "W_h", "b"))

    def step(x_t, h, c):
        z = T.dot(x_t, W_x) + T.dot(h, W_h) + b
        i, f, o = (T.nnet.sigmoid(z[:, k * H:(k + 1) * H]) for k in range(3))
        c_new = f * c + i * T.tanh(z[:, 3 * H:])
        return [o * T.tanh(c_new), c_new]

    B = X.shape[1]
    (hs, _), _ = mg.scan(step, sequences=X, outputs_info=[T.zeros((B, H), dtype=dtype), T.zeros((B, H), dtype=dtype)])
    return hs[-1]


def scan_overhead(n=2000):
    """Per-step cost of scan on a tiny state, against a Python loop making the same numpy calls."""
    x = np.random.default_rng(0).standard_normal((n, 4))
    w = np.full(4, 0.5)
    X, h0 = T.matrix("X"), T.vector("h0")
    W = mg.shared(w, "w")
    hs, _ = mg.scan(lambda x_t, h: T.tanh(x_t + h * W), sequences=X, outputs_info=h0)
    f = mg.function([X, h0], hs[-1])

    def by_hand():
        h = np.zeros(4)
        for t in range(n):
            h = np.tanh(x[t] + h * w)
        return h
    assert np.allclose(f(x, np.zeros(4)), by_hand())
    t_mg, t_np = [], []
    for _ in range(15):
        t_mg.append(median_ms(lambda: f(x, np.zeros(4)), 1))
        t_np.append(median_ms(by_hand, 1))
    a, b_ = statistics.median(t_mg) * 1e3 / n, statistics.median(t_np) * 1e3 / n
    print(f"\nscan per-step overhead (h = tanh(x_t + h*w), 4 units, {n} steps): minigraph {a:.2f} us/step, "
          f"hand-written loop {b_:.2f} us/step, ratio {a / b_:.2f}")


def rewrite_ablation(size="S2", dtype=np.float32, repeats=6):
    """Each scan rewrite switched off in turn: how much slower the training step gets without it."""
    from minigraph import rewrite as rw
    from minigraph import scan_rewrites as sr
    Tn, B, I, H = SIZES[size]
    params = ref.init_lstm_params(I, H, 1, np.random.default_rng(0), dtype)
    X = np.random.default_rng(1).standard_normal((Tn, B, I)).astype(dtype)
    Y = np.zeros((B, 1), dtype)
    rules = [("merge forward loop with grad's copy", rw.PRE_PASSES, sr.merge_variants),
             ("push out sequence work (X @ W_x)", rw.LOCAL_RULES, sr.pushout_sequence),
             ("hoist loop-invariant work (W.T)", rw.LOCAL_RULES, sr.pushout_invariant),
             ("weight gradients after the loop", rw.LOCAL_RULES, sr.pushout_sums),
             ("prune outputs / save-memory", rw.POST_PASSES, sr.prune)]
    fns = [("all rewrites", build_minigraph_step(params, dtype)[0])]
    for label, table, rule in rules:
        at = table.index(rule)
        table.remove(rule)
        try:
            fns.append((f"without: {label}", build_minigraph_step(params, dtype)[0]))
        finally:
            table.insert(at, rule)
    for _, fn in fns:
        fn(X, Y, 0.0)
    times = {label: [] for label, _ in fns}
    for _ in range(repeats):
        for label, fn in fns:
            times[label].append(median_ms(lambda: fn(X, Y, 0.0), 1))
    base = statistics.median(times["all rewrites"])
    print(f"\neach scan rewrite switched off ({size}, {np.dtype(dtype).name}, median CPU ms per training step):")
    for label, _ in fns:
        t = statistics.median(times[label])
        print(f"  {label:48} {t:8.2f} ms  {t / base:5.2f}x")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="S1 and S2 only, fewer repeats")
    ap.add_argument("--sizes", default=None, help="comma-separated, e.g. S1,S2")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--no-memory", action="store_true", help="skip the memory and per-step overhead reports")
    ap.add_argument("--wall", action="store_true", help="time with the wall clock instead of CPU time")
    args = ap.parse_args(argv)
    global CLOCK
    if args.wall:
        CLOCK = time.perf_counter
    sizes = args.sizes.split(",") if args.sizes else (["S1", "S2"] if args.quick else ["S1", "S2", "S3"])
    print(f"median {'wall' if args.wall else 'CPU'} milliseconds per training step (forward + BPTT + SGD), "
          "each implementation timed alternately in this run")
    print(f"{'size':4} {'dtype':8} {'rewrites':8} {'minigraph ms':>12} {'numpy ms':>9} {'ratio':>6} "
          f"{'compile s':>9} agree")
    for size in sizes:
        repeats = args.repeats or {"S1": 60, "S2": 15, "S3": 5}[size] // (2 if args.quick else 1)
        for dtype in (np.float32, np.float64):
            for rewrite in (True, False):
                t_mg, t_ref, ratio, comp, agree = run(size, dtype, repeats, rewrite)
                print(f"{size:4} {np.dtype(dtype).name:8} {'on' if rewrite else 'off':8} {t_mg:12.2f} {t_ref:9.2f} "
                      f"{ratio:6.2f} {comp:9.3f} {'yes' if agree else 'NO'}", flush=True)
    if not args.no_memory:
        scan_overhead()
        memory_report()
        rewrite_ablation("S2", np.float32, repeats=3 if args.quick else 6)


if __name__ == "__main__":
    main()
