#!/usr/bin/env bash
# facegate's checks: lint, types, tests. Run after `bash scripts/setup.sh dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check agent tools evals tests
.venv/bin/mypy
.venv/bin/python -m pytest -q "$@"
