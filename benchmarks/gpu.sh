#!/usr/bin/env bash
# The GPU check in one script: the benchmark table of benchmarks/gpu.py (minigraph mode=JAX, hand-written
# JAX, PyTorch cuDNN at S2-S4) and a short smoke test of the JAX backend's tests on the GPU.  Needs python
# with numpy, jax (CUDA build), pytest and optionally torch; installs nothing and needs no network.  The
# repository goes on PYTHONPATH.  Under 4 minutes on one GPU.
#   bash benchmarks/gpu.sh          # GPU (falls back to the CPU when JAX sees no GPU)
#   bash benchmarks/gpu.sh --cpu    # CPU fallback: a small size and the smoke test on the CPU (CI runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python3}
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # JAX and PyTorch share the GPU: allocate as needed
where=gpu
if [ "${1:-}" = "--cpu" ] || ! "$PY" -c 'import jax, sys; sys.exit(jax.devices()[0].platform != "gpu")' 2>/dev/null; then
  where=cpu
fi
echo "gpu.sh: running on the $where"
bench=0
if [ "$where" = gpu ]; then
  timeout 110 "$PY" benchmarks/gpu.py || bench=$?
  # float32 cases of the op table (the GPU's dtype), the driver and the scan tests
  smoke=(tests/minigraph/backends/test_jax_backend.py tests/minigraph/backends/test_jax_scan.py
         tests/minigraph/backends/test_jax_ops.py -k "float32 or not test_op_lowering_matches_numpy")
else
  timeout 170 "$PY" benchmarks/gpu.py --cpu || bench=$?
  smoke=(tests/minigraph/backends/test_jax_backend.py)  # the suite itself runs the rest on the CPU
fi
# The smoke test compares with numpy at 1e-5 in float32, so matmuls run at full float32 precision (no TF32).
# --noconftest: the suite's conftest needs hypothesis, which the GPU machine may lack.
MINIGRAPH_MODE=JAX JAX_DEFAULT_MATMUL_PRECISION=highest timeout 110 \
  "$PY" -m pytest -q -p no:cacheprovider --noconftest "${smoke[@]}"
if [ "$bench" -ne 0 ]; then
  echo "gpu.sh: the benchmark failed (exit $bench)" >&2
  exit "$bench"
fi
