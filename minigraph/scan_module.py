"""``theano.scan_module``: the import path Theano code uses for ``until`` (while loops) and ``scan``."""
from .scan import Scan, foldl, foldr, map, reduce, scan, until  # noqa: A004

__all__ = ["Scan", "foldl", "foldr", "map", "reduce", "scan", "until"]
