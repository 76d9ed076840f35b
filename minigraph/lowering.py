"""What an op tells a native backend about one node: the typed agreement between ops and drivers.

An op's ``lower_numba(node)`` returns a ``Lowering`` (or None: no lowering for this node, which
then runs on numpy between jitted segments).  Templates are Python expressions over the inputs
``{0}``, ``{1}``, ... that numba compiles in nopython mode; ``{one}`` and ``{zero}`` stand for the
output dtype's 1 and 0, ``{exp_limit}`` for the largest argument its ``exp`` takes, so that no
literal upcasts a float32 computation.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Lowering:
    """``kind`` says how the driver uses ``template``:

    * ``"elemwise"``: valid on scalars and on arrays alike; chains fuse into one loop;
    * ``"view"``: a view of the first input (slices, transposes): no data moves;
    * ``"expr"``: an expression returning a new array;
    * ``"dot"``: a matrix product (BLAS), written into a preallocated buffer where the driver can;
    * ``"concat"``: a join along ``axis``, written piece by piece into one buffer.
    """

    kind: str
    template: str = ""
    scalar: str = ""  # elemwise only: a scalar form when the array one does not work on scalars
    axis: int = 0
