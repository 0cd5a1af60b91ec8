"""CLI fixtures: invoke ``modelyard`` in-process (typer's CliRunner) against the real live server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from typer.testing import CliRunner, Result

from modelyard.cli.main import app
from modelyard.client import Client
from tests.api.deployment_helpers import registered  # noqa: F401 (fixture for the deployment tests)
from tests.conftest import LiveServer

Invoke = Callable[..., Result]


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[Client]:
    with Client(live_server.url) as c:
        yield c


@pytest.fixture
def cli(live_server: LiveServer) -> Invoke:
    """``cli("runs", "show", run_id)`` runs ``modelyard --url <live server> runs show <run_id>``."""
    runner = CliRunner()

    def invoke(
        *args: str, url: bool = True, env: dict[str, str] | None = None, input: str | None = None
    ) -> Result:
        argv = ["--url", live_server.url, *args] if url else list(args)
        # A wide virtual terminal, so that tables do not fold the values the tests look for.
        return runner.invoke(app, argv, env={"COLUMNS": "250", **(env or {})}, input=input)

    return invoke
