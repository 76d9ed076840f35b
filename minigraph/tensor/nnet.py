"""``T.nnet``: activations and losses in numerically stable forms."""
from ..graph import as_variable
from ..ops import nnet as _n
from .. import tensor as _T

sigmoid = _T.sigmoid
softplus = _T.softplus
relu = _T.relu
ultra_fast_sigmoid = hard_sigmoid = _T.sigmoid  # accepted for old code; computed exactly


def softmax(x, axis=-1):
    return _n.Softmax(axis)(x)


def log_softmax(x, axis=-1):
    return _n.LogSoftmax(axis)(x)


logsoftmax = log_softmax


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
