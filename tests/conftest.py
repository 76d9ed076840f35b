"""Suite-wide settings.

Hypothesis runs derandomized by default, so a CI run is repeatable: the same examples every
time.  Set MG_HYPOTHESIS_RANDOM=1 to let it explore new examples (and MG_HYPOTHESIS_EXAMPLES to
raise the counts where the tests read it).
"""
import os

import pytest
from hypothesis import settings

settings.register_profile("repeatable", derandomize=True, deadline=None)
settings.register_profile("explore", derandomize=False, deadline=None)
settings.load_profile("explore" if os.environ.get("MG_HYPOTHESIS_RANDOM") else "repeatable")


@pytest.fixture(autouse=True)
def _numpy_only_tests_in_numpy_mode(request, monkeypatch):
    """Tests marked ``numpy_executor`` inspect the numpy executor itself; tests marked ``numpy_only``
    need behaviour another backend does not have yet (docs/backends.md lists it).  Both compile in
    numpy mode even in the suite's backend passes (MINIGRAPH_MODE)."""
    marker = request.node.get_closest_marker("numpy_executor") or request.node.get_closest_marker("numpy_only")
    mode = os.environ.get("MINIGRAPH_MODE", "").upper()
    if marker is not None:
        if marker.name == "numpy_only" and mode and mode not in marker.args[0]:
            return  # the backend this test is marked for is not the one running
        import minigraph
        monkeypatch.setattr(minigraph.config, "mode", "FAST_RUN")
        monkeypatch.delenv("MINIGRAPH_MODE", raising=False)
