"""Adaptive batching: concurrent requests merged into one predict call, and split back.

``AdaptiveBatcher`` knows nothing about models or arrays. Callers ``submit`` items and await their
results; one background task (started with ``start``, owned by the batcher and stopped by
``aclose``) takes the waiting items in arrival order, up to ``max_batch_size`` in total size, and
hands them to ``run_batch``, which returns one result per item in the same order.

How long to wait is the adaptive part. A batch is sent as soon as it is full, or when
``max_wait`` has passed since its first item arrived, or, sooner, when no more items can be
expected: ``pending()`` (a hint from the caller, e.g. the number of requests in flight that have
not reached the batcher yet) says none are on their way. So a lone client never pays ``max_wait``,
and a crowd fills batches.

When ``run_batch`` raises for a batch of several items, each item is run again alone, so only the
request that caused the failure receives it (error isolation); items with different ``key_of``
values (e.g. different columns or parameters) never share a batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger("modelyard.serving")


@dataclass(slots=True)
class _Waiting(Generic[T, R]):
    item: T
    size: int
    key: Hashable
    future: asyncio.Future[Any]
    arrived: float = field(default=0.0)


class AdaptiveBatcher(Generic[T, R]):
    def __init__(
        self,
        run_batch: Callable[[Sequence[T]], Awaitable[Sequence[R]]],
        *,
        max_batch_size: int,
        max_wait: float,
        size_of: Callable[[T], int] = lambda _: 1,
        key_of: Callable[[T], Hashable] = lambda _: None,
        pending: Callable[[], int] | None = None,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        if max_wait < 0:
            raise ValueError("max_wait must not be negative")
        self._run_batch = run_batch
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait
        self._size_of = size_of
        self._key_of = key_of
        self._pending = pending
        self._queue: deque[_Waiting[T, R]] = deque()
        self._wakeup: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the collecting task; call inside the running event loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._collect(), name="adaptive-batcher")
            self._task.add_done_callback(self._task_done)

    async def aclose(self) -> None:
        """Finish what is queued, then stop."""
        self._closing = True
        self._wake()
        if self._task is not None:
            await self._task
            self._task = None

    @staticmethod
    def _task_done(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("the batching task stopped", exc_info=task.exception())

    # -- submitting -------------------------------------------------------------------------------

    async def submit(self, item: T) -> R:
        if self._task is None or self._closing:
            raise RuntimeError("the batcher is not running")
        loop = asyncio.get_running_loop()
        waiting: _Waiting[T, R] = _Waiting(
            item, self._size_of(item), self._key_of(item), loop.create_future(), loop.time()
        )
        self._queue.append(waiting)
        self._wake()
        result: R = await waiting.future
        return result

    @property
    def queued(self) -> int:
        return len(self._queue)

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    async def _sleep(self, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        self._wakeup = loop.create_future()
        handle = loop.call_later(timeout, self._wake) if timeout is not None else None
        try:
            await self._wakeup
        finally:
            self._wakeup = None
            if handle is not None:
                handle.cancel()

    # -- collecting -------------------------------------------------------------------------------

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                if self._closing:
                    return
                await self._sleep(None)
                continue
            deadline = self._queue[0].arrived + self.max_wait
            while not self._closing and self._wants_more():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                await self._sleep(remaining)
            batch = self._take()
            await self._dispatch(batch)

    def _wants_more(self) -> bool:
        size = 0
        for waiting in self._queue:
            size += waiting.size
            if size >= self.max_batch_size:
                return False
        expected = self._pending() if self._pending is not None else None
        return expected is None or expected > 0

    def _take(self) -> list[_Waiting[T, R]]:
        first = self._queue.popleft()
        batch, size, skipped = [first], first.size, []
        while self._queue and size < self.max_batch_size:
            waiting = self._queue.popleft()
            if waiting.key != first.key or size + waiting.size > self.max_batch_size:
                skipped.append(waiting)  # the next batch takes it, in its order
                continue
            batch.append(waiting)
            size += waiting.size
        self._queue.extendleft(reversed(skipped))
        return batch

    async def _dispatch(self, batch: list[_Waiting[T, R]]) -> None:
        live = [w for w in batch if not w.future.done()]  # a client gone (cancelled) drops out
        if not live:
            return
        try:
            results = await self._run_batch([w.item for w in live])
            if len(results) != len(live):
                raise RuntimeError(f"run_batch returned {len(results)} results for {len(live)} items")
        except Exception as exc:
            if len(live) == 1:
                _settle(live[0].future, error=exc)
                return
            for waiting in live:  # isolate: whoever caused it gets the error, the others their answer
                await self._dispatch([waiting])
            return
        for waiting, result in zip(live, results, strict=True):
            _settle(waiting.future, result=result)


def _settle(future: asyncio.Future[Any], *, result: Any = None, error: BaseException | None = None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
