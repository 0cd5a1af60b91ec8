"""Which server the client talks to and which credentials it sends when the caller does not say."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest

from modelyard import userconfig
from modelyard.client import Client, ModelyardError, default_url
from tests.client.conftest import Stub
from tests.conftest import LiveServer, UserCreds

ENV = ("MODELYARD_TOKEN", "MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")


def sent_authorization(stub: Stub, token: str | None = None, username: str | None = None) -> str | None:
    stub.script = [(200, b'{"status": 0, "message": "success", "result": {"username": "x"}}')]
    with Client(stub.url, token=token, username=username) as c:
        c.admin.whoami()
    headers = {k.lower(): v for k, v in stub.requests[-1][2].items()}
    return headers.get("authorization")


def test_credentials_are_resolved_in_order(stub: Stub, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    assert sent_authorization(stub) is None
    userconfig.save_credentials(stub.url, "admin", "from-config")
    assert sent_authorization(stub) == "Bearer from-config"
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ann")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cret")
    assert sent_authorization(stub) == "Basic " + base64.b64encode(b"ann:s3cret").decode()
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "from-mlflow")
    assert sent_authorization(stub) == "Bearer from-mlflow"
    monkeypatch.setenv("MODELYARD_TOKEN", "from-modelyard")
    assert sent_authorization(stub) == "Bearer from-modelyard"
    assert sent_authorization(stub, token="explicit") == "Bearer explicit"
    assert sent_authorization(stub, token="explicit", username="ann") == "ann|explicit"


def test_config_file_token_is_only_for_its_server(stub: Stub, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    userconfig.save_credentials("http://elsewhere:5050", "admin", "not-for-you", make_default=False)
    assert sent_authorization(stub) is None


def test_default_url_falls_back_to_the_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("MODELYARD_URL", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    assert default_url() == "http://127.0.0.1:5050"
    userconfig.save_credentials("http://yard.internal:8080/", "admin", "t")
    assert default_url() == "http://yard.internal:8080"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    assert default_url() == "http://mlflow:5000"


def test_the_first_admins_saved_token_just_works(
    live_server: LiveServer, admin_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `modelyard server` does on first start, then a Client with no arguments at all."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    userconfig.save_credentials(live_server.url, "admin", admin_token)
    with Client() as c:
        assert c.url == live_server.url
        assert c.admin.whoami()["username"] == "admin"


def test_other_users_credentials(
    live_server: LiveServer, make_user: Callable[..., UserCreds], monkeypatch: pytest.MonkeyPatch
) -> None:
    bea = make_user("bea", group="team")
    with Client(live_server.url, token=bea.token) as c:
        me = c.admin.whoami()
        assert {k: me[k] for k in ("username", "is_admin", "groups")} == {
            "username": "bea", "is_admin": False, "groups": {"team": "member"},
        }  # fmt: skip
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "bea")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", bea.password)
    with Client(live_server.url) as c:
        assert c.admin.whoami()["username"] == "bea"
    with Client(live_server.url, token=bea.token, username="bea") as c:
        assert c.admin.whoami()["username"] == "bea"
    with Client(live_server.url, token=bea.token, username="eve") as c, pytest.raises(ModelyardError) as info:
        c.admin.whoami()
    assert (info.value.status_code, info.value.error_code) == (401, "UNAUTHENTICATED")
    with Client(live_server.url, token="myd_wrong") as c, pytest.raises(ModelyardError) as info:
        c.list_artifacts("0" * 32)
    assert info.value.status_code == 401 and "no such token" in info.value.message
