"""Splitting a log-batch into requests within the server's limits (a pure function)."""

from __future__ import annotations

from modelyard.client.batching import MAX_BYTES, split_batch


def _items(prefix: str, n: int, value: str = "v") -> list[dict[str, object]]:
    return [{"key": f"{prefix}{i}", "value": value} for i in range(n)]


def test_counts_stay_within_limits_and_nothing_is_lost() -> None:
    metrics = [{"key": "m", "value": 1.0, "timestamp": i, "step": i} for i in range(2500)]
    params, tags = _items("p", 250), _items("t", 130)
    batches = list(split_batch(metrics=metrics, params=params, tags=tags))
    for b in batches:
        assert len(b.get("metrics", [])) <= 1000
        assert len(b.get("params", [])) <= 100
        assert len(b.get("tags", [])) <= 100
        assert sum(len(v) for v in b.values()) <= 1000
    assert [m for b in batches for m in b.get("metrics", [])] == metrics
    assert [p for b in batches for p in b.get("params", [])] == params
    assert [t for b in batches for t in b.get("tags", [])] == tags


def test_big_values_split_by_size() -> None:
    params = _items("p", 100, "x" * 6000)
    tags = _items("t", 100, "y" * 8000)
    batches = list(split_batch(metrics=[], params=params, tags=tags))
    assert len(batches) >= 2
    for b in batches:
        assert sum(len(str(v)) for items in b.values() for v in items) < MAX_BYTES + 9000


def test_empty_batch_sends_nothing() -> None:
    assert list(split_batch(metrics=[], params=[], tags=[])) == []
