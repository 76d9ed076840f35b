"""Test values (Theano's ``config.compute_test_value``): run each op on example data as the graph is built.

Give inputs example values (``x.tag.test_value = ...``) and set ``config.compute_test_value`` to 'raise',
'warn' or 'ignore'; every op applied afterwards computes its output's test value at once, so a shape
mismatch raises on the line that builds the bad node, with the shapes in the message, instead of when the
compiled function first runs.  An input without a test value raises ('raise'), warns ('warn') or stops the
computation quietly ('ignore').  Shared variables and constants use their values.
"""
import warnings

import numpy as np

from .config import config
from .graph import Constant, SharedVariable

MODES = ("off", "ignore", "warn", "raise", "pdb")


class TestValueError(ValueError):
    """An op failed on the test values of its inputs, or an input has none (mode 'raise')."""

    __test__ = False  # not a test class, whatever its name says


def lookup(v):
    """(True, value) when ``v`` has a test value, else (False, None)."""
    if isinstance(v, Constant):
        return True, v.data
    if isinstance(v, SharedVariable):
        return True, v.get_value(borrow=True)
    tag = v.__dict__.get("tag")
    if tag is not None and "test_value" in tag.__dict__:
        return True, tag.test_value
    return False, None


def get_test_value(v):
    """The test value of ``v``; AttributeError when it has none."""
    found, value = lookup(v)
    if not found:
        raise AttributeError(f"{v.describe()} has no test value (set {v}.tag.test_value)")
    return value


def get_debug_values(*variables):
    """Theano's helper: [(test values...)] when test values are on and all present, else []."""
    if config.compute_test_value == "off":
        return []
    try:
        return [tuple(get_test_value(v) for v in variables)]
    except AttributeError:
        if config.compute_test_value == "raise":
            raise
        return []


def compute(node):
    """Store the test values of ``node``'s outputs (called by Op.__call__ when the mode is not 'off')."""
    mode = config.compute_test_value
    if mode not in MODES:
        raise ValueError(f"config.compute_test_value must be one of {MODES}, got {mode!r}")
    values = []
    for i, v in enumerate(node.inputs):
        found, value = lookup(v)
        if not found:
            msg = (f"{node.op} (built at {node.where()}): input {i} ({v.describe()}) has no test value; "
                   f"set {v}.tag.test_value, or config.compute_test_value = 'off'")
            if mode in ("raise", "pdb"):
                raise TestValueError(msg)
            if mode == "warn":
                warnings.warn(msg, stacklevel=4)
            return
        values.append(value)
    try:
        out = node.op.make_thunk(node)(*values)
    except Exception as exc:  # noqa: BLE001 - re-raised naming the op, the place and the shapes
        shapes = ", ".join(f"{v}: {np.shape(x)}" for v, x in zip(node.inputs, values))
        raise TestValueError(f"{node.op} (built at {node.where()}) fails on the test values ({shapes}): "
                             f"{type(exc).__name__}: {exc}") from None
    outs = out if len(node.outputs) != 1 or node.op.nout is None else [out]
    for o, value in zip(node.outputs, outs):
        o.tag.__dict__["test_value"] = np.asarray(value)
