"""``modelyard experiments list`` against the real server."""

from __future__ import annotations

import json

from modelyard.client import Client
from tests.cli.conftest import Invoke
from tests.conftest import LiveServer


def test_list_shows_active_experiments(cli: Invoke, client: Client) -> None:
    eid = client.create_experiment("churn-model")
    gone = client.create_experiment("old-attempt")
    client.delete_experiment(gone)

    result = cli("experiments", "list")
    assert result.exit_code == 0, result.output
    assert "churn-model" in result.stdout and "Default" in result.stdout
    assert "old-attempt" not in result.stdout
    assert eid in result.stdout
    assert "2 experiment(s)" in result.stdout

    result = cli("experiments", "list", "--view", "deleted")
    assert "old-attempt" in result.stdout and "churn-model" not in result.stdout
    assert "deleted" in result.stdout


def test_list_as_json(cli: Invoke, client: Client) -> None:
    client.create_experiment("json-me", tags={"team": "x"})
    result = cli("experiments", "list", "--view", "all", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    by_name = {e["name"]: e for e in data}
    assert set(by_name) == {"Default", "json-me"}
    assert by_name["json-me"]["tags"] == [{"key": "team", "value": "x"}]


def test_url_on_the_command_and_from_the_environment(cli: Invoke, live_server: LiveServer) -> None:
    result = cli("experiments", "list", "--url", live_server.url, url=False)
    assert result.exit_code == 0, result.output
    assert "Default" in result.stdout
    result = cli("experiments", "list", url=False, env={"MODELYARD_URL": live_server.url})
    assert result.exit_code == 0, result.output
    assert "Default" in result.stdout


def test_unreachable_server_is_one_red_line(cli: Invoke) -> None:
    result = cli("experiments", "list", "--url", "http://127.0.0.1:9", url=False)
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: SERVER_UNREACHABLE")
    assert "Traceback" not in result.output


def test_bad_view_is_a_usage_error(cli: Invoke) -> None:
    result = cli("experiments", "list", "--view", "sometimes")
    assert result.exit_code == 2
    assert "sometimes" in result.output


def test_server_and_db_commands_are_still_there(cli: Invoke) -> None:
    for group in ("server", "db"):
        result = cli(group, "--help", url=False)
        assert result.exit_code == 0, result.output
