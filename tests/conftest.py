"""Suite-wide settings.

Hypothesis runs derandomized by default, so a CI run is repeatable: the same examples every
time.  Set MG_HYPOTHESIS_RANDOM=1 to let it explore new examples (and MG_HYPOTHESIS_EXAMPLES to
raise the counts where the tests read it).
"""
import os

from hypothesis import settings

settings.register_profile("repeatable", derandomize=True, deadline=None)
settings.register_profile("explore", derandomize=False, deadline=None)
settings.load_profile("explore" if os.environ.get("MG_HYPOTHESIS_RANDOM") else "repeatable")


def pytest_collection_modifyitems(config, items):
    """Under MINIGRAPH_MODE=JAX, tests about the numpy executor's internals (marked ``numpy_executor``:
    its generated code, buffer plan, step-by-step error replay) are skipped -- and counted in the summary."""
    if os.environ.get("MINIGRAPH_MODE", "").upper() != "JAX":
        return
    import pytest
    skip = pytest.mark.skip(reason="about the numpy executor's internals; MINIGRAPH_MODE=JAX")
    for item in items:
        if "numpy_executor" in item.keywords:
            item.add_marker(skip)
