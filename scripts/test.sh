#!/usr/bin/env bash
# Set up (see setup.sh) and run the whole test suite: once on the numpy executor and, when jax is
# installed (the `jax` extra), once more with every function compiled for JAX (MINIGRAPH_MODE=JAX),
# then the CPU fallback of the GPU benchmark script.  Arguments go to both pytest runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY="${VENV:-.venv}/bin/python"
"$PY" -m pytest "$@"
if "$PY" -c 'import jax' 2>/dev/null; then
  echo "test.sh: the suite again with MINIGRAPH_MODE=JAX"
  # Tests compile thousands of small programs: XLA's cheapest CPU code generation keeps that quick.
  MINIGRAPH_MODE=JAX XLA_FLAGS="${XLA_FLAGS:---xla_backend_optimization_level=0}" "$PY" -m pytest "$@"
  PYTHON="$PY" bash benchmarks/gpu.sh --cpu
fi
