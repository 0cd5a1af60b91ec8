"""Adaptive batching: the batcher alone (merging, order, size limit, keys, adaptive wait, error
isolation), then the runtime under concurrent HTTP requests (answers equal to unbatched ones)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from modelyard.serving.batching import AdaptiveBatcher
from modelyard.serving.dataplane import DataPlane
from modelyard.serving.rest import ServingApp
from modelyard.serving.runtime import ModelRuntime, RuntimeOptions
from tests.models.trained import Iris
from tests.serving import test_runtime_kit as kit
from tests.serving.test_runtime_kit import IRIS_COLUMNS

iris_dir = kit.iris_dir
scorer_dir = kit.scorer_dir  # fixtures shared by the serving tests


class Recorder:
    """A run_batch that doubles numbers, records each batch, and fails batches holding a negative."""

    def __init__(self, delay: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.delay = delay

    async def __call__(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        if self.delay:
            await asyncio.sleep(self.delay)
        if any(i < 0 for i in items):
            raise ValueError(f"negative in {list(items)}")
        return [i * 2 for i in items]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_concurrent_items_share_one_call_and_keep_their_order() -> None:
    async def main() -> tuple[list[int], list[list[int]]]:
        record = Recorder()
        batcher = AdaptiveBatcher(record, max_batch_size=100, max_wait=0.05)
        batcher.start()
        results = await asyncio.gather(*(batcher.submit(i) for i in range(10)))
        await batcher.aclose()
        return list(results), record.batches

    results, batches = run(main())
    assert results == [i * 2 for i in range(10)]
    assert batches == [list(range(10))]


def test_batches_never_exceed_the_size_limit_counted_in_rows() -> None:
    async def main() -> list[list[int]]:
        record = Recorder()
        batcher = AdaptiveBatcher(record, max_batch_size=10, max_wait=0.05, size_of=lambda i: i)
        batcher.start()
        await asyncio.gather(*(batcher.submit(i) for i in (4, 4, 4, 12, 1)))
        await batcher.aclose()
        return record.batches

    batches = run(main())
    assert batches == [[4, 4, 1], [4], [12]]  # 12 rows is larger than a batch: it runs alone
    assert all(sum(b) <= 10 or len(b) == 1 for b in batches)


def test_items_with_different_keys_are_never_merged() -> None:
    async def main() -> list[list[int]]:
        record = Recorder()
        batcher = AdaptiveBatcher(record, max_batch_size=100, max_wait=0.05, key_of=lambda i: i % 2)
        batcher.start()
        await asyncio.gather(*(batcher.submit(i) for i in range(6)))
        await batcher.aclose()
        return record.batches

    assert run(main()) == [[0, 2, 4], [1, 3, 5]]


def test_one_items_error_is_its_own() -> None:
    async def main() -> list[Any]:
        batcher = AdaptiveBatcher(Recorder(), max_batch_size=100, max_wait=0.05)
        batcher.start()
        results = await asyncio.gather(*(batcher.submit(i) for i in (1, -1, 3)), return_exceptions=True)
        await batcher.aclose()
        return list(results)

    first, bad, third = run(main())
    assert (first, third) == (2, 6)
    assert isinstance(bad, ValueError) and str(bad) == "negative in [-1]"


def test_a_lone_request_does_not_wait_when_nothing_else_is_coming() -> None:
    async def main(pending: int) -> float:
        batcher = AdaptiveBatcher(Recorder(), max_batch_size=100, max_wait=0.3, pending=lambda: pending)
        batcher.start()
        started = time.perf_counter()
        await batcher.submit(1)
        elapsed = time.perf_counter() - started
        await batcher.aclose()
        return elapsed

    assert run(main(0)) < 0.1  # nothing in flight: sent at once
    assert run(main(1)) >= 0.29  # another request is on its way: wait for it, up to max_wait


def test_a_busy_model_fills_the_next_batch() -> None:
    async def main() -> list[list[int]]:
        record = Recorder(delay=0.05)
        batcher = AdaptiveBatcher(record, max_batch_size=100, max_wait=0.0)
        batcher.start()
        first = asyncio.ensure_future(batcher.submit(0))
        await asyncio.sleep(0.01)  # the first batch is running now
        rest = [asyncio.ensure_future(batcher.submit(i)) for i in range(1, 6)]
        await asyncio.gather(first, *rest)
        await batcher.aclose()
        return record.batches

    assert run(main()) == [[0], [1, 2, 3, 4, 5]]


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="max_batch_size must be at least 1"):
        AdaptiveBatcher(Recorder(), max_batch_size=0, max_wait=0.0)
    with pytest.raises(ValueError, match="max_wait must not be negative"):
        AdaptiveBatcher(Recorder(), max_batch_size=2, max_wait=-1)


# -- the runtime under concurrent requests -------------------------------------------------------------


async def _serve_concurrently(
    model_dir: Path, bodies: list[dict[str, Any]], *, options: RuntimeOptions
) -> tuple[list[httpx.Response], ModelRuntime]:
    runtime = ModelRuntime(model_dir, name="m", options=options)
    runtime.load()
    app = ServingApp(DataPlane(runtime))
    runtime.start()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://serving") as client:
        responses = await asyncio.gather(*(client.post("/invocations", json=b) for b in bodies))
    await runtime.aclose()
    return list(responses), runtime


@pytest.mark.parametrize("mode", ["inline", "thread"])
def test_batched_answers_equal_unbatched_ones(iris_dir: Path, iris: Iris, sk_model: Any, mode: str) -> None:
    rows = iris.array.tolist()
    bodies = [{"inputs": rows[i : i + 1 + i % 3]} for i in range(0, 120, 2)]  # 1 to 3 rows each
    options = RuntimeOptions(max_batch_size=32, max_batch_wait=0.02, predict_mode=mode)  # type: ignore[arg-type]
    responses, runtime = run(_serve_concurrently(iris_dir, bodies, options=options))
    for body, response in zip(bodies, responses, strict=True):
        expected = sk_model.predict(pd.DataFrame(body["inputs"], columns=IRIS_COLUMNS)).tolist()
        assert response.status_code == 200 and response.json() == {"predictions": expected}
    calls = runtime.metrics.batch_requests.count()
    assert calls < len(bodies)  # requests were merged
    assert runtime.metrics.batch_rows.values[()][-1] == sum(
        len(b["inputs"]) for b in bodies
    )  # every row once


def test_an_error_in_a_batch_stays_with_its_request(scorer_dir: Path) -> None:
    bodies = [{"inputs": [[i, 1.0]]} for i in range(8)]
    bodies[3] = {"inputs": [[-1.0, 1.0]]}  # the scorer raises on negatives
    options = RuntimeOptions(max_batch_size=64, max_batch_wait=0.05)
    responses, _ = run(_serve_concurrently(scorer_dir, bodies, options=options))
    assert [r.status_code for r in responses] == [200, 200, 200, 500, 200, 200, 200, 200]
    for i, response in enumerate(responses):
        if i != 3:
            assert response.json() == {"predictions": [[i + 1.0, 2 * (i + 1.0)]]}
    assert (
        responses[3].json()["message"]
        == "the model failed while predicting: RuntimeError: negative values break this model"
    )


def test_inputs_of_different_structure_are_predicted_apart(scorer_dir: Path) -> None:
    bodies = [{"inputs": [[1.0, 2.0]]}, {"inputs": [[1.0, 2.0, 3.0]]}, {"inputs": [[4.0, 5.0]]}]
    responses, runtime = run(
        _serve_concurrently(scorer_dir, bodies, options=RuntimeOptions(max_batch_size=8))
    )
    assert [r.json()["predictions"][0][0] for r in responses] == [3.0, 6.0, 9.0]
    assert np.isclose(runtime.metrics.batch_requests.values[()][-1], 3.0)
