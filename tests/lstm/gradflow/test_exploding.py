"""lstm.gradflow.exploding: an RNN whose recurrent weights are scaled up explodes in training without
clipping and stays finite with it (Pascanu, Mikolov & Bengio 2013)."""
import math

import numpy as np
import pytest

from lstm.gradflow import clipping_run


# The update at which the unclipped run overflows is a property of numpy's exact trajectory: the run is
# chaotic, and under JAX (last-bit differences in tanh and the sums) the loss is 7.6e235 at update 120
# rather than inf at update 90.
@pytest.mark.numpy_executor
def test_clipping_keeps_an_exploding_rnn_finite():
    """W_h x 3, SGD lr 0.3, adding T = 50: measured non-finite after 90 updates without clipping;
    clipped at norm 1 the loss stays finite (0.38 after 120 updates)."""
    free = clipping_run(None, weight_scale=3.0, lr=0.3, updates=120)
    clipped = clipping_run(1.0, weight_scale=3.0, lr=0.3, updates=120)
    assert free["diverged_at"] is not None and free["diverged_at"] < 120
    assert not math.isfinite(free["loss"][-1]) or not math.isfinite(free["grad_norm"][-1])
    assert clipped["diverged_at"] is None and len(clipped["loss"]) == 120
    assert np.all(np.isfinite(clipped["loss"])) and clipped["loss"][-1] < 2.0
    assert np.max(clipped["grad_norm"]) > 1e3  # the gradient still explodes; clipping bounds the step
    np.testing.assert_array_equal(free["loss"][:1], clipped["loss"][:1])  # same start, same batches


def test_no_explosion_at_the_default_scale():
    run = clipping_run(None, weight_scale=1.0, lr=0.1, updates=40, length=20)
    assert run["diverged_at"] is None and np.max(run["grad_norm"]) < 10
