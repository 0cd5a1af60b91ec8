"""``modelyard audit list --resource NAME|ID`` against a real server: a deployment deleted and another
created with its name get different ids (never reused), so by id each history is one resource's, and
by name both are shown with each event's id and a warning; changes read field by field."""

from __future__ import annotations

import json

from modelyard.client import Client
from tests.cli.conftest import Invoke
from tests.cli.test_models_cli import ok


def test_a_name_reused_after_a_delete_never_mixes_two_histories(
    cli: Invoke, client: Client, registered: str
) -> None:
    first = client.deployments.create("churn", model="models:/iris/1")
    client.deployments.scale("churn", 3)
    client.deployments.delete("churn")
    second = client.deployments.create("churn", model="models:/iris/2")
    assert second["id"] > first["id"]  # the deleted deployment's id is not given out again

    by_id = json.loads(
        ok(cli("audit", "list", "--resource", str(first["id"]), "--resource-type", "deployment", "--json"))
    )
    assert [(e["action"], e["resource_id"], e["resource_name"]) for e in by_id] == [
        ("delete", str(first["id"]), "churn"),
        ("scale", str(first["id"]), "churn"),
        ("create", str(first["id"]), "churn"),
    ]
    scale = by_id[1]
    assert {"field": "predictors[main].replicas", "change": "changed", "before": 1, "after": 3} in scale[
        "diff"
    ]
    assert scale["changes"]["before"]["predictors"][0]["replicas"] == 1  # the raw before/after stays

    out = ok(cli("audit", "list", "--resource", "churn"))
    assert "2 resources match 'churn'" in out
    assert f"deployment {first['id']} (churn)" in out and f"deployment {second['id']} (churn)" in out
    assert f"deployment churn (id {first['id']})" in out and f"deployment churn (id {second['id']})" in out
    assert "predictors[main].replicas: 1 → 3" in out
    assert "4 event(s)" in out

    only_second = ok(cli("audit", "list", "--resource", str(second["id"]), "--resource-type", "deployment"))
    assert "resources match" not in only_second and "1 event(s)" in only_second
    assert "predictors[main].model: (none) → models:/iris/2" in only_second
    assert "more (--json shows all)" in only_second  # a creation lists many fields: the table shows 12


def test_a_single_resource_by_name_has_no_warning(cli: Invoke, client: Client) -> None:
    client.admin.create_group("vision")
    out = ok(cli("audit", "list", "--resource", "vision"))
    assert "resources match" not in out and "group vision (id " in out and "1 event(s)" in out
    assert "name: (none) → vision" in out
