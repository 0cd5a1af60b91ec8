"""The model cache's pruning: on real directories with a fake clock, and in a running controller."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from modelyard.controller import Controller
from modelyard.controller.model_cache import ModelCache
from modelyard.services.artifacts import cache_key
from tests.controller.conftest import FAST, predict, ready, settled, spec, wait_for

T0 = 1_800_000_000.0  # the clock at the start (wall-clock seconds, like the directories' mtimes)


def made(root: Path, name: str, *, at: float) -> Path:
    path = root / name
    path.mkdir(parents=True)
    (path / "MLmodel").write_text("flavors: {}\n")
    os.utime(path, (at, at))
    return path


def test_keeps_what_is_in_use_and_what_was_used_lately(tmp_path: Path) -> None:
    now = [T0]
    cache = ModelCache(tmp_path, keep_s=100.0, clock=lambda: now[0])
    named = made(tmp_path, cache_key("s3://models/iris/1"), at=T0 - 1000)  # a spec names it
    started = made(tmp_path, "b" * 24, at=T0 - 1000)  # a replica was started from it
    old = made(tmp_path, "c" * 24, at=T0 - 1000)  # nobody
    recent = made(tmp_path, "d" * 24, at=T0 + 80)  # nobody, but made a moment ago
    (tmp_path / "stray-file").write_text("not an entry\n")

    # the first pass after a start counts unknown entries from the start, not from their creation
    assert cache.prune(locations=["s3://models/iris/1"], model_dirs=[started, Path("/elsewhere/m")]) == []

    now[0] = T0 + 101
    assert cache.prune(locations=["s3://models/iris/1"], model_dirs=[started]) == [old]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [named.name, started.name, recent.name, "stray-file"]
    )

    # no longer in use: kept for keep_s after the last time it was seen in use, then removed
    now[0] = T0 + 150
    assert cache.prune(locations=[], model_dirs=[]) == []
    now[0] = T0 + 202
    assert set(cache.prune(locations=[], model_dirs=[])) == {named, started, recent}
    assert [p.name for p in tmp_path.iterdir()] == ["stray-file"]


def test_removes_unfinished_copies_and_cut_short_deletions(tmp_path: Path) -> None:
    now = [T0]
    cache = ModelCache(tmp_path, keep_s=100.0, clock=lambda: now[0])
    unfinished = made(tmp_path, ".incoming-x1y2", at=T0 - 500)
    in_progress = made(tmp_path, ".incoming-a3b4", at=T0 + 50)  # a copy being made now
    made(tmp_path, ".deleting-" + "e" * 24, at=T0 - 500)
    now[0] = T0 + 120
    assert cache.prune(locations=[], model_dirs=[]) == [unfinished]
    assert [p.name for p in tmp_path.iterdir()] == [in_progress.name]


def test_a_missing_cache_is_nothing_to_prune(tmp_path: Path) -> None:
    assert ModelCache(tmp_path / "cache").prune(locations=["s3://m/1"], model_dirs=[]) == []


def test_the_controller_prunes_its_cache_while_deployments_serve(
    cluster: Callable[..., Any], controllers: Callable[..., Controller]
) -> None:
    services, admin = cluster()
    cache_dir = services.settings.data_dir / "deployments" / "cache"
    services.deployments.create(admin, "iris", spec())
    [desired] = services.deployments.desired()
    location = desired["models"]["main"]["location"]
    named = made(cache_dir, cache_key(location), at=time.time() - 600)  # the spec names it: kept
    unused = made(cache_dir, "f" * 24, at=time.time() - 600)
    controller = controllers(services, timing=replace(FAST, cache_prune_s=0.2, cache_keep_s=0.5))

    [replica] = ready(wait_for(lambda: settled(services, admin, "iris", "Deployed"), "Deployed"))
    wait_for(lambda: not unused.exists(), "the unused copy to be removed")
    assert named.is_dir() and (named / "MLmodel").is_file()
    assert predict(replica["url"]) == {"predictions": [0, 2]}
    # a local store's model is served from the store itself; the backend reports it in use all the same
    assert controller.backend.model_dirs() == {Path(location)}
