"""What the UI benchmarks share: a ``modelyard server`` from this checkout on a data dir, and a
browser's session on it. The web UI's pages and its ``/ui/data`` JSON take the session cookie only
(never the API's Authorization header), so a benchmark logs in through the form with an API token
pasted in, as a person can. Callers put bench/tracking on sys.path first (``servers``)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import httpx
from servers import Server, free_port

ROOT = Path(__file__).resolve().parents[2]

_CSRF = re.compile(r'<meta name="csrf-token" content="([0-9a-f]*)">')


def login(client: httpx.Client, token: str) -> None:
    """Log ``client`` in (it keeps the cookie) with the API token ``token``."""
    found = _CSRF.search(client.get("/login").text)
    if found is None:
        raise RuntimeError("the login page has no CSRF token")
    r = client.post("/login", data={"token": token, "csrf_token": found.group(1), "next": "/"})
    if r.status_code != 303:
        raise RuntimeError(f"login refused: HTTP {r.status_code} {r.text[:300]}")


def modelyard_server(data_dir: Path, token: str, log_dir: Path) -> Server:
    """A ``modelyard server`` of this checkout's ``src/`` on ``data_dir`` (not started yet)."""
    port = free_port()
    argv = [sys.executable, "-m", "modelyard", "server", "--host", "127.0.0.1", "--port", str(port),
            "--data-dir", str(data_dir)]  # fmt: skip
    env = {"PYTHONPATH": str(ROOT / "src"), "MODELYARD_CONFIG": str(log_dir / "user-config.json")}
    server = Server("modelyard", argv, port, log_dir, env=env)
    server.headers = {"Authorization": f"Bearer {token}"}
    return server
