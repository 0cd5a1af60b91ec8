"""The CLI starts fast: a client command imports no server code and no numpy. Counted, not timed (the
time is measured by bench/cli/bench.py): each command runs in a fresh process that reports which of
the heavy modules it imported."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from modelyard.version import __version__
from tests.conftest import LiveServer

SERVER_SIDE = (
    "fastapi",
    "sqlalchemy",
    "uvicorn",
    "numpy",
    "starlette",
    "modelyard.api",
    "modelyard.services",
)
PROBE = """
import json, sys
watched = json.loads(sys.argv[2])
sys.argv = ["modelyard", *json.loads(sys.argv[1])]
from modelyard.cli.entry import main
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code or 0
heavy = sorted(m for m in watched if m in sys.modules)
print("PROBE " + json.dumps({"code": code, "heavy": heavy}))
"""


def run(*args: str) -> tuple[int, list[str], str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args), json.dumps(SERVER_SIDE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(out.stdout.rsplit("PROBE ", 1)[1])
    return report["code"], report["heavy"], out.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("runs", "list"),
        ("runs", "list", "--json"),
        ("experiments", "list"),
        ("models", "list"),
        ("deploy", "list"),
        ("deploy", "--help"),
        ("users", "list"),
        ("--json", "quotas", "show"),
        ("audit", "list"),
    ],
)
def test_client_commands_import_no_server_code(live_server: LiveServer, args: tuple[str, ...]) -> None:
    code, heavy, out = run("--url", live_server.url, *args)
    assert code == 0, out
    assert heavy == []


def test_server_commands_load_the_server_side_when_run() -> None:
    # the probe can see them: the same process imports them for `server` and `db`
    code, heavy, out = run("server", "--help")
    assert code == 0 and "--backend-store-uri" in out
    assert {"fastapi", "sqlalchemy", "uvicorn", "modelyard.api"} <= set(heavy)
    code, heavy, out = run("db", "upgrade", "--help")
    assert code == 0 and "sqlalchemy" in heavy


def test_version() -> None:
    code, heavy, out = run("--version")
    assert (code, heavy) == (0, [])
    assert out.splitlines()[0] == f"modelyard {__version__}"
