"""Hand-written numpy reference implementations of recurrent nets: forward and full BPTT.

These functions are the oracle that minigraph's ``scan``/``grad`` are tested against and the
"hand-written numpy BPTT" speed baseline of the benchmarks.  They use numpy only.

Conventions (all cells)
-----------------------
* Inputs are time-major: ``X`` has shape ``(T, B, I)`` (steps, batch, input features).
* Parameters live in a dict of arrays.  Every array in the dict must have the same float dtype
  (float32 or float64); inputs, initial states, upstream gradients and targets must have that
  dtype too, or a ``TypeError`` is raised: nothing is up- or down-cast silently, and all outputs,
  caches, losses and gradients come back in that dtype.
* Initial states ``h0`` (and ``c0`` for the LSTM) have shape ``(B, H)``; ``None`` means zeros.
* Gates are fused along the last axis of ``W_x`` / ``W_h`` / ``b`` in blocks of ``H`` columns.
* ``*_forward(params, X, ...)`` returns ``(H_all, cache)``; ``H_all`` has shape ``(T, B, H)``
  and holds ``h_1 .. h_T``.  ``H_all`` is a view into the cache: do not write to it before the
  matching backward call.
* ``*_backward(params, cache, dH_all, dhT=None, ...)`` takes ``dH_all = dL/dH_all`` (``None``
  means zeros) plus optional extra gradients on the final states (``dhT = dL/dh_T``, added to
  ``dH_all[-1]``; ``dcT = dL/dc_T`` for the LSTM) and returns a dict with one gradient per
  cell parameter (same key, same shape) plus ``dX`` ``(T, B, I)``, ``dh0`` (and ``dc0``);
  keyword ``input_grad=False`` skips the ``dX`` product (the SGD steps use it).  The cache is
  not modified, so backward may be called several times on one forward.

LSTM (``lstm_*``): ``W_x (I, 4H)``, ``W_h (H, 4H)``, ``b (4H,)``, fused gate order
``[i, f, o, g]`` (input, forget, output gate, candidate).  Optional diagonal peepholes
``p_i, p_f, p_o`` of shape ``(H,)`` (all three or none; Gers & Schmidhuber 2000: the input
and forget gates see ``c_{t-1}``, the output gate sees ``c_t``)::

    a_t = x_t W_x + h_{t-1} W_h + b                      (B, 4H), split into a_i a_f a_o a_g
    i = sigm(a_i [+ p_i * c_{t-1}])     f = sigm(a_f [+ p_f * c_{t-1}])     g = tanh(a_g)
    c_t = f * c_{t-1} + i * g
    o = sigm(a_o [+ p_o * c_t])         h_t = o * tanh(c_t)

Vanilla RNN (``rnn_*``): ``W_x (I, H)``, ``W_h (H, H)``, ``b (H,)``;
``h_t = tanh(x_t W_x + h_{t-1} W_h + b)``.

GRU (``gru_*``), the PyTorch (cuDNN) formulation, in which the reset gate multiplies the
recurrent part of the candidate *after* the matrix product: ``W_x (I, 3H)``, ``W_h (H, 3H)``,
``b (3H,)`` (input side), ``b_hn (H,)`` (recurrent bias of the candidate only; a recurrent bias
on r and z would duplicate ``b``), fused order ``[r, z, n]``::

    a_t = x_t W_x + b        m_t = h_{t-1} W_h           (both (B, 3H), split into r z n blocks)
    r = sigm(a_r + m_r)      z = sigm(a_z + m_z)
    n = tanh(a_n + r * (m_n + b_hn))
    h_t = (1 - z) * n + z * h_{t-1}

Many-to-one regression head and loss (``*_loss_and_grads``, ``*_sgd_step``): extra parameters
``W_y (H, O)`` and ``b_y (O,)``; ``y = h_T W_y + b_y`` of shape ``(B, O)``; ``target`` must have
exactly the shape ``(B, O)``.  ``loss`` selects:

* ``"mse"`` (default): ``((y - target) ** 2).mean()``, the mean over all ``B * O`` elements;
* ``"half_sse"``: ``0.5 * ((y - target) ** 2).sum() / B``, half the squared error summed over
  outputs, averaged over the batch.

``*_sgd_step(params, X, target, lr, ...)`` computes loss and gradients at the current
parameters, then updates every array of ``params`` in place (``p -= lr * dL/dp``) and returns
the loss from before the update: one plain SGD training step.

``tutorial_lstm_sgd_costs`` reproduces the LSTM of the seed Theano tutorial (separate per-gate
weight matrices, batch-free, per-sample SGD); see its docstring.

How it is made fast
-------------------
* The input projection is hoisted out of the loop: one ``X.reshape(T*B, I) @ W_x`` product.
* One fused ``(B, H) @ (H, 4H)`` recurrent product per step, into a preallocated buffer; all
  elementwise work is done in place with ``out=`` on preallocated arrays.
* Weight gradients are not accumulated per step: the loop only stores the pre-activation
  gradients ``dA`` ``(T, B, 4H)``; afterwards ``dW_x = X2.T @ dA2``, ``dW_h = Hprev2.T @ dA2``
  (``Hprev2`` = stacked ``h_0 .. h_{T-1}``), ``db = dA2.sum(0)`` and ``dX = dA2 @ W_x.T`` are
  one matrix product (or reduction) each.
* Sigmoids are evaluated as ``0.5 + 0.5 * tanh(a / 2)``, with the factor 1/2 folded into the
  sigmoid columns of the weights; see ``sigmoid``.
"""
import numpy as np

__all__ = [
    "sigmoid",
    "init_lstm_params", "lstm_forward", "lstm_backward", "lstm_loss_and_grads", "lstm_sgd_step",
    "init_rnn_params", "rnn_forward", "rnn_backward", "rnn_loss_and_grads", "rnn_sgd_step",
    "init_gru_params", "gru_forward", "gru_backward", "gru_loss_and_grads", "gru_sgd_step",
    "tutorial_init_params", "tutorial_lstm_cost_and_grads", "tutorial_lstm_sgd_costs",
]

_PEEPHOLES = ("p_i", "p_f", "p_o")


# --------------------------------------------------------------------------------------------
# Elementwise numerics
# --------------------------------------------------------------------------------------------
# Why sigmoid(a) = 0.5 + 0.5 * tanh(a / 2):
# * It is stable for every input: tanh saturates to +-1 and never overflows, whereas the
#   textbook 1 / (1 + exp(-a)) overflows exp (inf plus a RuntimeWarning) once a < -88.7 in
#   float32 (a < -709 in float64); the overflow-free two-branch form built on exp(-|a|) needs
#   abs/where passes and measured 1.5x (float64) to 2.7x (float32) slower here.
# * It is the fastest stable form: one vectorised transcendental (numpy's SIMD tanh measured
#   within 10% of its exp) plus two cheap in-place passes.  The recurrent nets below fold the 1/2
#   into the sigmoid columns of W_x, W_h and b (scaling by a power of two is exact, so the
#   halved pre-activations are bitwise what a / 2 would give), which saves the first pass and
#   lets the LSTM run one tanh call over all four gate blocks at once.
# * Its derivative is s * (1 - s) as usual.  Absolute error stays at rounding level; relative
#   accuracy is lost only where s itself is below machine epsilon, which does not matter for
#   gates (they multiply bounded quantities).

def _tanh_to_sigmoid(v):
    """In place: v holds tanh(a/2); afterwards it holds sigm(a)."""
    v *= 0.5
    v += 0.5
    return v


def _sigmoid_of_half(v):
    """In place: v holds a/2; afterwards it holds sigm(a)."""
    np.tanh(v, out=v)
    return _tanh_to_sigmoid(v)


def sigmoid(x, out=None):
    """Logistic function 1 / (1 + exp(-x)), evaluated stably as 0.5 + 0.5 * tanh(x / 2)."""
    return _sigmoid_of_half(np.multiply(x, 0.5, out=out))


def _halve_columns(w, n_cols):
    """Copy of ``w`` whose first ``n_cols`` entries along the last axis are halved."""
    w = w.copy()
    w[..., :n_cols] *= 0.5
    return w


# --------------------------------------------------------------------------------------------
# Checking arguments
# --------------------------------------------------------------------------------------------

def _cell_params(params):
    """``params`` without the regression head's W_y and b_y."""
    return {k: v for k, v in params.items() if k not in ("W_y", "b_y")}


def _param_dtype(params):
    dtypes = {np.asarray(p).dtype for p in params.values()}
    if len(dtypes) != 1:
        raise TypeError(f"all parameters must share one dtype, got {sorted(map(str, dtypes))}")
    dtype = dtypes.pop()
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"parameters must be float32 or float64, got {dtype}")
    return dtype


def _checked(name, a, dtype, shape=None, ndim=None):
    a = np.asarray(a)
    if a.dtype != dtype:
        raise TypeError(f"{name} has dtype {a.dtype} but the parameters are {dtype}; "
                        f"cast it explicitly (nothing is converted silently)")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {a.shape}")
    if shape is not None and a.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {a.shape}")
    return a


def _check_cell(params, X, n_blocks):
    """Check X and the (W_x, W_h, b) triple of a cell with ``n_blocks`` fused blocks."""
    dtype = _param_dtype(params)
    X = _checked("X", X, dtype, ndim=3)
    T, B, I = X.shape
    if T < 1:
        raise ValueError("X must have at least one time step")
    H = params["W_h"].shape[0]
    _checked("W_x", params["W_x"], dtype, (I, n_blocks * H))
    _checked("W_h", params["W_h"], dtype, (H, n_blocks * H))
    _checked("b", params["b"], dtype, (n_blocks * H,))
    return dtype, X, T, B, I, H


def _backward_weights(params, X, H, n_blocks, dtype):
    """Checked W_x, and W_h transposed into C order (measurably faster in the step loop)."""
    W_x = _checked("W_x", params["W_x"], dtype, (X.shape[2], n_blocks * H))
    W_h = _checked("W_h", params["W_h"], dtype, (H, n_blocks * H))
    return W_x, np.ascontiguousarray(W_h.T)


def _initial_state(name, s, B, H, dtype):
    if s is None:
        return np.zeros((B, H), dtype)
    return _checked(name, s, dtype, (B, H))


def _carry(name, d, B, H, dtype):
    """A fresh, writable copy of an optional gradient on a final state (zeros if None)."""
    if d is None:
        return np.zeros((B, H), dtype)
    return _checked(name, d, dtype, (B, H)).copy()


def _upstream(dH_all, T, B, H, dtype):
    return None if dH_all is None else _checked("dH_all", dH_all, dtype, (T, B, H))


def _expect_cache(cache, cell):
    if cache.get("cell") != cell:
        raise ValueError(f"this cache was made by {cache.get('cell')}_forward, "
                         f"not {cell}_forward")


# --------------------------------------------------------------------------------------------
# Pieces shared by all cells
# --------------------------------------------------------------------------------------------

def _rows(a):
    """A C-contiguous (T, B, K) array as a (T*B, K) view; never a silent copy."""
    if not a.flags.c_contiguous:
        raise AssertionError("internal buffer is not C-contiguous")
    return a.reshape(-1, a.shape[-1])


def _project(X, W_x, b, out):
    """out (T, B, K) <- X @ W_x + b, as ONE (T*B, I) @ (I, K) product (hoisted input part)."""
    T, B, I = X.shape
    np.matmul(X.reshape(T * B, I), W_x, out=_rows(out))
    out += b


def _input_side_grads(X, W_x, dA, input_grad):
    """Gradients through the hoisted projection X @ W_x + b, given dL/d(pre-activations).

    One product each: dW_x = X2.T @ dA2 and (if ``input_grad``) dX = dA2 @ W_x.T; db is one
    reduction.
    """
    T, B, I = X.shape
    dA2 = _rows(dA)
    X2 = X.reshape(T * B, I)
    grads = {"W_x": X2.T @ dA2, "b": dA2.sum(axis=0)}
    if input_grad:
        grads["dX"] = (dA2 @ W_x.T).reshape(T, B, I)
    return grads


def _recurrent_weight_grad(Hs, dM):
    """dW_h = sum_t h_{t-1}^T dM_t as ONE product of the stacked h_0..h_{T-1} and deltas dM."""
    return _rows(Hs[:-1]).T @ _rows(dM)


def _mse(y, target):
    diff = y - target
    return (diff * diff).mean(), diff * (2.0 / diff.size)


def _half_sse(y, target):
    diff = y - target
    batch = y.shape[0]
    return 0.5 * (diff * diff).sum() / batch, diff * (1.0 / batch)


_LOSSES = {"mse": _mse, "half_sse": _half_sse}


def _many_to_one(forward, backward, params, X, target, loss, states, input_grad=True):
    """Loss and gradients of the regression head y = h_T W_y + b_y on top of a recurrent net."""
    if loss not in _LOSSES:
        raise ValueError(f"loss must be one of {sorted(_LOSSES)}, got {loss!r}")
    H_all, cache = forward(params, X, **states)
    h_T = H_all[-1]
    dtype = h_T.dtype
    W_y = _checked("W_y", params["W_y"], dtype, ndim=2)
    b_y = _checked("b_y", params["b_y"], dtype, (W_y.shape[1],))
    y = h_T @ W_y
    y += b_y
    target = _checked("target", target, dtype, y.shape)
    value, dy = _LOSSES[loss](y, target)
    grads = backward(params, cache, None, dhT=dy @ W_y.T, input_grad=input_grad)
    grads["W_y"] = h_T.T @ dy
    grads["b_y"] = dy.sum(axis=0)
    return value, grads


def _sgd_step(forward, backward, params, X, target, lr, loss, states):
    """Loss and parameter gradients (dX is not needed, so not computed), then the update."""
    value, grads = _many_to_one(forward, backward, params, X, target, loss, states,
                                input_grad=False)
    _sgd_update(params, grads, lr)
    return value


def _sgd_update(params, grads, lr):
    """params[k] -= lr * grads[k], in place (consumes grads)."""
    for name, p in params.items():
        g = grads[name]
        g *= lr
        p -= g


def _as_rng(rng):
    if isinstance(rng, (np.random.Generator, np.random.RandomState)):
        return rng
    return np.random.default_rng(rng)


def _uniform(rng, shape, scale, dtype):
    return rng.uniform(-scale, scale, size=shape).astype(dtype)


def _init_cell(n_in, n_hidden, n_out, rng, dtype, n_blocks, scale):
    """W_x, W_h, W_y ~ U(-scale, scale) (drawn in that order), b and b_y zeros."""
    rng = _as_rng(rng)
    dtype = np.dtype(dtype)
    params = {
        "W_x": _uniform(rng, (n_in, n_blocks * n_hidden), scale, dtype),
        "W_h": _uniform(rng, (n_hidden, n_blocks * n_hidden), scale, dtype),
        "b": np.zeros(n_blocks * n_hidden, dtype),
    }
    head = {"W_y": _uniform(rng, (n_hidden, n_out), scale, dtype), "b_y": np.zeros(n_out, dtype)}
    return params, head, rng


# --------------------------------------------------------------------------------------------
# LSTM
# --------------------------------------------------------------------------------------------

def _has_peepholes(params):
    present = [k in params for k in _PEEPHOLES]
    if any(present) and not all(present):
        raise ValueError("peepholes p_i, p_f, p_o must be given all together or not at all")
    return all(present)


def init_lstm_params(n_in, n_hidden, n_out, rng, dtype, peephole=False, forget_bias=1.0,
                     scale=0.1):
    """Parameters of an LSTM with a regression head.

    ``W_x (n_in, 4H)``, ``W_h (H, 4H)``, [``p_i, p_f, p_o (H,)``], ``W_y (H, n_out)`` are drawn
    from U(-scale, scale) in the order W_x, W_h, W_y, then the peepholes; ``b`` is zero except
    its forget block ``b[H:2H] = forget_bias``; ``b_y`` is zero.  ``rng`` is a numpy
    ``Generator`` or ``RandomState``, or a seed for ``np.random.default_rng``.
    """
    params, head, rng = _init_cell(n_in, n_hidden, n_out, rng, dtype, 4, scale)
    params["b"][n_hidden:2 * n_hidden] = forget_bias
    params.update(head)
    if peephole:
        for name in _PEEPHOLES:
            params[name] = _uniform(rng, (n_hidden,), scale, params["W_x"].dtype)
    return params


def lstm_forward(params, X, h0=None, c0=None):
    """Run the LSTM over X (T, B, I); returns (H_all (T, B, H), cache).

    Peepholes are used when ``params`` has ``p_i, p_f, p_o``; head parameters are ignored.
    ``cache["Cs"]`` holds the cell states ``c_0 .. c_T`` (so ``c_T`` is ``cache["Cs"][-1]``).
    """
    params = _cell_params(params)
    dtype, X, T, B, I, H = _check_cell(params, X, 4)
    peep = _has_peepholes(params)
    h0 = _initial_state("h0", h0, B, H, dtype)
    c0 = _initial_state("c0", c0, B, H, dtype)
    S = 3 * H  # sigmoid columns [i, f, o]; halved so one tanh gives sigm via _tanh_to_sigmoid

    G = np.empty((T, B, 4 * H), dtype)  # pre-activations, then (in place) gate activations
    _project(X, _halve_columns(params["W_x"], S), _halve_columns(params["b"], S), out=G)
    W_h = _halve_columns(params["W_h"], S)
    Hs = np.empty((T + 1, B, H), dtype)  # h_0 .. h_T
    Cs = np.empty((T + 1, B, H), dtype)  # c_0 .. c_T
    TC = np.empty((T, B, H), dtype)      # tanh(c_1) .. tanh(c_T)
    Hs[0] = h0
    Cs[0] = c0
    rec = np.empty((B, 4 * H), dtype)
    tmp = np.empty((B, H), dtype)
    G4 = G.reshape(T, B, 4, H)
    if peep:
        half_p_if = 0.5 * np.stack([params["p_i"], params["p_f"]])  # (2, H)
        half_p_o = 0.5 * params["p_o"]
        tmp2 = np.empty((B, 2, H), dtype)

    for t in range(T):
        a = G[t]
        i, f, o, g = G4[t].swapaxes(0, 1)
        c_prev, c = Cs[t], Cs[t + 1]
        np.matmul(Hs[t], W_h, out=rec)
        a += rec
        if peep:
            a_if = G4[t, :, :2]
            np.multiply(c_prev[:, None, :], half_p_if, out=tmp2)
            a_if += tmp2
            _sigmoid_of_half(a[:, :2 * H])
            np.tanh(g, out=g)
        else:
            np.tanh(a, out=a)  # all four blocks at once
            _tanh_to_sigmoid(a[:, :S])
        np.multiply(f, c_prev, out=c)
        np.multiply(i, g, out=tmp)
        c += tmp
        if peep:
            np.multiply(c, half_p_o, out=tmp)
            o += tmp
            _sigmoid_of_half(o)
        np.tanh(c, out=TC[t])
        np.multiply(o, TC[t], out=Hs[t + 1])

    cache = {"cell": "lstm", "X": X, "G": G, "Hs": Hs, "Cs": Cs, "TC": TC, "peep": peep}
    return Hs[1:], cache


def lstm_backward(params, cache, dH_all, dhT=None, dcT=None, *, input_grad=True):
    """BPTT for ``lstm_forward``.

    Returns a dict with ``W_x, W_h, b`` [``p_i, p_f, p_o``] and ``dX, dh0, dc0``.
    """
    _expect_cache(cache, "lstm")
    X, G, Hs, Cs, TC, peep = (cache[k] for k in ("X", "G", "Hs", "Cs", "TC", "peep"))
    T, B, H4 = G.shape
    H = H4 // 4
    dtype = G.dtype
    dH_all = _upstream(dH_all, T, B, H, dtype)
    dh = _carry("dhT", dhT, B, H, dtype)  # dL/dh_t, then (after the product) dL/dh_{t-1}
    dc = _carry("dcT", dcT, B, H, dtype)  # dL/dc_t, then dL/dc_{t-1}
    W_x, W_hT = _backward_weights(params, X, H, 4, dtype)

    dA = np.empty((T, B, 4 * H), dtype)  # dL/d(pre-activations)
    G4 = G.reshape(T, B, 4, H)
    dA4 = dA.reshape(T, B, 4, H)
    tmp = np.empty((B, H), dtype)
    fac = np.empty((B, 4 * H), dtype)
    # activation derivatives from activations v in one pass over the row:
    # v * (m - v) + k, with (m, k) = (1, 0) on sigmoid blocks -> s(1-s), (0, 1) on g -> 1-g^2
    m_row = np.ones((B, 4 * H), dtype)
    m_row[:, 3 * H:] = 0
    k_row = 1 - m_row
    if peep:
        p_i, p_f, p_o = (_checked(k, params[k], dtype, (H,)) for k in _PEEPHOLES)
        p_if = np.stack([p_i, p_f])
        tmp2 = np.empty((B, 2, H), dtype)

    for t in range(T - 1, -1, -1):
        act, d = G[t], dA[t]
        _, f, o, _ = G4[t].swapaxes(0, 1)
        _, df, do, dg = dA4[t].swapaxes(0, 1)
        tc = TC[t]
        if dH_all is not None:
            dh += dH_all[t]
        np.subtract(m_row, act, out=fac)
        fac *= act
        fac += k_row
        np.multiply(dh, tc, out=do)
        # dc += dh * o * (1 - tc^2), written as dh * (o - h_t * tc) since h_t = o * tc
        np.multiply(Hs[t + 1], tc, out=tmp)
        np.subtract(o, tmp, out=tmp)
        tmp *= dh
        dc += tmp
        if peep:
            do *= fac[:, 2 * H:3 * H]
            np.multiply(do, p_o, out=tmp)
            dc += tmp
        # di = dc * g and dg = dc * i in one call: block views [i, g] <- dc * [g, i]
        np.multiply(dc[:, None, :], G4[t, :, 3::-3], out=dA4[t, :, 0::3])
        np.multiply(dc, Cs[t], out=df)
        if peep:
            da_if = d[:, :2 * H]
            da_if *= fac[:, :2 * H]
            dg *= fac[:, 3 * H:]
            dc *= f
            np.multiply(dA4[t, :, :2], p_if, out=tmp2)
            dc += tmp2[:, 0]
            dc += tmp2[:, 1]
        else:
            d *= fac
            dc *= f
        np.matmul(d, W_hT, out=dh)

    grads = _input_side_grads(X, W_x, dA, input_grad)
    grads["W_h"] = _recurrent_weight_grad(Hs, dA)
    if peep:
        d_if = (dA4[:, :, :2] * Cs[:-1, :, None, :]).sum(axis=(0, 1))
        grads["p_i"], grads["p_f"] = d_if[0], d_if[1]
        grads["p_o"] = (dA4[:, :, 2] * Cs[1:]).sum(axis=(0, 1))
    grads["dh0"] = dh
    grads["dc0"] = dc
    return grads


def lstm_loss_and_grads(params, X, target, h0=None, c0=None, loss="mse"):
    """Loss of the many-to-one head (see module docstring) and gradients of every parameter.

    Returns ``(loss, grads)``; ``grads`` has a key per entry of ``params`` plus ``dX, dh0, dc0``.
    """
    return _many_to_one(lstm_forward, lstm_backward, params, X, target, loss,
                        {"h0": h0, "c0": c0})


def lstm_sgd_step(params, X, target, lr, h0=None, c0=None, loss="mse"):
    """One SGD training step, updating ``params`` in place; returns the loss before the update."""
    return _sgd_step(lstm_forward, lstm_backward, params, X, target, lr, loss,
                     {"h0": h0, "c0": c0})


# --------------------------------------------------------------------------------------------
# Vanilla tanh RNN
# --------------------------------------------------------------------------------------------

def init_rnn_params(n_in, n_hidden, n_out, rng, dtype, scale=0.1):
    """``W_x (n_in, H)``, ``W_h (H, H)``, ``W_y (H, n_out)`` ~ U(-scale, scale); biases zero."""
    params, head, _ = _init_cell(n_in, n_hidden, n_out, rng, dtype, 1, scale)
    params.update(head)
    return params


def rnn_forward(params, X, h0=None):
    """Run h_t = tanh(x_t W_x + h_{t-1} W_h + b) over X (T, B, I); returns (H_all, cache)."""
    params = _cell_params(params)
    dtype, X, T, B, I, H = _check_cell(params, X, 1)
    Hs = np.empty((T + 1, B, H), dtype)
    Hs[0] = _initial_state("h0", h0, B, H, dtype)
    _project(X, params["W_x"], params["b"], out=Hs[1:])
    W_h = params["W_h"]
    rec = np.empty((B, H), dtype)
    for t in range(T):
        h = Hs[t + 1]
        np.matmul(Hs[t], W_h, out=rec)
        h += rec
        np.tanh(h, out=h)
    return Hs[1:], {"cell": "rnn", "X": X, "Hs": Hs}


def rnn_backward(params, cache, dH_all, dhT=None, *, input_grad=True):
    """BPTT for ``rnn_forward``; returns ``W_x, W_h, b, dX, dh0``."""
    _expect_cache(cache, "rnn")
    X, Hs = cache["X"], cache["Hs"]
    T = X.shape[0]
    _, B, H = Hs.shape
    dtype = Hs.dtype
    dH_all = _upstream(dH_all, T, B, H, dtype)
    dh = _carry("dhT", dhT, B, H, dtype)
    W_x, W_hT = _backward_weights(params, X, H, 1, dtype)
    dA = np.empty((T, B, H), dtype)
    tmp = np.empty((B, H), dtype)
    for t in range(T - 1, -1, -1):
        if dH_all is not None:
            dh += dH_all[t]
        h = Hs[t + 1]
        np.multiply(h, h, out=tmp)
        np.subtract(1, tmp, out=tmp)
        np.multiply(dh, tmp, out=dA[t])
        np.matmul(dA[t], W_hT, out=dh)
    grads = _input_side_grads(X, W_x, dA, input_grad)
    grads["W_h"] = _recurrent_weight_grad(Hs, dA)
    grads["dh0"] = dh
    return grads


def rnn_loss_and_grads(params, X, target, h0=None, loss="mse"):
    """Like ``lstm_loss_and_grads``, for the vanilla RNN."""
    return _many_to_one(rnn_forward, rnn_backward, params, X, target, loss, {"h0": h0})


def rnn_sgd_step(params, X, target, lr, h0=None, loss="mse"):
    """One SGD step of the vanilla RNN, in place; returns the loss before the update."""
    return _sgd_step(rnn_forward, rnn_backward, params, X, target, lr, loss,
                     {"h0": h0})


# --------------------------------------------------------------------------------------------
# GRU
# --------------------------------------------------------------------------------------------

def init_gru_params(n_in, n_hidden, n_out, rng, dtype, scale=0.1):
    """``W_x (n_in, 3H)``, ``W_h (H, 3H)``, ``W_y (H, n_out)`` ~ U(-scale, scale);
    ``b (3H,)``, ``b_hn (H,)``, ``b_y`` zero."""
    params, head, _ = _init_cell(n_in, n_hidden, n_out, rng, dtype, 3, scale)
    params["b_hn"] = np.zeros(n_hidden, params["W_x"].dtype)
    params.update(head)
    return params


def gru_forward(params, X, h0=None):
    """Run the GRU (module docstring) over X (T, B, I); returns (H_all, cache)."""
    params = _cell_params(params)
    dtype, X, T, B, I, H = _check_cell(params, X, 3)
    b_hn = _checked("b_hn", params["b_hn"], dtype, (H,))
    S = 2 * H  # sigmoid columns [r, z]
    G = np.empty((T, B, 3 * H), dtype)  # input-side pre-activations, then activations r z n
    _project(X, _halve_columns(params["W_x"], S), _halve_columns(params["b"], S), out=G)
    W_h = _halve_columns(params["W_h"], S)
    Hs = np.empty((T + 1, B, H), dtype)
    Hs[0] = _initial_state("h0", h0, B, H, dtype)
    HN = np.empty((T, B, H), dtype)  # h_{t-1} W_hn + b_hn, needed by the backward pass
    rec = np.empty((B, 3 * H), dtype)
    tmp = np.empty((B, H), dtype)
    G3 = G.reshape(T, B, 3, H)
    for t in range(T):
        rz = G[t, :, :S]
        r, z, n = G3[t].swapaxes(0, 1)
        np.matmul(Hs[t], W_h, out=rec)
        rz += rec[:, :S]
        _sigmoid_of_half(rz)
        np.add(rec[:, S:], b_hn, out=HN[t])
        np.multiply(r, HN[t], out=tmp)
        n += tmp
        np.tanh(n, out=n)
        h = Hs[t + 1]  # h_t = n + z * (h_{t-1} - n)
        np.subtract(Hs[t], n, out=h)
        h *= z
        h += n
    return Hs[1:], {"cell": "gru", "X": X, "G": G, "Hs": Hs, "HN": HN}


def gru_backward(params, cache, dH_all, dhT=None, *, input_grad=True):
    """BPTT for ``gru_forward``; returns ``W_x, W_h, b, b_hn, dX, dh0``."""
    _expect_cache(cache, "gru")
    X, G, Hs, HN = (cache[k] for k in ("X", "G", "Hs", "HN"))
    T, B, H3 = G.shape
    H = H3 // 3
    S = 2 * H
    dtype = G.dtype
    dH_all = _upstream(dH_all, T, B, H, dtype)
    dh = _carry("dhT", dhT, B, H, dtype)
    W_x, W_hT = _backward_weights(params, X, H, 3, dtype)
    dM = np.empty((T, B, 3 * H), dtype)  # dL/d(h_{t-1} W_h [+ b_hn on the n block])
    dAn = np.empty((T, B, H), dtype)     # dL/d(a_n): the input-side n block differs from dM's
    G3 = G.reshape(T, B, 3, H)
    dM3 = dM.reshape(T, B, 3, H)
    direct = np.empty((B, H), dtype)
    tmp = np.empty((B, H), dtype)
    fac = np.empty((B, S), dtype)
    for t in range(T - 1, -1, -1):
        if dH_all is not None:
            dh += dH_all[t]
        r, z, n = G3[t].swapaxes(0, 1)
        dr, dz, dmn = dM3[t].swapaxes(0, 1)
        dn = dAn[t]
        np.subtract(Hs[t], n, out=tmp)
        np.multiply(dh, tmp, out=dz)
        np.multiply(dh, z, out=direct)  # the z * h_{t-1} path to dL/dh_{t-1}
        np.subtract(dh, direct, out=dn)  # dh * (1 - z)
        np.multiply(n, n, out=tmp)
        np.subtract(1, tmp, out=tmp)
        dn *= tmp
        np.multiply(dn, HN[t], out=dr)
        np.multiply(dn, r, out=dmn)
        rz, drz = G[t, :, :S], dM[t, :, :S]
        np.subtract(1, rz, out=fac)
        fac *= rz
        drz *= fac
        np.matmul(dM[t], W_hT, out=dh)
        dh += direct
    dA = dM.copy()
    dA.reshape(T, B, 3, H)[:, :, 2] = dAn  # dA is fresh and contiguous: a view
    grads = _input_side_grads(X, W_x, dA, input_grad)
    grads["W_h"] = _recurrent_weight_grad(Hs, dM)
    grads["b_hn"] = dM3[:, :, 2].sum(axis=(0, 1))
    grads["dh0"] = dh
    return grads


def gru_loss_and_grads(params, X, target, h0=None, loss="mse"):
    """Like ``lstm_loss_and_grads``, for the GRU."""
    return _many_to_one(gru_forward, gru_backward, params, X, target, loss, {"h0": h0})


def gru_sgd_step(params, X, target, lr, h0=None, loss="mse"):
    """One SGD step of the GRU, in place; returns the loss before the update."""
    return _sgd_step(gru_forward, gru_backward, params, X, target, lr, loss,
                     {"h0": h0})


# --------------------------------------------------------------------------------------------
# The seed Theano tutorial's LSTM
# --------------------------------------------------------------------------------------------
# Its cell is this module's LSTM without peepholes, for one sequence (batch of 1), with the
# gate matrices kept separate: g = tanh(u W_ug + h W_hg + b_g), i/f/o = sigm(u W_u* + h W_h*
# + b_*), s_t = g*i + s_{t-1}*f, h_t = tanh(s_t)*o, y = h_T W_hy + b_hy.  So the functions below
# pack the separate matrices into the fused [i, f, o, g] layout and reuse the LSTM code.

_TUTORIAL_DRAW_ORDER = ("g", "i", "f", "o")  # the order the tutorial creates the gates in
_FUSED_ORDER = ("i", "f", "o", "g")


def tutorial_init_params(n_in, n_hidden, n_out, dtype=np.float64):
    """The tutorial's initialisation, draw for draw.

    ``rng = np.random.RandomState(1234)``, then ``rng.normal(size=..., scale=.01, loc=0.0)``
    for W_ug (n_in, H), W_hg (H, H), W_ui, W_hi, W_uf, W_hf, W_uo, W_ho, W_hy (H, n_out), in
    that order, each cast to ``dtype``; the biases b_g, b_i, b_f, b_o (H,) and b_hy (n_out,)
    are zeros.
    """
    rng = np.random.RandomState(1234)

    def draw(shape):
        return np.asarray(rng.normal(size=shape, scale=.01, loc=0.0), dtype=dtype)

    params = {}
    for k in _TUTORIAL_DRAW_ORDER:
        params["W_u" + k] = draw((n_in, n_hidden))
        params["W_h" + k] = draw((n_hidden, n_hidden))
        params["b_" + k] = np.zeros(n_hidden, dtype)
    params["W_hy"] = draw((n_hidden, n_out))
    params["b_hy"] = np.zeros(n_out, dtype)
    return params


def tutorial_lstm_cost_and_grads(params, u, t):
    """Cost ``((t - y) ** 2).mean(axis=0).sum()`` of one sample and its gradients.

    ``params`` as from ``tutorial_init_params``; ``u`` is the (T, n_in) input sequence, ``t``
    a scalar target; ``h`` and ``s`` start at zero vectors.  ``y`` has shape (n_out,), so the
    cost is the mean over outputs of the squared error, i.e. this module's ``"mse"`` loss for
    a batch of one.  Returns ``(cost, grads)`` with one gradient per key of ``params``.
    """
    fused = {
        "W_x": np.concatenate([params["W_u" + k] for k in _FUSED_ORDER], axis=1),
        "W_h": np.concatenate([params["W_h" + k] for k in _FUSED_ORDER], axis=1),
        "b": np.concatenate([params["b_" + k] for k in _FUSED_ORDER]),
        "W_y": params["W_hy"],
        "b_y": params["b_hy"],
    }
    dtype = fused["W_x"].dtype
    u = _checked("u", u, dtype, ndim=2)
    target = np.full((1, fused["b_y"].shape[0]), t, dtype)
    cost, g = lstm_loss_and_grads(fused, u[:, None, :], target, loss="mse")
    split = {name: np.split(g[name], 4, axis=-1) for name in ("W_x", "W_h", "b")}
    grads = {"W_hy": g["W_y"], "b_hy": g["b_y"]}
    for block, k in enumerate(_FUSED_ORDER):
        grads["W_u" + k] = split["W_x"][block]
        grads["W_h" + k] = split["W_h"][block]
        grads["b_" + k] = split["b"][block]
    return cost, grads


def tutorial_lstm_sgd_costs(xs, ys, n_hidden=20, lr=0.01, dtype=np.float64, n_out=1):
    """Per-sample SGD exactly as the tutorial's ``train_step = function([u, t, lr], cost,
    updates=...)``, called once per sample in order.

    ``xs``: sequence of inputs ``u``, each (T, n_in); a 1-D ``u`` of length n_in is one time
    step, as the tutorial's ``reshape((1, nInputs))``.  ``ys``: the scalar targets.  Inputs are
    converted to ``dtype`` (the tutorial's ``allow_input_downcast=True``).  Parameters start
    from ``tutorial_init_params(n_in, n_hidden, n_out, dtype)``.  For each sample the cost is
    computed with the current parameters, then every parameter takes ``p - lr * dcost/dp``.

    Returns ``(costs, params)``: the list of per-sample costs (Python floats, each from
    before its update) and the final parameter dict.
    """
    xs = [np.atleast_2d(np.asarray(u, dtype=dtype)) for u in xs]
    ys = [np.dtype(dtype).type(y) for y in ys]
    if len(xs) != len(ys):
        raise ValueError(f"got {len(xs)} inputs but {len(ys)} targets")
    if not xs:
        raise ValueError("no samples")
    params = tutorial_init_params(xs[0].shape[1], n_hidden, n_out, dtype)
    costs = []
    for u, t in zip(xs, ys):
        cost, grads = tutorial_lstm_cost_and_grads(params, u, t)
        _sgd_update(params, grads, lr)
        costs.append(float(cost))
    return costs, params
