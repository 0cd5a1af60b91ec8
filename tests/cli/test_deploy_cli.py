"""``modelyard deploy ...``, ``modelyard logs`` and ``modelyard quotas ...`` against a real server whose
controller is off (``--no-wait``: nothing would roll out): the values each command prints, and the
refusals as one red line naming the cause. Waiting, progress, failures and restarts with real replicas
are in test_deploy_rollout.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.conftest import Invoke
from tests.cli.terminal import run_on_terminal
from tests.cli.test_models_cli import failed, ok
from tests.conftest import LiveServer


def as_json(result: Any) -> Any:
    return json.loads(ok(result))


def test_create_list_show_change_and_delete(
    cli: Invoke, live_server: LiveServer, registered: str, tmp_path: Path
) -> None:
    out = ok(
        cli(
            "deploy",
            "create",
            "iris-staging",
            "--model",
            "models:/iris/1",
            "--replicas",
            "2",
            "--cpu",
            "250m",
            "--memory",
            "256Mi",
            "--no-wait",
        )
    )
    assert "Created deployment iris-staging (staging, group default)." in out
    assert "Deployment iris-staging is Deploying, 0 of 2 replica(s) ready. Waiting for the controller." in out
    assert f"Endpoint: {live_server.url}/deployment/iris-staging/api/v1.0/predictions" in out

    listing = ok(cli("deploy", "list"))
    assert "iris-staging" in listing and "0/2" in listing and "models:/iris/1" in listing
    assert "/deployment/iris-staging" in listing and "1 deployment(s)" in listing
    assert as_json(cli("deploy", "list", "--stage", "production", "--json")) == []

    shown = ok(cli("deploy", "show", "iris-staging"))
    assert "(id " not in shown and "Name iris-staging" in " ".join(shown.split())
    for text in (
        "Deploying",
        "Waiting for the controller.",
        "0 of 2 replica(s) ready",
        "public",
        f"{live_server.url}/deployment/iris-staging/invocations",
        "250m",
        "256Mi",
        "100%",
    ):
        assert text in shown, text

    out = ok(cli("deploy", "scale", "iris-staging", "1", "--no-wait"))
    assert "Scaling deployment iris-staging to 1 replica(s)." in out
    assert "is Deploying, 0 of 1 replica(s) ready. Applying the new spec." in out
    out = ok(cli("deploy", "update", "iris-staging", "--model", "models:/iris/2", "--no-wait"))
    assert "Updated deployment iris-staging." in out
    d = as_json(cli("deploy", "show", "iris-staging", "--json"))
    assert (
        d["spec"]["predictors"][0]["model"],
        d["spec"]["predictors"][0]["replicas"],
        d["models"]["main"]["version"],
    ) == ("models:/iris/2", 1, "2")
    spec_file = tmp_path / "patch.json"
    spec_file.write_text(json.dumps({"description": "from a file"}))
    assert (
        as_json(
            cli("deploy", "update", "iris-staging", "--spec-file", str(spec_file), "--json", "--no-wait")
        )["spec"]["description"]
        == "from a file"
    )

    out = ok(cli("deploy", "stop", "iris-staging", "--no-wait"))
    assert "Stopping deployment iris-staging: its replicas drain." in out
    # what was wrong: "Stopping 3/0 replica(s) available"
    assert "Deployment iris-staging is Stopping, no replica runs. Waiting for the controller." in out
    assert "Starting deployment iris-staging." in ok(cli("deploy", "start", "iris-staging", "--no-wait"))
    history = ok(cli("deploy", "history", "iris-staging"))
    assert "models:/iris/2" in history and "models:/iris/1" in history
    assert [e["index"] for e in as_json(cli("deploy", "history", "iris-staging", "--json"))] == [
        0,
        1,
        2,
        3,
        4,
        5,
    ]
    out = ok(cli("deploy", "rollback", "iris-staging", "--to", "5", "--no-wait"))
    assert "Rolled back deployment iris-staging to history entry 5." in out
    assert as_json(cli("deploy", "show", "1", "--json"))["spec"]["predictors"][0]["replicas"] == 2

    out = ok(
        cli(
            *("deploy", "promote", "iris-staging", "--name", "iris-prod", "--replicas", "3", "--private"),
            "--no-wait",
        )
    )
    assert "Promoted iris-staging to production as deployment iris-prod (production, group default)." in out
    prod = as_json(cli("deploy", "show", "iris-prod", "--json"))
    assert (prod["spec"]["predictors"][0]["replicas"], prod["spec"]["endpoint"]["access"]) == (3, "private")
    # the source by name, never by internal id
    assert prod["promoted_from_name"] == "iris-staging"
    assert "Promoted from iris-staging" in " ".join(ok(cli("deploy", "show", "iris-prod")).split())

    created = ok(cli("deploy", "tokens", "iris-prod", "create", "--label", "app"))
    assert "Created client token 1 for deployment iris-prod:" in created and "shown only this once" in created
    tokens = ok(cli("deploy", "tokens", "iris-prod"))
    assert "app" in tokens and "1 token(s)" in tokens
    assert "Revoked client token 1 of deployment iris-prod." in ok(
        cli("deploy", "tokens", "iris-prod", "revoke", "1")
    )

    # no terminal to ask on: only --yes deletes
    failed(cli("deploy", "delete", "iris-prod"), "needs a confirmation and there is no terminal", "--yes")
    assert as_json(cli("deploy", "show", "iris-prod", "--json"))["name"] == "iris-prod"
    out = ok(cli("deploy", "delete", "iris-prod", "--yes"))
    assert "Deleted deployment iris-prod; its replicas drain and stop in the background." in out
    failed(cli("deploy", "show", "iris-prod"), "Deployment 'iris-prod' does not exist")
    assert as_json(cli("deploy", "show", "iris-staging", "--json"))["promoted_from_name"] is None


def test_one_call_deploy_logs_and_errors(cli: Invoke, registered: str) -> None:
    out = ok(cli("deploy", "model", "models:/iris/1", "--no-wait"))
    assert "Created deployment iris-1 (staging, group default) of models:/iris/1." in out
    assert "Deployment iris-1 is Deploying, 0 of 1 replica(s) ready." in out
    failed(
        cli("deploy", "model", "models:/iris/1", "--no-wait"),
        "name: a deployment named 'iris-1' already exists.",
    )
    failed(
        cli("deploy", "create", "x", "--model", "models:/iris/7"), "registered model 'iris' has no version 7."
    )
    failed(
        cli("deploy", "create", "x", "--model", "iris"),
        "predictors[0].model: expected models:/<name>/<version>",
    )
    failed(cli("deploy", "create", "x"), "Give --model models:/NAME/VERSION")
    failed(
        cli("deploy", "scale", "iris-1", "65", "--no-wait"),
        "replicas: expected a whole number from 0 to 64, got 65.",
    )
    failed(cli("deploy", "update", "iris-1"), "Nothing to change")
    failed(cli("deploy", "tokens", "iris-1", "rotate"), "Unknown tokens action 'rotate'")
    # waiting is the default: with no controller to roll it out, the wait ends with the reason
    waited = cli("deploy", "create", "iris-w", "--model", "models:/iris/1", "--timeout", "0.3")
    assert waited.exit_code == 1, waited.output
    progress, error = " ".join(waited.stderr.split()).split(" Error: ")
    assert progress.endswith(
        "Deployment iris-w is Deploying, 0 of 1 replica(s) ready. Waiting for the controller."
    )
    assert error.startswith(
        "Deployment 'iris-w' is still Deploying after 0.3s: the controller has not taken up the latest change"
    )
    assert error.endswith(
        "It goes on in the background: `modelyard deploy show iris-w` and `modelyard logs iris-w` show how it is doing."
    )
    failed(cli("logs", "iris-1"), "TEMPORARILY_UNAVAILABLE", "the controller is not running in this server")
    failed(cli("logs", "iris-1", "--follow"), "the controller is not running in this server")


def test_quotas_show_and_set(cli: Invoke, registered: str) -> None:
    ok(cli("deploy", "model", "models:/iris/1", "--no-wait"))
    out = ok(
        cli("quotas", "set", "default", "--cpu", "4", "--memory", "8Gi", "--gpu", "0", "--deployments", "1")
    )
    assert "Quotas of group default: cpu 4, memory 8Gi, gpu 0, deployments 1, deploying enabled." in out
    shown = ok(cli("quotas", "show"))
    assert "500m / 4" in shown and "512Mi / 8Gi" in shown and "1 / 1" in shown
    assert as_json(cli("quotas", "show", "default", "--json"))["usage"] == {
        "cpu": "500m",
        "memory": "512Mi",
        "gpu": 0,
        "deployments": 1,
    }
    failed(
        cli("deploy", "model", "models:/iris/2", "--no-wait"),
        "Quota exceeded in group 'default': deployments quota is 1, 1 in use, 0 left; this change needs 1 more.",
    )
    assert "deploying disabled" in ok(
        cli("quotas", "set", "default", "--deployments", "none", "--disable-deployments")
    )
    failed(
        cli("deploy", "model", "models:/iris/2", "--no-wait"),
        "Model deployment is disabled for group 'default'",
    )
    failed(
        cli("quotas", "set", "default", "--gpu", "two"),
        "--gpu: expected a whole number or 'none', got 'two'.",
    )
    failed(cli("quotas", "set", "default"), "Nothing to set")
    failed(cli("quotas", "set", "default", "--cpu", "lots"), "quota.cpu: expected a number of cores")


def test_delete_asks_on_a_terminal_and_production_always_asks_for_the_name(
    cli: Invoke, live_server: LiveServer, registered: str
) -> None:
    ok(cli("deploy", "create", "iris-staging", "--model", "models:/iris/1", "--no-wait"))
    ok(cli("deploy", "promote", "iris-staging", "--name", "iris-prod", "--no-wait"))
    url = ("--url", live_server.url)
    question = (
        "Delete staging deployment 'iris-staging' (group default, 0 of 1 replica(s) ready): its endpoint "
        "/deployment/iris-staging goes away? [y/N]:"
    )

    code, out, _ = run_on_terminal(*url, "deploy", "delete", "iris-staging", answers={"[y/N]:": "n"})
    assert code == 1 and question in out, out
    assert "Error: Deployment 'iris-staging' was not deleted." in out
    assert as_json(cli("deploy", "show", "iris-staging", "--json"))["name"] == "iris-staging"
    code, out, _ = run_on_terminal(*url, "deploy", "delete", "iris-staging", answers={"[y/N]:": "y"})
    assert code == 0 and "Deleted deployment iris-staging" in out, out

    # production: the name must be typed, --yes or not
    prompt = "Type its name to confirm"
    code, out, _ = run_on_terminal(*url, "deploy", "delete", "iris-prod", "--yes", answers={prompt: "iris"})
    assert code == 1 and "Delete production deployment 'iris-prod' (group default" in out, out
    assert "Error: Deployment 'iris-prod' was not deleted." in out
    code, out, _ = run_on_terminal(
        *url, "deploy", "delete", "iris-prod", "--yes", answers={prompt: "iris-prod"}
    )
    assert code == 0 and "Deleted deployment iris-prod" in out, out
    assert as_json(cli("deploy", "list", "--json")) == []
