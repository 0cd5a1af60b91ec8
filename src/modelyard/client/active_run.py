"""A run being recorded: the handle ``Client.start_run`` returns, usable as a context manager.

Leaving the ``with`` block ends the run ``FINISHED``; an exception ends it ``FAILED`` (``KILLED`` for
Ctrl-C) and is re-raised (if the server cannot be told, that is logged, not raised over it). The logging methods are the client's, with the run id filled in.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from modelyard.client.errors import ModelyardError
from modelyard.schemas import FileInfo, Run, RunInfo

log = logging.getLogger("modelyard.client")


class RunClient(Protocol):
    """What an active run needs of the client that started it (``Client`` is one); naming the methods
    here, rather than the class, keeps this module from importing ``client`` back."""

    def end_run(self, run_id: str, status: str = ..., end_time: int | None = ...) -> RunInfo: ...
    def get_run(self, run_id: str) -> Run: ...
    def log_param(self, run_id: str, key: str, value: Any) -> None: ...
    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None: ...
    def log_metric(
        self, run_id: str, key: str, value: float, *, step: int = ..., timestamp: int | None = ...
    ) -> None: ...
    def log_metrics(
        self, run_id: str, metrics: Mapping[str, float], *, step: int = ..., timestamp: int | None = ...
    ) -> None: ...
    def set_tag(self, run_id: str, key: str, value: Any) -> None: ...
    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None: ...
    def log_input(
        self,
        run_id: str,
        *,
        name: str,
        digest: str,
        source: str,
        source_type: str | None = ...,
        schema: str | Mapping[str, Any] | None = ...,
        profile: str | Mapping[str, Any] | None = ...,
        context: str | None = ...,
    ) -> None: ...
    def log_artifact(self, run_id: str, local_path: str | Path, artifact_path: str | None = ...) -> None: ...
    def log_artifacts(self, run_id: str, local_dir: str | Path, artifact_path: str | None = ...) -> None: ...
    def list_artifacts(self, run_id: str, path: str | None = ...) -> list[FileInfo]: ...


class ActiveRun:
    def __init__(self, client: RunClient, run: Run) -> None:
        self.client = client
        self.run = run
        self.ended = False

    @property
    def run_id(self) -> str:
        return self.run.info.run_id

    @property
    def info(self) -> RunInfo:
        return self.run.info

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.ended:
            return
        if exc_type is None:
            self.end("FINISHED")
            return
        status = "KILLED" if issubclass(exc_type, KeyboardInterrupt) else "FAILED"
        try:
            self.end(status)
        except ModelyardError as failure:
            # The block's own exception is the one worth seeing; do not mask it with ours.
            log.warning("could not mark run %s %s: %s", self.run_id, status, failure)

    def end(self, status: str = "FINISHED") -> RunInfo:
        info = self.client.end_run(self.run_id, status=status)
        self.ended = True
        return info

    def refresh(self) -> Run:
        """The run as the server has it now."""
        self.run = self.client.get_run(self.run_id)
        return self.run

    def log_param(self, key: str, value: Any) -> None:
        self.client.log_param(self.run_id, key, value)

    def log_params(self, params: Mapping[str, Any]) -> None:
        self.client.log_params(self.run_id, params)

    def log_metric(self, key: str, value: float, *, step: int = 0, timestamp: int | None = None) -> None:
        self.client.log_metric(self.run_id, key, value, step=step, timestamp=timestamp)

    def log_metrics(
        self, metrics: Mapping[str, float], *, step: int = 0, timestamp: int | None = None
    ) -> None:
        self.client.log_metrics(self.run_id, metrics, step=step, timestamp=timestamp)

    def set_tag(self, key: str, value: Any) -> None:
        self.client.set_tag(self.run_id, key, value)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self.client.set_tags(self.run_id, tags)

    def log_input(
        self,
        *,
        name: str,
        digest: str,
        source: str,
        source_type: str | None = None,
        schema: str | Mapping[str, Any] | None = None,
        profile: str | Mapping[str, Any] | None = None,
        context: str | None = None,
    ) -> None:
        self.client.log_input(
            self.run_id,
            name=name,
            digest=digest,
            source=source,
            source_type=source_type,
            schema=schema,
            profile=profile,
            context=context,
        )

    def log_artifact(self, local_path: str | Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(self.run_id, local_path, artifact_path)

    def log_artifacts(self, local_dir: str | Path, artifact_path: str | None = None) -> None:
        self.client.log_artifacts(self.run_id, local_dir, artifact_path)

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        return self.client.list_artifacts(self.run_id, path)
