"""Fixtures shared by the minigraph tests."""
import pytest

import minigraph as theano


@pytest.fixture(autouse=True)
def _restore_config():
    """A test that changes ``config`` (floatX, optimizer, check) cannot leak the change into later tests,
    even when it fails half-way."""
    saved = (theano.config.floatX, theano.config.optimizer, theano.config.check, theano.config.mode)
    yield
    theano.config.floatX, theano.config.optimizer, theano.config.check, theano.config.mode = saved
