"""LSTM training step (forward + BPTT + SGD), minigraph against hand-written numpy.

Implementations, each checked to give the reference's loss and updated parameters after one step:

* minigraph, the LSTM written in the Theano style with fused (I, 4H) / (H, 4H) gate weights, with
  the rewrites on and off;
* minigraph, the LSTM written naively, one weight matrix per gate (eight products a step, as in
  the seed tutorial);
* minigraph, through the ``lstm`` package (``SequenceModel`` + ``mse`` + ``optim.sgd``);
* the hand-written numpy BPTT of ``lstm.reference`` (the baseline of every ratio);
* PyTorch, JAX, PyTensor and HIPS autograd, each only if installed (``benchmarks/others.py``).

Every implementation is timed once per round, in a shuffled order, rounds repeated; the ratio is
the median over rounds of its time over the reference's in the same round (machines here are
noisy, and a fixed order measured up to 15% in favour of some positions at S1).  Also printed:
compile time, and with the default options the scan per-step overhead, peak memory and a rewrite
ablation.  Run:  python benchmarks/lstm_step.py [--quick]
"""
import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Callable

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
import minigraph as mg  # noqa: E402
import minigraph.tensor as T  # noqa: E402
from lstm import reference as ref  # noqa: E402

SIZES = {"S0": (1, 1, 10, 20), "S1": (50, 1, 8, 20), "S2": (100, 32, 64, 128), "S3": (100, 64, 256, 512)}
NAMES = ["W_x", "W_h", "b", "W_y", "b_y"]


@dataclass
class Impl:
    """One implementation of the training step on fixed data."""
    name: str
    step: Callable      # step(lr) -> loss: one SGD step on the current parameters
    params: Callable    # () -> the current parameters, in the reference's layout
    reset: Callable     # () -> back to the initial parameters
    compile_s: float


def _shared_impl(name, fn, shared, names, params, X, Y, compile_s):
    """An Impl for a compiled minigraph step ``fn(X, Y, lr)`` over shared variables ``shared[names[k]]``
    standing for the reference parameters ``NAMES[k]``."""
    def reset():
        for k, n in zip(NAMES, names):
            shared[n].set_value(params[k].copy())
    return Impl(name, lambda lr: fn(X, Y, lr), lambda: {k: shared[n].get_value() for k, n in zip(NAMES, names)},
                reset, compile_s)


def _compiled(loss, shared_list, X, Y, lr, rewrite=True):
    grads = T.grad(loss, shared_list)
    t0 = time.perf_counter()
    fn = mg.function([X, Y, lr], loss, updates=[(p, p - lr * g) for p, g in zip(shared_list, grads)],
                     rewrite=rewrite, allow_input_downcast=True)
    return fn, time.perf_counter() - t0


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
    fn, compile_s = _compiled(loss, [shared[n] for n in NAMES], X, Y, lr, rewrite)
    return fn, shared, compile_s


def build_per_gate_step(params, X_value, Y_value, dtype):
    """The LSTM as a Theano user would first write it: one input and one recurrent weight per gate."""
    H = params["W_h"].shape[0]
    gates = "ifog"
    shared = {}
    for k, gname in enumerate(gates):
        cols = slice(k * H, (k + 1) * H)
        shared[f"W_{gname}"] = mg.shared(params["W_x"][:, cols].copy(), f"W_{gname}")
        shared[f"U_{gname}"] = mg.shared(params["W_h"][:, cols].copy(), f"U_{gname}")
        shared[f"b_{gname}"] = mg.shared(params["b"][cols].copy(), f"b_{gname}")
    shared["W_y"], shared["b_y"] = mg.shared(params["W_y"].copy(), "W_y"), mg.shared(params["b_y"].copy(), "b_y")
    X, Y, lr = T.tensor3("X", dtype=dtype), T.matrix("Y", dtype=dtype), T.scalar("lr", dtype=dtype)
    S = shared

    def step(x_t, h, c):
        i = T.nnet.sigmoid(T.dot(x_t, S["W_i"]) + T.dot(h, S["U_i"]) + S["b_i"])
        f = T.nnet.sigmoid(T.dot(x_t, S["W_f"]) + T.dot(h, S["U_f"]) + S["b_f"])
        o = T.nnet.sigmoid(T.dot(x_t, S["W_o"]) + T.dot(h, S["U_o"]) + S["b_o"])
        g = T.tanh(T.dot(x_t, S["W_g"]) + T.dot(h, S["U_g"]) + S["b_g"])
        c_new = f * c + i * g
        return [o * T.tanh(c_new), c_new]

    zeros = T.zeros((X.shape[1], H), dtype=dtype)
    (hs, _), _ = mg.scan(step, sequences=X, outputs_info=[zeros, zeros])
    loss = T.mean((T.dot(hs[-1], S["W_y"]) + S["b_y"] - Y) ** 2)
    order = [f"{w}_{gname}" for w in "WUb" for gname in gates] + ["W_y", "b_y"]
    fn, compile_s = _compiled(loss, [S[n] for n in order], X, Y, lr)

    def current():
        cat = lambda w: np.concatenate([S[f"{w}_{gname}"].get_value() for gname in gates], axis=-1)  # noqa: E731
        return {"W_x": cat("W"), "W_h": cat("U"), "b": cat("b"), "W_y": S["W_y"].get_value(),
                "b_y": S["b_y"].get_value()}

    def reset():
        for k, gname in enumerate(gates):
            cols = slice(k * H, (k + 1) * H)
            for w, src in (("W", "W_x"), ("U", "W_h"), ("b", "b")):
                S[f"{w}_{gname}"].set_value(params[src][..., cols].copy())
        S["W_y"].set_value(params["W_y"].copy())
        S["b_y"].set_value(params["b_y"].copy())
    return Impl("minigraph, Theano style, one weight per gate", lambda r: fn(X_value, Y_value, r), current, reset,
                compile_s)


def build_package_step(params, dtype):
    """The same model through the lstm package: SequenceModel, mse and optim.sgd."""
    from lstm import layers, optim
    I, H4 = params["W_x"].shape
    model = layers.SequenceModel("lstm", n_in=I, n_hidden=H4 // 4, n_out=1, dtype=np.dtype(dtype).name)
    by_name = {p.name: p for p in model.params}
    names = ["lstm0.W_x", "lstm0.W_h", "lstm0.b", "out.W", "out.b"]
    for k, n in zip(NAMES, names):
        by_name[n].set_value(params[k].copy())
    X, Y, lr = T.tensor3("X", dtype=dtype), T.matrix("Y", dtype=dtype), T.scalar("lr", dtype=dtype)
    loss = layers.mse(model.build(X), Y)
    plist = [by_name[n] for n in names]
    state = optim.sgd(plist, T.grad(loss, plist), lr)
    t0 = time.perf_counter()
    fn = mg.function([X, Y, lr], loss, updates=state.updates, allow_input_downcast=True)
    return fn, by_name, names, time.perf_counter() - t0


def implementations(params, X, Y, dtype, others=True, ablation=True):
    """Every implementation of the training step for these data, the numpy reference first."""
    p = {k: v.copy() for k, v in params.items()}

    def reset_ref():
        for k in p:
            p[k][...] = params[k]
    impls = [Impl("numpy reference (hand-written BPTT)", lambda lr: ref.lstm_sgd_step(p, X, Y, dtype(lr)),
                  lambda: p, reset_ref, 0.0)]
    fn, shared, compile_s = build_minigraph_step(params, dtype)
    impls.append(_shared_impl("minigraph, Theano style, fused gates", fn, shared, NAMES, params, X, Y, compile_s))
    if ablation:
        fn, shared, compile_s = build_minigraph_step(params, dtype, rewrite=False)
        impls.append(_shared_impl("minigraph, fused gates, rewrites off", fn, shared, NAMES, params, X, Y,
                                  compile_s))
    impls.append(build_per_gate_step(params, X, Y, dtype))
    fn, by_name, names, compile_s = build_package_step(params, dtype)
    impls.append(_shared_impl("minigraph, lstm package", fn, by_name, names, params, X, Y, compile_s))
    impls += numba_impls(params, X, Y, dtype)
    if others:
        import others as other_frameworks
        for build in other_frameworks.BUILDERS:
            try:
                impls.append(build(params, X, Y, dtype, Impl))
            except ImportError:
                pass
    return impls


def numba_impls(params, X, Y, dtype):
    """The fused-gates step in numba mode (``mode="NUMBA"``), if numba is installed; its compile time
    includes the first call, where numba compiles (or loads from the disk cache)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return []
    mg.config.mode = "NUMBA"
    try:
        t0 = time.perf_counter()
        fn, shared, _ = build_minigraph_step(params, dtype)
        fn(X, Y, 0.0)
        compile_s = time.perf_counter() - t0
    finally:
        mg.config.mode = "FAST_RUN"
    return [_shared_impl("minigraph, numba mode, fused gates", fn, shared, NAMES, params, X, Y, compile_s)]


_COMPILE_PROBE = """
import sys, time, warnings
sys.path[:0] = [{root!r}, {here!r}]
warnings.simplefilter("ignore")
t0, c0 = time.perf_counter(), time.process_time()
import numpy as np, minigraph as mg, lstm_step as B
from lstm import reference as ref
Tn, Bn, I, H = B.SIZES["S1"]
params = ref.init_lstm_params(I, H, 1, np.random.default_rng(0), np.float64)
mg.config.mode = "NUMBA"
fn, _, _ = B.build_minigraph_step(params, np.float64)
fn(np.zeros((Tn, Bn, I)), np.zeros((Bn, 1)), 0.0)
print(time.perf_counter() - t0, time.process_time() - c0)
"""


def numba_compile_report():
    """Build and first call of the S1 training function in numba mode, in fresh processes: against an
    empty disk cache (cold), then against the cache that run filled (cached).  Wall and CPU seconds,
    including the imports of minigraph and numba."""
    import subprocess
    import tempfile
    try:
        import numba  # noqa: F401
    except ImportError:
        return
    here = os.path.dirname(os.path.abspath(__file__))
    code = _COMPILE_PROBE.format(root=os.path.dirname(here), here=here)
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, MINIGRAPH_CACHE_DIR=cache)
        times = [[float(t) for t in subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                                   text=True, check=True).stdout.split()[-2:]] for _ in range(2)]
    print(f"\nnumba mode, S1 training function, build + first call in a fresh process (wall / CPU s): "
          f"cold cache {times[0][0]:.2f} / {times[0][1]:.2f}, from the disk cache {times[1][0]:.2f} / {times[1][1]:.2f}")


def agrees(impl, reference, dtype):
    """One SGD step (lr 0.1) from the initial parameters gives the reference's loss and parameters."""
    tol = 1e-4 if dtype == np.float32 else 1e-9
    reference.reset()
    impl.reset()
    want, got = float(reference.step(0.1)), float(impl.step(0.1))
    ok = abs(got - want) <= tol * max(1.0, abs(want))
    theirs, ours = impl.params(), reference.params()
    ok = ok and all(np.allclose(np.asarray(theirs[k]), ours[k], rtol=tol * 10, atol=tol) for k in NAMES)
    reference.reset()
    impl.reset()
    return ok


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


def run(size, dtype, repeats, others=True, ablation=True):
    """Rows (name, median ms, ratio to the reference, compile s, agrees) for one size and dtype."""
    Tn, B, I, H = SIZES[size]
    rng = np.random.default_rng(0)
    params = ref.init_lstm_params(I, H, 1, rng, dtype)
    X = rng.standard_normal((Tn, B, I)).astype(dtype)
    Y = rng.standard_normal((B, 1)).astype(dtype)
    impls = implementations(params, X, Y, dtype, others, ablation)
    agree = [None] + [agrees(impl, impls[0], dtype) for impl in impls[1:]]
    lr = 1e-6  # the parameters barely move while timing
    for impl in impls:
        impl.step(lr)  # warm up: specialise loops, compile jit functions
    times = [[] for _ in impls]
    order = np.random.default_rng(1)
    for _ in range(repeats):  # rounds: every implementation once, so all share the machine's noise ...
        for k in order.permutation(len(impls)):  # ... in a new order each round: no one always runs first
            times[k].append(median_ms(lambda: impls[k].step(lr), 1))
    rows = []
    for impl, t, ok in zip(impls, times, agree):
        ratio = statistics.median(m / r for m, r in zip(t, times[0]))
        rows.append((impl.name, statistics.median(t), ratio, impl.compile_s, ok))
    return rows


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
    from minigraph.rewrite import Rewrites
    Tn, B, I, H = SIZES[size]
    params = ref.init_lstm_params(I, H, 1, np.random.default_rng(0), dtype)
    X = np.random.default_rng(1).standard_normal((Tn, B, I)).astype(dtype)
    Y = np.zeros((B, 1), dtype)
    rules = [("merge forward loop with grad's copy", "scan_merge_variants"),
             ("push out sequence work (X @ W_x)", "scan_pushout_sequence"),
             ("hoist loop-invariant work (W.T)", "scan_pushout_invariant"),
             ("weight gradients after the loop", "scan_pushout_sums"),
             ("prune outputs / save-memory", "scan_prune")]
    fns = [("all rewrites", build_minigraph_step(params, dtype)[0])]
    for label, rule in rules:  # the public switch: function(..., rewrite=Rewrites(exclude=[name]))
        fns.append((f"without: {label}", build_minigraph_step(params, dtype, rewrite=Rewrites(exclude=[rule]))[0]))
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
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="S1 and S2 only, fewer rounds")
    ap.add_argument("--sizes", default=None, help="comma-separated, e.g. S1,S2")
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--repeats", type=int, default=None, help="rounds per size (default S0 200, S1 60, S2 15, S3 5)")
    ap.add_argument("--no-others", action="store_true", help="skip PyTorch, JAX, PyTensor and autograd")
    ap.add_argument("--no-memory", action="store_true", help="skip the memory, per-step overhead and ablation reports")
    ap.add_argument("--wall", action="store_true", help="time with the wall clock instead of CPU time")
    args = ap.parse_args(argv)
    global CLOCK
    if args.wall:
        CLOCK = time.perf_counter
    sizes = args.sizes.split(",") if args.sizes else (["S1", "S2"] if args.quick else ["S0", "S1", "S2", "S3"])
    print(f"median {'wall' if args.wall else 'CPU'} milliseconds per training step (forward + BPTT + SGD); "
          "ratio = median over rounds of time / numpy reference's time in the same round")
    for size in sizes:
        repeats = args.repeats or {"S0": 200, "S1": 60, "S2": 15, "S3": 5}[size] // (2 if args.quick else 1)
        Tn, B, I, H = SIZES[size]
        for dtype in (np.dtype(d).type for d in args.dtypes.split(",")):
            print(f"\n{size} (T={Tn}, B={B}, I={I}, H={H}) {np.dtype(dtype).name}, {repeats} rounds")
            print(f"  {'implementation':46} {'ms':>9} {'ratio':>6} {'compile s':>9}  agrees")
            for name, ms, ratio, comp, ok in run(size, dtype, repeats, not args.no_others):
                print(f"  {name:46} {ms:9.2f} {ratio:6.2f} {comp:9.3f}  {'-' if ok is None else 'yes' if ok else 'NO'}",
                      flush=True)
    if not args.no_memory:
        numba_compile_report()
        scan_overhead()
        memory_report()
        rewrite_ablation("S2", np.float32, repeats=3 if args.quick else 6)


if __name__ == "__main__":
    main()
