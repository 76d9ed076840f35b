#!/usr/bin/env bash
# Set up everything minigraph needs on a Debian/Ubuntu machine: the graphviz `dot` binary,
# Python's venv module, a virtualenv in .venv and the project installed into it (editable,
# with the test extras).  Safe to run again: it only does what is missing.  Each step is
# announced on stderr ("setup: ..."), so a first run (about a minute) is never silent.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

step() { echo "setup: $*" >&2; }

step "checking for graphviz (dot), $PYTHON and its venv module"
missing=()
command -v dot >/dev/null 2>&1 || missing+=(graphviz)
command -v "$PYTHON" >/dev/null 2>&1 || missing+=(python3)
"$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "setup: please install these Debian packages first: ${missing[*]}" >&2; exit 1
  fi
  step "installing ${missing[*]} with apt-get"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
else
  step "graphviz and the Python venv module are present"
fi

if [ ! -x "$VENV/bin/python" ]; then
  step "creating the virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
else
  step "virtualenv $VENV exists"
fi
stamp="$VENV/.installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  step "installing minigraph with its test, dask and numba extras into $VENV (pip; about a minute the first time)"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev,dask,numba]'
  touch "$stamp"
else
  step "minigraph is installed in $VENV and up to date"
fi
step "ready"
