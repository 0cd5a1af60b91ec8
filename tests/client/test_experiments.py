"""Experiments through the client, against the real server."""

from __future__ import annotations

import pytest

from modelyard.client import Client, ModelyardError


def test_create_and_get_experiment_round_trip(client: Client) -> None:
    eid = client.create_experiment("churn", tags={"team": "growth", "size": 3})
    exp = client.get_experiment(eid)
    assert exp.experiment_id == eid
    assert exp.name == "churn"
    assert exp.lifecycle_stage == "active"
    assert exp.tags == {"team": "growth", "size": "3"}
    assert exp.artifact_location.startswith("mlflow-artifacts:/")
    assert exp.creation_time is not None and exp.creation_time > 0
    by_name = client.get_experiment_by_name("churn")
    assert by_name is not None and by_name.experiment_id == eid


def test_get_experiment_by_unknown_name_is_none(client: Client) -> None:
    assert client.get_experiment_by_name("no-such-experiment") is None


def test_set_experiment_gets_or_creates(client: Client) -> None:
    first = client.set_experiment("fraud")
    second = client.set_experiment("fraud")
    assert first.experiment_id == second.experiment_id
    assert first.name == "fraud"


def test_set_experiment_refuses_a_deleted_one(client: Client) -> None:
    eid = client.create_experiment("gone")
    client.delete_experiment(eid)
    with pytest.raises(ModelyardError) as info:
        client.set_experiment("gone")
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "deleted" in info.value.message


def test_duplicate_name_is_resource_already_exists(client: Client) -> None:
    client.create_experiment("dup")
    with pytest.raises(ModelyardError) as info:
        client.create_experiment("dup")
    assert info.value.error_code == "RESOURCE_ALREADY_EXISTS"
    assert info.value.status_code == 400


def test_search_experiments_by_view_and_filter(client: Client) -> None:
    keep = client.create_experiment("keep-me")
    drop = client.create_experiment("drop-me")
    client.delete_experiment(drop)

    active = {e.experiment_id for e in client.search_experiments()}
    deleted = {e.experiment_id for e in client.search_experiments(view="deleted")}
    everything = {e.experiment_id for e in client.search_experiments(view="all")}
    assert keep in active and "0" in active and drop not in active
    assert deleted == {drop}
    assert everything == active | deleted

    named = client.search_experiments(filter_string="name = 'keep-me'")
    assert [e.experiment_id for e in named] == [keep]

    client.restore_experiment(drop)
    assert drop in {e.experiment_id for e in client.search_experiments()}


def test_search_experiments_follows_pages(client: Client) -> None:
    ids = {client.create_experiment(f"paged-{i}") for i in range(7)}
    found = client.search_experiments(filter_string="name LIKE 'paged-%'", max_results=5)
    assert len(found) == 5
    found = client.search_experiments(filter_string="name LIKE 'paged-%'")
    assert {e.experiment_id for e in found} == ids


def test_experiment_tag(client: Client) -> None:
    eid = client.create_experiment("tagged")
    client.set_experiment_tag(eid, "owner", "ana")
    assert client.get_experiment(eid).tags == {"owner": "ana"}
