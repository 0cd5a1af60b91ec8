"""The controller's model cache: copies of model files from stores that are not on this machine (S3, a
remote server), one directory per model location under ``<data dir>/deployments/cache/`` (made by
``ArtifactService.materialize``), so that replicas load from local files.

Without pruning it grows with every model version ever deployed. ``ModelCache.prune`` keeps an entry
while it is in use (a deployment's spec names its location, or a replica, running or waiting to
restart, was started from it) and removes one that nobody has used for ``keep_s``, and any copy that
was left half-made (``.incoming-*``) for as long. Use is tracked in memory; an entry the controller
has not seen in use since it started counts from whichever is later, its creation or the start. An
entry is renamed aside before it is deleted, so a reader never finds it half-gone. The controller
calls it only while no reconcile runs, so no entry is being made or picked up at the same time.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from modelyard.services.artifacts import STAGING_PREFIX, cache_key

log = logging.getLogger("modelyard.controller")

KEEP_S = 3600.0  # an entry nobody uses is kept this long (a rollback soon after finds it still here)
_DELETING_PREFIX = ".deleting-"


class ModelCache:
    def __init__(self, root: Path, *, keep_s: float = KEEP_S, clock: Callable[[], float] = time.time) -> None:
        self.root = root
        self.keep_s = keep_s
        self._now = clock  # wall clock: it is compared with the entries' modification times
        self._started = clock()
        self._last_used: dict[str, float] = {}

    def entry(self, location: str) -> Path:
        """Where ``location``'s copy is (or would be) kept."""
        return self.root / cache_key(location)

    def prune(self, *, locations: Iterable[str], model_dirs: Iterable[Path]) -> list[Path]:
        """Remove the entries that are not in use and have not been for ``keep_s``: ``locations``,
        the model locations that deployments' specs name; ``model_dirs``, the directories replicas
        were started from. Returns what was removed."""
        if not self.root.is_dir():
            return []
        now = self._now()
        in_use = {self.entry(location).name for location in locations}
        in_use |= {d.name for d in model_dirs if d.parent == self.root}
        for name in in_use:
            self._last_used[name] = now
        removed = []
        for path in sorted(self.root.iterdir()):
            name = path.name
            if name in in_use or not path.is_dir():
                continue
            if name.startswith(_DELETING_PREFIX):  # a deletion that was cut short
                shutil.rmtree(path, ignore_errors=True)
                continue
            last = self._last_used.get(name) or max(_mtime(path), self._started)
            if now - last < self.keep_s:
                continue
            self._delete(path)
            self._last_used.pop(name, None)
            removed.append(path)
            what = "an unfinished copy" if name.startswith(STAGING_PREFIX) else "unused model files"
            log.info("model cache: removed %s (%s), unused for %.0f s", path, what, now - last)
        return removed

    def _delete(self, path: Path) -> None:
        aside = path.with_name(f"{_DELETING_PREFIX}{path.name}")
        try:
            path.rename(aside)
        except OSError:
            return
        shutil.rmtree(aside, ignore_errors=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
