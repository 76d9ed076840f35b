"""Global settings: ``config.floatX`` and friends.

``floatX`` is the float dtype used for Python floats and for symbolic
constructors without a dtype prefix (``T.matrix`` and so on).  It starts as
``float64`` and can be set in code (``minigraph.config.floatX = 'float32'``) or
with the environment variable ``MINIGRAPH_FLOATX`` (``THEANO_FLAGS=floatX=...``
is read as well, so old scripts keep working).
"""
import os

_ALLOWED_FLOATX = ("float64", "float32", "float16")


def _floatx_from_env():
    value = os.environ.get("MINIGRAPH_FLOATX")
    if value is None:
        for part in os.environ.get("THEANO_FLAGS", "").split(","):
            key, _, val = part.partition("=")
            if key.strip() == "floatX":
                value = val.strip()
    return value or "float64"


class Config:
    """Mutable settings object; unknown attributes raise instead of silently sticking."""

    __slots__ = ("_floatX", "compute_test_value", "optimizer", "check", "mode")

    def __init__(self):
        self.floatX = _floatx_from_env()
        self.compute_test_value = "off"  # 'raise' / 'warn' / 'ignore': run ops on test values (minigraph.testvalue)
        self.optimizer = "fast_run"  # "fast_run" rewrites graphs; "None" runs them as built
        self.check = False  # True: every compiled function validates intermediates
        self.mode = "FAST_RUN"  # Theano's flag, read by code that inspects it; minigraph has one executor

    @property
    def floatX(self):
        return self._floatX

    @floatX.setter
    def floatX(self, value):
        if value not in _ALLOWED_FLOATX:
            raise ValueError(f"config.floatX must be one of {_ALLOWED_FLOATX}, got {value!r}")
        self._floatX = value


config = Config()
