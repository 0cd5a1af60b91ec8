"""Signature inference from examples, and checking an example against a signature."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from modelyard.domain.errors import InvalidParameter
from modelyard.domain.model_format import ColSpec, Schema, Signature, TensorSpec
from modelyard.models import check_example, infer_signature
from modelyard.models.signature import encode_example, infer_output_schema, to_json


def test_numpy_array_is_one_tensor_with_a_free_batch() -> None:
    signature = infer_signature(np.zeros((2, 3, 4), dtype=np.float32), np.zeros(2, dtype=np.int64))
    assert signature.inputs.items == (TensorSpec(dtype="float32", shape=(-1, 3, 4)),)
    assert signature.outputs is not None and signature.outputs.items == (
        TensorSpec(dtype="int64", shape=(-1,)),
    )


def test_dict_of_arrays_is_named_tensors() -> None:
    signature = infer_signature({"ids": np.array([[1, 2]]), "mask": np.array([[True, False]])})
    assert signature.inputs.items == (
        TensorSpec(dtype="int64", shape=(-1, 2), name="ids"),
        TensorSpec(dtype="bool", shape=(-1, 2), name="mask"),
    )


def test_dataframe_columns_get_mlflow_types() -> None:
    frame = pd.DataFrame(
        {
            "d": [1.5],
            "f": np.array([1.5], dtype=np.float32),
            "l": [1],
            "i": np.array([1], dtype=np.int32),
            "b": [True],
            "s": ["x"],
            "bin": [b"\x00"],
            "t": [pd.Timestamp("2026-01-01")],
        }
    )
    types = {c.name: c.type for c in infer_signature(frame).inputs.items if isinstance(c, ColSpec)}
    assert types == {
        "d": "double",
        "f": "float",
        "l": "long",
        "i": "integer",
        "b": "boolean",
        "s": "string",
        "bin": "binary",
        "t": "datetime",
    }


def test_records_make_columns_and_absent_keys_optional() -> None:
    schema = infer_signature([{"a": 1, "b": "x"}, {"a": 2}]).inputs
    assert schema.items == (ColSpec(type="long", name="a"), ColSpec(type="string", name="b", required=False))


def test_mixed_column_types_are_refused_with_the_column_named() -> None:
    with pytest.raises(InvalidParameter, match=r"column 'a'.*mixed types"):
        infer_signature([{"a": 1}, {"a": "x"}])


def test_unsupported_example_is_refused() -> None:
    with pytest.raises(InvalidParameter, match="cannot infer a signature from a set"):
        infer_signature({1, 2})


def test_one_dimensional_output_after_columns_is_a_column() -> None:
    inputs = infer_signature(pd.DataFrame({"a": [1.0]})).inputs
    assert infer_output_schema(np.array([1, 0]), inputs=inputs).items == (ColSpec(type="long"),)
    assert infer_output_schema(np.zeros((2, 3)), inputs=inputs).items == (TensorSpec("float64", (-1, 3)),)


def test_example_matching_the_signature_passes_with_safe_casts() -> None:
    signature = infer_signature(pd.DataFrame({"a": [1.0], "b": ["x"]}))
    check_example(pd.DataFrame({"a": [1], "b": ["y"], "extra": [0]}), signature)  # long -> double is safe
    check_example(np.array([[1.0, 2.0]]), infer_signature(np.zeros((1, 2))))


def test_missing_column_is_named() -> None:
    signature = infer_signature(pd.DataFrame({"a": [1.0], "b": [2.0]}))
    with pytest.raises(InvalidParameter, match=r"missing columns \['b'\]"):
        check_example(pd.DataFrame({"a": [1.0]}), signature)


def test_unsafe_column_type_is_named() -> None:
    signature = infer_signature(pd.DataFrame({"count": [1]}))
    with pytest.raises(
        InvalidParameter, match="column 'count': the signature declares long, the data has double"
    ):
        check_example(pd.DataFrame({"count": [1.5]}), signature)


def test_tensor_shape_and_dtype_mismatches_are_named() -> None:
    signature = infer_signature(np.zeros((1, 3), dtype=np.float32))
    with pytest.raises(InvalidParameter, match=r"shape \(-1, 2\) does not match expected shape \(-1, 3\)"):
        check_example(np.zeros((1, 2), dtype=np.float32), signature)
    with pytest.raises(InvalidParameter, match="declares dtype float32, the data has float64"):
        check_example(np.zeros((1, 3)), signature)


def test_array_against_named_columns_is_read_in_order() -> None:
    signature = infer_signature(pd.DataFrame({"a": [1.0], "b": [2.0]}))
    check_example(np.array([[1.0, 2.0]]), signature)
    with pytest.raises(InvalidParameter, match="declares 2 columns but the example has 3"):
        check_example(np.zeros((1, 3)), signature)


def test_columns_against_tensors_is_refused() -> None:
    signature = Signature(inputs=Schema((TensorSpec("float64", (-1, 1)),)))
    with pytest.raises(InvalidParameter, match="expects tensors but the data has columns"):
        check_example({"a": "x"}, signature)


def test_table_against_a_tensor_signature_is_read_as_one_array() -> None:
    signature = Signature(inputs=Schema((TensorSpec("float64", (-1, 2)),)))
    check_example(pd.DataFrame({"a": [1.0], "b": [2.0]}), signature)
    with pytest.raises(InvalidParameter, match="shape"):
        check_example(pd.DataFrame({"a": [1.0]}), signature)


def test_examples_are_encoded_as_mlflow_saves_them() -> None:
    frame = pd.DataFrame({"a": [1.0, float("nan")], "t": [dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 2)]})
    data, serving, info = encode_example(frame)
    assert info.type == "dataframe" and info.pandas_orient == "split"
    assert json.loads(to_json(data)) == {
        "columns": ["a", "t"],
        "data": [[1.0, "2026-01-01T00:00:00"], [None, "2026-01-02T00:00:00"]],
    }
    assert serving == {"dataframe_split": data}

    data, serving, info = encode_example(np.array([[1.0, np.nan]]))
    assert (data, serving, info.type) == ([[1.0, None]], {"inputs": [[1.0, None]]}, "ndarray")

    data, _, info = encode_example([{"b": b"\x01"}])
    assert (data, info.type) == ([{"b": "AQ=="}], "json_object")
