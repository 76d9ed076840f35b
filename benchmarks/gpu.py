"""LSTM training step on one GPU: minigraph mode="JAX" against hand-written JAX and PyTorch's cuDNN LSTM.

One many-to-one LSTM (fused gates [i, f, o, g], one bias, a linear head, mean squared error), one
SGD step per call, float32, timed in one run at S2, S3 and S4:

* minigraph, the Theano-style scan compiled with ``mode="JAX"`` (minigraph's own BPTT, rewrites,
  lowered to one ``jax.jit`` program; parameters stay on the device as shared variables);
* JAX written by hand: ``lax.scan`` + ``jax.value_and_grad`` + ``jit``, parameters donated;
* PyTorch ``nn.LSTM`` on CUDA (cuDNN), when torch sees a GPU.

Every row is first checked against the hand-written numpy BPTT of ``lstm.reference`` (one step's
loss and updated parameters; the largest relative difference is printed).  Then rounds: each
implementation runs a few steps in a shuffled order, wall clock around a device synchronisation;
the ratio is the median over rounds of time / the reference row's time in the same round.  Each
framework runs with its default float32 matmul precision (TF32 may be used on recent GPUs).

    python benchmarks/gpu.py            # the GPU table (needs a GPU visible to JAX)
    python benchmarks/gpu.py --cpu      # CPU fallback: a small size, few rounds (CI runs it)
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import minigraph as mg  # noqa: E402
import minigraph.tensor as T  # noqa: E402
from lstm import reference as ref  # noqa: E402

SIZES = {"S2": (100, 32, 64, 128), "S3": (100, 64, 256, 512), "S4": (100, 256, 1024, 1024),
         "C1": (20, 8, 16, 32)}  # C1: the CPU fallback
NAMES = ["W_x", "W_h", "b", "W_y", "b_y"]
MINIGRAPH, HAND_JAX, CUDNN = "minigraph mode=JAX", "JAX lax.scan + jit (hand-written)", "PyTorch nn.LSTM (cuDNN)"


def minigraph_step(params, X, Y):
    """The LSTM written in the Theano style, compiled with mode="JAX"; step(lr) -> loss."""
    import jax
    H = params["W_h"].shape[0]
    shared = {k: mg.shared(v.copy(), k) for k, v in params.items()}
    Xs, Ys, lr = T.tensor3("X", dtype="float32"), T.matrix("Y", dtype="float32"), T.scalar("lr", dtype="float32")

    def cell(x_t, h, c, W_x, W_h, b):
        z = T.dot(x_t, W_x) + T.dot(h, W_h) + b
        i, f, o = (T.nnet.sigmoid(z[:, k * H:(k + 1) * H]) for k in range(3))
        c_new = f * c + i * T.tanh(z[:, 3 * H:])
        return [o * T.tanh(c_new), c_new]
    h0 = T.zeros((Xs.shape[1], H), dtype="float32")
    (hs, _), _ = mg.scan(cell, sequences=Xs, outputs_info=[h0, h0],
                         non_sequences=[shared["W_x"], shared["W_h"], shared["b"]])
    loss = T.mean((T.dot(hs[-1], shared["W_y"]) + shared["b_y"] - Ys) ** 2)
    plist = [shared[k] for k in NAMES]
    fn = mg.function([Xs, Ys, lr], loss, updates=[(p, p - lr * g) for p, g in zip(plist, T.grad(loss, plist))],
                     mode="JAX")
    Xd, Yd = jax.device_put(X), jax.device_put(Y)  # the data on the device, as a JAX user keeps it

    def reset():
        for k in NAMES:
            shared[k].set_value(params[k].copy())
    return (lambda r: float(fn(Xd, Yd, np.float32(r))), lambda: {k: shared[k].get_value() for k in NAMES}, reset,
            jax.block_until_ready)


def hand_jax_step(params, X, Y):
    """The same model in JAX by hand: lax.scan, value_and_grad, jit, donated parameters."""
    import jax
    import jax.numpy as jnp
    H = params["W_h"].shape[0]

    def loss(p, X, Y):
        def cell(hc, x):
            h, c = hc
            z = x @ p["W_x"] + h @ p["W_h"] + p["b"]
            i, f, o = (jax.nn.sigmoid(z[:, k * H:(k + 1) * H]) for k in range(3))
            c = f * c + i * jnp.tanh(z[:, 3 * H:])
            return (o * jnp.tanh(c), c), None
        zeros = jnp.zeros((X.shape[1], H), X.dtype)
        (h, _), _ = jax.lax.scan(cell, (zeros, zeros), X)
        return jnp.mean((h @ p["W_y"] + p["b_y"] - Y) ** 2)

    def sgd(p, X, Y, lr):
        value, g = jax.value_and_grad(loss)(p, X, Y)
        return value, {k: p[k] - lr * g[k] for k in p}
    sgd = jax.jit(sgd, donate_argnums=0)
    state = {}
    Xd, Yd = jax.device_put(X), jax.device_put(Y)

    def reset():
        state["p"] = {k: jax.device_put(v.copy()) for k, v in params.items()}

    def step(r):
        value, state["p"] = sgd(state["p"], Xd, Yd, np.float32(r))
        return float(value)
    reset()
    return step, lambda: {k: np.asarray(v) for k, v in state["p"].items()}, reset, jax.block_until_ready


def torch_step(params, X, Y):
    """PyTorch's nn.LSTM on the GPU (cuDNN); ImportError when torch or a CUDA device is missing."""
    import torch
    if not torch.cuda.is_available():
        raise ImportError("torch sees no CUDA device")
    from others import torch_lstm  # the same training step as the CPU benchmark's PyTorch row
    step, current, reset = torch_lstm(params, X, Y, device="cuda")
    return step, current, reset, lambda _: torch.cuda.synchronize()


def max_rel_diff(impl, params, X, Y):
    """Largest relative difference to the numpy reference after one SGD step (lr 0.1): loss and parameters."""
    step, current, reset, _ = impl
    want = {k: v.copy() for k, v in params.items()}
    loss_ref = ref.lstm_sgd_step(want, X, Y, np.float32(0.1))
    reset()
    loss = step(0.1)
    got = current()
    reset()
    diffs = [abs(loss - float(loss_ref)) / max(1.0, abs(float(loss_ref)))]
    diffs += [float(np.max(np.abs(np.asarray(got[k]) - want[k])) / max(1.0, np.max(np.abs(want[k])))) for k in NAMES]
    return max(diffs)


def run(size, rounds, steps):
    Tn, B, I, H = SIZES[size]
    rng = np.random.default_rng(0)
    params = ref.init_lstm_params(I, H, 1, rng, np.float32)
    X = rng.standard_normal((Tn, B, I)).astype(np.float32)
    Y = rng.standard_normal((B, 1)).astype(np.float32)
    impls, compile_s = {}, {}
    for name, build in ((MINIGRAPH, minigraph_step), (HAND_JAX, hand_jax_step), (CUDNN, torch_step)):
        try:
            t0 = time.perf_counter()
            impls[name] = build(params, X, Y)
            impls[name][0](0.0)  # the first call compiles
            compile_s[name] = time.perf_counter() - t0
        except ImportError as exc:
            print(f"  ({name}: skipped, {exc})")
    agree = {name: max_rel_diff(impl, params, X, Y) for name, impl in impls.items()}
    times = {name: [] for name in impls}
    order = np.random.default_rng(1)
    for _ in range(rounds):
        for name in order.permutation(list(impls)):
            step, _, _, sync = impls[name]
            sync(step(0.0))
            t0 = time.perf_counter()
            for _ in range(steps):
                step(1e-6)  # float(loss) waits for the step's result
            times[name].append((time.perf_counter() - t0) * 1e3 / steps)
    print(f"\n{size} (T={Tn}, B={B}, I={I}, H={H}) float32, {rounds} rounds of {steps} steps")
    print(f"  {'implementation':36} {'ms/step':>8} {'/ JAX':>6} {'/ cuDNN':>7} {'compile s':>9} {'max rel diff':>12}")
    for name in impls:
        ratio = {ref_name: statistics.median(a / b for a, b in zip(times[name], times[ref_name]))
                 for ref_name in (HAND_JAX, CUDNN) if ref_name in times}
        print(f"  {name:36} {statistics.median(times[name]):8.2f} {ratio.get(HAND_JAX, float('nan')):6.2f} "
              f"{ratio.get(CUDNN, float('nan')):7.2f} {compile_s[name]:9.2f} {agree[name]:12.1e}", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cpu", action="store_true", help="CPU fallback: size C1, few rounds (no GPU needed)")
    ap.add_argument("--sizes", default=None, help="comma-separated sizes (default S2,S3,S4; C1 with --cpu)")
    ap.add_argument("--rounds", type=int, default=None)
    args = ap.parse_args(argv)
    import jax
    device = jax.devices()[0]
    if not args.cpu and device.platform != "gpu":
        sys.exit(f"gpu.py: JAX sees no GPU (its device is {device}); run with --cpu for the CPU fallback")
    sizes = (args.sizes or ("C1" if args.cpu else "S2,S3,S4")).split(",")
    print(f"JAX device: {device.device_kind} ({device.platform}); jax {jax.__version__}, numpy {np.__version__}")
    try:
        import torch
        print(f"torch {torch.__version__}, CUDA device: "
              f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}")
    except ImportError:
        print("torch: not installed")
    for size in sizes:
        run(size, args.rounds or (3 if args.cpu else 7), 2 if args.cpu else 10)


if __name__ == "__main__":
    main()
