"""The same LSTM training step in other frameworks, for the benchmark table when they are installed.

Each builder takes the reference parameters (numpy, fused gate order [i, f, o, g], see
``lstm.reference``), the data and the dtype, and returns an ``Impl`` (see ``lstm_step.py``), or
raises ImportError when its framework is missing.  Nothing here is a dependency of minigraph.
"""
import time

import numpy as np

NAMES = ("PyTorch nn.LSTM", "JAX lax.scan + jit", "PyTensor scan", "HIPS autograd")


def _blocks(w, order, H):
    """Gate blocks of the last axis of ``w`` taken in ``order``."""
    return np.concatenate([w[..., k * H:(k + 1) * H] for k in order], axis=-1)


def torch_lstm(params, X, Y, device="cpu"):
    """PyTorch's nn.LSTM with the reference's parameters on ``device``, in X's dtype: ``(step(lr) -> loss,
    current() -> parameters in the reference's layout, reset())``.  gpu.py runs it on CUDA (cuDNN)."""
    import torch
    I, H4 = params["W_x"].shape
    H = H4 // 4
    tdt = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[X.dtype]
    lstm = torch.nn.LSTM(I, H).to(device=device, dtype=tdt)
    head = torch.nn.Linear(H, 1).to(device=device, dtype=tdt)
    lstm.bias_hh_l0.requires_grad_(False)  # one bias, as in the reference
    to_torch = [0, 1, 3, 2]  # torch's gate order is [i, f, g, o]; this permutation is its own inverse
    Xt, Yt = torch.from_numpy(X).to(device), torch.from_numpy(Y).to(device)
    trainable = [lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, head.weight, head.bias]

    def reset():
        values = [_blocks(params["W_x"], to_torch, H).T, _blocks(params["W_h"], to_torch, H).T,
                  _blocks(params["b"], to_torch, H), params["W_y"].T, params["b_y"]]
        with torch.no_grad():
            for p, v in zip(trainable, values):
                p.copy_(torch.from_numpy(np.ascontiguousarray(v)))
            lstm.bias_hh_l0.zero_()

    def step(lr):
        for p in trainable:
            p.grad = None
        out, _ = lstm(Xt)
        loss = ((head(out[-1]) - Yt) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            for p in trainable:
                p -= float(lr) * p.grad
        return loss.item()

    def current():
        w = [p.detach().cpu().numpy() for p in trainable]
        return {"W_x": _blocks(w[0].T, to_torch, H), "W_h": _blocks(w[1].T, to_torch, H),
                "b": _blocks(w[2], to_torch, H), "W_y": w[3].T, "b_y": w[4]}

    reset()
    return step, current, reset


def build_torch(params, X, Y, dtype, impl):
    import torch
    torch.set_num_threads(1)
    step, current, reset = torch_lstm(params, X.astype(dtype, copy=False), Y.astype(dtype, copy=False))
    return impl(NAMES[0], step, current, reset, 0.0)


def _lstm_loss(np_, sigmoid, scan_last):
    """The loss of the many-to-one LSTM written against a numpy-like module ``np_``."""
    def loss(p, X, Y):
        H = p["W_h"].shape[0]

        def cell(h, c, x):
            a = np_.dot(x, p["W_x"]) + np_.dot(h, p["W_h"]) + p["b"]
            i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 2 * H:3 * H])
            c = f * c + i * np_.tanh(a[:, 3 * H:])
            return o * np_.tanh(c), c
        h = scan_last(cell, X, H)
        return np_.mean((np_.dot(h, p["W_y"]) + p["b_y"] - Y) ** 2)
    return loss


def build_jax(params, X, Y, dtype, impl):
    import os
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def scan_last(cell, X, H):
        zeros = jnp.zeros((X.shape[1], H), X.dtype)
        (h, _), _ = jax.lax.scan(lambda hc, x: (cell(hc[0], hc[1], x), None), (zeros, zeros), X)
        return h

    loss = _lstm_loss(jnp, jax.nn.sigmoid, scan_last)

    @jax.jit
    def sgd(p, X, Y, lr):
        value, g = jax.value_and_grad(loss)(p, X, Y)
        return value, {k: p[k] - lr * g[k] for k in p}

    state = {}
    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)

    def reset():
        state["p"] = {k: jnp.asarray(v) for k, v in params.items()}

    def step(lr):
        value, state["p"] = sgd(state["p"], Xj, Yj, dtype(lr))
        return float(value.block_until_ready())

    reset()
    t0 = time.perf_counter()
    sgd(state["p"], Xj, Yj, dtype(0))[0].block_until_ready()  # the first call compiles
    return impl(NAMES[1], step, lambda: {k: np.asarray(v) for k, v in state["p"].items()}, reset,
                time.perf_counter() - t0)


def build_pytensor(params, X, Y, dtype, impl):
    import pytensor
    import pytensor.tensor as pt
    name = np.dtype(dtype).name
    shared = {k: pytensor.shared(v.copy(), name=k) for k, v in params.items()}
    H = params["W_h"].shape[0]
    Xs, Ys, lr = pt.tensor3("X", dtype=name), pt.matrix("Y", dtype=name), pt.scalar("lr", dtype=name)

    def cell(x, h, c, W_x, W_h, b):
        a = pt.dot(x, W_x) + pt.dot(h, W_h) + b
        i, f, o = (pt.sigmoid(a[:, k * H:(k + 1) * H]) for k in range(3))
        c = f * c + i * pt.tanh(a[:, 3 * H:])
        return o * pt.tanh(c), c

    zeros = pt.zeros((Xs.shape[1], H), dtype=name)
    (hs, _), _ = pytensor.scan(cell, sequences=Xs, outputs_info=[zeros, zeros],
                               non_sequences=[shared["W_x"], shared["W_h"], shared["b"]])
    loss = pt.mean((pt.dot(hs[-1], shared["W_y"]) + shared["b_y"] - Ys) ** 2)
    names = list(params)
    grads = pytensor.grad(loss, [shared[k] for k in names])
    t0 = time.perf_counter()
    fn = pytensor.function([Xs, Ys, lr], loss, updates=[(shared[k], shared[k] - lr * g) for k, g in zip(names, grads)])
    compile_s = time.perf_counter() - t0

    def reset():
        for k, v in params.items():
            shared[k].set_value(v.copy())

    return impl(NAMES[2], lambda r: float(fn(X, Y, dtype(r))), lambda: {k: s.get_value() for k, s in shared.items()},
                reset, compile_s)


def build_autograd(params, X, Y, dtype, impl):
    import autograd
    import autograd.numpy as anp

    def scan_last(cell, X, H):
        h = c = anp.zeros((X.shape[1], H), X.dtype)
        for t in range(X.shape[0]):
            h, c = cell(h, c, X[t])
        return h

    value_and_grad = autograd.value_and_grad(_lstm_loss(anp, lambda a: 0.5 * (anp.tanh(0.5 * a) + 1), scan_last))
    state = {}

    def reset():
        state["p"] = {k: v.copy() for k, v in params.items()}

    def step(lr):
        value, g = value_and_grad(state["p"], X, Y)
        state["p"] = {k: (v - dtype(lr) * g[k]).astype(dtype) for k, v in state["p"].items()}
        return float(value)

    reset()
    return impl(NAMES[3], step, lambda: state["p"], reset, 0.0)


BUILDERS = (build_torch, build_jax, build_pytensor, build_autograd)
