"""Global settings: ``config.floatX`` and friends.

``floatX`` is the float dtype used for Python floats and for symbolic
constructors without a dtype prefix (``T.matrix`` and so on).  It starts as
``float64`` and can be set in code (``minigraph.config.floatX = 'float32'``) or
with the environment variable ``MINIGRAPH_FLOATX`` (``THEANO_FLAGS=floatX=...``
is read as well, so old scripts keep working).  ``mode`` is the default mode of
``function`` (``MINIGRAPH_MODE`` or ``THEANO_FLAGS=mode=...``; see minigraph/mode.py).
"""
import functools
import os

_ALLOWED_FLOATX = ("float64", "float32", "float16")


def _from_env(variable, flag, default):
    """``variable`` from the environment, else ``flag`` in THEANO_FLAGS, else ``default``."""
    value = os.environ.get(variable)
    if value is None:
        for part in os.environ.get("THEANO_FLAGS", "").split(","):
            key, _, val = part.partition("=")
            if key.strip() == flag:
                value = val.strip()
    return value or default


class Config:
    """Mutable settings object; unknown attributes raise instead of silently sticking."""

    __slots__ = ("_floatX", "compute_test_value", "optimizer", "check", "mode")

    def __init__(self):
        self.floatX = _from_env("MINIGRAPH_FLOATX", "floatX", "float64")
        self.mode = _from_env("MINIGRAPH_MODE", "mode", "FAST_RUN")  # checked when used (minigraph.mode)
        self.compute_test_value = "off"  # 'raise' / 'warn' / 'ignore': run ops on test values (minigraph.testvalue)
        self.optimizer = "fast_run"  # "fast_run" rewrites graphs; "None" runs them as built
        self.check = False  # True: every compiled function validates intermediates

    @property
    def floatX(self):
        return self._floatX

    @floatX.setter
    def floatX(self, value):
        if value not in _ALLOWED_FLOATX:
            raise ValueError(f"config.floatX must be one of {_ALLOWED_FLOATX}, got {value!r}")
        self._floatX = value


config = Config()


# Theano's flags about C compilation, devices and its optimizer's internals: nothing here for them
# to change, so change_flags accepts and ignores them (as THEANO_FLAGS does)
IGNORED_THEANO_FLAGS = frozenset({"allow_gc", "cxx", "device", "exception_verbosity", "init_gpu_device", "linker",
                                  "on_opt_error", "openmp", "optimizer_excluding", "optimizer_including",
                                  "optimizer_requiring", "traceback__limit"})


class change_flags:  # noqa: N801 - Theano's name, used as a decorator and as a context manager
    """Set ``config`` flags for a block or a function and restore them afterwards, even when it
    raises, as ``theano.change_flags(floatX="float32")`` does.  Unknown flags are refused when it
    is built and bad values on entry, before anything changes; Theano's flags that mean nothing
    here (``IGNORED_THEANO_FLAGS``) are accepted and ignored."""

    def __init__(self, **flags):
        for name in flags:
            if name not in IGNORED_THEANO_FLAGS and (name.startswith("_") or not hasattr(config, name)):
                raise AttributeError(f"change_flags: config has no flag {name!r}")
        self.flags = {name: value for name, value in flags.items() if name not in IGNORED_THEANO_FLAGS}
        self._saved = []

    def __enter__(self):
        saved = {name: getattr(config, name) for name in self.flags}
        try:
            for name, value in self.flags.items():
                setattr(config, name, value)
        except Exception:
            for name, value in saved.items():
                setattr(config, name, value)
            raise
        self._saved.append(saved)
        return config

    def __exit__(self, *exc):
        for name, value in self._saved.pop().items():
            setattr(config, name, value)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)
        return wrapped
