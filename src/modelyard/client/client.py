"""``Client``: the Python SDK over a modelyard server's tracking API (MLflow REST 2.0 + extensions).

Every method is one or a few HTTP calls through ``Transport``; responses are parsed into the shared
wire schemas. Listing methods follow page tokens and return everything asked for.
"""

from __future__ import annotations

import getpass
import math
import sys
import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from modelyard.client import artifacts, encoding
from modelyard.client.active_run import ActiveRun
from modelyard.client.admin import Admin
from modelyard.client.batching import split_batch
from modelyard.client.capture import capture_code_version, capture_environment
from modelyard.client.config import authorization, default_url
from modelyard.client.deployments import Deployments, Quotas
from modelyard.client.errors import ModelyardError
from modelyard.client.registry import Registry
from modelyard.client.resources import Resources
from modelyard.client.transport import Transport
from modelyard.schemas import CodeVersion, Environment, Experiment, FileInfo, Metric, Run, RunInfo
from modelyard.schemas.tracking import metric_value_to_wire

API = "/api/2.0/mlflow"
DEFAULT_EXPERIMENT_ID = "0"
SEARCH_PAGE = 1000
HISTORY_PAGE = 25000
LOGGED_MODELS_PAGE = 100


class Client:
    """A connection to one modelyard server.

    ``url`` defaults to ``default_url()``; credentials to ``token`` (with ``username``: sent in
    cube-studio's ``<username>|<token>`` form), else the environment and the user's config file (see
    ``modelyard.client.config``). ``resources`` is the generic resource API, ``admin`` users, groups,
    tokens and the audit trail on top of it, ``registry`` the model registry, ``deployments`` model
    deployments (create, scale, promote, logs ...) and ``quotas`` the groups' deployment quotas.
    Failed calls raise ``ModelyardError``. Use as a context manager, or call ``close()``.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        *,
        username: str | None = None,
        max_retries: int = 4,
        backoff: float = 0.5,
    ) -> None:
        self.url = (url or default_url()).rstrip("/")
        self._http = Transport(
            self.url,
            authorization=authorization(self.url, token=token, username=username),
            timeout=timeout,
            max_retries=max_retries,
            backoff=backoff,
        )
        self.resources = Resources(self._http)
        self.admin = Admin(self.resources)
        self.registry = Registry(self._http, self.resources)
        self.deployments = Deployments(self._http, self.resources)
        self.quotas = Quotas(self._http)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(url={self.url!r})"

    # -- experiments --------------------------------------------------------------------------------

    def create_experiment(
        self, name: str, *, artifact_location: str | None = None, tags: Mapping[str, Any] | None = None
    ) -> str:
        """Create an experiment; returns its id."""
        body: dict[str, Any] = {"name": name, "tags": encoding.key_values(tags)}
        if artifact_location:
            body["artifact_location"] = artifact_location
        return str(self._http.post(f"{API}/experiments/create", body)["experiment_id"])

    def get_experiment(self, experiment_id: str) -> Experiment:
        data = self._http.get(f"{API}/experiments/get", {"experiment_id": str(experiment_id)})
        return Experiment.model_validate(data["experiment"])

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment called ``name`` (active or deleted), or None if there is none."""
        try:
            data = self._http.get(f"{API}/experiments/get-by-name", {"experiment_name": name})
        except ModelyardError as exc:
            if exc.not_found:
                return None
            raise
        return Experiment.model_validate(data["experiment"])

    def set_experiment(self, name: str) -> Experiment:
        """The active experiment called ``name``, created if it does not exist."""
        found = self.get_experiment_by_name(name)
        if found is None:
            try:
                return self.get_experiment(self.create_experiment(name))
            except ModelyardError as exc:
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
                found = self.get_experiment_by_name(name)  # another process created it first
                if found is None:
                    raise
        if found.lifecycle_stage != "active":
            raise ModelyardError(
                f"Experiment '{name}' (id {found.experiment_id}) is deleted; restore it with "
                "restore_experiment() or choose another name.",
                error_code="INVALID_PARAMETER_VALUE",
            )
        return found

    def search_experiments(
        self,
        *,
        view: str = "active",
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: int | None = None,
    ) -> list[Experiment]:
        """Experiments matching ``filter_string`` (MLflow syntax), all pages up to ``max_results``."""
        body: dict[str, Any] = {"view_type": encoding.view_type(view), "order_by": list(order_by or [])}
        if filter_string:
            body["filter"] = filter_string
        pages = self._pages(f"{API}/experiments/search", body, "experiments", max_results, SEARCH_PAGE)
        return [Experiment.model_validate(e) for e in pages]

    def delete_experiment(self, experiment_id: str) -> None:
        self._http.post(f"{API}/experiments/delete", {"experiment_id": str(experiment_id)})

    def restore_experiment(self, experiment_id: str) -> None:
        self._http.post(f"{API}/experiments/restore", {"experiment_id": str(experiment_id)})

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        body = {"experiment_id": str(experiment_id), "key": key, "value": encoding.text(value)}
        self._http.post(f"{API}/experiments/set-experiment-tag", body)

    # -- runs ---------------------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str = DEFAULT_EXPERIMENT_ID,
        *,
        run_name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        start_time: int | None = None,
        user_id: str | None = None,
        code_version: CodeVersion | None = None,
        environment: Environment | None = None,
    ) -> Run:
        """Create a RUNNING run. A retried request is deduplicated by its ``Idempotency-Key``."""
        body: dict[str, Any] = {
            "experiment_id": str(experiment_id),
            "start_time": encoding.now_ms() if start_time is None else start_time,
            "tags": encoding.key_values(tags),
        }
        if user_id is not None:
            body["user_id"] = user_id
        if run_name:
            body["run_name"] = run_name
        if code_version is not None:
            body["code_version"] = code_version.to_wire()
        if environment is not None:
            body["environment"] = environment.to_wire()
        data = self._http.post(f"{API}/runs/create", body, headers={"Idempotency-Key": uuid.uuid4().hex})
        return Run.model_validate(data["run"])

    def start_run(
        self,
        experiment_id: str | None = None,
        *,
        experiment_name: str | None = None,
        run_name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
        capture_code: bool = True,
        capture_env: bool = True,
    ) -> ActiveRun:
        """Create a run that records its code version and environment; use it in a ``with`` block.

        The experiment is ``experiment_id``, else the one named ``experiment_name`` (created if
        needed), else the default experiment ``"0"``.
        """
        if experiment_id is None:
            experiment_id = (
                self.set_experiment(experiment_name).experiment_id
                if experiment_name
                else DEFAULT_EXPERIMENT_ID
            )
        user = _current_user()
        system_tags: dict[str, Any] = {"mlflow.source.type": "LOCAL", "mlflow.user": user}
        if sys.argv and sys.argv[0]:
            system_tags["mlflow.source.name"] = sys.argv[0]
        if parent_run_id:
            system_tags["mlflow.parentRunId"] = parent_run_id
        code = capture_code_version() if capture_code else None
        if code is not None and code.commit:
            system_tags["mlflow.source.git.commit"] = code.commit
            if code.branch:
                system_tags["mlflow.source.git.branch"] = code.branch
            if code.repo:
                system_tags["mlflow.source.git.repoURL"] = code.repo
        run = self.create_run(
            experiment_id,
            run_name=run_name,
            tags={**system_tags, **(tags or {})},
            user_id=user,
            code_version=code,
            environment=capture_environment() if capture_env else None,
        )
        return ActiveRun(self, run)

    def get_run(self, run_id: str) -> Run:
        return Run.model_validate(self._http.get(f"{API}/runs/get", {"run_id": run_id})["run"])

    def update_run(
        self,
        run_id: str,
        *,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        body: dict[str, Any] = {"run_id": run_id}
        for key, value in (("status", status), ("end_time", end_time), ("run_name", run_name)):
            if value is not None:
                body[key] = value
        return RunInfo.model_validate(self._http.post(f"{API}/runs/update", body)["run_info"])

    def end_run(self, run_id: str, status: str = "FINISHED", end_time: int | None = None) -> RunInfo:
        """Mark a run terminated (``FINISHED``, ``FAILED`` or ``KILLED``)."""
        return self.update_run(
            run_id, status=status, end_time=encoding.now_ms() if end_time is None else end_time
        )

    def delete_run(self, run_id: str) -> None:
        self._http.post(f"{API}/runs/delete", {"run_id": run_id})

    def restore_run(self, run_id: str) -> None:
        self._http.post(f"{API}/runs/restore", {"run_id": run_id})

    def search_runs(
        self,
        experiment_ids: str | Iterable[str],
        *,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: int | None = None,
        view: str = "active",
        page_size: int = SEARCH_PAGE,
    ) -> list[Run]:
        """Runs matching ``filter_string`` (e.g. ``"metrics.rmse < 1 and params.lr = '0.1'"``),
        ordered by ``order_by`` (e.g. ``["metrics.rmse DESC"]``), all pages up to ``max_results``."""
        ids = [experiment_ids] if isinstance(experiment_ids, str) else list(experiment_ids)
        body: dict[str, Any] = {
            "experiment_ids": [str(i) for i in ids],
            "run_view_type": encoding.view_type(view),
            "order_by": list(order_by or []),
        }
        if filter_string:
            body["filter"] = filter_string
        pages = self._pages(f"{API}/runs/search", body, "runs", max_results, page_size)
        return [Run.model_validate(r) for r in pages]

    def search_logged_models(
        self,
        experiment_ids: str | Iterable[str],
        *,
        filter_string: str | None = None,
        max_results: int | None = None,
    ) -> list[dict[str, Any]]:
        """MLflow 3 logged models (``logged-models/search``), as the API answers them: ``{"info":
        {"model_id", "name", "source_run_id", "status", "artifact_uri", ...}, "data": {...}}``;
        ``filter_string`` e.g. ``"source_run_id = '<run id>'"``."""
        ids = [experiment_ids] if isinstance(experiment_ids, str) else list(experiment_ids)
        body: dict[str, Any] = {"experiment_ids": [str(i) for i in ids]}
        if filter_string:
            body["filter"] = filter_string
        return self._pages(f"{API}/logged-models/search", body, "models", max_results, LOGGED_MODELS_PAGE)

    # -- logging ------------------------------------------------------------------------------------

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        """Params are immutable: logging the same value again is fine, a different one is refused."""
        self._http.post(
            f"{API}/runs/log-parameter", {"run_id": run_id, "key": key, "value": encoding.text(value)}
        )

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        self.log_batch(run_id, params=params)

    def log_metric(
        self, run_id: str, key: str, value: float, *, step: int = 0, timestamp: int | None = None
    ) -> None:
        body = {
            "run_id": run_id,
            "key": key,
            "value": metric_value_to_wire(float(value)),
            "timestamp": encoding.now_ms() if timestamp is None else timestamp,
            "step": step,
        }
        self._http.post(f"{API}/runs/log-metric", body)

    def log_metrics(
        self, run_id: str, metrics: Mapping[str, float], *, step: int = 0, timestamp: int | None = None
    ) -> None:
        ts = encoding.now_ms() if timestamp is None else timestamp
        points = [Metric(key=k, value=float(v), timestamp=ts, step=step) for k, v in metrics.items()]
        self.log_batch(run_id, metrics=points)

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self._http.post(f"{API}/runs/set-tag", {"run_id": run_id, "key": key, "value": encoding.text(value)})

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        self.log_batch(run_id, tags=tags)

    def delete_tag(self, run_id: str, key: str) -> None:
        self._http.post(f"{API}/runs/delete-tag", {"run_id": run_id, "key": key})

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Log many entities at once, split into as many requests as the server's limits need."""
        wire_metrics = [
            {k: v for k, v in m.to_wire().items() if k in ("key", "value", "timestamp", "step")}
            for m in metrics
        ]
        for body in split_batch(
            metrics=wire_metrics, params=encoding.key_values(params), tags=encoding.key_values(tags)
        ):
            self._http.post(f"{API}/runs/log-batch", {"run_id": run_id, **body})

    def log_input(
        self,
        run_id: str,
        *,
        name: str,
        digest: str,
        source: str,
        source_type: str | None = None,
        schema: str | Mapping[str, Any] | None = None,
        profile: str | Mapping[str, Any] | None = None,
        context: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Record that the run used a dataset. ``schema``/``profile`` may be JSON text or a dict;
        ``context`` (e.g. ``"training"``) becomes the input tag ``mlflow.data.context``."""
        dataset: dict[str, Any] = {
            "name": name,
            "digest": digest,
            "source": source,
            "source_type": source_type or encoding.source_type(source),
        }
        for key, value in (("schema", encoding.json_text(schema)), ("profile", encoding.json_text(profile))):
            if value is not None:
                dataset[key] = value
        input_tags = dict(tags or {})
        if context:
            input_tags["mlflow.data.context"] = context
        body = {"run_id": run_id, "datasets": [{"dataset": dataset, "tags": encoding.key_values(input_tags)}]}
        self._http.post(f"{API}/runs/log-inputs", body)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of metric ``key``, in the server's order (by step, then timestamp)."""
        points: list[Metric] = []
        token: str | None = None
        while True:
            params: dict[str, str | int | list[str]] = {"run_id": run_id, "metric_key": key}
            params["max_results"] = HISTORY_PAGE
            if token:
                params["page_token"] = token
            data = self._http.get(f"{API}/metrics/get-history", params)
            points.extend(Metric.model_validate(m) for m in data.get("metrics", []))
            token = data.get("next_page_token")
            if not token:
                return points

    # -- artifacts ----------------------------------------------------------------------------------

    def log_artifact(self, run_id: str, local_path: str | Path, artifact_path: str | None = None) -> None:
        """Upload a file, or a directory with everything in it, to ``<artifact_path>/<its name>``."""
        self._transfer(run_id).upload(
            artifacts.files_to_upload(Path(local_path), artifact_path, contents_only=False)
        )

    def log_artifacts(self, run_id: str, local_dir: str | Path, artifact_path: str | None = None) -> None:
        """Upload the contents of a directory to ``artifact_path`` (the run's root by default)."""
        self._transfer(run_id).upload(
            artifacts.files_to_upload(Path(local_dir), artifact_path, contents_only=True)
        )

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """One level of a run's artifacts; paths are relative to the run's artifact root."""
        return artifacts.list_run_artifacts(self._http, run_id, path)

    def download_artifacts(self, run_id: str, path: str = "", dst_path: str | Path | None = None) -> Path:
        """Download a file or directory of a run's artifacts into ``dst_path`` (default: a new temporary
        directory); returns the local path of what was downloaded."""
        dst = Path(dst_path) if dst_path is not None else Path(tempfile.mkdtemp(prefix="modelyard-"))
        return self._transfer(run_id).download(path, dst)

    def _transfer(self, run_id: str) -> artifacts.RunArtifacts:
        return artifacts.RunArtifacts(self._http, run_id, self.get_run(run_id).info.artifact_uri)

    # -- paging -------------------------------------------------------------------------------------

    def _pages(
        self, path: str, body: dict[str, Any], field: str, max_results: int | None, page_size: int
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token: str | None = None
        limit = math.inf if max_results is None else max_results
        while len(items) < limit:
            page = dict(body, max_results=int(min(page_size, limit - len(items))))
            if token:
                page["page_token"] = token
            data = self._http.post(path, page)
            items.extend(data.get(field, []))
            token = data.get("next_page_token")
            if not token:
                break
        return items


def _current_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (e.g. a container running as an unnamed uid)
        return ""
