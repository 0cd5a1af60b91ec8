"""Helpers for the identity tests of the resource API: envelope checks and a two-group world."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from modelyard.domain.identity import Principal
from modelyard.domain.tracking import Dataset, DatasetInput
from modelyard.services import Services
from tests.conftest import UserCreds


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == 0 and body["message"] == "success", body
    return body["result"]


def refused(response: Any, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and body["result"] == {} and body["error_code"], body
    for word in words:
        assert word in body["message"], (word, body["message"])
    return str(body["message"])


def group_id(services: Services, admin: Principal, name: str) -> int:
    return next(g.id for g in services.identity.list_groups(admin) if g.name == name)


@dataclass(frozen=True)
class Team:
    """One group's people and rows: a project (besides the group's default one), an experiment, a run and
    a dataset it used."""

    group: str
    member: UserCreds
    default_project: int
    project: int
    experiment: int
    run: str
    dataset: str

    def ids(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "experiment": self.experiment,
            "run": self.run,
            "dataset": self.dataset,
        }


def make_team(
    http: TestClient,
    services: Services,
    make_user: Callable[..., UserCreds],
    group: str,
    member: str,
) -> Team:
    """A group with a member who makes, through the resource API and the tracking service, one of each."""
    creds = make_user(member, group=group)
    who = services.identity.authenticate_token(creds.token)
    gid = group_id(services, Principal.system(), group)
    project = ok(
        http.post("/project/api/", json={"name": f"{group}-p", "group_id": gid}, headers=creds.headers), 201
    )
    experiment = ok(
        http.post(
            "/experiment/api/",
            json={"name": f"{group}-e", "project_id": project["id"]},
            headers=creds.headers,
        ),
        201,
    )
    eid = experiment["experiment_id"]
    run = services.tracking.create_run(who, experiment_id=eid, run_name=f"{group}-run").run_id
    data = DatasetInput(Dataset(name=f"{group}-data", digest="d1", source_type="local", source="/data"))
    services.tracking.log_inputs(who, run, datasets=[data])
    dataset = ok(http.get(f"/run/api/{run}", headers=creds.headers))["datasets"][0]["dataset_uuid"]
    default = ok(http.get(f"/group/api/{gid}"))["projects"]
    (default_project,) = [p["id"] for p in default if p["name"] == group]
    return Team(group, creds, default_project, project["id"], eid, run, dataset)
