"""``T.nnet``: activations and losses in numerically stable forms."""
from ..graph import as_variable
from ..ops import nnet as _n
from .. import tensor as _T

sigmoid = _T.sigmoid
softplus = _T.softplus
relu = _T.relu
ultra_fast_sigmoid = _T.sigmoid  # Theano's fast approximation; computed exactly here


def hard_sigmoid(x):
    """Theano's piecewise-linear sigmoid: clip(0.2 x + 0.5, 0, 1)."""
    return _T.clip(as_variable(x) * 0.2 + 0.5, 0, 1)


def _rows_of(x, axis=-1):
    """Theano's softmax family works on rows: a vector becomes one row (1, n), normalised along it."""
    x = as_variable(x)
    if x.ndim == 1 and axis in (0, -1):
        return _T.dimshuffle(x, "x", 0), -1
    return x, axis


def softmax(x, axis=-1):
    """Softmax along ``axis``; a vector gives a (1, n) row, as in Theano."""
    x, axis = _rows_of(x, axis)
    return _n.Softmax(axis)(x)


def log_softmax(x, axis=-1):
    """log(softmax(x)) computed exactly; a vector gives a (1, n) row, as in Theano."""
    x, axis = _rows_of(x, axis)
    return _n.LogSoftmax(axis)(x)


logsoftmax = log_softmax
softmax_op = softmax


def softmax_graph(c):
    """Softmax of the rows of ``c`` written out as exp(c - max) / sum(exp(c - max))."""
    c, _ = _rows_of(c)
    e = _T.exp(c - _T.max(c, axis=-1, keepdims=True))
    return e / _T.sum(e, axis=-1, keepdims=True)


def softmax_with_bias(x, b):
    """softmax(x + b) for a matrix x and a bias vector b."""
    return softmax(as_variable(x) + b)


def softsign(x):
    x = as_variable(x)
    return x / (1.0 + _T.abs(x))


def elu(x, alpha=1):
    x = as_variable(x)
    return _T.switch(_T.gt(x, 0), x, alpha * _T.expm1(x))


def selu(x):
    return 1.0507009873554804934193349852946 * elu(x, 1.6732632423543772848170429916717)


def crossentropy_categorical_1hot(coding_dist, true_one_of_n):
    """-log(coding_dist[i, true_one_of_n[i]]) for each row i."""
    return categorical_crossentropy(coding_dist, true_one_of_n)


def crossentropy_softmax_1hot(x, y_idx):
    """(nll, softmax(x)): the negative log-likelihood of the integer labels ``y_idx`` and the softmax."""
    sm = softmax(x)
    return categorical_crossentropy(sm, y_idx), sm


def crossentropy_softmax_1hot_with_bias(x, b, y_idx):
    return crossentropy_softmax_1hot(as_variable(x) + b, y_idx)


def crossentropy_softmax_argmax_1hot_with_bias(x, b, y_idx):
    """(nll, softmax(x + b), argmax(x + b)) as in Theano."""
    z = as_variable(x) + b
    nll, sm = crossentropy_softmax_1hot(z, y_idx)
    return nll, sm, _T.argmax(z, axis=-1)


def categorical_crossentropy(coding_dist, true_dist):
    """-sum(true * log(coding)) over the last axis; ``true_dist`` may be class indices.

    When ``coding_dist`` is ``softmax(z)`` the log is taken as ``log_softmax(z)``
    (a rewrite does it), so confident wrong predictions give large finite losses.
    """
    coding_dist, true_dist = as_variable(coding_dist), as_variable(true_dist)
    logp = _stable_log(coding_dist)
    if true_dist.dtype.startswith(("int", "uint")):
        if true_dist.ndim != coding_dist.ndim - 1:
            raise TypeError(f"categorical_crossentropy: integer targets {true_dist.describe()} must have one "
                            f"dimension fewer than the distribution {coding_dist.describe()}")
        flat = _T.reshape(logp, (-1, _T.shape_i(logp, -1)))
        rows = _T.arange(_T.shape_i(flat, 0))
        picked = flat[rows, _T.flatten(true_dist)]
        return -_T.reshape(picked, _T.shape(true_dist))
    return -_T.sum(true_dist * logp, axis=-1)


def _stable_log(p):
    if p.owner is not None and isinstance(p.owner.op, _n.Softmax):
        return log_softmax(p.owner.inputs[0], p.owner.op.axis)
    return _T.log(p)


def binary_crossentropy(output, target):
    """-(target log(output) + (1 - target) log(1 - output)); exact for sigmoid outputs (uses their logits)."""
    output = as_variable(output)
    if output.owner is not None and isinstance(output.owner.op, type(_T.sigmoid)):
        return sigmoid_binary_crossentropy(output.owner.inputs[0], target)
    return -(target * _T.log(output) + (1.0 - target) * _T.log(1.0 - output))


def sigmoid_binary_crossentropy(logits, target):
    """binary_crossentropy(sigmoid(logits), target) without forming the sigmoid: softplus(z) - t z, written
    as softplus(-z) + (1 - t) z for z >= 0 so that a confident right answer keeps its tiny loss
    (4.25e-18 at z = 40, t = 1, where softplus(40) - 40 rounds to 0)."""
    logits = as_variable(logits)
    return _T.switch(logits >= 0, _T.softplus(-logits) + (1.0 - target) * logits,
                     _T.softplus(logits) - target * logits)
