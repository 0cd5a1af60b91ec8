"""The rolling-update arithmetic, step by step: surge first, never fewer ready replicas than wanted."""

from __future__ import annotations

from modelyard.controller.plan import max_surge, plan
from modelyard.domain.deployments import Replica, ReplicaState

READY, STARTING, CRASHED, FAILED = (
    ReplicaState.READY,
    ReplicaState.STARTING,
    ReplicaState.CRASHED,
    ReplicaState.FAILED,
)


def r(name: str, template: str, state: ReplicaState, started_at: int = 0) -> Replica:
    return Replica(name=name, predictor="main", template=template, state=state, started_at=started_at)


def names(replicas: list[Replica]) -> list[str]:
    return [x.name for x in replicas]


def test_fresh_deployment_starts_all_replicas_at_once() -> None:
    step = plan(3, "new", [])
    assert (step.start, step.drain) == (3, [])


def test_one_replica_update_surges_then_drains_the_old_one_only_when_the_new_one_is_ready() -> None:
    old = r("a", "old", READY)
    assert plan(1, "new", [old]).start == 1
    starting = plan(1, "new", [old, r("b", "new", STARTING)])
    assert (starting.start, starting.drain) == (0, [])
    done = plan(1, "new", [old, r("b", "new", READY)])
    assert (done.start, names(done.drain)) == (0, ["a"])


def test_a_small_deployment_starts_all_its_new_replicas_at_once_and_drains_each_old_one_for_a_ready_new_one() -> (
    None
):
    olds = [r(f"o{i}", "old", READY, started_at=i) for i in range(3)]
    assert plan(3, "new", olds).start == 3
    starting = [r(f"n{i}", "new", STARTING) for i in range(3)]
    assert plan(3, "new", [*olds, *starting]) == plan(3, "new", [*olds, *starting[1:], starting[0]])
    step = plan(3, "new", [*olds, *starting])
    assert (step.start, step.drain) == (0, [])
    # the oldest goes first, once a new one is ready to take its place
    step = plan(3, "new", [*olds, r("n0", "new", READY), *starting[1:]])
    assert (step.start, names(step.drain)) == (0, ["o0"])
    step = plan(3, "new", [*olds[1:], r("n0", "new", READY), r("n1", "new", READY), starting[2]])
    assert (step.start, names(step.drain)) == (0, ["o1"])


def test_a_large_deployment_surges_by_a_quarter_and_keeps_as_many_ready() -> None:
    assert [max_surge(n) for n in (1, 2, 3, 4, 5, 8, 16, 20, 64)] == [1, 2, 3, 4, 4, 4, 4, 5, 16]
    olds = [r(f"o{i}", "old", READY, started_at=i) for i in range(20)]
    assert plan(20, "new", olds).start == 5
    news = [r(f"n{i}", "new", READY if i < 2 else STARTING) for i in range(5)]
    step = plan(20, "new", [*olds, *news])
    # two of the five new ones are ready: two old ones go, and two more new ones start in their place
    assert (step.start, names(step.drain)) == (2, ["o0", "o1"])


def test_old_replicas_that_do_not_serve_go_at_once() -> None:
    step = plan(1, "new", [r("a", "old", CRASHED), r("b", "old", STARTING)])
    assert (step.start, names(step.drain)) == (1, ["a", "b"])


def test_scale_down_gives_up_replicas_that_serve_nothing_first_then_the_newest() -> None:
    replicas = [
        r("a", "t", READY, 1),
        r("b", "t", READY, 3),
        r("c", "t", CRASHED, 2),
        r("d", "t", READY, 2),
    ]
    assert names(plan(2, "t", replicas).drain) == ["c", "b"]
    assert names(plan(0, "t", replicas).drain) == ["c", "b", "d", "a"]


def test_a_failed_template_starts_no_more_and_old_replicas_keep_serving() -> None:
    step = plan(2, "new", [r("o1", "old", READY), r("o2", "old", READY), r("n", "new", FAILED)])
    assert (step.start, step.drain) == (0, [])


def test_converged_is_a_fixed_point() -> None:
    step = plan(2, "t", [r("a", "t", READY), r("b", "t", STARTING)])
    assert (step.start, step.drain) == (0, [])
