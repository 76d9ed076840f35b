"""config and theano.change_flags: flags set for a block or a function, restored afterwards."""
import numpy as np
import pytest

import minigraph
import minigraph.tensor as T
from minigraph import change_flags, config


def test_change_flags_sets_flags_for_a_block_and_restores_them_even_when_it_raises():
    before = (config.floatX, config.mode)
    with change_flags(floatX="float32", mode="FAST_COMPILE"):
        assert (config.floatX, config.mode) == ("float32", "FAST_COMPILE")
        assert T.matrix("x").dtype == "float32"
    assert (config.floatX, config.mode) == before
    with pytest.raises(RuntimeError, match="inside"):
        with change_flags(floatX="float16"):
            raise RuntimeError("inside")
    assert config.floatX == before[0]


def test_change_flags_as_a_decorator_and_nested():
    @change_flags(floatX="float32")
    def build():
        with change_flags(floatX="float16"):
            inner = T.vector().dtype
        return inner, T.vector().dtype

    assert build() == ("float16", "float32")
    assert config.floatX == "float64"


def test_unknown_flags_and_bad_values_are_refused_before_anything_changes():
    with pytest.raises(AttributeError, match="no flag 'floatx'"):
        change_flags(floatx="float32")
    with pytest.raises(AttributeError, match="no flag '_floatX'"):
        change_flags(_floatX="float32")
    mode = config.mode
    with pytest.raises(ValueError, match="floatX"):
        with change_flags(mode="FAST_COMPILE", floatX="float8"):
            pass  # pragma: no cover - never entered
    assert (config.mode, config.floatX) == (mode, "float64")


def test_theanos_compiler_flags_are_accepted_and_ignored():
    with change_flags(on_opt_error="raise", cxx="", floatX="float32"):
        assert config.floatX == "float32"
    assert not hasattr(config, "on_opt_error")


def test_verify_grad_is_in_the_tensor_namespace_as_in_theano():
    assert T.verify_grad is minigraph.gradient.verify_grad
    T.verify_grad(T.tanh, [np.array([0.3, -1.2])], rng=np.random.default_rng(0))
    with pytest.raises(AttributeError, match="no attribute 'verify_gradient'"):
        T.verify_gradient  # noqa: B018
