"""Add/edit form fields of a resource and the checks on what a client sends for them.

Validators are small typed objects (never a string mini-language); each says what it checks in
``info()`` so a UI can check the same before sending. ``clean`` refuses unknown fields, missing required
ones, wrong types and NUL characters (PostgreSQL cannot store them) with a message that names the field;
business rules (unique names, state) stay in the services the hooks call.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import orjson

from modelyard.domain.errors import InvalidParameter

_INT_RE = re.compile(r"^[+-]?\d+$")
_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "object"}


class FieldType(StrEnum):
    STRING = "string"
    TEXT = "text"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    ENUM = "enum"


_UI_TYPES = {
    FieldType.STRING: "input",
    FieldType.TEXT: "textarea",
    FieldType.INTEGER: "number",
    FieldType.BOOLEAN: "checkbox",
}


class Validator(Protocol):
    def check(self, name: str, value: Any) -> None:
        """Raise ``InvalidParameter`` naming field ``name`` when ``value`` is refused."""

    def info(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Length:
    min: int = 0
    max: int | None = None

    def check(self, name: str, value: Any) -> None:
        if len(value) < self.min or (self.max is not None and len(value) > self.max):
            upper = f" and at most {self.max}" if self.max is not None else ""
            raise InvalidParameter(
                f"Field '{name}' has {len(value)} characters; it must have at least {self.min}{upper}."
            )

    def info(self) -> dict[str, Any]:
        return {"type": "length", "min": self.min, "max": self.max}


@dataclass(frozen=True, slots=True)
class Range:
    min: int | None = None
    max: int | None = None

    def check(self, name: str, value: Any) -> None:
        if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            raise InvalidParameter(
                f"Field '{name}' is {value}; it must be between {self.min} and {self.max}."
            )

    def info(self) -> dict[str, Any]:
        return {"type": "range", "min": self.min, "max": self.max}


@dataclass(frozen=True, slots=True)
class Regexp:
    pattern: str
    message: str

    def check(self, name: str, value: Any) -> None:
        if re.fullmatch(self.pattern, value) is None:
            raise InvalidParameter(f"Field '{name}' is '{value}': {self.message}")

    def info(self) -> dict[str, Any]:
        return {"type": "regexp", "pattern": self.pattern, "message": self.message}


@dataclass(frozen=True, slots=True)
class Field:
    """A form field. ``relation`` names a resource whose items are the choices (by primary key)."""

    name: str
    label: str
    type: FieldType = FieldType.STRING
    description: str = ""
    ui_type: str = ""
    default: Any = None
    required: bool = False
    validators: tuple[Validator, ...] = ()
    values: tuple[str, ...] = ()
    relation: str | None = None

    @property
    def widget(self) -> str:
        if self.ui_type:
            return self.ui_type
        if self.type is FieldType.ENUM or self.relation is not None:
            return "select"
        return _UI_TYPES[self.type]


def as_int(value: Any, what: str, bits: int = 64) -> int:
    """An integer from JSON or query text (``"12"``) that a ``bits``-wide signed database column can hold;
    else a 400 naming ``what``."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _INT_RE.match(value.strip()):
        number = int(value.strip())
    else:
        raise InvalidParameter(f"{what} must be an integer, got {show_value(value)}.")
    if not -(2 ** (bits - 1)) <= number < 2 ** (bits - 1):
        raise InvalidParameter(f"{what} is out of range: {number} does not fit in {bits} bits.")
    return number


def as_bool(value: Any, what: str) -> bool:
    """A boolean from JSON (``true``) or query text (``"true"``, ``"false"``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InvalidParameter(f"{what} must be true or false, got {show_value(value)}.")


def as_str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidParameter(f"{what} must be a string, got {show_value(value)}.")
    if "\x00" in value:
        raise InvalidParameter(f"{what} must not contain NUL characters.")
    return value


def show_value(value: Any) -> str:
    """A user's value for a message: a string quoted (``'abc'``), anything else as JSON with its type."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"'{value[:80]}'" + ("..." if len(value) > 80 else "")
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} (number)"
    try:
        text = orjson.dumps(value, default=str).decode()
    except orjson.JSONEncodeError:  # an integer beyond 64 bits
        text = repr(value)
    return f"{text[:80]} ({_JSON_TYPES.get(type(value), type(value).__name__)})"


def _clean_value(field: Field, value: Any, bits: int) -> Any:
    what = f"Field '{field.name}'"
    if field.type is FieldType.INTEGER:
        return as_int(value, what, bits)
    if field.type is FieldType.BOOLEAN:
        return as_bool(value, what)
    text = as_str(value, what)
    if field.type is FieldType.ENUM and text not in field.values:
        raise InvalidParameter(f"{what} is '{text}'; it must be one of: {', '.join(field.values)}.")
    return text


def clean(
    fields: tuple[Field, ...],
    body: Mapping[str, Any],
    *,
    what: str,
    partial: bool,
    int_bits: Callable[[Field], int] = lambda _: 64,
) -> dict[str, Any]:
    """The checked values of ``body`` for ``fields``; ``partial`` (an edit) lets every field be left out.
    ``int_bits`` says how wide the database column behind an integer field is."""
    names = [f.name for f in fields]
    unknown = [k for k in body if k not in names]
    if unknown:
        raise InvalidParameter(
            f"Unknown field '{unknown[0]}' for {what}; the fields are: {', '.join(names)}."
        )
    out: dict[str, Any] = {}
    for field in fields:
        value = body.get(field.name)
        if value is None:
            if field.required and not partial:
                raise InvalidParameter(f"Missing required field '{field.name}' for {what}.")
            if field.name in body and field.required:
                raise InvalidParameter(f"Field '{field.name}' cannot be null.")
            if not partial and field.default is not None:
                out[field.name] = field.default
            continue
        cleaned = _clean_value(field, value, int_bits(field))
        for validator in field.validators:
            validator.check(field.name, cleaned)
        out[field.name] = cleaned
    if partial and not out:
        raise InvalidParameter(f"Nothing to change for {what}; give at least one of: {', '.join(names)}.")
    return out


def field_info(field: Field, choices: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    values: list[dict[str, Any]] = [{"id": v, "value": v} for v in field.values]
    return {
        "name": field.name,
        "label": field.label,
        "description": field.description,
        "type": field.type.value,
        "ui-type": field.widget,
        "default": field.default,
        "required": field.required,
        "validators": [v.info() for v in field.validators],
        "values": choices if choices is not None else values,
    }
