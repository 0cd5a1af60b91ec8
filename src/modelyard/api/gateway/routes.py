"""Where a deployment's requests go: routes cached per name, and the choice of a replica.

A route is read from the database at most once per ``ttl`` per name (concurrent misses share one
read), so the request path touches no database; the controller takes a replica out of the route and
waits about a second before stopping it, longer than the cache lives. A route without a ready
replica, or a name that does not exist, is cached for a much shorter time so that a new deployment
answers as soon as its first replica is ready.

Choosing: predictors in proportion to their traffic shares, as a smooth weighted round-robin (a
70/30 split sends exactly 7 of every 10 requests to the first, interleaved), then round-robin among
the chosen predictor's ready replicas. Predictors without a ready replica take no share, so a canary
that is not up yet leaves all traffic to the others. The counters live across cache refreshes.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce

from starlette.concurrency import run_in_threadpool

from modelyard.services.deployments.runtime import Route

READY_TTL_S = 0.5
UNREADY_TTL_S = 0.1
MAX_CACHED = 10_000


@dataclass(frozen=True, slots=True)
class Plan:
    """A route with its predictor schedule precomputed."""

    route: Route
    schedule: tuple[str, ...]  # predictor names, one cycle of the weighted round-robin
    expires: float

    @property
    def ready(self) -> bool:
        return bool(self.schedule)


def weighted_schedule(shares: dict[str, int]) -> tuple[str, ...]:
    """One cycle of smooth weighted round-robin over ``shares`` (names with share > 0)."""
    live = {name: share for name, share in shares.items() if share > 0}
    if not live:
        return ()
    divisor = reduce(math.gcd, live.values())
    weights = {name: share // divisor for name, share in live.items()}
    total = sum(weights.values())
    current = dict.fromkeys(weights, 0)
    out: list[str] = []
    for _ in range(total):
        for name, weight in weights.items():
            current[name] += weight
        best = max(current, key=lambda n: current[n])
        current[best] -= total
        out.append(best)
    return tuple(out)


def plan_for(route: Route, now: float) -> Plan:
    shares = {name: share for name, (share, urls) in route.predictors.items() if urls}
    schedule = weighted_schedule(shares)
    return Plan(route, schedule, now + (READY_TTL_S if schedule else UNREADY_TTL_S))


class Routes:
    """The cache of routes by deployment name, and the round-robin counters."""

    def __init__(self, lookup: Callable[[str], Route | None]) -> None:
        self._lookup = lookup
        self._plans: dict[str, Plan | float] = {}  # a float: "no such deployment" until then
        self._pending: dict[str, asyncio.Future[Plan | None]] = {}
        self._turns: dict[str, int] = {}  # deployment -> requests routed
        self._rr: dict[tuple[str, str], int] = {}  # (deployment, predictor) -> requests routed

    def invalidate(self) -> None:
        """Forget every route (a deployment changed in this process)."""
        self._plans = {}

    async def get(self, name: str) -> Plan | None:
        now = time.monotonic()
        hit = self._plans.get(name)
        if hit is not None:
            if isinstance(hit, Plan):
                if hit.expires > now:
                    return hit
            elif hit > now:
                return None
        pending = self._pending.get(name)
        if pending is not None and pending.get_loop() is asyncio.get_running_loop():
            return await asyncio.shield(pending)
        future: asyncio.Future[Plan | None] = asyncio.get_running_loop().create_future()
        self._pending[name] = future
        try:
            route = await run_in_threadpool(self._lookup, name)
            now = time.monotonic()
            plan = plan_for(route, now) if route is not None else None
            if len(self._plans) >= MAX_CACHED:
                self._plans = {}
            self._plans[name] = plan if plan is not None else now + UNREADY_TTL_S
            future.set_result(plan)
            return plan
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else must log it
            raise
        finally:
            if self._pending.get(name) is future:
                del self._pending[name]

    def candidates(self, plan: Plan) -> list[tuple[str, str]]:
        """(predictor, replica URL) in the order to try: the chosen one first, then the rest of its
        predictor's replicas, then every other predictor's."""
        name = plan.route.name
        turn = self._turns.get(name, 0)
        self._turns[name] = (turn + 1) & 0xFFFFFFF
        predictors = plan.route.predictors
        chosen = plan.schedule[turn % len(plan.schedule)]
        urls = predictors[chosen][1]
        key = (name, chosen)
        first = self._rr.get(key, 0)
        self._rr[key] = (first + 1) & 0xFFFFFFF
        out = [(chosen, urls[(first + i) % len(urls)]) for i in range(len(urls))]
        for other, (_, other_urls) in predictors.items():
            if other != chosen:
                out += [(other, url) for url in other_urls]
        return out
