"""Property tests of the JAX lowering: broadcasting elementwise ops over shapes and dtypes, against numpy."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minigraph.testing import check_backend

from .test_jax_ops import BINARY, T

pytest.importorskip("jax")

ELEMWISE_BINARY = sorted(BINARY) + ["pow"]


@settings(max_examples=25)
@given(name=st.sampled_from(ELEMWISE_BINARY), dtype=st.sampled_from(["float64", "float32"]),
       shapes=st.sampled_from([((3, 4), (3, 4)), ((3, 1), (1, 4)), ((4,), (2, 3, 4)), ((), (2, 3)),
                               ((2, 1, 4), (3, 1))]),
       seed=st.integers(0, 2**16))
def test_broadcasting_elementwise_matches_numpy(name, dtype, shapes, seed):
    r = np.random.default_rng(seed)
    values = [r.uniform(0.5, 2.0, s).astype(dtype) for s in shapes]
    fun = (lambda a, b: T.pow(a, b)) if name == "pow" else (lambda a, b: BINARY[name](a, b))
    check_backend(fun, values)
