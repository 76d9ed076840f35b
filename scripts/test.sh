#!/usr/bin/env bash
# Set up (see setup.sh) and run the whole test suite: in numpy mode, then once per installed backend.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY="${VENV:-.venv}/bin/python"
status=0
"$PY" -m pytest "$@" || status=$?
# then once per installed backend, every function compiled in that mode (MINIGRAPH_MODE)
for backend in numba; do
  if "$PY" -c "import $backend" >/dev/null 2>&1; then
    echo "test.sh: the suite again with MINIGRAPH_MODE=${backend^^}" >&2
    MINIGRAPH_MODE="${backend^^}" "$PY" -m pytest "$@" || status=$?
  fi
done
exit $status
