"""Settings: one pydantic-settings object, built once (by the CLI or a test) and passed in.

Every field can be set by a ``MODELYARD_<FIELD>`` environment variable or a CLI flag. Derived values
(the database URL and artifact root when only a data dir is given) are resolved by ``resolved()`` so
that the defaults always live under the data dir.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PORT = 5050


def default_data_dir() -> Path:
    return Path.home() / ".modelyard"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MODELYARD_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    data_dir: Path = Field(default_factory=default_data_dir)
    backend_store_uri: str | None = None
    artifact_root: str | None = None
    # Requests bigger than this are refused with 413 before they are parsed.
    max_request_bytes: int = 64 * 1024 * 1024
    log_level: str = "info"
    # Server processes. SQLite serialises writes across them; reads and request handling scale out.
    workers: int = 1
    # One log line per request costs ~10% of throughput on the tracking hot paths; off by default.
    access_log: bool = False
    # Authentication on every request. Off only for local experiments (`--no-auth`, loopback only).
    auth: bool = True
    # Apply pending Alembic migrations when the server starts.
    migrate_on_start: bool = True
    # Run the deployment controller in this server (with several servers on one database, one of them
    # reconciles at a time: a lease in the database decides).
    controller: bool = True
    # The local backend forks replicas from a process that has imported the serving runtime, pandas and
    # scikit-learn once (about 190 MB); off: every replica starts afresh and pays for its imports.
    replica_spawner: bool = True
    # On a clean server exit (Ctrl-C, SIGTERM), drain and stop the local replicas of deployments and
    # the gateway process; false (`modelyard server --keep-replicas`) leaves them serving for the next
    # server to adopt, as a crash does.
    stop_replicas_on_exit: bool = True
    # Where `modelyard server` runs the inference gateway: "process" (its own process, holding the
    # public port, so predictions go on while the API server restarts) or "inline" (in the API
    # server's process, one hop less for API calls; predictions stop while it restarts).
    gateway: Literal["process", "inline"] = "process"
    # High-volume audit events are summarised once per interval: metric points and artifact uploads per
    # run (or model) and user, refused authentications per client address (docs/security.md).
    audit_interval_s: float = Field(default=60.0, gt=0)
    # Where group members may place an experiment's artifacts (a JSON list of URIs or paths, e.g.
    # '["s3://ml-bucket/teams"]'); by default only the server's own store, at the place it chooses.
    # Platform admins may choose any location.
    member_artifact_roots: list[str] = Field(default_factory=list)

    def resolved(self) -> Settings:
        """A copy with the data-dir defaults filled in and the data dir expanded."""
        data_dir = self.data_dir.expanduser().resolve()
        store = self.backend_store_uri or f"sqlite:///{data_dir / 'modelyard.db'}"
        artifacts = self.artifact_root or str(data_dir / "artifacts")
        return self.model_copy(
            update={"data_dir": data_dir, "backend_store_uri": store, "artifact_root": artifacts}
        )

    @property
    def database_url(self) -> str:
        if self.backend_store_uri is None:
            raise ValueError("settings not resolved: call Settings.resolved() first")
        return self.backend_store_uri

    @property
    def artifact_uri(self) -> str:
        if self.artifact_root is None:
            raise ValueError("settings not resolved: call Settings.resolved() first")
        return self.artifact_root
