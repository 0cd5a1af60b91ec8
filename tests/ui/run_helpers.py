"""What the run page's tests share: a team with a run that has everything a run can have (git,
environment, params, metrics, tags, a parent, children, datasets, a registered version, artifacts),
and the strings a page must escape."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from modelyard.domain.identity import Principal
from modelyard.domain.tracking import CodeVersion, Dataset, DatasetInput, Environment, Metric
from modelyard.services import Services
from tests.conftest import UserCreds

XSS_SCRIPT = "<script>window.__xss=1</script>"
XSS_IMG = '"><img src=x onerror="window.__xss=1">'

MLMODEL = """\
artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
    python_version: 3.11.9
  sklearn:
    sklearn_version: 1.5.0
    serialization_format: cloudpickle
signature:
  inputs: '[{"name": "age", "type": "long"}, {"name": "plan", "type": "string", "required": false}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1]}}]'
  params: '[{"name": "threshold", "type": "double", "default": 0.5, "shape": null}]'
mlflow_version: 3.17.2
"""


@dataclass(frozen=True)
class Team:
    alice: UserCreds  # member of team-a, owns the experiment
    vera: UserCreds  # viewer in team-a
    bob: UserCreds  # member of team-b only
    experiment_id: str
    run_id: str
    parent_id: str
    child_ids: list[str]


def principal(services: Services, creds: UserCreds) -> Principal:
    return services.identity.authenticate_token(creds.token)


def write_artifact(services: Services, run_id: str, path: str, data: bytes) -> None:
    run = services.tracking.get_run(Principal.system(), run_id)
    store, base = services.artifact_service.run_artifact_root(run)
    with store.writer(f"{base}/{path}") as f:
        f.write(data)


def make_team(services: Services, make_user: Callable[..., UserCreds]) -> Team:
    alice_creds = make_user("alice", group="team-a")
    vera_creds = make_user("vera", group="team-a", role="viewer")
    bob_creds = make_user("bob", group="team-b")
    alice = principal(services, alice_creds)
    eid = services.experiments.create_experiment(alice, name="churn-training")
    parent = services.tracking.create_run(alice, experiment_id=eid, run_name="sweep", start_time=1_000)
    run = services.tracking.create_run(
        alice,
        experiment_id=eid,
        run_name="train-v1",
        start_time=1_700_000_000_000,
        tags={
            "mlflow.parentRunId": parent.run_id,
            "mlflow.source.name": "train.py",
            "mlflow.source.type": "LOCAL",
        },
        code_version=CodeVersion(
            repo="https://github.com/acme/churn.git", commit="0123456789abcdef0123", branch="main", dirty=True
        ),
        environment=Environment(
            python_version="3.11.9",
            platform="Linux-6.1-x86_64",
            packages={"numpy": "2.1.0", "scikit-learn": "1.5.0"},
        ),
    )
    services.tracking.log_batch(
        alice,
        run.run_id,
        params={"C": "1.0", "solver": "lbfgs"},
        tags={"team": "growth", "mlflow.note.content": "first try"},
        metrics=[Metric("loss", 1.0 / (s + 1), 1_700_000_000_000 + s, s) for s in range(50)],
    )
    services.tracking.update_run(alice, run.run_id, status="FINISHED", end_time=1_700_000_125_000)
    children = [
        services.tracking.create_run(
            alice,
            experiment_id=eid,
            run_name=f"fold-{i}",
            start_time=1_700_000_000_000 + i,
            tags={"mlflow.parentRunId": run.run_id},
        ).run_id
        for i in range(3)
    ]
    services.tracking.log_inputs(
        alice,
        run.run_id,
        datasets=[
            DatasetInput(
                Dataset(
                    name="customers", digest="d1", source_type="s3", source="s3://data/customers.parquet"
                ),
                {"mlflow.data.context": "training"},
            )
        ],
    )
    services.registry.create_registered_model(alice, name="churn")
    services.registry.create_model_version(
        alice, name="churn", source=f"runs:/{run.run_id}/model", run_id=run.run_id
    )
    write_artifact(services, run.run_id, "model/MLmodel", MLMODEL.encode())
    write_artifact(services, run.run_id, "model/model.pkl", b"\x80\x04not really a pickle\x00")
    return Team(alice_creds, vera_creds, bob_creds, eid, run.run_id, parent.run_id, children)
