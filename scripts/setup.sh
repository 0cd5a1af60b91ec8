#!/usr/bin/env bash
# Create .venv and install modelyard into it (editable). Usage: scripts/setup.sh [extras]
#   scripts/setup.sh          -> the platform
#   scripts/setup.sh test     -> the platform and everything the test suite needs
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
spec="."
[ -n "${1:-}" ] && spec=".[$1]"
stamp=".venv/.installed-${1:-base}"
# Reinstall only when the project's dependencies changed (fast re-runs).
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec" 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" || true
  .venv/bin/python -c "import modelyard" && touch "$stamp"
fi
