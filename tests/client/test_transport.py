"""Error mapping, retries and authentication of the client's HTTP layer.

Uses the real server for the server's own errors, and a scripted stub server on loopback for
failures the real one does not produce on demand (503s, non-JSON errors).
"""

from __future__ import annotations

import socket

import pytest

from modelyard.client import Client, ModelyardError, default_url
from tests.client.conftest import Stub


def test_unknown_run_maps_to_resource_does_not_exist(client: Client) -> None:
    with pytest.raises(ModelyardError) as info:
        client.get_run("0" * 32)
    err = info.value
    assert err.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert err.status_code == 404
    assert err.not_found
    assert "0" * 32 in err.message
    assert str(err).startswith("RESOURCE_DOES_NOT_EXIST: ")


def test_unknown_experiment(client: Client) -> None:
    with pytest.raises(ModelyardError) as info:
        client.get_experiment("987654")
    assert (info.value.error_code, info.value.status_code) == ("RESOURCE_DOES_NOT_EXIST", 404)


def test_invalid_key_is_invalid_parameter(client: Client) -> None:
    run_id = client.create_run().info.run_id
    with pytest.raises(ModelyardError) as info:
        client.log_metric(run_id, "../escape", 1.0)
    assert (info.value.error_code, info.value.status_code) == ("INVALID_PARAMETER_VALUE", 400)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_server() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    with Client(url, max_retries=2, backoff=0) as c, pytest.raises(ModelyardError) as info:
        c.get_experiment("0")
    assert info.value.error_code == "SERVER_UNREACHABLE"
    assert info.value.status_code is None
    assert url in info.value.message


def test_retries_on_503_then_succeeds(stub: Stub) -> None:
    stub.script = [(503, b"{}"), (502, b"bad gateway"), (200, b'{"experiment_id": "7"}')]
    with Client(stub.url, backoff=0) as c:
        assert c.create_experiment("x") == "7"
    assert [r[:2] for r in stub.requests] == [("POST", "/api/2.0/mlflow/experiments/create")] * 3


def test_gives_up_after_max_retries(stub: Stub) -> None:
    body = b'{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "database is busy"}'
    stub.script = [(503, body)] * 3
    with Client(stub.url, max_retries=1, backoff=0) as c, pytest.raises(ModelyardError) as info:
        c.get_experiment("1")
    assert len(stub.requests) == 2
    assert (info.value.error_code, info.value.status_code, info.value.message) == (
        "TEMPORARILY_UNAVAILABLE",
        503,
        "database is busy",
    )


def test_client_errors_are_not_retried(stub: Stub) -> None:
    stub.script = [(400, b'{"error_code": "INVALID_PARAMETER_VALUE", "message": "no"}')]
    with Client(stub.url, backoff=0) as c, pytest.raises(ModelyardError):
        c.get_experiment("1")
    assert len(stub.requests) == 1


def test_non_json_error_gets_a_code_from_its_status(stub: Stub) -> None:
    stub.script = [(404, b"<html>not here</html>")]
    with Client(stub.url) as c, pytest.raises(ModelyardError) as info:
        c.get_experiment("1")
    assert (info.value.error_code, info.value.status_code) == ("ENDPOINT_NOT_FOUND", 404)
    assert "not here" in info.value.message


def test_non_json_success_is_a_bad_response(stub: Stub) -> None:
    stub.script = [(200, b"hello")]
    with Client(stub.url) as c, pytest.raises(ModelyardError) as info:
        c.get_experiment("1")
    assert info.value.error_code == "BAD_RESPONSE"


def test_token_is_sent_as_bearer(stub: Stub, monkeypatch: pytest.MonkeyPatch) -> None:
    stub.script = [(200, b'{"experiment_id": "1"}')] * 2
    with Client(stub.url, token="t0ken") as c:
        c.create_experiment("a")
    monkeypatch.setenv("MODELYARD_TOKEN", "from-env")
    with Client(stub.url) as c:
        c.create_experiment("b")
    auth = [
        {k.lower(): v for k, v in headers.items()}.get("authorization") for _, _, headers in stub.requests
    ]
    assert auth == ["Bearer t0ken", "Bearer from-env"]


def test_run_create_carries_an_idempotency_key(stub: Stub) -> None:
    run = b'{"run": {"info": {"run_id": "r1", "experiment_id": "0"}}}'
    stub.script = [(503, b"{}"), (200, run)]
    with Client(stub.url, backoff=0) as c:
        assert c.create_run().info.run_id == "r1"
    keys = [{k.lower(): v for k, v in h.items()}.get("idempotency-key") for _, _, h in stub.requests]
    assert keys[0] and keys[0] == keys[1]  # the retry repeats the key, so the server dedups it


def test_default_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELYARD_URL", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert default_url() == "http://127.0.0.1:5050"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "file:///tmp/mlruns")
    assert default_url() == "http://127.0.0.1:5050"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "https://mlflow.example.com")
    assert default_url() == "https://mlflow.example.com"
    monkeypatch.setenv("MODELYARD_URL", "http://yard:5050/")
    assert default_url() == "http://yard:5050/"
    assert Client().url == "http://yard:5050"
