"""Modes (issue 10 #7): Theano's mode names and the installed backends are accepted, case-insensitively,
from ``function(mode=...)``, ``config.mode`` and ``MINIGRAPH_MODE``; anything else is refused with the
list of choices."""
import os
import subprocess
import sys

import numpy as np
import pytest

import minigraph as theano
import minigraph.tensor as T
from minigraph.mode import MODES, get_mode


@pytest.mark.parametrize("name", ["FAST_RUN", "fast_run", "FAST_COMPILE", "DebugMode", "NanGuardMode", "NUMPY",
                                  "numpy"])
def test_known_modes_compile_and_agree(name):
    x = T.dvector("x")
    f = theano.function([x], T.log(T.exp(x)) * 2, mode=name)
    np.testing.assert_allclose(f(np.arange(3.0)), np.arange(3.0) * 2)
    assert f.mode.name == name.upper()


@pytest.mark.parametrize("name", ["CUDA", "fast-run", "", "Mode"])
def test_unknown_mode_is_refused_with_the_choices(name):
    x = T.dvector("x")
    with pytest.raises(ValueError, match="not a known mode; choose one of .*FAST_COMPILE.*FAST_RUN.*NUMPY"):
        theano.function([x], x, mode=name)


def test_debug_mode_checks_intermediates():
    x = T.dvector("x")
    f = theano.function([x], T.log(x), mode="DebugMode")
    with pytest.raises(theano.ExecutionError, match="NaN or Inf"):
        f(np.array([-1.0]))
    assert np.isnan(theano.function([x], T.log(x), mode="FAST_RUN")(np.array([-1.0]))[0])


def test_fast_compile_runs_fewer_rules():
    x = T.dvector("x")
    f_run = theano.function([x], (x ** 2).sum())
    f_compile = theano.function([x], (x ** 2).sum(), mode="FAST_COMPILE")
    assert "sqr" in " ".join(str(n.op) for n in f_run.program.nodes)      # specialize phase ran
    assert "sqr" not in " ".join(str(n.op) for n in f_compile.program.nodes)
    assert f_run(np.arange(3.0)) == f_compile(np.arange(3.0)) == 5.0
    assert "FAST_COMPILE" in MODES


def test_config_mode_is_the_default_and_checked_when_used():
    x = T.dvector("x")
    old = theano.config.mode
    try:
        theano.config.mode = "debugmode"
        assert theano.function([x], x).mode.check
        theano.config.mode = "nonsense"
        with pytest.raises(ValueError, match=r"config.mode \(or MINIGRAPH_MODE\)='nonsense'"):
            theano.function([x], x)
    finally:
        theano.config.mode = old
    assert get_mode().name == old.upper()


def test_mode_from_the_environment():
    code = ("import minigraph as th, minigraph.tensor as T\n"
            "x = T.dvector('x'); print(th.config.mode, th.function([x], x).mode.name)")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, MINIGRAPH_MODE="nanguardmode", PYTHONPATH=root)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["nanguardmode", "NANGUARDMODE"]


def test_default_mode_excluding_and_including_as_in_theano():
    """theano.compile.get_default_mode().excluding(...): rules off by name or phase, Theano's own
    tags (which name nothing here) change nothing, including(...) turns a rule back on."""
    x = T.dvector("x")
    assert theano.compile.get_default_mode() is theano.compile.mode.get_default_mode() is get_mode(None)
    default = get_mode("FAST_RUN")  # the numpy executor's program shows the rewritten nodes

    def ops(mode):
        f = theano.function([x], (x ** 2).sum(), mode=mode)
        assert f(np.arange(3.0)) == 5.0
        return " ".join(str(n.op) for n in f.program.nodes)

    assert "sqr" in ops(default)
    assert "sqr" not in ops(default.excluding("specialize"))
    assert default.excluding("fusion", "inplace") == default
    assert "sqr" in ops(default.excluding("specialize").including("specialize"))
    no_prune = default.excluding("scan_prune")
    assert "scan_prune" not in no_prune.rewrites.enabled()
    assert "scan_prune" in no_prune.including("scan_prune").rewrites.enabled()
    assert "sqr" not in ops(get_mode("FAST_COMPILE").including("fusion"))


def test_a_copied_mode_can_be_changed_without_touching_the_registered_one():
    """Theano's test modules copy the default mode and set attributes on the copy."""
    import copy
    m = copy.copy(get_mode("FAST_RUN"))
    m.check = True
    m.check_isfinite = False  # a DebugMode attribute in Theano: set, and nothing here reads it
    x = T.dvector("x")
    with pytest.raises(Exception, match="NaN|nan"):
        theano.function([x], T.log(x), mode=m)(np.array([-1.0]))
    assert get_mode("FAST_RUN").check is False
