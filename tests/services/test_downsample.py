"""Min/max downsampling keeps, per x bucket, the first, last, lowest and highest point: checked against a
plain-Python computation of the same buckets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from modelyard.domain.charts import MANY_SERIES_POINT_BUDGET, MIN_POINTS, clamp_points, share_points
from modelyard.services.tracking.downsample import minmax_indices


def expected(xs: list[float], ys: list[float], buckets: int, low: float, high: float) -> set[int]:
    groups: dict[int, list[int]] = {}
    for i, x in enumerate(xs):
        b = min(buckets - 1, max(0, math.floor((x - low) * buckets / (high - low))))
        groups.setdefault(b, []).append(i)
    keep: set[int] = set()
    for members in groups.values():
        values = [ys[i] for i in members]
        keep |= {
            members[0],
            members[-1],
            members[values.index(min(values))],
            members[values.index(max(values))],
        }
    return keep


def test_a_sawtooth_keeps_each_buckets_extremes_and_its_spike() -> None:
    xs = list(range(10_000))
    ys = [float(i % 97) for i in xs]
    ys[6_543] = 1_000.0  # one spike
    ys[7_001] = -50.0  # one dip
    kept = minmax_indices(np.array(xs), np.array(ys), 250, 0, 9_999)
    assert list(kept) == sorted(expected(xs, ys, 250, 0, 9_999))
    assert len(kept) <= 4 * 250
    assert 6_543 in kept and 7_001 in kept
    assert kept[0] == 0 and kept[-1] == 9_999
    assert [ys[i] for i in kept].count(96.0) >= 100  # every tooth's top that a bucket holds


@pytest.mark.parametrize("buckets", [1, 2, 7, 100])
def test_random_lines_match_the_plain_computation(buckets: int) -> None:
    rng = np.random.default_rng(buckets)
    x = np.sort(rng.integers(-500, 500, 3_000))  # repeated x values too
    y = rng.normal(size=3_000)
    kept = minmax_indices(x, y, buckets, float(x[0]), float(x[-1]))
    assert list(kept) == sorted(expected(x.tolist(), y.tolist(), buckets, float(x[0]), float(x[-1])))


def test_ties_keep_the_first_extreme_and_points_outside_the_range_join_the_end_buckets() -> None:
    x = np.array([0, 1, 2, 3, 4, 5])
    y = np.array([5.0, 1.0, 1.0, 9.0, 9.0, 2.0])
    assert minmax_indices(x, y, 1, 0, 5).tolist() == [0, 1, 3, 5]
    # a range narrower than the points: the ones below go to the first bucket, above to the last
    assert minmax_indices(x, y, 2, 2, 3).tolist() == [0, 1, 2, 3, 5]


def test_one_x_value_and_no_points() -> None:
    assert minmax_indices(np.array([3, 3, 3]), np.array([1.0, 0.0, 2.0]), 10, 3, 3).tolist() == [0, 1, 2]
    assert minmax_indices(np.array([], np.int64), np.array([]), 10, 0, 1).tolist() == []


def test_point_budgets_are_clamped_and_shared_never_silently() -> None:
    assert clamp_points(None) == 1000
    assert (clamp_points(1), clamp_points(2_400), clamp_points(10**9)) == (100, 2_400, 5_000)
    assert share_points(5_000, 1) == 5_000
    assert share_points(5_000, 400) == MANY_SERIES_POINT_BUDGET // 400
    assert share_points(5_000, 10**6) == MIN_POINTS
