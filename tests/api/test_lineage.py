"""Lineage: a model version's run, datasets, code version and environment; a dataset version's runs and
model versions — from the service, the resource API and the client, each with the reader's own rights."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from modelyard.client import Client, ModelyardError
from modelyard.domain.errors import NotFound
from modelyard.domain.identity import Principal
from modelyard.domain.tracking import CodeVersion, Dataset, DatasetInput, Environment
from modelyard.services import Services
from modelyard.services.registry.lineage import (
    DatasetLineage,
    DatasetUse,
    ModelVersionLineage,
    RunSummary,
    RunUse,
    VersionRef,
    dataset_lineage,
    model_version_lineage,
)
from tests.api.identity_helpers import ok
from tests.conftest import LiveServer, UserCreds

ADMIN = Principal.system()
CODE = CodeVersion(repo="https://git.example/churn.git", commit="a1b2c3d", branch="main", dirty=False)
PACKAGES = {"numpy": "2.1.0", "scikit-learn": "1.9.1", "requests": "2.32.0", "mlflow": "3.17.2"}
ENV = Environment(python_version="3.11.9", platform="Linux-6.1-x86_64", packages=PACKAGES)


@dataclass(frozen=True)
class World:
    alice: UserCreds  # member of team-a, where the runs and the model 'churn' are
    dave: UserCreds  # member of team-a and team-b; registered 'churn-b' (team-b) from team-a's run
    bob: UserCreds  # member of team-b only
    run1: str
    run2: str
    train: str  # dataset ids
    holdout: str
    times: dict[str, int]


def _dataset(name: str, digest: str) -> Dataset:
    return Dataset(name=name, digest=digest, source_type="s3", source=f"s3://data/{name}.parquet")


@pytest.fixture
def world(services: Services, make_user: Callable[..., UserCreds]) -> World:
    alice_creds = make_user("alice", group="team-a")
    dave_creds = make_user("dave", group="team-b")
    services.identity.set_member(ADMIN, group="team-a", username="dave", role="member")
    bob_creds = make_user("bob", group="team-b")
    alice = services.identity.authenticate_token(alice_creds.token)
    dave = services.identity.authenticate_token(dave_creds.token)
    eid = services.experiments.create_experiment(alice, name="churn-training")
    run1 = services.tracking.create_run(
        alice, experiment_id=eid, run_name="train-v1", code_version=CODE, environment=ENV, start_time=1000
    )
    services.tracking.log_batch(alice, run1.run_id, params={"C": "1.0", "max_iter": "300", "solver": "lbfgs"})
    services.tracking.log_inputs(
        alice,
        run1.run_id,
        datasets=[
            DatasetInput(_dataset("train", "t1"), {"mlflow.data.context": "training"}),
            DatasetInput(_dataset("holdout", "h1"), {"mlflow.data.context": "evaluation"}),
        ],
    )
    run2 = services.tracking.create_run(alice, experiment_id=eid, run_name="train-v2", start_time=2000)
    services.tracking.log_batch(alice, run2.run_id, params={f"p{i:02d}": str(i) for i in range(60)})
    services.tracking.log_inputs(alice, run2.run_id, datasets=[DatasetInput(_dataset("train", "t1"))])

    services.registry.create_registered_model(alice, name="churn")
    for run in (run1, run2):
        services.registry.create_model_version(
            alice, name="churn", source=f"runs:/{run.run_id}/model", run_id=run.run_id
        )
    services.registry.set_alias(alice, "churn", "champion", 2)
    services.registry.create_registered_model(dave, name="churn-b", group="team-b")
    services.registry.create_model_version(
        dave, name="churn-b", source=f"runs:/{run1.run_id}/model", run_id=run1.run_id
    )
    ids = {d.name: d.dataset_id for d in model_version_lineage(services, alice, "churn", 1).datasets}
    times = {
        f"{v.name}/{v.version}": v.creation_timestamp
        for name in ("churn", "churn-b")
        for v in services.registry.search_model_versions(ADMIN, filter_string=f"name = '{name}'")[0]
    }
    return World(
        alice_creds, dave_creds, bob_creds, run1.run_id, run2.run_id, ids["train"], ids["holdout"], times
    )


def who(services: Services, creds: UserCreds) -> Principal:
    return services.identity.authenticate_token(creds.token)


def test_a_versions_lineage_is_its_run_datasets_code_and_environment(
    services: Services, world: World
) -> None:
    alice = who(services, world.alice)
    lineage = model_version_lineage(services, alice, "churn", "1")
    experiment = services.experiments.get_experiment_by_name(alice, "churn-training").experiment_id
    assert lineage == ModelVersionLineage(
        name="churn",
        version=1,
        source=f"runs:/{world.run1}/model",
        model_id=None,
        run_id=world.run1,
        run_visible=True,
        run=RunSummary(
            run_id=world.run1,
            run_name="train-v1",
            experiment_id=experiment,
            experiment_name="churn-training",
            status="RUNNING",
            lifecycle_stage="active",
            user_id="alice",
            start_time=1000,
            end_time=None,
            param_count=3,
            params={"C": "1.0", "max_iter": "300", "solver": "lbfgs"},
            code_version={
                "repo": "https://git.example/churn.git",
                "commit": "a1b2c3d",
                "branch": "main",
                "dirty": False,
            },
            environment={
                "python_version": "3.11.9",
                "platform": "Linux-6.1-x86_64",
                "package_count": 4,
                "packages": {"mlflow": "3.17.2", "numpy": "2.1.0", "scikit-learn": "1.9.1"},
            },
        ),
        datasets=[
            DatasetUse(
                world.holdout, "holdout", "h1", "s3", "s3://data/holdout.parquet", experiment, "evaluation"
            ),
            DatasetUse(world.train, "train", "t1", "s3", "s3://data/train.parquet", experiment, "training"),
        ],
    )
    assert list(lineage.run.environment or {}) == ["python_version", "platform", "package_count", "packages"]

    # a params summary, not a dump; no code version or environment recorded is None, not made up
    second = model_version_lineage(services, alice, "churn", 2)
    assert second.run is not None
    assert second.run.param_count == 60 and list(second.run.params) == [f"p{i:02d}" for i in range(50)]
    assert (second.run.code_version, second.run.environment) == (None, None)
    assert [(d.name, d.context) for d in second.datasets] == [("train", None)]


def test_a_datasets_lineage_is_its_runs_and_the_versions_registered_from_them(
    services: Services, world: World
) -> None:
    runs = [
        RunUse(world.run1, "train-v1", "RUNNING", "active", 1000, "training"),
        RunUse(world.run2, "train-v2", "RUNNING", "active", 2000, None),
    ]
    churn = [
        VersionRef("churn", 1, "None", "READY", world.run1, [], world.times["churn/1"]),
        VersionRef("churn", 2, "None", "READY", world.run2, ["champion"], world.times["churn/2"]),
    ]
    churn_b = VersionRef("churn-b", 1, "None", "READY", world.run1, [], world.times["churn-b/1"])
    found = dataset_lineage(services, who(services, world.alice), world.train)
    assert found == DatasetLineage(
        dataset=DatasetUse(
            world.train, "train", "t1", "s3", "s3://data/train.parquet", found.dataset.experiment_id
        ),
        runs=runs,
        model_versions=churn,  # churn-b is team-b's: alice does not see it
    )
    assert dataset_lineage(services, who(services, world.dave), world.train).model_versions == [
        *churn,
        churn_b,
    ]
    holdout = dataset_lineage(services, ADMIN, world.holdout)
    assert [r.run_id for r in holdout.runs] == [world.run1]
    assert holdout.model_versions == [churn[0], churn_b]


def test_lineage_shows_only_what_the_reader_may_see(services: Services, world: World) -> None:
    bob = who(services, world.bob)
    hidden_run = model_version_lineage(services, bob, "churn-b", 1)
    assert hidden_run == ModelVersionLineage(
        "churn-b", 1, f"runs:/{world.run1}/model", None, world.run1, run_visible=False, run=None
    )
    with pytest.raises(NotFound, match="Registered Model with name=churn not found"):
        model_version_lineage(services, bob, "churn", 1)
    with pytest.raises(NotFound, match=f"No dataset with id={world.train} exists"):
        dataset_lineage(services, bob, world.train)
    with pytest.raises(NotFound, match="No dataset with id=nope exists"):
        dataset_lineage(services, ADMIN, "nope")
    with pytest.raises(NotFound, match=r"Model Version \(name=churn, version=7\) not found"):
        model_version_lineage(services, ADMIN, "churn", 7)


def _version_id(http: TestClient, name: str, version: int) -> int:
    filters = [{"col": "name", "opr": "eq", "value": name}, {"col": "version", "opr": "eq", "value": version}]
    found = ok(http.get("/model_version/api/", params={"filters": orjson.dumps(filters).decode()}))["data"]
    return int(found[0]["id"])


def test_the_resource_api_shows_a_versions_lineage_and_filters_versions_by_dataset(
    http: TestClient, world: World
) -> None:
    v1 = _version_id(http, "churn", 1)
    shown = ok(http.get(f"/model_version/api/{v1}", headers=world.alice.headers))
    assert [(r["run_uuid"], r["name"], r["status"]) for r in shown["run"]] == [
        (world.run1, "train-v1", "RUNNING")
    ]
    assert sorted((d["dataset_uuid"], d["name"], d["digest"]) for d in shown["datasets"]) == sorted(
        [(world.train, "train", "t1"), (world.holdout, "holdout", "h1")]
    )
    # bob sees churn-b's version but not team-a's run nor its datasets
    b1 = _version_id(http, "churn-b", 1)
    as_bob = ok(http.get(f"/model_version/api/{b1}", headers=world.bob.headers))
    assert (as_bob["run_id"], as_bob["run"], as_bob["datasets"]) == (world.run1, [], [])

    by_dataset = [{"col": "datasets", "opr": "rel_m_m", "value": world.train}]
    form = {"filters": orjson.dumps(by_dataset).decode(), "order_column": "id", "order_direction": "asc"}
    names = [(v["name"], v["version"]) for v in ok(http.get("/model_version/api/", params=form))["data"]]
    assert names == [("churn", 1), ("churn", 2), ("churn-b", 1)]
    for_alice = ok(http.get("/model_version/api/", params=form, headers=world.alice.headers))["data"]
    assert [(v["name"], v["version"]) for v in for_alice] == [("churn", 1), ("churn", 2)]


def test_the_resource_api_shows_lineage_blocks(http: TestClient, world: World, services: Services) -> None:
    v1 = _version_id(http, "churn", 1)
    shown = ok(http.get(f"/model_version/api/{v1}", headers=world.alice.headers))
    assert shown["lineage"] == model_version_lineage(services, ADMIN, "churn", 1).to_dict()
    assert shown["lineage"]["run"]["code_version"]["commit"] == "a1b2c3d"
    dataset = ok(http.get(f"/dataset/api/{world.train}", headers=world.alice.headers))
    assert [(v["name"], v["version"]) for v in dataset["model_versions"]] == [("churn", 1), ("churn", 2)]
    # team-a's dataset is hidden from bob (team-b only) entirely
    assert http.get(f"/dataset/api/{world.train}", headers=world.bob.headers).status_code == 404


@pytest.fixture
def as_alice(live_server: LiveServer, world: World) -> Iterator[Client]:
    with Client(live_server.url, token=world.alice.token, backoff=0.01) as c:
        yield c


def test_the_client_puts_together_the_same_lineage(
    services: Services, world: World, as_alice: Client, live_server: LiveServer
) -> None:
    expected: dict[str, Any] = model_version_lineage(
        services, who(services, world.alice), "churn", 1
    ).to_dict()
    assert as_alice.registry.lineage("churn", 1) == expected
    second = model_version_lineage(services, who(services, world.alice), "churn", 2).to_dict()
    assert as_alice.registry.lineage("churn", "@champion") == second

    with Client(live_server.url, token=world.bob.token) as as_bob:
        hidden = as_bob.registry.lineage("churn-b", 1)
        assert (hidden["run_id"], hidden["run_visible"], hidden["run"]) == (world.run1, False, None)
        with pytest.raises(ModelyardError, match="not found") as err:
            as_bob.registry.lineage("churn", 1)
        assert err.value.status_code == 404

    found = as_alice.registry.dataset_lineage(world.train)
    assert (found["dataset"]["name"], found["dataset"]["digest"]) == ("train", "t1")
    assert [r["run_uuid"] for r in found["runs"]] == [world.run1, world.run2]
    assert [(v["name"], v["version"], v["aliases"]) for v in found["model_versions"]] == [
        ("churn", 1, []),
        ("churn", 2, ["champion"]),
    ]
