"""Modes and backends: what ``function(..., mode=...)`` accepts, in one small registry.

A *backend* runs the compiled schedule (same graph, rewrites and buffer plan); ``NUMPY`` -- the
generated straight-line Python over numpy -- is the default and the reference.  Another backend
registers itself with ``register_backend`` (its ``lower(program)`` returns the callable that runs
the program's inputs to its outputs) and becomes a mode of the same name.

A *mode* picks a backend plus how much checking and rewriting a compilation does.  Theano's
names are accepted: ``FAST_RUN`` (all rewrites; the default), ``FAST_COMPILE`` (only the
canonicalising and stabilising rewrites), ``DebugMode`` and ``NanGuardMode`` (every intermediate
checked against its type and for NaN/Inf).  Names are case-insensitive; anything else is refused
with the list of choices.  ``config.mode`` (or the environment variable ``MINIGRAPH_MODE``, or
``THEANO_FLAGS=mode=...``) sets the default; ``get_default_mode()`` returns it, and Theano's
``mode.excluding(...)`` / ``mode.including(...)`` switch rewrite rules off and on by name or phase.
"""
from dataclasses import dataclass, replace

from .config import config
from .rewrite import REGISTRY, Rewrites


@dataclass(frozen=True)
class Backend:
    """An executor of compiled programs.  ``lower(program)``: the callable running it (None: numpy's)."""

    name: str
    description: str
    lower: object = None
    function: object = None  # builds the whole compiled function (a Function subclass), for a backend that
    #                          needs its own call path (JAX: shared values stay on the device)


@dataclass
class Mode:
    """A backend plus the checking and rewriting a compilation does.  Mutable, as Theano's modes are:
    code that changes one should copy it first (``copy.copy(get_default_mode())``), since the
    registered modes are shared; ``excluding``/``including`` return new modes."""

    name: str
    backend: str = "NUMPY"
    rewrites: object = True   # True: all rules; a Rewrites: those; False: none
    check: bool = False       # validate every intermediate (type, shape, NaN/Inf)

    def excluding(self, *tags):
        """This mode without the rewrite rules named by ``tags`` (a rule's name, or a phase such as
        ``"specialize"``).  A tag naming no rule here -- Theano's optimizer tags such as
        ``"fusion"`` -- matches nothing, as an unknown tag does in Theano: rewrites never change
        results, only speed."""
        matched = _rules_tagged(tags)
        if self.rewrites is False or not matched:
            return self
        r = Rewrites() if self.rewrites is True else self.rewrites
        return replace(self, rewrites=Rewrites(exclude=tuple(dict.fromkeys(r.exclude + matched)),
                                               include=r.include, phases=r.phases))

    def including(self, *tags):
        """This mode with the rules named by ``tags`` switched back on (an excluded rule, or one
        outside an ``include`` list); rules outside the mode's phases stay off."""
        matched = _rules_tagged(tags)
        if self.rewrites is True or not matched:
            return self
        r = Rewrites(include=()) if self.rewrites is False else self.rewrites
        include = None if r.include is None else tuple(dict.fromkeys(r.include + matched))
        return replace(self, rewrites=Rewrites(exclude=tuple(n for n in r.exclude if n not in matched),
                                               include=include, phases=r.phases))


def _rules_tagged(tags):
    """The registered rules whose name or phase is among ``tags``, in the order they were registered."""
    return tuple(n for n, rule in REGISTRY.rules.items() if n in tags or rule.phase in tags)


BACKENDS = {}
MODES = {}


def register_backend(backend, modes=()):
    """Register ``backend`` and a mode of its name running all rewrites on it (plus any ``modes``)."""
    BACKENDS[backend.name.upper()] = backend
    register_mode(Mode(backend.name.upper(), backend=backend.name.upper()))
    for m in modes:
        register_mode(m)
    return backend


def register_mode(mode):
    MODES[mode.name.upper()] = mode
    return mode


def choices():
    return sorted(MODES)


def get_mode(mode=None):
    """The ``Mode`` named by ``mode`` (a name, a Mode, or None for ``config.mode``)."""
    if isinstance(mode, Mode):
        return mode
    name = config.mode if mode is None else mode
    found = MODES.get(str(name).upper()) if isinstance(name, str) else None
    if found is None:
        where = "config.mode (or MINIGRAPH_MODE)" if mode is None else "mode"
        raise ValueError(f"{where}={name!r} is not a known mode; choose one of {', '.join(choices())} "
                         "(case-insensitive)")
    if found.backend not in BACKENDS:
        raise ValueError(f"mode {found.name} needs the {found.backend} backend, which is not installed; "
                         f"installed: {', '.join(sorted(BACKENDS))}")
    return found


def get_default_mode():
    """The mode ``function`` uses when given none (``config.mode``), as ``theano.compile.get_default_mode``."""
    return get_mode(None)


def backend_of(mode):
    return BACKENDS[mode.backend]


register_backend(Backend("NUMPY", "straight-line Python over numpy (the reference executor)"))
register_mode(Mode("FAST_RUN"))
register_mode(Mode("FAST_COMPILE", rewrites=Rewrites(phases=("canonicalize", "stabilize"))))
register_mode(Mode("DEBUGMODE", check=True))
register_mode(Mode("DEBUG_MODE", check=True))
register_mode(Mode("NANGUARDMODE", check=True))
