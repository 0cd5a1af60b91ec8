"""Signature enforcement at serving time: a decoded request in, the model's input out, or a 400.

``InputEnforcer`` is built once per model from its signature. For each request it works out the
*observed* schema of the data in the signature's own terms (a JSON number has no width, so JSON
integers are read as the declared integer type when they fit it, and JSON floats as the declared
float type), asks ``domain.model_signature.schema_mismatches`` (the one comparison used at log time
too) what is wrong, and converts the data to the declared dtypes. Safe conversions (int to float,
int32 to int64) pass; unsafe ones (float to int, float64 to float32 when the client said FP64) are
refused naming the column or tensor, the declared type and the received one.

The result of a schema comparison depends only on the observed schema, so it is cached: the hot
path for a table of numbers is one ``np.asarray`` and a dictionary lookup. A table whose declared
columns share one numeric dtype becomes a 2-D array (the model's loader adds column names where the
model was fitted on them); mixed types become a pandas DataFrame. The value-level work (reading
JSON values into arrays, naming their observed types, converting them) is in ``coerce``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelyard.domain.model_signature import (
    ColSpec,
    Schema,
    Signature,
    TensorSpec,
    schema_mismatches,
)
from modelyard.serving.coerce import (
    COLUMN_DTYPES,
    cast_tensor,
    check_param,
    common_rows,
    convert_column,
    fits_int32,
    frame,
    json_column,
    json_tensor,
    observed_column_type,
    observed_tensor_dtype,
    transpose,
)
from modelyard.serving.errors import BadRequest, SignatureMismatch
from modelyard.serving.payload import Payload, Raw, Rows, Table, Tensors

_STACKABLE = frozenset({"float64", "float32", "int64", "int32", "bool"})
_CACHE_LIMIT = 512


@dataclass(frozen=True, slots=True)
class Prepared:
    """The model's input for one request and how many rows it holds (for batching and metrics)."""

    value: Any
    rows: int


class InputEnforcer:
    """Checks and converts decoded requests for one model.

    ``feature_names``: columns the model was fitted on, used to order a table when there is no
    signature. ``wants_frame``: hand named columns over as a DataFrame even when they are all numbers
    (custom models read the column names from it).
    """

    def __init__(
        self,
        signature: Signature | None,
        *,
        feature_names: Sequence[str] | None = None,
        wants_frame: bool = False,
    ) -> None:
        self.inputs = signature.inputs if signature is not None else None
        self._params = signature.params if signature is not None and signature.params else ()
        self.feature_names = tuple(feature_names) if feature_names else None
        self.wants_frame = wants_frame
        self._verdicts: dict[Any, bool] = {}
        self._columns: tuple[ColSpec, ...] = ()
        self._tensors: tuple[TensorSpec, ...] = ()
        self._stack_dtype: np.dtype[Any] | None = None
        if self.inputs is not None and self.inputs.is_tensor_based:
            self._tensors = tuple(i for i in self.inputs.items if isinstance(i, TensorSpec))
        elif self.inputs is not None:
            self._columns = tuple(i for i in self.inputs.items if isinstance(i, ColSpec))
            dtypes = {COLUMN_DTYPES.get(c.type) for c in self._columns}
            if len(dtypes) == 1 and (only := dtypes.pop()) in _STACKABLE:
                self._stack_dtype = np.dtype(only)
        self._named = (
            bool(self._columns or self._tensors) and (self._columns or self._tensors)[0].name is not None
        )
        # the keys columns are known by: their names, or their positions when the signature has none
        self.column_keys = tuple(str(c.name) if self._named else str(i) for i, c in enumerate(self._columns))
        # one declared tensor whose first dimension is the batch: the common case, with a path of its own
        self._one_tensor = (
            self._tensors[0] if len(self._tensors) == 1 and self._tensors[0].shape[:1] == (-1,) else None
        )

    def declared_column_types(self) -> dict[str, str]:
        """Column name to declared type, for a signature of named columns (else empty)."""
        return {str(c.name): c.type for c in self._columns if c.name is not None}

    def params(self, given: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The inference parameters to pass: checked against the signature's params, defaults filled
        in; names the signature does not declare are ignored, as MLflow ignores them. Without a params
        schema, what was given passes as is (the model decides)."""
        if not self._params:
            return dict(given) if given else None
        out: dict[str, Any] = {}
        for spec in self._params:
            if given is not None and spec.name in given:
                out[spec.name] = check_param(spec, given[spec.name])
            elif spec.default is not None:
                out[spec.name] = spec.default
        return out

    # -- entry point ------------------------------------------------------------------------------

    def prepare(self, payload: Payload) -> Prepared:
        one = self._one_tensor
        if one is not None:
            if type(payload) is Tensors and len(payload.tensors) == 1:
                (array,) = payload.tensors.values()
                if array.ndim:
                    return self._for_one_tensor(one, array, typed=True)
            elif type(payload) is Rows:  # JSON rows for the one tensor (MLflow inputs, Seldon ndarray)
                array = json_tensor(payload.rows, "input")
                if array.ndim:
                    return self._for_one_tensor(one, array, typed=False)
        if isinstance(payload, Raw):
            return Prepared(payload.value, 1)
        if _is_empty(payload):
            raise BadRequest("the request holds no rows (an empty batch): send at least one row")
        if self._tensors:
            prepared = self._for_tensors(payload)
        elif self._columns:
            prepared = self._for_columns(payload)
        else:
            prepared = self._unchecked(payload)
        if prepared.rows == 0:
            raise BadRequest("the request holds no rows (an empty batch): send at least one row")
        return prepared

    def _check(self, key: Any, observed: Callable[[], Schema]) -> None:
        """Raise naming what is wrong with the observed schema. ``key`` identifies it for the cache:
        ``observed()`` builds the schema only on a miss, and again for the message of a refusal."""
        verdict = self._verdicts.get(key)
        if verdict is None:
            if len(self._verdicts) >= _CACHE_LIMIT:
                self._verdicts.clear()
            verdict = self._verdicts[key] = not schema_mismatches(self.inputs, observed())  # type: ignore[arg-type]
        if not verdict:
            raise _mismatch(schema_mismatches(self.inputs, observed()))  # type: ignore[arg-type]

    # -- column-based signatures ------------------------------------------------------------------

    def _for_columns(self, payload: Rows | Table | Tensors) -> Prepared:
        if isinstance(payload, Rows):
            names = [str(n) for n in payload.names] if payload.names else None
            if names is not None and self._named and tuple(names) != self.column_keys:
                return self._from_columns(transpose(payload.rows, names), typed=False)
            return self._from_rows(payload.rows)
        if isinstance(payload, Table):
            columns = {name: json_column(values, name) for name, values in payload.columns.items()}
            return self._from_columns(columns, typed=False)
        tensors = payload.tensors
        if len(tensors) == 1 and len(self._columns) > 1:
            return self._from_matrix(next(iter(tensors.values())), typed=True)
        columns = {}
        for name, array in tensors.items():
            column = array[:, 0] if array.ndim == 2 and array.shape[1] == 1 else array
            if column.ndim != 1:
                raise SignatureMismatch(
                    f"input '{name}' has shape {_shape(array.shape)}; the signature takes columns, "
                    "so send each as shape [n] or [n, 1]"
                )
            columns[name] = column
        return self._from_columns(columns, typed=True)

    def _from_rows(self, rows: Any) -> Prepared:
        if self._stack_dtype is None and isinstance(rows, list):
            # mixed declared types: one array would blur each column's own JSON types (2 beside 2.5)
            return self._from_columns(transpose(rows, self.column_keys), typed=False)
        try:
            array = rows if isinstance(rows, np.ndarray) else np.asarray(rows)
        except (ValueError, TypeError):  # ragged or mixed rows: read them column by column
            return self._from_columns(transpose(rows, self.column_keys), typed=False)
        if array.dtype.kind in "biuf" or array.ndim != 2:
            return self._from_matrix(array, typed=False)
        # strings or nulls somewhere: numpy made every value a string (or an object); go by column
        return self._from_columns(transpose(rows, self.column_keys), typed=False)

    def _from_matrix(self, array: np.ndarray, *, typed: bool) -> Prepared:
        if array.ndim != 2 or array.shape[1] != len(self._columns):
            raise SignatureMismatch(
                f"the input does not match the model signature: shape of input {_shape(array.shape)} does "
                f"not match expected shape (-1, {len(self._columns)}) (columns {list(self.column_keys)})"
            )
        fits = fits_int32(array) if array.dtype.kind in "iu" and not typed else None

        def observed() -> Schema:
            return Schema(
                tuple(
                    ColSpec(
                        type=observed_column_type(array, c.type, typed=typed, known_fit=fits), name=c.name
                    )
                    for c in self._columns
                )
            )

        self._check(("m", array.dtype.str, typed, fits), observed)
        if self._stack_dtype is not None and not self.wants_frame:
            return Prepared(array.astype(self._stack_dtype, copy=False), array.shape[0])
        columns = {key: array[:, i] for i, key in enumerate(self.column_keys)}
        return self._assemble(columns, array.shape[0])

    def _from_columns(self, columns: dict[str, np.ndarray], *, typed: bool) -> Prepared:
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise BadRequest(f"columns have different lengths: {sorted(lengths)}")
        if not self._named:
            if len(columns) != len(self._columns):
                raise SignatureMismatch(
                    f"the input does not match the model signature: it has {len(self._columns)} columns "
                    f"but the data has {len(columns)}"
                )
            columns = dict(zip(self.column_keys, columns.values(), strict=True))
        specs = dict(zip(self.column_keys, self._columns, strict=True))
        observed: list[ColSpec] = []
        for key, values in columns.items():
            want = specs[key].type if key in specs else None
            nulls = not typed and want in ("long", "integer", "boolean") and values.dtype.kind == "f"
            if nulls and np.isnan(values).any():  # JSON has no NaN: these were nulls
                raise SignatureMismatch(f"column '{key}' has null values, but the signature declares {want}")
            kind = observed_column_type(values, want, typed=typed)
            observed.append(ColSpec(type=kind, name=key if self._named else None))
        self._check(("c", tuple((c.name, c.type) for c in observed)), lambda: Schema(tuple(observed)))
        converted = {
            key: convert_column(columns[key], spec, key) for key, spec in specs.items() if key in columns
        }
        return self._assemble(converted, lengths.pop() if lengths else 0)

    def _assemble(self, columns: dict[str, np.ndarray], rows: int) -> Prepared:
        if self._stack_dtype is not None and not self.wants_frame and len(columns) == len(self._columns):
            stacked = np.column_stack(list(columns.values())) if rows else np.empty((0, len(columns)))
            return Prepared(stacked.astype(self._stack_dtype, copy=False), rows)
        return Prepared(frame(columns), rows)

    # -- tensor-based signatures ------------------------------------------------------------------

    def _for_tensors(self, payload: Rows | Table | Tensors) -> Prepared:
        declared = self._tensors
        typed = isinstance(payload, Tensors)
        if isinstance(payload, Tensors):
            given = payload.tensors
        elif isinstance(payload, Table) and self._named and len(declared) > 1:
            given = {name: json_tensor(values, name) for name, values in payload.columns.items()}
        elif isinstance(payload, Table):  # a table for one tensor: its columns side by side
            columns = list(payload.columns.values())
            given = {"input": json_tensor([list(r) for r in zip(*columns, strict=True)], "input")}
        else:
            given = {"input": json_tensor(payload.rows, "input")}
        by_name = self._named and (len(declared) > 1 or str(declared[0].name) in given)
        if by_name:
            missing = [str(t.name) for t in declared if str(t.name) not in given]
            if missing:
                raise _mismatch(
                    [f"missing tensors {missing} (the signature's tensors: {[t.name for t in declared]})"]
                )
            pairs = [(t, given[str(t.name)]) for t in declared]
        elif len(given) != len(declared):
            raise _mismatch([f"the signature has {len(declared)} tensors but the request has {len(given)}"])
        else:
            pairs = list(zip(declared, given.values(), strict=True))
        dtypes = [observed_tensor_dtype(a, t.dtype, typed=typed) for t, a in pairs]
        # the batch dimension is free in (nearly) every signature: leave it out of the cache key
        key = [
            (d, a.shape[1:] if t.shape[:1] == (-1,) else a.shape)
            for d, (t, a) in zip(dtypes, pairs, strict=True)
        ]
        self._check(
            ("t", *key),
            lambda: Schema(
                tuple(
                    TensorSpec(dtype=d, shape=a.shape, name=t.name)
                    for d, (t, a) in zip(dtypes, pairs, strict=True)
                )
            ),
        )
        first = pairs[0][1]
        rows = first.shape[0] if first.ndim else 1
        if len(pairs) == 1:
            return Prepared(cast_tensor(first, pairs[0][0].dtype), rows)
        return Prepared({str(t.name): cast_tensor(a, t.dtype) for t, a in pairs}, rows)

    def _for_one_tensor(self, spec: TensorSpec, array: np.ndarray, *, typed: bool) -> Prepared:
        """``_for_tensors`` for one tensor (not a scalar; ``typed``: its dtype came from the client,
        not from JSON) and a signature of one batch-first tensor: the same checks, cache keys and
        errors, without the lists the general case needs."""
        rows = array.shape[0]
        if rows == 0:
            raise BadRequest("the request holds no rows (an empty batch): send at least one row")
        dtype = observed_tensor_dtype(array, spec.dtype, typed=typed)
        self._check(
            ("t", (dtype, array.shape[1:])),
            lambda: Schema((TensorSpec(dtype=dtype, shape=array.shape, name=spec.name),)),
        )
        return Prepared(cast_tensor(array, spec.dtype), rows)

    # -- no signature -----------------------------------------------------------------------------

    def _unchecked(self, payload: Rows | Table | Tensors) -> Prepared:
        if isinstance(payload, Rows):
            array = json_tensor(payload.rows, "input")
            if (
                payload.names
                and self.wants_frame
                and array.ndim == 2
                and array.shape[1] == len(payload.names)
            ):
                return Prepared(frame({str(n): array[:, i] for i, n in enumerate(payload.names)}), len(array))
            return Prepared(array, len(array) if array.ndim else 1)
        if isinstance(payload, Tensors):
            tensors = payload.tensors
            if len(tensors) == 1:
                only = next(iter(tensors.values()))
                return Prepared(only, len(only) if only.ndim else 1)
            return Prepared(tensors, common_rows(tensors))
        columns = {name: json_column(values, name) for name, values in payload.columns.items()}
        rows = common_rows(columns)
        order = self.feature_names
        if order is not None and not self.wants_frame:
            missing = [n for n in order if n not in columns]
            if missing:
                raise _mismatch([f"missing columns {missing} (the model was fitted on {list(order)})"])
            if all(columns[n].dtype.kind in "biuf" for n in order):
                return Prepared(np.column_stack([columns[n] for n in order]), rows)
        return Prepared(frame(columns), rows)


def _is_empty(payload: Rows | Table | Tensors) -> bool:
    if isinstance(payload, Rows):
        rows = payload.rows
        return len(rows) == 0 if isinstance(rows, list) else bool(rows.ndim and rows.shape[0] == 0)
    if isinstance(payload, Table):
        return not payload.columns or all(isinstance(v, list) and not v for v in payload.columns.values())
    return any(a.ndim and a.shape[0] == 0 for a in payload.tensors.values())


def _mismatch(problems: Sequence[str]) -> SignatureMismatch:
    return SignatureMismatch("the input does not match the model signature: " + "; ".join(problems))


def _shape(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
