#!/usr/bin/env bash
# Set up (see setup.sh) and run the whole test suite: on the numpy executor, then once more per
# installed backend with every function compiled for it (MINIGRAPH_MODE=NUMBA, MINIGRAPH_MODE=JAX),
# then the CPU fallback of the GPU benchmark script.  Arguments go to every pytest run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY="${VENV:-.venv}/bin/python"
status=0
"$PY" -m pytest "$@" || status=$?
for backend in numba jax; do
  if "$PY" -c "import $backend" >/dev/null 2>&1; then
    echo "test.sh: the suite again with MINIGRAPH_MODE=${backend^^}" >&2
    # JAX: tests compile thousands of small programs; XLA's cheapest CPU code generation keeps that quick
    MINIGRAPH_MODE="${backend^^}" XLA_FLAGS="${XLA_FLAGS:---xla_backend_optimization_level=0}" \
      "$PY" -m pytest "$@" || status=$?
  fi
done
if "$PY" -c 'import jax' >/dev/null 2>&1; then
  PYTHON="$PY" bash benchmarks/gpu.sh --cpu || status=$?
fi
exit $status
