"""The MLmodel format: parsing what MLflow writes, writing it back, refusing malformed files by field."""

from __future__ import annotations

import json

import pytest

from modelyard.domain.errors import InvalidParameter
from modelyard.domain.model_format import (
    ColSpec,
    ModelSpec,
    ParamSpec,
    Schema,
    Signature,
    TensorSpec,
    dump_mlmodel,
    parse_mlmodel,
    parse_requirements,
)
from modelyard.domain.model_signature import column_type_accepts, schema_mismatches, tensor_dtype_accepts

# As mlflow 3.17 wrote it for mlflow.sklearn.save_model(..., input_example=frame).
MLFLOW_SKLEARN = """\
artifact_path: model
flavors:
  python_function:
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.sklearn
    model_path: model.skops
    predict_fn: predict
    python_version: 3.11.7
  sklearn:
    code: null
    pickled_model: model.skops
    serialization_format: skops
    sklearn_version: 1.9.1
    skops_trusted_types: null
is_signature_from_type_hint: false
mlflow_version: 3.17.2
model_id: m-0123
model_size_bytes: 11634
model_uuid: ea57a0790f6145289c9e6ebff36a4df0
prompts: null
run_id: 4f2d
saved_input_example_info:
  artifact_path: input_example.json
  pandas_orient: split
  serving_input_path: serving_input_example.json
  type: dataframe
signature:
  inputs: '[{"type": "double", "name": "sepal length (cm)", "required": true}, {"type":
    "string", "name": "kind", "required": false}]'
  outputs: '[{"type": "long", "required": true}]'
  params: '[{"name": "temperature", "type": "double", "default": 0.5, "shape": null}]'
type_hint_from_example: false
utc_time_created: '2026-11-22 10:49:19.887350'
"""


def test_parses_what_mlflow_writes() -> None:
    spec = parse_mlmodel(MLFLOW_SKLEARN)

    assert list(spec.flavors) == ["python_function", "sklearn"]
    assert spec.flavor("sklearn")["serialization_format"] == "skops"
    assert spec.env_files == {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}
    assert (spec.model_uuid, spec.run_id, spec.model_id) == (
        "ea57a0790f6145289c9e6ebff36a4df0",
        "4f2d",
        "m-0123",
    )
    assert (spec.mlflow_version, spec.modelyard_version) == ("3.17.2", None)
    assert spec.utc_time_created == "2026-11-22 10:49:19.887350"
    assert spec.model_size_bytes == 11634
    assert spec.saved_input_example_info is not None
    assert spec.saved_input_example_info.pandas_orient == "split"
    assert spec.signature == Signature(
        inputs=Schema((ColSpec("double", "sepal length (cm)"), ColSpec("string", "kind", required=False))),
        outputs=Schema((ColSpec("long"),)),
        params=(ParamSpec("temperature", "double", default=0.5),),
    )
    assert spec.extra["is_signature_from_type_hint"] is False  # unknown keys survive


def test_dump_and_parse_round_trip() -> None:
    spec = parse_mlmodel(MLFLOW_SKLEARN)
    assert parse_mlmodel(dump_mlmodel(spec)) == spec


def test_signature_json_is_mlflows() -> None:
    signature = Signature(
        inputs=Schema((TensorSpec("float32", (-1, 4), name="x"),)),
        outputs=Schema((ColSpec("long"),)),
    )
    wire = signature.to_dict()
    assert json.loads(str(wire["inputs"])) == [
        {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}, "name": "x"}
    ]
    assert json.loads(str(wire["outputs"])) == [{"type": "long", "required": True}]
    assert wire["params"] is None
    assert Signature.from_dict(wire) == signature


def test_nested_column_types_are_kept() -> None:
    raw = [{"type": "array", "items": {"type": "string"}, "name": "tags", "required": True}]
    spec = parse_mlmodel(
        f"flavors: {{python_function: {{loader_module: m}}}}\nsignature: {{inputs: '{json.dumps(raw)}'}}\n"
    )
    assert spec.signature is not None
    (column,) = spec.signature.inputs.items
    assert isinstance(column, ColSpec) and column.type == "array"
    assert column.to_dict() == raw[0]


def test_unknown_flavor_is_allowed_in_the_file() -> None:
    spec = parse_mlmodel("flavors:\n  tensorflow:\n    saved_model_dir: tfmodel\n")
    assert spec.flavors == {"tensorflow": {"saved_model_dir": "tfmodel"}}


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("flavors: [", "not valid YAML"),
        ("- a\n- b\n", "must be a YAML mapping"),
        ("run_id: x\n", "'flavors' is required"),
        ("flavors: {}\n", "'flavors' must be a non-empty mapping"),
        ("flavors: {sklearn: 3}\n", "'flavors.sklearn' must be a mapping"),
        ("flavors: {python_function: {data: x}}\n", "'flavors.python_function.loader_module'"),
        ("flavors: {a: {}}\nsignature: [1]\n", "'signature' must be a mapping"),
        ("flavors: {a: {}}\nsignature: {outputs: '[]'}\n", "'signature.inputs' is required"),
        ("flavors: {a: {}}\nsignature: {inputs: '[{'}\n", "'signature.inputs' is not valid JSON"),
        ("flavors: {a: {}}\nsignature: {inputs: '{}'}\n", "'signature.inputs' must be a JSON list"),
        (
            'flavors: {a: {}}\nsignature: {inputs: \'[{"type": "doubel", "name": "x"}]\'}\n',
            "'signature.inputs[0].type' is 'doubel'",
        ),
        (
            'flavors: {a: {}}\nsignature: {inputs: \'[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": "4"}}]\'}\n',
            "'signature.inputs[0].tensor-spec.shape'",
        ),
        (
            'flavors: {a: {}}\nsignature: {inputs: \'[{"type": "long", "name": "x"}, {"type": "long"}]\'}\n',
            "'signature.inputs': a schema mixes named and unnamed",
        ),
        (
            'flavors: {a: {}}\nsignature: {inputs: \'[{"type": "long"}]\', params: \'[{"name": "k", "type": "tensor"}]\'}\n',
            "'signature.params[0].type'",
        ),
        (
            "flavors: {a: {}}\nsaved_input_example_info: {type: dataframe}\n",
            "'saved_input_example_info.artifact_path'",
        ),
        (
            "flavors: {a: {}}\nsaved_input_example_info: {artifact_path: x.json, type: image}\n",
            "'saved_input_example_info.type' is 'image'",
        ),
        ("flavors: {a: {}}\nmodel_uuid: [1]\n", "'model_uuid' must be a string"),
        ("flavors: {a: {}}\nmodel_size_bytes: -1\n", "'model_size_bytes'"),
        ("flavors: {a: {}}\nmetadata: 3\n", "'metadata' must be a mapping"),
    ],
)
def test_malformed_files_name_the_field(text: str, field: str) -> None:
    with pytest.raises(
        InvalidParameter, match=field.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")
    ):
        parse_mlmodel(text)


def test_flavor_lookup_names_what_the_model_has() -> None:
    spec = ModelSpec(flavors={"sklearn": {}})
    with pytest.raises(InvalidParameter, match="no 'onnx' flavor \\(it has: sklearn\\)"):
        spec.flavor("onnx")


def test_requirements_file_lines() -> None:
    text = "# comment\nscikit-learn==1.9.1\n\n-r other.txt\nnumpy==2.4.6  # pinned\n"
    assert parse_requirements(text) == ("scikit-learn==1.9.1", "numpy==2.4.6")


def test_type_compatibility_rules() -> None:
    assert column_type_accepts("double", "long") and column_type_accepts("long", "integer")
    assert not column_type_accepts("long", "double") and not column_type_accepts("string", "long")
    assert tensor_dtype_accepts("float64", "float32") and tensor_dtype_accepts("int64", "uint32")
    assert tensor_dtype_accepts("float32", "int16") and not tensor_dtype_accepts("float32", "int32")
    assert not tensor_dtype_accepts("int32", "float32") and not tensor_dtype_accepts("bool", "int8")
    declared = Schema((ColSpec("double", "a"), ColSpec("string", "b", required=False)))
    assert schema_mismatches(declared, Schema((ColSpec("long", "a"),))) == []
