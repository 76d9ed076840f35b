"""``scan``: Theano-compatible loops on one carry/sequence core op, and their gradients.

* ``basic``: the Theano front end (``scan``, ``map``, ``reduce``, ``foldl``, ``foldr``);
* ``op``: the core ``Scan`` op and its named layout (``ScanLayout``);
* ``step``: how a call runs (the step specialised to the call's shapes, one generated loop);
* ``grad``: BPTT, the gradient of a scan as a backward scan;
* ``rewrites``: the rules that make scans fast (registered in the one rewrite registry).
"""
from . import rewrites  # noqa: F401  (registers the scan rules)
from .basic import foldl, foldr, map, reduce, scan, until  # noqa: A004
from .op import CheckLength, Scan, ScanError, ScanLayout, ScanTapError

__all__ = ["scan", "map", "reduce", "foldl", "foldr", "until", "Scan", "ScanError", "ScanLayout", "ScanTapError",
           "CheckLength"]
