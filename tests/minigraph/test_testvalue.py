"""Test values (Theano's ``compute_test_value`` and ``var.tag.test_value``): errors at build time, with
shapes; Theano's modes for a missing test value; ``Variable.tag`` as a scratchpad."""
import warnings

import numpy as np
import pytest

import minigraph as theano
import minigraph.tensor as T
from minigraph.testvalue import TestValueError, get_debug_values, get_test_value


@pytest.fixture
def test_values():
    def use(mode):
        theano.config.compute_test_value = mode
    yield use
    theano.config.compute_test_value = "off"


def test_a_shape_error_is_raised_where_the_node_is_built(test_values):
    test_values("raise")
    x, w = T.matrix("x"), T.matrix("w")
    x.tag.test_value = np.ones((3, 4), dtype=theano.config.floatX)
    w.tag.test_value = np.ones((5, 2), dtype=theano.config.floatX)
    h = T.tanh(x)
    assert get_test_value(h).shape == (3, 4)
    with pytest.raises(TestValueError, match=r"dot \(built at .*test_testvalue.py.*\(3, 4\).*\(5, 2\)"):
        T.dot(h, w)


def test_test_values_follow_the_graph(test_values):
    test_values("raise")
    x = T.dvector("x")
    x.tag.test_value = np.array([1.0, 2.0])
    b = theano.shared(np.array([10.0, 20.0]), "b")
    y = (x * 2 + b).sum()
    assert get_test_value(y) == 36.0
    assert get_debug_values(x, y) == [(x.tag.test_value, get_test_value(y))]


def test_missing_test_value_modes(test_values):
    y = T.dvector("y")
    test_values("raise")
    with pytest.raises(TestValueError, match="has no test value"):
        y * 2
    test_values("warn")
    with pytest.warns(UserWarning, match="no test value"):
        z = y * 2
    test_values("ignore")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        z = y * 2
    with pytest.raises(AttributeError):
        get_test_value(z)
    test_values("off")
    assert get_debug_values(y) == []


def test_test_value_is_checked_against_the_type():
    x = T.dmatrix("x")
    with pytest.raises(TypeError, match="2-d"):
        x.tag.test_value = np.ones(3)
    x.tag.test_value = [[1, 2]]  # a lossless list is converted
    assert x.tag.test_value.dtype == np.float64


def test_tag_is_a_scratchpad():
    x = T.dvector("x")
    x.tag.note = "anything"
    assert x.tag.note == "anything"
    assert not hasattr(T.dvector().tag, "note")


def test_scan_steps_are_checked_on_the_first_step_s_values(test_values):
    test_values("raise")
    X, h0 = T.dmatrix("X"), T.dvector("h0")
    X.tag.test_value, h0.tag.test_value = np.ones((5, 3)), np.zeros(4)
    W = theano.shared(np.ones((3, 4)), "W")
    hs, _ = theano.scan(lambda x, h: T.tanh(T.dot(x, W) + h), sequences=X, outputs_info=h0)
    assert get_test_value(hs).shape == (5, 4)
    bad = theano.shared(np.ones((4, 4)), "bad")
    with pytest.raises(TestValueError, match=r"dot .*\(3,\).*\(4, 4\)"):
        theano.scan(lambda x, h: T.tanh(T.dot(x, bad) + h), sequences=X, outputs_info=h0)
