#!/usr/bin/env bash
# Set up (see setup.sh) and run the main job: the LSTM stock example on the shipped prices.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec "${VENV:-.venv}/bin/lstm" stock "$@"
