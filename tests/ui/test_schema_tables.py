"""Schemas as tables: model signatures, dataset schemas and profiles, input examples — and the text
shown for anything of another shape."""

from __future__ import annotations

import json

from modelyard.api.ui.schema_tables import dataset_profile, dataset_schema, input_example, signature_tables
from modelyard.domain.model_signature import Signature


def test_a_signature_with_nested_columns_and_params() -> None:
    signature = Signature.from_dict(
        {
            "inputs": json.dumps(
                [{"type": "array", "items": {"type": "double"}, "name": "xs", "required": True}]
            ),
            "outputs": None,
            "params": json.dumps([{"name": "temperature", "type": "double", "default": 0.5, "shape": None}]),
        }
    )
    inputs, params = signature_tables(signature)
    assert inputs.caption == "Inputs"
    assert list(inputs.rows) == [("xs", 'array {"items": {"type": "double"}}', "—", "yes")]
    assert params.columns == ("Name", "Type", "Default", "Shape")
    assert list(params.rows) == [("temperature", "double", "0.5", "—")]


def test_a_dataset_schema_of_columns_and_one_of_unknown_shape() -> None:
    shown = dataset_schema(json.dumps({"mlflow_colspec": [{"type": "long", "name": "n", "required": False}]}))
    assert [list(t.rows) for t in shown.tables] == [[("n", "long", "—", "no")]]
    assert dataset_schema(json.dumps({"mlflow_colspec": "oops"})).raw == '{\n  "mlflow_colspec": "oops"\n}'
    assert dataset_schema("{broken").raw == "{broken"
    assert dataset_schema(None).tables == [] and dataset_schema(None).raw is None


def test_a_profile_is_a_row_per_statistic() -> None:
    shown = dataset_profile(json.dumps({"num_rows": 3, "shape": [3, 2], "name": None}))
    assert list(shown.tables[0].rows) == [("num_rows", "3"), ("shape", "[3, 2]"), ("name", "—")]
    assert dataset_profile("[1, 2]").raw == "[\n  1,\n  2\n]"


def test_input_examples_as_tables_with_a_note_when_cut() -> None:
    split = input_example({"columns": ["a"], "data": [[i] for i in range(25)]})
    table = split.tables[0]
    assert len(table.rows) == 20 and table.note == "the first 20 of 25 rows"
    records = input_example([{"a": 1}, {"a": 2, "b": "x"}])
    assert records.tables[0].columns == ("a", "b")
    assert list(records.tables[0].rows) == [("1", "—"), ("2", "x")]
    assert (
        input_example({"inputs": [[1, 2]]}).raw == '{\n  "inputs": [\n    [\n      1,\n      2\n    ]\n  ]\n}'
    )
    assert input_example(None).tables == []
