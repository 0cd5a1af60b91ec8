"""Registry and dataset content for the UI tests, made through the services: a run with params,
metrics, a code version and a dataset input (schema and profile as MLflow logs them), model files with
an MLmodel (signature, input example) in the run's artifacts, and versions registered from it."""

from __future__ import annotations

import json
from dataclasses import dataclass

from modelyard.domain.audit import AuditEvent
from modelyard.domain.errors import NotFound
from modelyard.domain.identity import Principal
from modelyard.domain.tracking import CodeVersion, Dataset, DatasetInput, Environment, Metric
from modelyard.services import Services

SIGNATURE = {
    "inputs": json.dumps(
        [
            {"type": "double", "name": "sepal length", "required": True},
            {"type": "long", "name": "petal count", "required": False},
        ]
    ),
    "outputs": json.dumps([{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]),
    "params": None,
}
EXAMPLE = {"columns": ["sepal length", "petal count"], "data": [[5.1, 3], [4.9, 2]]}
DATASET_SCHEMA = json.dumps(
    {
        "mlflow_colspec": [
            {"type": "double", "name": "sepal length", "required": True},
            {"type": "string", "name": "species", "required": True},
        ]
    }
)
DATASET_PROFILE = json.dumps({"num_rows": 150, "num_elements": 600})


@dataclass(frozen=True)
class Seeded:
    experiment_id: str
    run_id: str
    model: str
    dataset_id: str


def mlmodel_text(*, signature: dict[str, str | None] | None = SIGNATURE, example: bool = True) -> str:
    lines = [
        "flavors:",
        "  python_function:",
        "    loader_module: mlflow.sklearn",
        "    python_version: 3.12.0",
    ]
    if signature is not None:
        lines.append("signature:")
        for key, value in signature.items():
            lines.append(f"  {key}: {json.dumps(value) if value is not None else 'null'}")
    if example:
        lines += [
            "saved_input_example_info:",
            "  artifact_path: input_example.json",
            "  type: dataframe",
            "  pandas_orient: split",
        ]
    return "\n".join(lines) + "\n"


def write_model_files(
    services: Services, artifact_uri: str, files: dict[str, bytes], path: str = "model"
) -> None:
    store, base = services.artifact_service.store_and_path(artifact_uri)
    for name, content in files.items():
        with store.writer(f"{base}/{path}/{name}".lstrip("/")) as f:
            f.write(content)


def seed(
    services: Services,
    actor: Principal,
    model: str,
    *,
    experiment: str | None = None,
    versions: int = 1,
    dataset: str = "iris-train",
    digest: str = "d1g35t",
    run_name: str = "train-iris",
    files: dict[str, bytes] | None = None,
) -> Seeded:
    """An experiment (made if missing), a run that used dataset ``dataset`` and logged a model, and
    ``versions`` versions of registered model ``model`` (made if missing) from it."""
    experiment = experiment or f"exp-{model}"
    try:
        eid = services.experiments.get_experiment_by_name(actor, experiment).experiment_id
    except NotFound:
        eid = services.experiments.create_experiment(actor, name=experiment)
    run = services.tracking.create_run(
        actor,
        experiment_id=eid,
        run_name=run_name,
        code_version=CodeVersion(
            repo="https://git.example/ml.git", commit="abc123def", branch="main", dirty=False
        ),
        environment=Environment(python_version="3.12.1", platform="linux", packages={"numpy": "2.1.0"}),
    )
    services.tracking.log_batch(
        actor,
        run.run_id,
        metrics=[Metric("accuracy", 0.93, 1000, 5), Metric("loss", 0.21, 1000, 5)],
        params={"C": "1.0", "solver": "lbfgs"},
    )
    services.tracking.log_inputs(
        actor,
        run.run_id,
        datasets=[
            DatasetInput(
                Dataset(dataset, digest, "local", "/data/iris.csv", DATASET_SCHEMA, DATASET_PROFILE),
                {"mlflow.data.context": "training"},
            )
        ],
    )
    write_model_files(
        services,
        run.artifact_uri,
        files
        or {
            "MLmodel": mlmodel_text().encode(),
            "input_example.json": json.dumps(EXAMPLE).encode(),
            "model.pkl": b"not a real pickle",
        },
    )
    try:
        services.registry.get_registered_model(actor, model)
    except NotFound:
        services.registry.create_registered_model(actor, name=model)
    for _ in range(versions):
        services.registry.create_model_version(
            actor, name=model, source=f"runs:/{run.run_id}/model", run_id=run.run_id
        )
    versions_of = services.datasets.dataset_versions(actor, dataset)
    dataset_id = next(v.dataset_id for v in versions_of if v.digest == digest and v.experiment_id == str(eid))
    return Seeded(str(eid), run.run_id, model, dataset_id)


def audit_events(services: Services, admin: Principal, resource_type: str) -> list[AuditEvent]:
    """The audit trail's events on a kind of resource, oldest first (as the audit service answers)."""
    events, _ = services.audit.query(admin, resource_type=resource_type, limit=1000)
    return sorted(events, key=lambda e: e.seq)
