#!/usr/bin/env bash
# Create the bench-only virtualenv (/work/main/.bench-venv, git-ignored) that holds the peer server
# (mlflow==3.17.2) and the HTTP client the benchmark uses (httpx). Idempotent: does nothing when the
# venv already has the right versions.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${BENCH_VENV:-$ROOT/.bench-venv}"
MLFLOW_VERSION="3.17.2"
PYTHON="${PYTHON:-python3}"

have_deps() {
    [ -x "$VENV/bin/python" ] || return 1
    "$VENV/bin/python" - "$MLFLOW_VERSION" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
assert version("mlflow") == sys.argv[1], version("mlflow")
import httpx  # noqa: F401
PY
}

if have_deps; then
    echo "setup: $VENV already has mlflow==$MLFLOW_VERSION and httpx"
    exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
echo "setup: installing mlflow==$MLFLOW_VERSION and httpx into $VENV (a few minutes the first time)"
"$VENV/bin/python" -m pip install --quiet "mlflow==$MLFLOW_VERSION" "httpx>=0.27"
have_deps || { echo "setup: $VENV is still missing mlflow==$MLFLOW_VERSION or httpx" >&2; exit 1; }
echo "setup: done"
