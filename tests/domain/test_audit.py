"""Audit events in the domain: the field-level diff, what an artifact path belongs to, and the hash of
events with and without a resource name."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import orjson
import pytest

from modelyard.domain.audit import GENESIS_HASH, AuditEvent, artifact_resource, event_hash, verify_chain
from modelyard.domain.audit_diff import field_changes

SPEC = {
    "description": "",
    "endpoint": {"access": "public"},
    "predictors": [
        {"name": "main", "model": "models:/iris/1", "replicas": 1, "env": {}},
        {"name": "canary", "model": "models:/iris/2", "replicas": 1, "env": {}},
    ],
}


def test_nested_fields_are_named_by_path_and_predictors_by_name() -> None:
    after = {
        **SPEC,
        "endpoint": {"access": "private"},
        # reordered, one changed, one added: matched by name, not position
        "predictors": [
            {"name": "shadow", "model": "models:/iris/3", "replicas": 1, "env": {}},
            {"name": "canary", "model": "models:/iris/2", "replicas": 1, "env": {}},
            {"name": "main", "model": "models:/iris/1", "replicas": 3, "env": {"A": "1"}},
        ],
    }
    changes = {"before": {"endpoint": SPEC["endpoint"], "predictors": SPEC["predictors"]}, "after": after}
    assert field_changes(changes) == [
        {"field": "endpoint.access", "change": "changed", "before": "public", "after": "private"},
        {"field": "predictors[main].replicas", "change": "changed", "before": 1, "after": 3},
        {"field": "predictors[main].env.A", "change": "added", "before": None, "after": "1"},
        {"field": "predictors[shadow].name", "change": "added", "before": None, "after": "shadow"},
        {"field": "predictors[shadow].model", "change": "added", "before": None, "after": "models:/iris/3"},
        {"field": "predictors[shadow].replicas", "change": "added", "before": None, "after": 1},
        {"field": "predictors[shadow].env", "change": "added", "before": None, "after": {}},
        {"field": "description", "change": "added", "before": None, "after": ""},
    ]


def test_creations_deletions_plain_lists_and_unnamed_lists() -> None:
    assert field_changes({"after": {"name": "cats", "tags": {"a": "1"}}}) == [
        {"field": "name", "change": "added", "before": None, "after": "cats"},
        {"field": "tags.a", "change": "added", "before": None, "after": "1"},
    ]
    assert field_changes({"before": {"role": "member"}, "after": None}) == [
        {"field": "role", "change": "removed", "before": "member", "after": None},
    ]
    # a list of plain values is one field; a list of objects without names goes by position
    assert field_changes({"before": {"args": [1, 2]}, "after": {"args": [1, 2, 3]}}) == [
        {"field": "args", "change": "changed", "before": [1, 2], "after": [1, 2, 3]},
    ]
    rows = field_changes({"before": {"rows": [{"v": 1}, {"v": 2}]}, "after": {"rows": [{"v": 1}, {"v": 5}]}})
    assert rows == [{"field": "rows[1].v", "change": "changed", "before": 2, "after": 5}]
    # a value that becomes null is a change, not a removal
    assert field_changes({"before": {"tags.k": "v"}, "after": {"tags.k": None}}) == [
        {"field": "tags.k", "change": "changed", "before": "v", "after": None},
    ]
    # events without before/after (refusals, summaries) have no field changes
    assert field_changes({"reason": "no token", "count": 3}) == []
    assert field_changes({}) == []


@pytest.mark.parametrize(
    ("path", "owner"),
    [
        ("3/0a1b/artifacts/model/MLmodel", ("run", "0a1b", 3)),
        ("3/0a1b/artifacts", ("run", "0a1b", 3)),
        ("3/models/m-77/artifacts/model.pkl", ("logged_model", "m-77", 3)),
        ("3/notes.txt", ("experiment", "3", 3)),
        ("snapshots/churn/model.pkl", ("artifact_root", "snapshots", None)),
        ("³/notes.txt", ("artifact_root", "³", None)),  # a digit to str.isdigit, not to int()
    ],
)
def test_artifact_paths_belong_to_runs_models_experiments(
    path: str, owner: tuple[str, str, int | None]
) -> None:
    assert artifact_resource(path) == owner


def _event(seq: int, prev: str, name: str | None) -> AuditEvent:
    event = AuditEvent(
        seq=seq,
        time=1_700_000_000_000 + seq,
        actor_id=1,
        actor="admin",
        group_id=1,
        resource_type="deployment",
        resource_id="7",
        resource_name=name,
        action="update",
        outcome="success",
        changes={"before": {"x": 1}, "after": {"x": 2}},
        prev_hash=prev,
    )
    return replace(event, hash=event_hash(event))


def test_events_without_a_name_hash_as_before_names_were_recorded() -> None:
    old = _event(1, GENESIS_HASH, None)
    payload = [1, old.time, 1, "admin", 1, "deployment", "7", "update", "success", old.changes, GENESIS_HASH]
    assert old.hash == hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()
    named = _event(2, old.hash, "churn")
    assert verify_chain([old, named], head_seq=2, head_hash=named.hash).ok
    # setting a name on an old event, or clearing one on a new event, is tampering
    for tampered in ([replace(old, resource_name="x"), named], [old, replace(named, resource_name=None)]):
        report = verify_chain(tampered, head_seq=2, head_hash=named.hash)
        assert any("was altered" in p for p in report.problems)
