"""Helpers shared by the minigraph tests: building symbolic inputs for numpy values and running graphs."""
import numpy as np

import minigraph as theano
from minigraph.graph import TensorType

NAMES = "abcdefghijklmnop"


def symbolic_like(values, static=True, dtype=None):
    """One symbolic input per value, with the value's dtype (or ``dtype``) and static shape.

    ``static=False`` leaves every axis unknown except length-1 axes (Theano's broadcastable
    pattern), so the same graphs are also built and run without shape information.
    """
    out = []
    for name, v in zip(NAMES, values):
        v = np.asarray(v)
        shape = v.shape if static else tuple(1 if s == 1 else None for s in v.shape)
        out.append(TensorType(dtype or v.dtype, shape)(name))
    return out


def build_and_run(fn, values, static=True, rewrite=True, dtype=None):
    """Build ``fn(*symbolic inputs)`` for ``values``, compile it and run it: returns (output variable, result)."""
    xs = symbolic_like(values, static, dtype)
    out = fn(*xs)
    vals = [np.asarray(v, dtype=dtype) if dtype else v for v in values]
    f = theano.function(xs, out, rewrite=rewrite, on_unused_input="ignore")
    return out, f(*vals)


def run(outputs, inputs=(), values=(), **kwargs):
    """Compile ``outputs`` as a function of ``inputs`` and call it on ``values``."""
    return theano.function(list(inputs), outputs, **kwargs)(*values)


def assert_static_matches(var, value):
    """The inferred type of ``var`` agrees with the computed ``value``: same dtype and ndim, and every
    statically known axis length equals the actual one."""
    value = np.asarray(value)
    assert value.dtype == np.dtype(var.dtype), f"{var}: inferred dtype {var.dtype}, computed {value.dtype}"
    assert value.ndim == var.ndim, f"{var}: inferred {var.ndim}-d, computed shape {value.shape}"
    for axis, (static, actual) in enumerate(zip(var.type.shape, value.shape)):
        assert static is None or static == actual, (
            f"{var}: static shape {var.type.shape} disagrees with computed {value.shape} on axis {axis}")
