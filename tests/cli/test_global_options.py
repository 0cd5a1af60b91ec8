"""One convention for every command: ``--url``, ``--token``, ``--username`` and ``--json`` before or
after the command (the last given wins); every command answers ``--json``; names, never internal ids;
``runs list`` without ``--experiment`` lists MLflow's default experiment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modelyard.cli.group import load
from modelyard.cli.main import Root
from modelyard.client import Client
from modelyard.schemas import Metric
from tests.cli.conftest import Invoke
from tests.cli.test_identity_cli import failed, new_token, ok
from tests.conftest import LiveServer

NOWHERE = "http://127.0.0.1:9"  # nothing listens on the discard port
# commands that run a process of their own rather than answer: they take no client options
PROCESSES = {"server", "serve-model"}


def leaves() -> dict[str, Any]:
    """Every command that runs (not a group), by its path: ``{"runs list": <command>, ...}``."""
    found: dict[str, Any] = {}

    def walk(path: str, command: Any) -> None:
        subs = getattr(command, "commands", None)
        if subs is None:
            found[path] = command
            return
        for name, sub in subs.items():
            walk(f"{path} {name}".strip(), sub)

    for name, lazy in Root.lazy.items():
        walk(name, load(name, lazy))
    return found


def test_every_command_takes_json() -> None:
    commands = leaves()
    assert len(commands) > 40 and "deploy restart" in commands and "db upgrade" in commands
    for path, command in commands.items():
        options = {opt for p in command.params for opt in getattr(p, "opts", [])}
        assert "--install-completion" not in options, path  # typer's, on a holder app: not ours
        if path in PROCESSES:
            assert "--json" not in options, path
            continue
        assert "--json" in options, path
        if path != "db upgrade":  # works on the local database, not through a server
            assert {"--url", "--token", "--username"} <= options, path


@pytest.mark.parametrize(
    "command",
    [
        ("experiments", "list"),
        ("runs", "list"),
        ("models", "list"),
        ("deploy", "list"),
        ("users", "list"),
        ("groups", "list"),
        ("tokens", "list"),
        ("quotas", "show"),
        ("audit", "verify"),
    ],
)
def test_json_before_or_after_the_command(cli: Invoke, command: tuple[str, ...]) -> None:
    before = json.loads(ok(cli("--json", *command)))
    after = json.loads(ok(cli(*command, "--json")))
    group = json.loads(ok(cli(command[0], "--json", *command[1:])))
    assert before == after == group
    assert before is not None


def test_url_and_token_before_or_after_the_command(cli: Invoke, live_server: LiveServer) -> None:
    url = live_server.url
    assert json.loads(ok(cli("users", "list", "--json", "--url", url, url=False)))[0]["username"] == "admin"
    # the one given last wins
    assert ok(cli("--url", NOWHERE, "users", "list", "--url", url, url=False))
    failed(cli("--url", url, "users", "list", "--url", NOWHERE, url=False), "SERVER_UNREACHABLE", NOWHERE)
    failed(cli("users", "list", "--url", NOWHERE, url=False), "SERVER_UNREACHABLE", NOWHERE)

    ok(cli("users", "create", "carl"))
    carl = new_token(cli, "--user", "carl")
    assert [t["username"] for t in json.loads(ok(cli("tokens", "list", "--json", "--token", carl)))] == [
        "carl"
    ]
    assert json.loads(ok(cli("--token", "myd_not-a-token", "tokens", "list", "--json", "--token", carl)))
    failed(cli("--token", carl, "tokens", "list", "--token", "myd_not-a-token"), "UNAUTHENTICATED")
    # cube-studio's '<username>|<token>' after the command too
    assert ok(cli("tokens", "list", "--token", carl, "--username", "carl"))
    failed(cli("tokens", "list", "--token", carl, "--username", "admin"), "does not belong")


def test_commands_that_change_things_answer_json(
    cli: Invoke, client: Client, registered: str, tmp_path: Path
) -> None:
    alias = json.loads(ok(cli("models", "alias", "iris", "champion", "2", "--json")))
    assert alias == {"name": "iris", "alias": "champion", "version": "2"}
    assert json.loads(ok(cli("models", "alias", "iris", "champion", "--delete", "--json")))["version"] is None
    staged = json.loads(ok(cli("models", "stage", "iris", "1", "staging", "--json")))
    assert (staged["version"], staged["current_stage"]) == (1, "Staging")
    got = json.loads(ok(cli("models", "download", "iris", "1", "--dst", str(tmp_path), "--json")))
    assert got == {"name": "iris", "version": 1, "path": str(tmp_path / "iris-v1"), "files": 2}

    ok(cli("groups", "create", "vision"))
    ok(cli("users", "create", "dana"))
    member = json.loads(ok(cli("groups", "add-member", "vision", "dana", "--role", "viewer", "--json")))
    assert (member["group"], member["username"], member["role"]) == ("vision", "dana", "viewer")
    assert json.loads(ok(cli("groups", "set-role", "vision", "dana", "admin", "--json")))["role"] == "admin"
    removed = json.loads(ok(cli("groups", "remove-member", "vision", "dana", "--json")))
    assert (removed["group"], removed["username"]) == ("vision", "dana")
    disabled = json.loads(ok(cli("users", "disable", "dana", "--json")))
    assert (disabled["username"], disabled["disabled"]) == ("dana", True)
    assert json.loads(ok(cli("users", "enable", "dana", "--json")))["disabled"] is False
    token = json.loads(ok(cli("tokens", "create", "--user", "dana", "--name", "ci", "--json")))
    revoked = json.loads(ok(cli("tokens", "revoke", str(token["id"]), "--json")))
    assert (revoked["id"], revoked["username"], revoked["revoked_at"] is not None) == (
        token["id"],
        "dana",
        True,
    )


def test_names_not_internal_ids(cli: Invoke, registered: str) -> None:
    ok(cli("groups", "create", "vision"))
    created = ok(cli("users", "create", "erin", "--group", "vision"))
    assert "Created user erin; groups: vision (member)" in created and "(id" not in created
    users = ok(cli("users", "list")).splitlines()
    assert "Username" in users[1] and "ID" not in users[1]
    groups = ok(cli("groups", "list"))
    assert "ID" not in groups.splitlines()[1] and "vision" in groups
    assert "(id" not in ok(cli("groups", "show", "vision"))
    models = ok(cli("models", "list"))
    row = next(line for line in models.splitlines() if " iris " in line)
    assert "│ default" in row  # the group, by name
    assert "Group default" in " ".join(ok(cli("models", "show", "iris")).split())
    assert json.loads(ok(cli("models", "show", "iris", "--json")))["group"] == "default"


def test_runs_list_defaults_to_mlflows_experiment(cli: Invoke, client: Client) -> None:
    default_run = client.create_run("0", run_name="in-default").info.run_id
    churn = client.create_experiment("churn")
    churn_run = client.create_run(churn, run_name="in-churn").info.run_id
    client.log_batch(churn_run, metrics=[Metric(key="auc", value=0.9, timestamp=1, step=0)])

    out = ok(cli("runs", "list"))
    assert "Runs of experiment Default (id 0)" in out and default_run in out and churn_run not in out
    out = ok(cli("runs", "list", env={"MLFLOW_EXPERIMENT_NAME": "churn"}))
    assert f"Runs of experiment churn (id {churn})" in out and churn_run in out and default_run not in out
    out = ok(cli("runs", "list", env={"MLFLOW_EXPERIMENT_ID": churn}))
    assert churn_run in out and default_run not in out
    # the option wins over the environment
    out = ok(cli("runs", "list", "-e", "Default", env={"MLFLOW_EXPERIMENT_NAME": "churn"}))
    assert default_run in out and churn_run not in out
    failed(
        cli("runs", "list", env={"MLFLOW_EXPERIMENT_NAME": "nope"}), "No experiment named or numbered 'nope'"
    )
