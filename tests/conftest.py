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
