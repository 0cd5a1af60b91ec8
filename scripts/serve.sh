#!/usr/bin/env bash
# Install modelyard into .venv, with what deployment replicas need to serve scikit-learn, XGBoost and
# LightGBM models (the `serve` extra), and start the server on the embedded default: SQLite + local
# artifacts under ~/.modelyard, on http://127.0.0.1:5050. Extra flags go to `modelyard server`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh serve
exec .venv/bin/modelyard server "$@"
