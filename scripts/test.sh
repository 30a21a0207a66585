#!/usr/bin/env bash
# facegate's checks: lint, types, tests. Run after `bash scripts/setup.sh dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check agent tools evals tests
.venv/bin/ruff format --check agent tools evals tests prompts
.venv/bin/mypy
.venv/bin/python -m pytest -q "$@"
