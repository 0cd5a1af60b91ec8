"""Shaping a batch for a library: arrays, DataFrames and named inputs.

Loaders call these after their own library is imported, so numpy is there (every model library
depends on it); pandas is used only when the caller already has it (a DataFrame came in) or the
model was fitted on named columns (scikit-learn and its kin bring pandas along then).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any


def is_dataframe(value: Any) -> bool:
    pandas = sys.modules.get("pandas")  # a DataFrame can only exist once pandas is imported
    return pandas is not None and isinstance(value, pandas.DataFrame)


def as_array(value: Any, dtype: Any = None) -> Any:
    """A numpy array from an array, a DataFrame, a one-entry mapping or nested lists."""
    import numpy as np

    if is_dataframe(value):
        return value.to_numpy(dtype=dtype)
    if isinstance(value, Mapping):
        if len(value) != 1:
            raise ValueError(f"expected one input, got named inputs {sorted(value)}")
        value = next(iter(value.values()))
    return np.asarray(value, dtype=dtype)


def to_python(value: Any) -> Any:
    """Library outputs as numpy arrays where they are pandas objects (one result type for callers)."""
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(value, pandas.Series):
        return value.to_numpy()
    return value


class FeatureAligner:
    """Feeds a scikit-learn-style model what it was fitted on: a DataFrame with its column names when
    it knows them (``feature_names_in_``), a plain array when it does not. Without this, an array
    sent to a model fitted on a DataFrame (or the reverse) draws a warning from the library on every
    call, and a Pipeline that selects columns by name cannot work at all."""

    def __init__(self, feature_names: Sequence[str] | None) -> None:
        import numpy as np

        self.feature_names = tuple(str(n) for n in feature_names) if feature_names is not None else None
        # what passes through untouched, checked first: a plain array for a model without names
        self._as_is: type | None = np.ndarray if self.feature_names is None else None

    @classmethod
    def for_model(cls, model: Any) -> FeatureAligner:
        # scikit-learn's convention: an estimator fitted on named columns keeps them here.
        names = getattr(model, "feature_names_in_", None)
        return cls(list(names) if names is not None else None)

    def __call__(self, inputs: Any) -> Any:
        if type(inputs) is self._as_is:  # the common case, before the slower checks
            return inputs
        if self.feature_names is None:
            return as_array(inputs) if is_dataframe(inputs) or isinstance(inputs, Mapping) else inputs
        if is_dataframe(inputs):
            return inputs
        import pandas as pd

        if isinstance(inputs, Mapping):
            return pd.DataFrame({k: _column(v) for k, v in inputs.items()})
        array = as_array(inputs)
        if array.ndim == 1:
            array = array.reshape(1, -1)
        if array.ndim != 2 or array.shape[1] != len(self.feature_names):
            raise ValueError(
                f"the model takes {len(self.feature_names)} features {list(self.feature_names)}, "
                f"got an array of shape {array.shape}"
            )
        return pd.DataFrame(array, columns=list(self.feature_names))


def _column(value: Any) -> Any:
    import numpy as np

    array = np.asarray(value)
    return array.reshape(-1) if array.ndim == 2 and array.shape[1] == 1 else array
