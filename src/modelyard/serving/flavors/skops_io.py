"""Importing ``skops.io`` without PyTorch: the skops format's loader, at the cost of scikit-learn alone.

``skops.io`` works out its default trusted types when it is imported, with scikit-learn's
``all_estimators()``, which walks every scikit-learn package. The walk imports the vendored
``array_api_compat.torch`` package, and that imports PyTorch whenever it is installed: about 2 s of
a server's cold start, for a model that never touches it. No scikit-learn estimator lives in those
array-library adapters, and the walk skips a package that cannot be imported; so while ``skops.io``
is imported (once, on the loading thread), the array libraries it would pull in read as not
installed. The trusted types come out the same. A library already imported is left alone, and
nothing is hidden once the import returns (a model file that needs PyTorch still gets it).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Sequence
from types import ModuleType

from modelyard.serving.flavors.base import import_library

# the array libraries of array_api_compat's adapters (sklearn.externals.array_api_compat.*)
HIDDEN_DURING_IMPORT = ("torch", "cupy", "jax")
_lock = threading.Lock()


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


def import_skops_io(*, flavor: str, extra: str | None) -> ModuleType:
    """``skops.io``, imported without the array libraries its trusted-type discovery would import."""
    module = sys.modules.get("skops.io")
    if module is not None:
        return module
    with _lock:
        hide = _Hide([name for name in HIDDEN_DURING_IMPORT if name not in sys.modules])
        sys.meta_path.insert(0, hide)
        try:
            return import_library("skops.io", flavor=flavor, extra=extra, package="skops")
        finally:
            sys.meta_path.remove(hide)
