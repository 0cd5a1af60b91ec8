"""Model signatures: the column- or tensor-based schema of a model's inputs, outputs and params.

The wire form is MLflow's: inside an MLmodel file, ``signature.inputs``/``outputs``/``params`` are JSON
*strings* holding lists such as ``[{"name": "x", "type": "double"}]`` (columns) or
``[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}]`` (tensors). A schema is
either all columns or all tensors, and its items are either all named or all unnamed.

``schema_mismatches`` is the one comparison everything uses (checking an input example at log time,
and later each request at serving time): it lists what a person must fix, naming column and types.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from modelyard.domain.errors import InvalidParameter

COLUMN_TYPES = ("double", "float", "long", "integer", "boolean", "string", "binary", "datetime")
# MLflow's nested column types; kept as their raw JSON in ``ColSpec.detail``.
NESTED_COLUMN_TYPES = ("array", "object", "map", "any")

# A value of the key type converts to each listed type without losing information.
_SAFE_COLUMN_CASTS: Mapping[str, frozenset[str]] = {
    "integer": frozenset({"long", "float", "double"}),
    "long": frozenset({"double"}),
    "float": frozenset({"double"}),
}

_TENSOR_KINDS = {"bool": "b", "int": "i", "uint": "u", "float": "f"}


@dataclass(frozen=True)
class ColSpec:
    """One column: ``type`` is one of COLUMN_TYPES or NESTED_COLUMN_TYPES."""

    type: str
    name: str | None = None
    required: bool = True
    detail: Mapping[str, Any] | None = None  # the raw JSON of a nested type (items, properties, values)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.detail or {})
        out["type"] = self.type
        if self.name is not None:
            out["name"] = self.name
        out["required"] = self.required
        return out


@dataclass(frozen=True)
class TensorSpec:
    """One tensor: a numpy dtype name (``float32``, ``int64``, ``bool``, ``object``...) and a shape
    where ``-1`` is a free dimension (the batch, usually)."""

    dtype: str
    shape: tuple[int, ...]
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "tensor",
            "tensor-spec": {"dtype": self.dtype, "shape": list(self.shape)},
        }
        if self.name is not None:
            out["name"] = self.name
        return out


@dataclass(frozen=True)
class Schema:
    """An ordered list of ColSpec or of TensorSpec, never both."""

    items: tuple[ColSpec, ...] | tuple[TensorSpec, ...]

    def __post_init__(self) -> None:
        kinds = {type(item) for item in self.items}
        if len(kinds) > 1:
            raise InvalidParameter("a schema mixes columns and tensors; use one kind")
        named = {item.name is not None for item in self.items}
        if len(named) > 1:
            raise InvalidParameter("a schema mixes named and unnamed items; name all of them or none")

    @property
    def is_tensor_based(self) -> bool:
        return bool(self.items) and isinstance(self.items[0], TensorSpec)

    @property
    def names(self) -> tuple[str | None, ...]:
        return tuple(item.name for item in self.items)

    @property
    def has_names(self) -> bool:
        return bool(self.items) and self.items[0].name is not None

    def to_json(self) -> str:
        return json.dumps([item.to_dict() for item in self.items])


@dataclass(frozen=True)
class ParamSpec:
    """An inference parameter (MLflow ``params``): a name, a column type, a default, an optional shape."""

    name: str
    type: str
    default: Any = None
    shape: tuple[int, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "shape": None if self.shape is None else list(self.shape),
        }


@dataclass(frozen=True)
class Signature:
    inputs: Schema
    outputs: Schema | None = None
    params: tuple[ParamSpec, ...] | None = field(default=None)

    def to_dict(self) -> dict[str, str | None]:
        """The MLmodel form: each part a JSON string (or null)."""
        return {
            "inputs": self.inputs.to_json(),
            "outputs": self.outputs.to_json() if self.outputs is not None else None,
            "params": json.dumps([p.to_dict() for p in self.params]) if self.params is not None else None,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], *, where: str = "signature") -> Signature:
        inputs = _parse_schema(raw.get("inputs"), where=f"{where}.inputs")
        if inputs is None:
            raise InvalidParameter(f"MLmodel field '{where}.inputs' is required in a signature")
        return cls(
            inputs=inputs,
            outputs=_parse_schema(raw.get("outputs"), where=f"{where}.outputs"),
            params=_parse_params(raw.get("params"), where=f"{where}.params"),
        )


def column_type_accepts(declared: str, observed: str) -> bool:
    """Whether a column declared ``declared`` can take values observed as ``observed`` safely."""
    if declared in (observed, "any"):
        return True
    return declared in _SAFE_COLUMN_CASTS.get(observed, frozenset())


def tensor_dtype_accepts(declared: str, observed: str) -> bool:
    """Whether ``observed`` casts safely to ``declared`` (numpy's "safe" rule for bool/int/uint/float)."""
    if declared == observed:
        return True
    have, want = _dtype_kind_bits(observed), _dtype_kind_bits(declared)
    if have is None or want is None:
        return False
    (kind, bits), (want_kind, want_bits) = have, want
    if kind == "b":
        return want_kind != "b"
    if kind == want_kind:
        return want_bits >= bits
    if kind == "u" and want_kind == "i":
        return want_bits > bits
    if want_kind == "f":  # integers into floats: only when the mantissa holds every value
        return (want_bits == 32 and bits <= 16) or (want_bits == 64 and bits <= 64)
    return False


def schema_mismatches(declared: Schema, observed: Schema) -> list[str]:
    """What is wrong with data whose inferred schema is ``observed`` for a model declaring ``declared``.

    Empty when compatible. Extra observed columns are fine (MLflow drops them when serving).
    """
    if declared.is_tensor_based != observed.is_tensor_based:
        want = "tensors" if declared.is_tensor_based else "columns"
        got = "tensors" if observed.is_tensor_based else "columns"
        return [f"the signature expects {want} but the data has {got}"]
    if declared.is_tensor_based:
        return _tensor_mismatches(declared, observed)
    return _column_mismatches(declared, observed)


def _column_mismatches(declared: Schema, observed: Schema) -> list[str]:
    problems: list[str] = []
    if declared.has_names:
        seen = {item.name: item for item in _columns(observed)}
        missing = [c.name for c in _columns(declared) if c.name not in seen and c.required]
        if missing:
            problems.append(f"missing columns {missing}")
        pairs = [(c, seen[c.name]) for c in _columns(declared) if c.name in seen]
    else:
        if len(observed.items) != len(declared.items):
            return [f"the signature has {len(declared.items)} columns but the data has {len(observed.items)}"]
        pairs = list(zip(_columns(declared), _columns(observed), strict=True))
    for index, (want, got) in enumerate(pairs):
        if want.type in NESTED_COLUMN_TYPES or column_type_accepts(want.type, got.type):
            continue
        label = f"column '{want.name}'" if want.name is not None else f"column {index}"
        problems.append(f"{label}: the signature declares {want.type}, the data has {got.type}")
    return problems


def _tensor_mismatches(declared: Schema, observed: Schema) -> list[str]:
    problems: list[str] = []
    if declared.has_names and observed.has_names:
        seen = {item.name: item for item in _tensors(observed)}
        missing = [t.name for t in _tensors(declared) if t.name not in seen]
        if missing:
            return [f"missing tensors {missing}"]
        pairs = [(t, seen[t.name]) for t in _tensors(declared)]
    elif len(declared.items) != len(observed.items):
        return [f"the signature has {len(declared.items)} tensors but the data has {len(observed.items)}"]
    else:
        pairs = list(zip(_tensors(declared), _tensors(observed), strict=True))
    for index, (want, got) in enumerate(pairs):
        label = f"tensor '{want.name}'" if want.name is not None else f"tensor {index}"
        if not tensor_dtype_accepts(want.dtype, got.dtype):
            problems.append(f"{label}: the signature declares dtype {want.dtype}, the data has {got.dtype}")
        if not shape_accepts(want.shape, got.shape):
            problems.append(
                f"{label}: shape {_shape_text(got.shape)} does not match expected shape {_shape_text(want.shape)}"
            )
    return problems


def shape_accepts(declared: Sequence[int], observed: Sequence[int]) -> bool:
    if len(declared) != len(observed):
        return False
    return all(want == -1 or got in (want, -1) for want, got in zip(declared, observed, strict=True))


def _shape_text(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _columns(schema: Schema) -> tuple[ColSpec, ...]:
    return tuple(item for item in schema.items if isinstance(item, ColSpec))


def _tensors(schema: Schema) -> tuple[TensorSpec, ...]:
    return tuple(item for item in schema.items if isinstance(item, TensorSpec))


def _dtype_kind_bits(dtype: str) -> tuple[str, int] | None:
    if dtype == "bool":
        return ("b", 8)
    for prefix in ("uint", "int", "float"):
        if dtype.startswith(prefix) and dtype[len(prefix) :].isdigit():
            return (_TENSOR_KINDS[prefix], int(dtype[len(prefix) :]))
    return None


# -- parsing the MLmodel JSON strings ----------------------------------------------------------------


def _load_json_list(raw: Any, *, where: str) -> list[Any] | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidParameter(f"MLmodel field '{where}' is not valid JSON: {exc.msg}") from None
    if not isinstance(raw, list):
        raise InvalidParameter(f"MLmodel field '{where}' must be a JSON list, got {type(raw).__name__}")
    return raw


def _parse_schema(raw: Any, *, where: str) -> Schema | None:
    items = _load_json_list(raw, where=where)
    if items is None:
        return None
    specs = [_parse_item(item, where=f"{where}[{i}]") for i, item in enumerate(items)]
    try:
        return Schema(tuple(specs))  # type: ignore[arg-type]  # Schema checks they are one kind
    except InvalidParameter as exc:
        raise InvalidParameter(f"MLmodel field '{where}': {exc.message}") from None


def _parse_item(item: Any, *, where: str) -> ColSpec | TensorSpec:
    if not isinstance(item, Mapping):
        raise InvalidParameter(f"MLmodel field '{where}' must be an object with a 'type'")
    name = item.get("name")
    if name is not None and not isinstance(name, str):
        raise InvalidParameter(f"MLmodel field '{where}.name' must be a string")
    kind = item.get("type")
    if kind == "tensor":
        spec = item.get("tensor-spec")
        if not isinstance(spec, Mapping) or not isinstance(spec.get("dtype"), str) or not spec["dtype"]:
            raise InvalidParameter(
                f"MLmodel field '{where}.tensor-spec' needs a 'dtype' string and a 'shape'"
            )
        return TensorSpec(dtype=spec["dtype"], shape=_parse_shape(spec.get("shape"), where=where), name=name)
    if kind in COLUMN_TYPES or kind in NESTED_COLUMN_TYPES:
        detail = {k: v for k, v in item.items() if k not in ("type", "name", "required")} or None
        return ColSpec(type=kind, name=name, required=bool(item.get("required", True)), detail=detail)
    allowed = ", ".join((*COLUMN_TYPES, *NESTED_COLUMN_TYPES, "tensor"))
    raise InvalidParameter(f"MLmodel field '{where}.type' is {kind!r}; expected one of {allowed}")


def _parse_shape(raw: Any, *, where: str) -> tuple[int, ...]:
    if not isinstance(raw, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in raw):
        raise InvalidParameter(f"MLmodel field '{where}.tensor-spec.shape' must be a list of integers")
    if any(d < -1 for d in raw):
        raise InvalidParameter(f"MLmodel field '{where}.tensor-spec.shape' has a dimension below -1")
    return tuple(raw)


def _parse_params(raw: Any, *, where: str) -> tuple[ParamSpec, ...] | None:
    items = _load_json_list(raw, where=where)
    if items is None:
        return None
    params = []
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise InvalidParameter(f"MLmodel field '{at}' must be an object with a 'name' string")
        if item.get("type") not in COLUMN_TYPES:
            raise InvalidParameter(f"MLmodel field '{at}.type' must be one of {', '.join(COLUMN_TYPES)}")
        shape = item.get("shape")
        params.append(
            ParamSpec(
                name=item["name"],
                type=item["type"],
                default=item.get("default"),
                shape=None if shape is None else _parse_shape(shape, where=at),
            )
        )
    return tuple(params)
