"""Loading the skops format at the cost of the model's own classes, not of all of scikit-learn.

``skops.io`` trusts scikit-learn's estimators by default, and works out which they are when it is
imported, with scikit-learn's ``all_estimators()``: a walk that imports every public scikit-learn
module (about 0.5 s of a server's cold start on a 2-core machine), and the vendored
``array_api_compat.torch`` adapter, which imports PyTorch whenever it is installed (about 2 s more).
MLflow 3 saves scikit-learn models in the skops format by default, so every replica would pay this.

Two things keep the cost out:

* While ``skops.io`` is imported, the walk is replaced by one that finds nothing, so skops' list of
  trusted estimator names starts empty. Before a file is loaded, ``load`` asks skops which types in
  that file it does not trust yet, and adds to skops' list those that the walk would have found: a
  scikit-learn class, not private, reachable as a public attribute of the public module it lives
  under (``sklearn.ensemble`` for ``sklearn.ensemble._gb.GradientBoostingClassifier``), outside the
  modules the walk skips, a non-abstract ``BaseEstimator`` other than ``BaseEstimator`` itself.
  That test only ever trusts names the walk would list; if a scikit-learn type in the file passes
  neither it nor the caller's ``trusted``, the real walk runs once and skops' own list decides.
* Whenever the walk runs, the array libraries it would pull in (``torch``, ``cupy``, ``jax``) read as
  not installed: no scikit-learn estimator lives in those adapters, the walk skips a package that
  cannot be imported, and the trusted names come out the same. A library already imported is left
  alone, and nothing is hidden afterwards (a model file that needs PyTorch still gets it).

Either way skops trusts exactly what it would have trusted; its checks and its errors are its own.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from modelyard.serving.flavors.base import import_library

# the array libraries of array_api_compat's adapters (sklearn.externals.array_api_compat.*)
HIDDEN_DURING_IMPORT = ("torch", "cupy", "jax")
# the module names scikit-learn's all_estimators() does not walk
_NOT_WALKED = frozenset({"tests", "externals", "setup", "conftest", "experimental", "estimator_checks"})
_lock = threading.RLock()


class _State:
    # skops' list of trusted estimator names while it is filled per model file (None: skops' own list)
    deferred: list[str] | None = None


_state = _State()


class _Hide(importlib.abc.MetaPathFinder):
    """A finder that answers "not installed" for a few top-level packages."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = frozenset(names)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


@contextlib.contextmanager
def _array_libraries_hidden() -> Iterator[None]:
    hide = _Hide([name for name in HIDDEN_DURING_IMPORT if name not in sys.modules])
    sys.meta_path.insert(0, hide)
    try:
        yield
    finally:
        sys.meta_path.remove(hide)


def import_skops_io(*, flavor: str, extra: str | None) -> ModuleType:
    """``skops.io``, imported without scikit-learn's estimator walk (see the module's docstring)."""
    module = sys.modules.get("skops.io")
    if module is not None:
        return module
    with _lock, _array_libraries_hidden():
        try:
            utils: ModuleType | None = importlib.import_module("sklearn.utils")
        except (ImportError, OSError):
            utils = None  # skops needs scikit-learn: importing skops.io names what is missing
        walk = getattr(utils, "all_estimators", None)
        walked_nothing: list[bool] = []

        def nothing(type_filter: Any = None) -> list[Any]:
            walked_nothing.append(True)
            return []

        if utils is not None and walk is not None:
            utils.all_estimators = nothing  # type: ignore[attr-defined]
        try:
            module = import_library("skops.io", flavor=flavor, extra=extra, package="skops")
        finally:
            if utils is not None and walk is not None:
                utils.all_estimators = walk  # type: ignore[attr-defined]
        names = getattr(sys.modules.get("skops.io._trusted_types"), "SKLEARN_ESTIMATOR_TYPE_NAMES", None)
        if walked_nothing and isinstance(names, list) and not names:
            _state.deferred = names
        return module


def load(skops_io: ModuleType, path: Path, *, trusted: Sequence[str] | None) -> Any:
    """``skops_io.load(path, trusted=...)``, with skops' default trust in place for this file."""
    with _lock:
        if _state.deferred is not None:
            _trust_estimators_in(skops_io, path, _state.deferred, trusted or ())
    return skops_io.load(path, trusted=list(trusted) if trusted else None)


def _trust_estimators_in(skops_io: ModuleType, path: Path, names: list[str], trusted: Sequence[str]) -> None:
    try:
        untrusted = skops_io.get_untrusted_types(file=path)
    except Exception:  # not a readable skops file: skops.io.load says what is wrong with it
        return
    unknown = [t for t in untrusted if t.startswith("sklearn.") and t not in names and t not in trusted]
    walked = [t for t in unknown if walked_estimator(t)]
    names.extend(walked)
    if len(walked) < len(unknown):  # a type this test cannot place: skops' own list decides
        _walk(names)


def walked_estimator(type_name: str) -> bool:
    """Whether scikit-learn's ``all_estimators()`` lists the class named ``module.Class``."""
    module_name, _, class_name = type_name.rpartition(".")
    parts = module_name.split(".")
    if parts[0] != "sklearn" or not class_name or class_name.startswith("_") or class_name == "BaseEstimator":
        return False
    public = parts[: next((i for i, p in enumerate(parts) if p.startswith("_")), len(parts))]
    if any(part in _NOT_WALKED for part in public):
        return False
    try:
        cls = getattr(importlib.import_module(module_name), class_name, None)
        exported = getattr(importlib.import_module(".".join(public)), class_name, None)
        from sklearn.base import BaseEstimator
    except Exception:  # a module that does not import: the walk would not find it either
        return False
    if not (isinstance(cls, type) and issubclass(cls, BaseEstimator)):
        return False
    return exported is cls and cls.__module__ == module_name and not getattr(cls, "__abstractmethods__", None)


def _walk(names: list[str]) -> None:
    """Fill skops' list the way skops would have at import (with the array libraries hidden)."""
    from sklearn.utils import all_estimators
    from skops.io._utils import get_type_name

    with _array_libraries_hidden():
        found = [get_type_name(cls) for _, cls in all_estimators()]
    names[:] = [name for name in found if name.startswith("sklearn.")]
    _state.deferred = None
