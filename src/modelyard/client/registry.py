"""The model registry from the client: registered models, versions, aliases, files, lineage.

Reads and most changes go through the resource API (``registered_model``, ``model_version``), whose
items are plain dicts keyed by column name; aliases and download locations through the MLflow
registry API, which the official ``mlflow`` client uses too. Versions are named by model name and
number (``3``, ``"3"``) or by alias (``"@champion"``). Downloads go through the server's artifact
proxy, so no storage credentials are needed.

Lineage is put together from reads the caller is allowed to make: the version (with its run and
datasets), the run (params, dataset contexts, code version, environment) and its experiment. A run
the caller may not see leaves ``run`` empty and ``run_visible`` false.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modelyard.client.artifacts import DOWNLOAD_CHUNK, join, local_target, proxy_root, proxy_url
from modelyard.client.errors import ModelyardError
from modelyard.client.resources import Filter, Resources
from modelyard.client.transport import Transport
from modelyard.schemas import Run

API = "/api/2.0/mlflow"
PROXY_LIST = "/api/2.0/mlflow-artifacts/artifacts"
CONTEXT_TAG = "mlflow.data.context"
PARAMS_SHOWN = 50
SEARCH_VERSIONS_PAGE = 200
NOTABLE_PACKAGES = (
    "modelyard",
    "mlflow",
    "numpy",
    "pandas",
    "scikit-learn",
    "xgboost",
    "lightgbm",
    "onnx",
    "onnxruntime",
    "torch",
    "tensorflow",
)

VersionRef = int | str
"""A version number (``3``, ``"3"``) or an alias (``"@champion"``)."""


class Registry:
    def __init__(self, http: Transport, resources: Resources) -> None:
        self._http = http
        self.resources = resources

    # -- registered models ------------------------------------------------------------------------
    def list_models(
        self, filters: Sequence[Filter] = (), *, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Registered models you can see, by name; ``filters`` as in the resource API."""
        return list(
            self.resources.iterate(
                "registered_model", filters, limit=limit, order_column="name", order_direction="asc"
            )
        )

    def get_model(self, name: str) -> dict[str, Any]:
        """The model with its ``tags``, ``aliases`` (alias → version), ``latest_versions`` and
        ``versions``."""
        found = self.resources.find("registered_model", "name", name, what="registered model")
        return self.resources.get("registered_model", found["id"])

    def create_model(
        self, name: str, *, description: str = "", group_id: int | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, "description": description}
        if group_id is not None:
            body["group_id"] = group_id
        return self.resources.create("registered_model", body)

    def delete_model(self, name: str) -> None:
        found = self.resources.find("registered_model", "name", name, what="registered model")
        self.resources.delete("registered_model", found["id"])

    # -- versions ---------------------------------------------------------------------------------
    def list_versions(self, name: str) -> list[dict[str, Any]]:
        """The model's versions, newest first (a missing model is an error, not an empty list)."""
        versions = list(
            self.resources.iterate(
                "model_version", [("name", "eq", name)], order_column="version", order_direction="desc"
            )
        )
        if not versions:
            self.get_model(name)  # raises for a missing model
        return versions

    def search_versions(self, filter_string: str, *, max_results: int = 10_000) -> list[dict[str, Any]]:
        """Versions matching an MLflow filter (``model-versions/search``, e.g. ``"run_id = '<run id>'"``
        or ``"name = 'churn'"``), as MLflow's API answers them: ``{"name", "version", "current_stage",
        "status", "source", "run_id", "aliases", ...}``, all pages."""
        found: list[dict[str, Any]] = []
        token: str | None = None
        while len(found) < max_results:
            params: dict[str, str | int] = {"filter": filter_string, "max_results": SEARCH_VERSIONS_PAGE}
            if token:
                params["page_token"] = token
            data = self._http.get(f"{API}/model-versions/search", params)
            found.extend(data.get("model_versions", []))
            token = data.get("next_page_token")
            if not token:
                break
        return found[:max_results]

    def version_number(self, name: str, ref: VersionRef) -> int:
        """The number of version ``ref``: a number, or ``@alias`` looked up on the server."""
        if isinstance(ref, str) and ref.startswith("@"):
            data = self._http.get(f"{API}/registered-models/alias", {"name": name, "alias": ref[1:]})
            return int(data["model_version"]["version"])
        try:
            return int(ref)
        except ValueError:
            raise ModelyardError(
                f"Version '{ref}' of model '{name}' is neither a number nor an alias ('@champion').",
                error_code="INVALID_PARAMETER_VALUE",
            ) from None

    def get_version(self, name: str, ref: VersionRef) -> dict[str, Any]:
        """The version with its lineage relations: ``run`` (a list of at most one run) and ``datasets``."""
        number = self.version_number(name, ref)
        items, _ = self.resources.list(
            "model_version", [("name", "eq", name), ("version", "eq", number)], page_size=1
        )
        if not items:
            # the MLflow API says precisely what is missing: the model, or only the version
            self._http.get(f"{API}/model-versions/get", {"name": name, "version": str(number)})
            raise ModelyardError(
                f"Model Version (name={name}, version={number}) not found",
                error_code="RESOURCE_DOES_NOT_EXIST",
            )
        return self.resources.get("model_version", items[0]["id"])

    def register_from_run(
        self,
        run_id: str,
        name: str,
        *,
        artifact_path: str | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Convert run to model: register the model logged in ``run_id`` as a new version of ``name``
        (created if missing). ``artifact_path`` picks one model when the run logged several."""
        body: dict[str, Any] = {"name": name, "run_id": run_id}
        if artifact_path is not None:
            body["artifact_path"] = artifact_path
        if description is not None:
            body["description"] = description
        return self.resources.create("model_version", body)

    def transition_stage(
        self, name: str, ref: VersionRef, stage: str, *, archive_existing_versions: bool = False
    ) -> dict[str, Any]:
        version = self.get_version(name, ref)
        body = {"current_stage": stage, "archive_existing_versions": archive_existing_versions}
        return self.resources.update("model_version", version["id"], body)

    def delete_version(self, name: str, ref: VersionRef) -> None:
        self.resources.delete("model_version", self.get_version(name, ref)["id"])

    # -- aliases ----------------------------------------------------------------------------------
    def set_alias(self, name: str, alias: str, version: int | str) -> None:
        """Point ``alias`` at a version of ``name``, moving it if it named another one."""
        self._http.post(
            f"{API}/registered-models/alias", {"name": name, "alias": alias, "version": str(version)}
        )

    def delete_alias(self, name: str, alias: str) -> None:
        self._http.call("DELETE", f"{API}/registered-models/alias", body={"name": name, "alias": alias})

    # -- files ------------------------------------------------------------------------------------
    def download_uri(self, name: str, ref: VersionRef) -> str:
        number = self.version_number(name, ref)
        data = self._http.get(
            f"{API}/model-versions/get-download-uri", {"name": name, "version": str(number)}
        )
        return str(data["artifact_uri"])

    def download(self, name: str, ref: VersionRef, dst: str | Path | None = None) -> Path:
        """The version's model directory (MLmodel and flavor files) into ``dst`` (default: a new
        temporary directory); returns ``dst``. Load it with ``modelyard.models.load_model``."""
        root = proxy_root(self.download_uri(name, ref))
        target = Path(dst) if dst is not None else Path(tempfile.mkdtemp(prefix="modelyard-model-"))
        target.mkdir(parents=True, exist_ok=True)
        self._tree(root, "", target)
        return target

    def _tree(self, root: str, relative: str, target: Path) -> None:
        listed = self._http.get(PROXY_LIST, {"path": join(root, relative)}).get("files", [])
        if not listed and not relative:
            raise ModelyardError(
                f"The version's files at '{root}' are missing from the artifact store.",
                error_code="RESOURCE_DOES_NOT_EXIST",
            )
        for entry in listed:
            path = join(relative, str(entry.get("path", "")))
            if entry.get("is_dir"):
                self._tree(root, path, target)
            else:
                self._file(join(root, path), local_target(target, path))

    def _file(self, path: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.part")
        with self._http.stream(proxy_url(path)) as response:
            try:
                with partial.open("wb") as f:
                    for chunk in response.iter_bytes(DOWNLOAD_CHUNK):
                        f.write(chunk)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
        partial.replace(target)

    # -- lineage ----------------------------------------------------------------------------------
    def lineage(self, name: str, ref: VersionRef) -> dict[str, Any]:
        """Where version ``ref`` of ``name`` came from: ``run`` (name, experiment, status, params,
        code version, environment summary) and the ``datasets`` the run used, with their context."""
        version = self.get_version(name, ref)
        out: dict[str, Any] = {
            "name": version["name"],
            "version": version["version"],
            "source": version["source"],
            "model_id": version["model_id"],
            "run_id": version["run_id"],
            "run_visible": False,
            "run": None,
            "datasets": [],
        }
        if not version["run_id"]:
            return out
        try:
            run = Run.model_validate(self._http.get(f"{API}/runs/get", {"run_id": version["run_id"]})["run"])
        except ModelyardError as exc:
            if exc.not_found:  # another group's run: the version keeps its id only
                return out
            raise
        experiment = self._http.get(f"{API}/experiments/get", {"experiment_id": run.info.experiment_id})
        out.update(
            run_visible=True,
            run=_run_summary(run, str(experiment["experiment"]["name"])),
            datasets=_datasets(run, version.get("datasets", [])),
        )
        return out

    def dataset_lineage(self, dataset_id: str) -> dict[str, Any]:
        """The runs that used dataset version ``dataset_id``, and the model versions registered from them."""
        dataset = self.resources.get("dataset", dataset_id)
        runs = sorted(dataset.pop("runs", []), key=lambda r: (r["start_time"], r["run_uuid"]))
        dataset.pop("runs_count", None)
        versions = list(
            self.resources.iterate(
                "model_version",
                [("datasets", "rel_m_m", dataset_id)],
                order_column="name",
                order_direction="asc",
            )
        )
        versions.sort(key=lambda v: (v["name"], v["version"]))
        return {"dataset": dataset, "runs": runs, "model_versions": versions}


def _run_summary(run: Run, experiment_name: str) -> dict[str, Any]:
    info, params = run.info, run.data.params
    env = None
    if run.environment is not None:
        packages = run.environment.packages
        env = {
            "python_version": run.environment.python_version,
            "platform": run.environment.platform,
            "package_count": len(packages),
            "packages": {p: packages[p] for p in NOTABLE_PACKAGES if p in packages},
        }
    return {
        "run_id": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "experiment_name": experiment_name,
        "status": info.status,
        "lifecycle_stage": info.lifecycle_stage,
        "user_id": info.user_id,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "param_count": len(params),
        "params": dict(sorted(params.items())[:PARAMS_SHOWN]),
        "code_version": None if run.code_version is None else run.code_version.to_wire(),
        "environment": env,
    }


def _datasets(run: Run, linked: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The run's dataset inputs with their context, and their ids from the version's ``datasets``."""
    ids = {(d["name"], d["digest"]): d for d in linked}
    out = []
    for item in run.inputs.dataset_inputs:
        d = item.dataset
        row = ids.get((d.name, d.digest), {})
        out.append(
            {
                "dataset_id": row.get("dataset_uuid"),
                "name": d.name,
                "digest": d.digest,
                "source_type": d.source_type,
                "source": d.source,
                "experiment_id": None if not row else str(row["experiment_id"]),
                "context": item.tags.get(CONTEXT_TAG),
            }
        )
    out.sort(key=lambda d: (d["name"], d["digest"]))
    return out
