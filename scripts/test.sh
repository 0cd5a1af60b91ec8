#!/usr/bin/env bash
# Install the test dependencies and run everything CI runs: formatting, lint, types, import contracts,
# then the whole test suite on SQLite and again on PostgreSQL (127.0.0.1:5432, started if needed);
# the browser tests (tests/ui) need Debian's chromium, installed here if missing.
# Extra arguments go to pytest (e.g. scripts/test.sh -k search).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
scripts/ensure-chromium.sh
V=.venv/bin
echo "== ruff";          $V/ruff format --check --quiet src tests bench && $V/ruff check --quiet src tests bench
echo "== mypy";          $V/mypy --no-error-summary
echo "== import-linter"; $V/lint-imports --no-cache >/dev/null && echo "contracts kept"
workers=${MODELYARD_TEST_WORKERS:-2}
echo "== tests on SQLite"
$V/pytest -n "$workers" -q -p no:cacheprovider "$@"
echo "== tests on PostgreSQL"
scripts/ensure-postgres.sh
MODELYARD_TEST_DATABASE_URL=${MODELYARD_TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/modelyard_test} \
  $V/pytest -n "$workers" -q -p no:cacheprovider "$@"
