"""Importing a model's packaged code without letting it leak into (or be shadowed by) the process.

``packaged_code(dirs)`` puts the directories first on ``sys.path`` for the duration of the block and
hides any already-imported module with the same top-level name as one in those directories (two
models may both ship a ``model.py``). On exit ``sys.path`` and ``sys.modules`` are as they were: the
classes and functions created inside keep working, since they hold their own module globals. So a
model's code must import what it needs at module level or in ``load()``, not lazily inside
``predict`` (the same rule as Seldon's wrapper, which imports the user's class once at start-up).
Loading happens once per process at start-up; this is not meant to run concurrently.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def packaged_code(dirs: Sequence[Path]) -> Iterator[None]:
    entries = [str(d.resolve()) for d in dirs]
    names = {name for d in dirs for name in top_level_names(d)}
    saved = {n: m for n, m in sys.modules.items() if n.split(".", 1)[0] in names}
    for name in saved:
        del sys.modules[name]
    sys.path[:0] = entries
    importlib.invalidate_caches()
    try:
        yield
    finally:
        for entry in entries:
            if entry in sys.path:
                sys.path.remove(entry)
        for name in [n for n in sys.modules if n.split(".", 1)[0] in names]:
            del sys.modules[name]
        sys.modules.update(saved)
        importlib.invalidate_caches()


def top_level_names(directory: Path) -> set[str]:
    """Module and package names importable from ``directory``."""
    if not directory.is_dir():
        return set()
    names = set()
    for child in directory.iterdir():
        if child.is_dir() and child.name.isidentifier():
            names.add(child.name)
        elif child.suffix == ".py" and child.stem.isidentifier():
            names.add(child.stem)
    return names
