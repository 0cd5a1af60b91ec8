"""The user's modelyard config file: which server to talk to and with which token.

``modelyard server`` writes the first admin's token here on a fresh installation, so the CLI and
``modelyard.Client`` on the same machine work with no flags. Location: ``$MODELYARD_CONFIG`` or
``~/.modelyard/config.json``; written with mode 0600 because it holds secrets.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def config_path() -> Path:
    override = os.environ.get("MODELYARD_CONFIG")
    return Path(override).expanduser() if override else Path.home() / ".modelyard" / "config.json"


def load() -> dict[str, Any]:
    path = config_path()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _normal(url: str) -> str:
    return url.rstrip("/")


def credentials_for(url: str) -> dict[str, str] | None:
    """``{"username", "token"}`` saved for the server at ``url``, if any."""
    entry = load().get("servers", {}).get(_normal(url))
    return entry if isinstance(entry, dict) else None


def default_url() -> str | None:
    value = load().get("default_url")
    return value if isinstance(value, str) else None


def save_credentials(url: str, username: str, token: str, *, make_default: bool = True) -> Path:
    """Store a token for ``url`` (atomically, mode 0600) and return the file's path."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = load()
    data.setdefault("servers", {})[_normal(url)] = {"username": username, "token": token}
    if make_default or "default_url" not in data:
        data["default_url"] = _normal(url)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config-")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
