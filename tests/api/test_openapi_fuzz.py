"""schemathesis over the whole OpenAPI document (issue 12, item 8), against a live server, as a
platform admin.

Every operation of ``/openapi.json`` (the MLflow API, the artifact proxy, the resource API, health) gets
schemathesis' coverage cases (the boundary values of every parameter and field the document allows) and
a bounded number of generated cases, valid and invalid. Each answer must not be a 5xx, must carry a
documented status and media type, and its body must match the schema the document gives for that
status. The server holds one of everything first (an experiment, a run with metrics, params, tags and a
dataset, a logged model, a registered model with a version and an alias, a deployment with a client
token, an artifact), so that lists, searches and shows answer real rows, checked against the documented
item schemas.

Generation is derandomized with a fixed seed: a run is repeatable, and CI sees the same cases each time.
The operations are parametrized from the document the app builds (no server needed to collect them; the
first test checks that the live server serves that same document); one live server per test worker
serves them all. The fuzzer may revoke its own token (``/token/api/action/revoke/<id>`` with a small
id): it then gets a new one, and the refused call still had to answer a documented 401.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from modelyard.api.app import create_app
from modelyard.domain.identity import Principal
from modelyard.services import Services, build_services
from modelyard.settings import Settings
from tests.conftest import LiveServer, _fresh_database, auth_header

API = "/api/2.0/mlflow"
MAX_EXAMPLES = 8
LIST_EXAMPLES = 25
SEED = 20240812
HTTP_SERVER_REFUSAL = "Invalid HTTP request received."


class Credentials:
    """The fuzzing admin's token; a new one is made when a generated request revoked it."""

    def __init__(self, services: Services, admin: Principal, token: str) -> None:
        self.services = services
        self.admin = admin
        self.headers = auth_header(token)

    def renew_if_revoked(self, status: int) -> None:
        if status == 401:
            _, token = self.services.identity.create_token(
                self.admin, username=self.admin.username, name="fuzz"
            )
            self.headers = auth_header(token)


def _seed_world(url: str, headers: dict[str, str]) -> None:
    """One of each object, so that lists, searches and shows answer real rows."""
    with httpx.Client(base_url=url, headers=headers, timeout=30) as c:

        def ok(r: httpx.Response) -> Any:
            assert r.status_code in (200, 201), r.text
            return r.json()

        eid = ok(
            c.post(f"{API}/experiments/create", json={"name": "fuzz", "tags": [{"key": "t", "value": "1"}]})
        )["experiment_id"]
        run = ok(c.post(f"{API}/runs/create", json={"experiment_id": eid, "run_name": "r"}))["run"]["info"][
            "run_id"
        ]
        ok(
            c.post(
                f"{API}/runs/log-batch",
                json={
                    "run_id": run,
                    "metrics": [
                        {"key": "m", "value": v, "timestamp": 1, "step": i} for i, v in enumerate([1, "NaN"])
                    ],
                    "params": [{"key": "p", "value": "1"}],
                    "tags": [{"key": "t", "value": "x"}],
                },
            )
        )
        dataset = {"name": "d", "digest": "1", "source_type": "local", "source": "/d", "schema": "{}"}
        ok(c.post(f"{API}/runs/log-inputs", json={"run_id": run, "datasets": [{"dataset": dataset}]}))
        model = ok(c.post(f"{API}/logged-models", json={"experiment_id": eid, "source_run_id": run}))["model"]
        ok(
            c.post(
                f"{API}/runs/outputs",
                json={"run_id": run, "models": [{"model_id": model["info"]["model_id"]}]},
            )
        )
        ok(c.post(f"{API}/registered-models/create", json={"name": "fuzz-model", "description": "d"}))
        source = f"mlflow-artifacts:/{eid}/{run}/artifacts/model"
        ok(
            c.post(
                f"{API}/model-versions/create", json={"name": "fuzz-model", "source": source, "run_id": run}
            )
        )
        ok(
            c.post(
                f"{API}/registered-models/alias",
                json={"name": "fuzz-model", "alias": "champion", "version": "1"},
            )
        )
        deployment = {"name": "fuzz-dep", "predictors": [{"model": "models:/fuzz-model/1"}]}
        ok(c.post("/deployment/api/", json=deployment))
        ok(c.post("/deployment/api/fuzz-dep/tokens", json={"name": "t"}))
        ok(c.put(f"{API}-artifacts/artifacts/{eid}/{run}/artifacts/model/MLmodel", content=b"flavors: {}\n"))


def _document() -> dict[str, Any]:
    """The document the server serves, built from the app's route table (no server, no database)."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp) / "data",
            backend_store_uri=f"sqlite:///{tmp}/unused.db",
            artifact_root=str(Path(tmp) / "artifacts"),
            migrate_on_start=False,
            controller=False,
        ).resolved()
        services = build_services(settings)
        try:
            return create_app(settings, services).openapi()
        finally:
            services.close()


CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        # generated cases, valid and invalid; derandomized: the same cases on every run
        "generation": {
            "mode": "all",
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
        },
        "phases": {
            "examples": {"enabled": False},  # the document gives no examples
            "stateful": {"enabled": False},
            # boundary values of every parameter and field that the document allows (the invalid ones the
            # generated cases send too); methods a path does not take are left out: they all answer 405
            "coverage": {"unexpected-methods": [], "generation": {"mode": "positive"}},
        },
        "checks": {
            "enabled": False,
            "not_a_server_error": {"enabled": True},
            "status_code_conformance": {"enabled": True},
            "content_type_conformance": {"enabled": True},
            "response_schema_conformance": {"enabled": True},
        },
        "operations": [
            {
                # A list's coverage cases (every filter of every column) would be about 300 per resource,
                # all alike across resources; generated ones find the same faults, at a tenth of the cost.
                "include-name-regex": "^GET /[a-z_]+/api/$",
                "phases": {"coverage": {"enabled": False}},
                "generation": {"max-examples": LIST_EXAMPLES},
            },
            {
                # Logs come from the controller's replicas; this server runs no controller (it would start
                # replicas for the deployments the fuzzer creates), so the answer is the documented 503.
                "include-path": "/deployment/api/{key}/logs",
                "checks": {"not_a_server_error": {"expected-statuses": ["2XX", "4XX", 503]}},
            },
        ],
    }
)
DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT), config=CONFIG)


@dataclass
class FuzzServer:
    server: LiveServer
    credentials: Credentials

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory, database_template: str) -> Iterator[FuzzServer]:
    """One server for all the operations a worker fuzzes (a server per operation would cost more than
    the fuzzing), with one of everything in it."""
    tmp = tmp_path_factory.mktemp("fuzz")
    settings = Settings(
        data_dir=tmp / "data",
        backend_store_uri=_fresh_database(database_template, tmp),
        artifact_root=str(tmp / "artifacts"),
        migrate_on_start=False,
        controller=False,
    ).resolved()
    services = build_services(settings)
    _, token = services.identity.bootstrap_admin()
    admin = services.identity.authenticate_token(token)
    server = LiveServer(create_app(settings, services))
    server.start()
    try:
        credentials = Credentials(services, admin, token)
        _seed_world(server.url, credentials.headers)
        yield FuzzServer(server, credentials)
    finally:
        server.stop()
        services.close()


def test_the_fuzzed_document_is_the_one_the_server_serves(fuzz_server: FuzzServer) -> None:
    served = httpx.get(f"{fuzz_server.url}/openapi.json", headers=fuzz_server.credentials.headers)
    assert served.status_code == 200
    assert served.json() == DOCUMENT


@schema.parametrize()
def test_every_operation_answers_as_its_document_says(case: Any, fuzz_server: FuzzServer) -> None:
    credentials = fuzz_server.credentials
    response = case.call(base_url=fuzz_server.url, headers=credentials.headers)
    credentials.renew_if_revoked(response.status_code)
    if response.status_code == 400 and response.text == HTTP_SERVER_REFUSAL:
        # A request line over 64 KiB (a generated list of filters) is refused by uvicorn's HTTP parser
        # before any route or middleware of the app sees it; no operation's answer, nothing to check.
        return
    checks = None
    if any(value == "" for value in (case.path_parameters or {}).values()):
        # An invalid case with an empty path segment addresses another route (GET /run/api/{key} with
        # key "" is the list, GET /run/api/): only "no 5xx" applies to what answers it.
        checks = [not_a_server_error]
    case.validate_response(
        response, checks, headers=credentials.headers, transport_kwargs={"base_url": fuzz_server.url}
    )
