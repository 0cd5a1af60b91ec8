#!/usr/bin/env bash
# Environments for the serving benchmark. Idempotent: each step does nothing when already done.
#
#  1. .bench-venv/ (git-ignored): mlflow==3.17.2 + httpx, made by bench/tracking/setup.sh. The harness,
#     the model trainer and `mlflow models serve --env-manager local` run from it. Left untouched here.
#  2. .bench-venv/serving/ (git-ignored, nested so the existing ignore rule covers it): MLServer 1.7.1 +
#     mlserver-sklearn, and the bare uvicorn app (uvicorn, uvloop, httptools, orjson). A separate venv
#     because mlserver 1.7.1 pins fastapi<0.116 / starlette<0.47, which would downgrade the fastapi 0.165 /
#     starlette 1.10 that mlflow 3.17.2 runs on in venv 1. scikit-learn, numpy and joblib are pinned to the
#     versions in venv 1, so the pickled models load identically in both.
#  3. wrk (the load generator), from apt if it is missing.
#  4. .bench-venv/modelyard/ (git-ignored): this checkout, installed editable the way a user installs a
#     replica's environment, `pip install modelyard[sklearn]`, at venv 1's scikit-learn, numpy, scipy,
#     joblib and skops. serve-model is measured from here, not from .venv: the test environment also
#     holds pandas, pyarrow and pytest, which scikit-learn imports when they are installed (pytest when
#     skops lists the estimators it trusts): about 0.4 s of a cold start that a replica installed
#     this way does not pay (an MLflow 3 skops model: 2.1 s from .venv, 1.7 s from here).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${BENCH_VENV:-$ROOT/.bench-venv}"
SERVING_VENV="${BENCH_SERVING_VENV:-$VENV/serving}"
MODELYARD_VENV="${BENCH_MODELYARD_VENV:-$VENV/modelyard}"
MLSERVER_VERSION="1.7.1"
# uvloop >= 0.22 raises from asyncio.get_event_loop() in a fresh process, which kills MLServer 1.7.1's
# inference worker at start ("There is no current event loop"); 0.21.0 is what MLServer 1.7 was built with.
UVLOOP_VERSION="0.21.0"
PYTHON="${PYTHON:-python3}"

# 1. mlflow venv
bash "$ROOT/bench/tracking/setup.sh"

# 3. wrk
if ! command -v wrk >/dev/null 2>&1; then
    echo "setup: installing wrk with apt-get"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq wrk
fi
command -v wrk >/dev/null 2>&1 || { echo "setup: wrk is missing and could not be installed" >&2; exit 1; }

# 2. MLServer + bare-app venv, with the model libraries at venv 1's versions
pins="$("$VENV/bin/python" - <<'PY'
from importlib.metadata import version
print(" ".join(f"{p}=={version(p)}" for p in ("scikit-learn", "numpy", "joblib", "scipy")))
PY
)"

# has_pins VENV PIN...: VENV's python has exactly these name==version packages
has_pins() {
    local venv="$1"
    shift
    [ -x "$venv/bin/python" ] || return 1
    "$venv/bin/python" - "$@" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    assert version(name) == want, (name, version(name), want)
PY
}

have_serving() {
    # shellcheck disable=SC2086
    has_pins "$SERVING_VENV" "mlserver==$MLSERVER_VERSION" "mlserver-sklearn==$MLSERVER_VERSION" \
        "uvloop==$UVLOOP_VERSION" $pins &&
        "$SERVING_VENV/bin/python" -c "import orjson, uvicorn, uvloop, httptools" >/dev/null 2>&1
}

if have_serving; then
    echo "setup: $SERVING_VENV already has mlserver==$MLSERVER_VERSION, mlserver-sklearn, uvicorn, uvloop==$UVLOOP_VERSION, orjson ($pins)"
else
    if [ ! -x "$SERVING_VENV/bin/python" ]; then
        echo "setup: creating $SERVING_VENV"
        "$PYTHON" -m venv "$SERVING_VENV"
    fi
    "$SERVING_VENV/bin/python" -m pip install --quiet --upgrade pip
    echo "setup: installing mlserver==$MLSERVER_VERSION mlserver-sklearn, uvicorn, uvloop==$UVLOOP_VERSION, httptools, orjson ($pins)"
    # shellcheck disable=SC2086
    "$SERVING_VENV/bin/python" -m pip install --quiet \
        "mlserver==$MLSERVER_VERSION" "mlserver-sklearn==$MLSERVER_VERSION" \
        uvicorn "uvloop==$UVLOOP_VERSION" httptools orjson $pins
    have_serving || { echo "setup: $SERVING_VENV is incomplete" >&2; exit 1; }
fi

# 4. modelyard as a user installs it for scikit-learn models (skops too at venv 1's version: the
#    models are saved there)
pins="$pins skops==$("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("skops"))')"
stamp="$MODELYARD_VENV/.installed"
have_modelyard() {
    [ -x "$MODELYARD_VENV/bin/modelyard" ] && [ -f "$stamp" ] && [ "$ROOT/pyproject.toml" -ot "$stamp" ] || return 1
    # shellcheck disable=SC2086
    has_pins "$MODELYARD_VENV" $pins &&
        "$MODELYARD_VENV/bin/python" - "$ROOT" <<'PY' >/dev/null 2>&1
import sys
from pathlib import Path

import modelyard

assert Path(modelyard.__file__).resolve().is_relative_to(Path(sys.argv[1]).resolve())
PY
}

if have_modelyard; then
    echo "setup: $MODELYARD_VENV already has this checkout's modelyard[sklearn] ($pins)"
else
    [ -x "$MODELYARD_VENV/bin/python" ] || "$PYTHON" -m venv "$MODELYARD_VENV"
    echo "setup: installing this checkout as modelyard[sklearn] into $MODELYARD_VENV ($pins)"
    rm -f "$stamp"
    # shellcheck disable=SC2086
    "$MODELYARD_VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT[sklearn]" $pins
    touch "$stamp"
    have_modelyard || { echo "setup: $MODELYARD_VENV is incomplete" >&2; exit 1; }
fi
echo "setup: done"
