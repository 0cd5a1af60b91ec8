"""Split one large log-batch into requests the server accepts.

A request holds at most 1000 metrics, 100 params, 100 tags, 1000 entities in all and about 1 MB of
JSON (the MLflow limits). Every request carries at least one entity, so splitting always ends.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

import orjson

MAX_METRICS = 1000
MAX_PARAMS = 100
MAX_TAGS = 100
MAX_ENTITIES = 1000
# Below the server's 1 MB so that the envelope and run id always fit.
MAX_BYTES = 900 * 1024

_LIMITS = {"params": MAX_PARAMS, "tags": MAX_TAGS, "metrics": MAX_METRICS}


def _size(item: dict[str, Any]) -> int:
    return len(orjson.dumps(item)) + 1


def split_batch(
    *, metrics: list[dict[str, Any]], params: list[dict[str, Any]], tags: list[dict[str, Any]]
) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """Request bodies (without ``run_id``) covering every entity once, each within the limits."""
    queues = {"params": deque(params), "tags": deque(tags), "metrics": deque(metrics)}
    while any(queues.values()):
        batch: dict[str, list[dict[str, Any]]] = {kind: [] for kind in queues}
        total = size = 0
        for kind, queue in queues.items():
            while queue and len(batch[kind]) < _LIMITS[kind] and total < MAX_ENTITIES:
                cost = _size(queue[0])
                if total and size + cost > MAX_BYTES:
                    break
                batch[kind].append(queue.popleft())
                total += 1
                size += cost
        yield {kind: items for kind, items in batch.items() if items}
