"""Convert a run to a model (RocketML): register the model a run logged as a new version.

A run's models are found in three places, most trusted first: MLflow 3 *logged models* whose source
run is the run (registered as ``models:/<model_id>``, as the ``mlflow`` client does); the run tag
``mlflow.log-model.history`` that MLflow 2 and ``modelyard.log_model`` write (``runs:/<run>/<path>``);
and, for runs whose files were uploaded by hand, directories holding an ``MLmodel`` file under the
run's artifacts (a bounded walk, done only when the first two find nothing). One model is taken
without asking; with several, ``artifact_path`` must say which.

The chosen model's ``MLmodel`` is read and parsed before anything is written, so a malformed model
is refused with the cause instead of becoming a version that cannot be served. The registered model
is created when missing, in the run's group (the model lives where its run does); then the version,
through ``RegistryService``, which checks the actor's rights again and writes the audit events.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.domain.errors import AlreadyExists, InvalidParameter, NotFound
from modelyard.domain.identity import Principal, Role
from modelyard.domain.model_format import MLMODEL_FILE, ModelSpec, parse_mlmodel
from modelyard.domain.registry import ModelVersion, join_uri, validate_model_name
from modelyard.domain.tracking import LoggedModelStatus
from modelyard.domain.values import artifact_subpath
from modelyard.storage import registry_repo as repo
from modelyard.storage.artifacts import ArtifactStore, clean_path
from modelyard.storage.orm import LoggedModelRow, TagRow

if TYPE_CHECKING:
    from modelyard.services.container import Services

HISTORY_TAG = "mlflow.log-model.history"  # written by MLflow 2 and modelyard.log_model
SCAN_DEPTH = 3  # MLmodel at the root, or up to three directories down (models/churn/v2/MLmodel)
SCAN_DIRECTORIES = 200  # at most this many directories listed when looking for MLmodel files
MAX_MLMODEL_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class RunModel:
    """A model a run logged: ``path`` names it within the run (what ``artifact_path`` selects),
    ``source`` is what the version records, ``location`` where its files are."""

    path: str
    source: str
    location: str
    model_id: str | None
    origin: str  # "logged model", "log-model history" or "artifacts"


@dataclass(frozen=True, slots=True)
class _RunFacts:
    group_id: int
    artifact_uri: str
    history: str | None
    logged: list[tuple[str, str, str]]  # (model_id, name, artifact_location) of READY logged models


def _no_model(run_id: str) -> InvalidParameter:
    return InvalidParameter(
        f"Run {run_id} has no logged model; log one with mlflow.<flavor>.log_model or modelyard.log_model "
        "and register it again."
    )


def register_from_run(
    svc: Services,
    actor: Principal,
    run_id: str,
    *,
    name: str,
    artifact_path: str | None = None,
    description: str | None = None,
) -> ModelVersion:
    """Register the model logged in run ``run_id`` as a new version of ``name`` (created if missing)."""
    name = validate_model_name(name)
    if not isinstance(run_id, str) or not run_id.strip():
        raise InvalidParameter("Missing value for required parameter 'run_id'.")
    run_id = run_id.strip()
    wanted = _wanted_path(artifact_path)
    facts = _run_facts(svc, actor, run_id)
    chosen = _choose(svc, facts, run_id, _run_models(svc, facts, run_id), wanted)
    _read_mlmodel(svc, chosen, run_id)
    _ensure_model(svc, actor, name, facts.group_id)
    return svc.registry.create_model_version(
        actor,
        name=name,
        source=chosen.source,
        run_id=run_id,
        model_id=chosen.model_id,
        description=description,
    )


# ---- finding the run's models -------------------------------------------------------------------
def _wanted_path(artifact_path: str | None) -> str | None:
    if artifact_path is None:
        return None
    if not isinstance(artifact_path, str):
        raise InvalidParameter(f"Invalid artifact_path {artifact_path!r}: expected a string.")
    return clean_path(artifact_subpath(artifact_path.strip(), "artifact_path")) or None  # empty: not given


def _run_facts(svc: Services, actor: Principal, run_id: str) -> _RunFacts:
    """The run's group, artifact root, model history tag and logged models, after checking the actor
    may read the run (another group's run reads as missing)."""
    with svc.db.read() as s:
        scope = repo.run_scope(s, run_id)
        if scope is None or actor.role_in(scope.group_id) is None:
            raise NotFound(f"Run with id={run_id} not found")
        actor.require(scope.group_id, Role.VIEWER, what=f"Run {run_id}")
        return _RunFacts(
            group_id=scope.group_id,
            artifact_uri=scope.location,
            history=s.scalar(
                select(TagRow.value).where(TagRow.run_uuid == run_id, TagRow.key == HISTORY_TAG)
            ),
            logged=_logged_models(s, run_id),
        )


def _logged_models(s: Session, run_id: str) -> list[tuple[str, str, str]]:
    rows = s.execute(
        select(LoggedModelRow.model_id, LoggedModelRow.name, LoggedModelRow.artifact_location)
        .where(
            LoggedModelRow.source_run_id == run_id,
            LoggedModelRow.lifecycle_stage == "active",
            LoggedModelRow.status == LoggedModelStatus.READY,
        )
        .order_by(LoggedModelRow.creation_timestamp_ms, LoggedModelRow.model_id)
    )
    return [(str(m), str(n), str(loc)) for m, n, loc in rows]


def _run_models(svc: Services, facts: _RunFacts, run_id: str) -> list[RunModel]:
    found: dict[str, RunModel] = {}
    for model_id, path, location in facts.logged:
        found.setdefault(path, RunModel(path, f"models:/{model_id}", location, model_id, "logged model"))
    store, base = svc.artifact_service.store_and_path(facts.artifact_uri)
    for path in _history_paths(facts.history, run_id):
        if path not in found and store.is_file(_join(base, path, MLMODEL_FILE)):
            found[path] = _run_model(run_id, facts, path, "log-model history")
    if not found:
        for path in _scan(svc, store, base):
            found[path] = _run_model(run_id, facts, path, "artifacts")
    return list(found.values())


def _run_model(run_id: str, facts: _RunFacts, path: str, origin: str) -> RunModel:
    source = f"runs:/{run_id}/{path}" if path else f"runs:/{run_id}"
    return RunModel(path, source, join_uri(facts.artifact_uri, path), None, origin)


def _history_paths(raw: str | None, run_id: str) -> list[str]:
    """Artifact paths the history tag lists for this run, oldest first, each once."""
    if not raw:
        return []
    try:
        entries = json.loads(raw)
    except json.JSONDecodeError:
        return []  # a hand-written tag is no reason to fail: the artifact walk may still find models
    paths: list[str] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("run_id", run_id) != run_id:
            continue
        path = entry.get("artifact_path")
        try:
            cleaned = clean_path(path) if isinstance(path, str) else None
        except InvalidParameter:
            continue
        if cleaned and cleaned not in paths:
            paths.append(cleaned)
    return paths


def _scan(svc: Services, store: ArtifactStore, base: str) -> list[str]:
    """Directories under the run's artifacts that hold an ``MLmodel`` file, breadth first; a model's
    own subdirectories are not searched."""
    found: list[str] = []
    queue: deque[tuple[str, int]] = deque([("", 0)])
    listed = 0
    while queue and listed < SCAN_DIRECTORIES:
        path, depth = queue.popleft()
        entries = svc.artifact_service.list_under(store, base, path or None)
        listed += 1
        if any(not e.is_dir and e.path.rsplit("/", 1)[-1] == MLMODEL_FILE for e in entries):
            found.append(path)
            continue
        if depth < SCAN_DEPTH:
            queue.extend((e.path, depth + 1) for e in entries if e.is_dir)
    return found


def _choose(
    svc: Services, facts: _RunFacts, run_id: str, models: list[RunModel], wanted: str | None
) -> RunModel:
    """The model to register: the one at ``wanted``, else the only one."""
    if wanted is not None:
        for model in models:
            if model.path == wanted:
                return model
        store, base = svc.artifact_service.store_and_path(facts.artifact_uri)
        if store.is_file(_join(base, wanted, MLMODEL_FILE)):  # a model no record mentions
            return _run_model(run_id, facts, wanted, "artifacts")
        known = ", ".join(f"'{m.path}'" for m in models)
        hint = f"its models are at {known}" if models else "it has no logged model"
        raise InvalidParameter(
            f"Run {run_id} has no model at artifact path '{wanted}' (no {MLMODEL_FILE} file there); {hint}."
        )
    if not models:
        raise _no_model(run_id)
    if len(models) > 1:
        paths = ", ".join(f"'{m.path}'" for m in models)
        raise InvalidParameter(
            f"Run {run_id} logged {len(models)} models (at {paths}); say which one to register with "
            "artifact_path (CLI: --path)."
        )
    return models[0]


def _read_mlmodel(svc: Services, model: RunModel, run_id: str) -> ModelSpec:
    """The chosen model's MLmodel, parsed; a missing or malformed one is refused with the cause."""
    store, base = svc.artifact_service.store_and_path(model.location)
    path = _join(base, MLMODEL_FILE)
    where = f"Run {run_id}'s model at '{model.path or '/'}'"
    if not store.is_file(path):
        raise InvalidParameter(f"{where} has no {MLMODEL_FILE} file; it is not a model directory.")
    with store.reader(path) as f:
        raw = f.read(MAX_MLMODEL_BYTES + 1)
    if len(raw) > MAX_MLMODEL_BYTES:
        raise InvalidParameter(f"{where}: its {MLMODEL_FILE} file is over {MAX_MLMODEL_BYTES} bytes.")
    try:
        return parse_mlmodel(raw.decode("utf-8"))
    except (InvalidParameter, UnicodeDecodeError) as exc:
        raise InvalidParameter(f"{where} has a malformed {MLMODEL_FILE} file: {exc}") from None


def _ensure_model(svc: Services, actor: Principal, name: str, group_id: int) -> None:
    try:
        svc.registry.get_registered_model(actor, name)
    except NotFound:
        try:
            svc.registry.create_registered_model(actor, name=name, group=group_id)
        except AlreadyExists:
            try:  # a concurrent call created it first, or the name is taken where the actor cannot see
                svc.registry.get_registered_model(actor, name)
            except NotFound:
                raise AlreadyExists(
                    f"Registered Model (name={name}) already exists. Model names are unique across the "
                    "platform; choose another name."
                ) from None


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))
