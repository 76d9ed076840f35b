"""Optimisers as minigraph ``updates``, gradient clipping and a step learning-rate schedule.

Every optimiser returns an ``OptimState(updates, state)`` named tuple:

* ``updates``: a list of ``(shared variable, new value)`` pairs for ``theano.function(...,
  updates=...)`` -- the parameter updates and the updates of the optimiser's own state;
* ``state``: the optimiser's state as a list of shared variables (moments, velocities, Adam's
  step count), each named "<optimiser>.<what>.<param name>" (Adam's counter: "adam.t"), so
  ``lstm.checkpoint.save_checkpoint(..., state=opt.state)`` saves it and ``load_checkpoint``
  restores it into a freshly built optimiser: training resumes bit for bit.

Unpack it as ``updates, state = adam(...)`` or use ``opt.updates`` / ``opt.state``.

``lr`` may be a Python float, a symbolic scalar input (e.g. ``T.scalar('lr')``) or a shared
variable (change it between epochs with ``set_value``, e.g. from ``StepDecay``).  Updates keep
each parameter's dtype: a float32 model stays float32 whatever the dtype of ``lr``.
"""
from collections import namedtuple

import numpy as np

import minigraph as theano
import minigraph.tensor as T

__all__ = ["OptimState", "sgd", "momentum", "rmsprop", "adam", "clip_grad_norm", "global_norm", "StepDecay",
           "OPTIMIZERS"]

OptimState = namedtuple("OptimState", ["updates", "state"])


def _check(params, grads):
    params, grads = list(params), list(grads)
    if len(params) != len(grads):
        raise ValueError(f"got {len(params)} params but {len(grads)} gradients")
    return params, grads


def _like(x, p):
    """``x`` with ``p``'s dtype (a float64 lr must not turn a float32 update into float64)."""
    x = T.as_tensor_variable(x) if not isinstance(x, (int, float)) else x
    if isinstance(x, (int, float)):
        return x  # Python numbers become weak constants that adopt the tensor's dtype
    return x if x.dtype == p.dtype else T.cast(x, p.dtype)


def _zeros_like(p, what, opt):
    value = p.get_value(borrow=True)
    return theano.shared(np.zeros(value.shape, value.dtype), name=f"{opt}.{what}.{p.name or 'param'}")


def sgd(params, grads, lr):
    """Plain gradient descent: ``p <- p - lr * g``.  No state."""
    params, grads = _check(params, grads)
    return OptimState([(p, p - _like(lr, p) * _like(g, p)) for p, g in zip(params, grads)], [])


def momentum(params, grads, lr, mu=0.9, nesterov=False):
    """Heavy-ball momentum, or Nesterov's accelerated gradient in Sutskever et al.'s (2013) form.

    Classical::   v <- mu v - lr g;   p <- p + v
    Nesterov::    v <- mu v - lr g;   p <- p + mu v_new - lr g
    (the Nesterov step is the look-ahead form of Bengio et al. 2013, as in Lasagne/Keras).
    State: one velocity ``v`` per parameter, starting at 0.
    """
    params, grads = _check(params, grads)
    updates, state = [], []
    for p, g in zip(params, grads):
        v = _zeros_like(p, "v", "momentum")
        lr_p, g = _like(lr, p), _like(g, p)
        v_new = mu * v - lr_p * g
        p_new = p + mu * v_new - lr_p * g if nesterov else p + v_new
        updates += [(v, v_new), (p, p_new)]
        state.append(v)
    return OptimState(updates, state)


def rmsprop(params, grads, lr=1e-3, rho=0.9, eps=1e-8):
    """RMSProp (Tieleman & Hinton 2012)::

        a <- rho a + (1 - rho) g^2;     p <- p - lr g / (sqrt(a) + eps)

    (eps outside the square root, as PyTorch).  State: ``a`` per parameter, starting at 0.
    """
    params, grads = _check(params, grads)
    updates, state = [], []
    for p, g in zip(params, grads):
        acc = _zeros_like(p, "a", "rmsprop")
        g = _like(g, p)
        acc_new = rho * acc + (1.0 - rho) * T.sqr(g)
        updates += [(acc, acc_new), (p, p - _like(lr, p) * g / (T.sqrt(acc_new) + eps))]
        state.append(acc)
    return OptimState(updates, state)


def adam(params, grads, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    """Adam (Kingma & Ba 2015) with bias correction::

        t <- t + 1
        m <- b1 m + (1 - b1) g          v <- b2 v + (1 - b2) g^2
        p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

    State: the step count ``t`` ("adam.t", an int64 scalar) and ``m``, ``v`` per parameter.
    """
    params, grads = _check(params, grads)
    t = theano.shared(np.array(0, dtype="int64"), name="adam.t")
    t_new = t + 1
    updates, state = [(t, t_new)], [t]
    for p, g in zip(params, grads):
        m = _zeros_like(p, "m", "adam")
        v = _zeros_like(p, "v", "adam")
        g = _like(g, p)
        tf = T.cast(t_new, p.dtype)
        m_new = b1 * m + (1.0 - b1) * g
        v_new = b2 * v + (1.0 - b2) * T.sqr(g)
        m_hat = m_new / (1.0 - b1 ** tf)
        v_hat = v_new / (1.0 - b2 ** tf)
        updates += [(m, m_new), (v, v_new), (p, p - _like(lr, p) * m_hat / (T.sqrt(v_hat) + eps))]
        state += [m, v]
    return OptimState(updates, state)


OPTIMIZERS = {"sgd": sgd, "momentum": momentum, "rmsprop": rmsprop, "adam": adam}


def global_norm(grads):
    """sqrt(sum of squares of every entry of every gradient), a symbolic scalar."""
    grads = list(grads)
    dtype = np.result_type(*[g.dtype for g in grads]).name
    return T.sqrt(sum((T.cast(T.sqr(g).sum(), dtype) for g in grads[1:]), T.cast(T.sqr(grads[0]).sum(), dtype)))


def clip_grad_norm(grads, max_norm, return_norm=False):
    """Rescale all gradients together by ``max_norm / ||g||`` when the global norm ``||g||``
    exceeds ``max_norm`` (Pascanu, Mikolov & Bengio 2013); otherwise leave them as they are.

    The factor is ``max_norm / max(||g||, max_norm)``: exactly 1 below the threshold, and no
    division by zero for zero gradients.  Returns the list of clipped gradients, or
    ``(clipped, norm)`` with ``return_norm=True`` (the norm before clipping, worth logging).
    """
    grads = [T.as_tensor_variable(g) for g in grads]
    if not grads:
        return ([], None) if return_norm else []
    norm = global_norm(grads)
    max_norm_v = T.cast(T.as_tensor_variable(max_norm), norm.dtype) if not isinstance(max_norm, (int, float)) \
        else float(max_norm)
    scale = max_norm_v / T.maximum(norm, max_norm_v)
    clipped = [g * _like(scale, g) for g in grads]
    return (clipped, norm) if return_norm else clipped


class StepDecay:
    """Step learning-rate schedule: ``lr(epoch) = lr0 * drop ** (epoch // every)``.

    ``sched(epoch)`` (or ``sched.lr(epoch)``) gives a Python float; epochs count from 0."""

    def __init__(self, lr0, drop=0.5, every=10):
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.lr0, self.drop, self.every = float(lr0), float(drop), int(every)

    def lr(self, epoch):
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        return self.lr0 * self.drop ** (int(epoch) // self.every)

    __call__ = lr

    def __repr__(self):
        return f"StepDecay(lr0={self.lr0}, drop={self.drop}, every={self.every})"
