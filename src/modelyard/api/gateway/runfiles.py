"""Where a gateway process, the ``modelyard server`` that supervises it and the API process find each
other: files under ``<data_dir>/gateway/<port>/`` (one directory per public port, so that several
servers may share a data dir) and two abstract unix sockets named after that directory.

- ``state.json``: the gateway's pid, process start time, address and fingerprint, written by the
  gateway once it serves; what a later server reads to adopt it.
- ``api.json``: where the API process listens (``api.sock`` in this directory, or a loopback TCP port
  where that path is too long for a unix socket) and its pid; written by the server before it serves.
- ``gateway.log``: the gateway's output; ``server.lock``: held (flock) by the server of this port.
- the *notify* socket (datagrams): the API says "routes" after a deployment change (the gateway then
  forgets its cached routes at once) or "api" after it moved.
- the *handoff* socket (stream): a new gateway receives the old one's listening socket over it, so a
  replaced gateway hands the port over without refusing a single connection.

The fingerprint says which code and settings a gateway runs: a server adopts a gateway only when it
is the same as its own, and replaces it otherwise.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelyard.settings import Settings
from modelyard.version import __version__

# sun_path holds 108 bytes; a longer path to api.sock falls back to a loopback TCP port
_UNIX_PATH_MAX = 100
_PACKAGE = Path(__file__).resolve().parents[2]  # src/modelyard


@dataclass(frozen=True)
class RunFiles:
    root: Path  # <data_dir>/gateway/<port>

    @classmethod
    def of(cls, settings: Settings) -> RunFiles:
        return cls(settings.data_dir / "gateway" / str(settings.port))

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def api(self) -> Path:
        return self.root / "api.json"

    @property
    def api_socket(self) -> Path:
        return self.root / "api.sock"

    @property
    def log(self) -> Path:
        return self.root / "gateway.log"

    @property
    def lock(self) -> Path:
        return self.root / "server.lock"

    def _name(self, what: str) -> str:
        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:20]
        return f"\0modelyard-gateway-{digest}-{what}"

    @property
    def notify_name(self) -> str:
        return self._name("notify")

    @property
    def handoff_name(self) -> str:
        return self._name("handoff")

    def make(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)

    def unix_socket_fits(self) -> bool:
        return len(os.fsencode(self.api_socket)) <= _UNIX_PATH_MAX


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomically, owner-only."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fingerprint(settings: Settings) -> str:
    """The code (every module of the package) and the settings a gateway serves with; a gateway with
    another fingerprint is replaced by the next server."""
    digest = hashlib.sha256()
    config = {
        "version": __version__,
        "python": sys.executable,
        "host": settings.host,
        "port": settings.port,
        "auth": settings.auth,
        "max_request_bytes": settings.max_request_bytes,
        "database": settings.database_url,
        "artifacts": settings.artifact_uri,
        "log_level": settings.log_level,
        "access_log": settings.access_log,
    }
    digest.update(json.dumps(config, sort_keys=True).encode())
    for path in sorted(_PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(_PACKAGE).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


class Notifier:
    """The API side of the notify socket: one datagram, never blocking, ignored when no gateway runs."""

    def __init__(self, files: RunFiles) -> None:
        self._name = files.notify_name
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)

    def routes_changed(self) -> None:
        self.send(b"routes")

    def send(self, what: bytes) -> None:
        # no gateway listens (yet), or its queue is full: it re-reads routes soon anyway
        with contextlib.suppress(OSError):
            self._sock.sendto(what, self._name)

    def close(self) -> None:
        self._sock.close()
