#!/usr/bin/env bash
# Set up (see setup.sh) and run the whole test suite on the numpy executor; then, per installed
# backend, the suite again with every function compiled for it (MINIGRAPH_MODE=JAX, MINIGRAPH_MODE=NUMBA);
# then the CPU fallback of the GPU benchmark script.  Arguments go to every pytest run.
#
# The backend passes leave out tests/minigraph/backends: those tests compare each backend with numpy
# explicitly and ran in the first pass.  The NUMBA pass covers the engine's tests and the docs, not
# tests/lstm: numba compiles every new function (~12 s of CPU for an LSTM step), and the lstm tests
# build hundreds of them (docs/numba.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY="${VENV:-.venv}/bin/python"
status=0
"$PY" -m pytest "$@" || status=$?
if "$PY" -c 'import jax' >/dev/null 2>&1; then
  echo "test.sh: the suite again with MINIGRAPH_MODE=JAX" >&2
  # tests compile thousands of small programs: XLA's cheapest CPU code generation keeps that quick
  MINIGRAPH_MODE=JAX XLA_FLAGS="${XLA_FLAGS:---xla_backend_optimization_level=0}" \
    "$PY" -m pytest --ignore=tests/minigraph/backends "$@" || status=$?
  PYTHON="$PY" bash benchmarks/gpu.sh --cpu || status=$?
fi
if "$PY" -c 'import numba' >/dev/null 2>&1; then
  echo "test.sh: the engine's tests and the docs again with MINIGRAPH_MODE=NUMBA" >&2
  if [ $# -eq 0 ]; then set -- tests/minigraph tests/test_docs.py; fi
  MINIGRAPH_MODE=NUMBA "$PY" -m pytest --ignore=tests/minigraph/backends "$@" || status=$?
fi
exit $status
