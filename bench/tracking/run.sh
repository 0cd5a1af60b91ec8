#!/usr/bin/env bash
# Tracking benchmark: modelyard vs mlflow server over MLflow's REST API.
#   bench/tracking/run.sh            full shapes (~10+ minutes on 2 cores, most of it mlflow)
#   bench/tracking/run.sh --quick    about a minute per server
#   bench/tracking/run.sh --help     all flags
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
bash "$HERE/setup.sh" >&2
exec "${BENCH_VENV:-$ROOT/.bench-venv}/bin/python" "$HERE/bench.py" "$@"
