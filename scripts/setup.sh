#!/usr/bin/env bash
# Create .venv and install modelyard into it (editable). Usage: scripts/setup.sh [extras]
#   scripts/setup.sh          -> the platform
#   scripts/setup.sh serve    -> the platform and what its replicas need to serve scikit-learn, XGBoost
#                                and LightGBM models (what scripts/serve.sh installs)
#   scripts/setup.sh test     -> the platform and everything the test suite needs
# The first run says what it does and shows pip's progress; later runs print nothing unless
# pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating the virtual environment .venv"
  "$PYTHON" -m venv .venv
fi
spec="."
[ -n "${1:-}" ] && spec=".[$1]"
stamp=".venv/.installed-${1:-base}"
# Reinstall only when the project's dependencies changed (fast re-runs).
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing modelyard${1:+[$1]} and its dependencies into .venv" \
    "(the first time takes a minute or two)"
  # pip's own progress (its bars on a terminal); a pip configured with local indexes that do not
  # exist on this machine warns about each of them: those lines are dropped
  .venv/bin/python -m pip install --disable-pip-version-check --progress-bar on -e "$spec" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  .venv/bin/python -c "import modelyard" && touch "$stamp"
  echo "setup: done"
fi
