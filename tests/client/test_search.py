"""Run search through the client: filter, order, pagination over many runs."""

from __future__ import annotations

import pytest

from modelyard.client import Client, ModelyardError
from modelyard.schemas import Metric


@pytest.fixture
def thirty_runs(client: Client) -> tuple[str, list[str]]:
    eid = client.create_experiment("sweep")
    ids = []
    for i in range(30):
        run_id = client.create_run(eid, run_name=f"trial-{i:02d}").info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(key="score", value=float(i), timestamp=i)],
            params={"i": i, "group": "a" if i < 10 else "b"},
            tags={"parity": "even" if i % 2 == 0 else "odd"},
        )
        ids.append(run_id)
    return eid, ids


def test_filter_and_order(client: Client, thirty_runs: tuple[str, list[str]]) -> None:
    eid, _ = thirty_runs
    runs = client.search_runs(eid, filter_string="metrics.score >= 10", order_by=["metrics.score DESC"])
    assert [r.data.metric_values["score"] for r in runs] == [float(i) for i in range(29, 9, -1)]

    runs = client.search_runs(
        eid, filter_string="params.group = 'a' and tags.parity = 'even'", order_by=["metrics.score ASC"]
    )
    assert [r.info.run_name for r in runs] == [f"trial-{i:02d}" for i in (0, 2, 4, 6, 8)]


def test_pagination_follows_tokens(client: Client, thirty_runs: tuple[str, list[str]]) -> None:
    eid, ids = thirty_runs
    one_page = client.search_runs(eid, order_by=["metrics.score ASC"])
    paged = client.search_runs(eid, order_by=["metrics.score ASC"], page_size=7)
    assert [r.info.run_id for r in paged] == [r.info.run_id for r in one_page] == ids

    capped = client.search_runs(eid, order_by=["metrics.score ASC"], max_results=12, page_size=5)
    assert [r.info.run_id for r in capped] == ids[:12]


def test_search_views(client: Client, thirty_runs: tuple[str, list[str]]) -> None:
    eid, ids = thirty_runs
    client.delete_run(ids[0])
    assert ids[0] not in {r.info.run_id for r in client.search_runs(eid)}
    assert [r.info.run_id for r in client.search_runs(eid, view="deleted")] == [ids[0]]
    assert len(client.search_runs(eid, view="all")) == 30


def test_search_over_several_experiments(client: Client, thirty_runs: tuple[str, list[str]]) -> None:
    eid, _ = thirty_runs
    other = client.create_experiment("other")
    client.create_run(other, run_name="lonely")
    runs = client.search_runs([eid, other], filter_string="attributes.run_name = 'lonely'")
    assert [r.info.run_name for r in runs] == ["lonely"]


def test_bad_filter_is_an_error(client: Client) -> None:
    eid = client.create_experiment("filtered")
    with pytest.raises(ModelyardError) as info:
        client.search_runs(eid, filter_string="metrics.score >>> 3")
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
