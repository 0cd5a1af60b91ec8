"""Refused authentications are counted per client address and interval, with a global cap, so that
the events they produce are bounded whatever arrives (a fake clock: no sleeping, no timing)."""

from __future__ import annotations

from modelyard.services.audit.refusals import OVERFLOW, RefusalAggregator


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def refuse(agg: RefusalAggregator, client: str, user: str, path: str = "/api/2.0/mlflow/runs/get") -> bool:
    """True when the refusal is to be recorded at once."""
    return (
        agg.refused(
            client=client, claimed=user, method="GET", path=path, reason="Invalid username or password."
        )
        is not None
    )


def test_made_up_usernames_from_one_client_make_one_event_then_one_summary_per_interval() -> None:
    clock = Clock()
    agg = RefusalAggregator(interval_s=60, clock=clock, wall_ms=lambda: int(clock.now * 1000))
    immediate = [refuse(agg, "10.0.0.9", f"nobody-{i}") for i in range(300)]
    assert immediate == [True] + [False] * 299
    assert agg.due() == []  # the interval is still running
    clock.now += 60
    (summary,) = agg.due()
    assert summary.changes["count"] == 299
    assert summary.changes["client"] == "10.0.0.9"
    assert summary.actor == "anonymous"  # several names were claimed
    assert len(summary.changes["claimed"]) == 20 and summary.changes["claimed"]["nobody-1"] == 1
    assert summary.changes["paths"] == {"/api/2.0/mlflow/runs/get": 299}
    assert (summary.resource_type, summary.outcome) == ("authentication", "unauthenticated")
    # the next interval starts with an immediate event again
    assert refuse(agg, "10.0.0.9", "nobody-x") and agg.pending() == 0


def test_other_clients_are_recorded_at_once_during_a_flood() -> None:
    clock = Clock()
    agg = RefusalAggregator(interval_s=60, clock=clock)
    for i in range(100):
        refuse(agg, "10.0.0.9", f"nobody-{i}")
    assert refuse(agg, "10.0.0.2", "alice")  # a typo from another address: its own event, now
    assert not refuse(agg, "10.0.0.2", "alice")
    clock.now += 61
    summaries = {e.changes["client"]: e for e in agg.due()}
    assert summaries["10.0.0.9"].changes["count"] == 99
    assert (summaries["10.0.0.2"].actor, summaries["10.0.0.2"].changes["count"]) == ("alice", 1)


def test_a_flood_from_many_addresses_is_capped_into_one_overflow_summary() -> None:
    clock = Clock()
    agg = RefusalAggregator(interval_s=60, max_events=5, clock=clock)
    immediate = sum(refuse(agg, f"10.1.{i // 250}.{i % 250}", "x") for i in range(1000))
    assert immediate == 5
    assert not refuse(agg, "10.1.3.249", "x")  # a client seen before counts once among the distinct ones
    clock.now += 60
    summaries = agg.due()
    (overflow,) = [e for e in summaries if e.changes["client"] == OVERFLOW]
    assert overflow.changes["count"] == 996 and overflow.changes["distinct_clients"] == 995
    assert len(overflow.changes["clients"]) == 20
    assert len(summaries) == 1  # the five recorded clients sent nothing more
    # every refusal is accounted for exactly once
    assert immediate + sum(e.changes["count"] for e in summaries) == 1001


def test_everything_counted_is_handed_out_at_shutdown_and_a_failed_write_is_retried() -> None:
    clock = Clock()
    agg = RefusalAggregator(interval_s=60, clock=clock)
    for _ in range(3):
        refuse(agg, "10.0.0.9", "bob")
    assert agg.pending() == 2
    summaries = agg.due(everything=True)
    assert [e.changes["count"] for e in summaries] == [2] and summaries[0].actor == "bob"
    agg.requeue(summaries)  # the write failed: they come back on the next call
    assert agg.due() == summaries and agg.pending() == 0
