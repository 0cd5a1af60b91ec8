#!/usr/bin/env bash
# Serving benchmark: modelyard serve-model vs mlflow models serve, MLServer and a bare uvicorn app.
#   bench/serving/run.sh            15 s per wrk run (about 25 minutes on 2 cores, 3 interleaved rounds included)
#   bench/serving/run.sh --quick    5 s per wrk run (about 10 minutes)
#   bench/serving/run.sh --help     all flags
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
bash "$HERE/setup.sh" >&2
exec "${BENCH_VENV:-$ROOT/.bench-venv}/bin/python" "$HERE/bench.py" "$@"
