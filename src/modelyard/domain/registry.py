"""The model registry: registered models, their numbered versions, stages, aliases and sources.

A registered model has a unique name, belongs to one group, and holds versions numbered 1, 2, ...
per model; a number is never given out twice, even after its version is deleted, so that
``models:/name/3`` never silently changes meaning. A version points at its files through a
*source*: a logged model (``models:/m-<id>``), a run's artifact path (``runs:/<run>/<path>``),
another registered version (``models:/<name>/<version>``) or an artifact URI. Each version also has
a legacy stage (``None``/``Staging``/``Production``/``Archived``) and any number of aliases
(``champion``); an alias names one version of its model at a time. Names, limits and error codes
follow MLflow so that the official client and modelyard agree on what is valid.

Registry searches are evaluated here, in Python, on loaded values: the filter grammar is MLflow's
(``name LIKE 'iris%' AND tags.team = 'ml'``). Not obvious: a missing tag fails every comparison
except for ``mlflow.prompt.is_prompt``, which the client adds to every search as
``!= 'true'``; a model without that tag is not a prompt, so it satisfies ``!= 'true'`` and
``= 'false'`` (MLflow's rule; without it every search from the client would return nothing).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlparse

from modelyard.domain.errors import InvalidParameter
from modelyard.domain.search import (
    LIST_OPS,
    NUMERIC_OPS,
    TEXT_OPS,
    Comparison,
    Entity,
    Field,
    Grammar,
    Kind,
    Op,
    OrderBy,
)
from modelyard.domain.values import artifact_subpath

SEARCH_REGISTERED_MODELS_DEFAULT = 100
SEARCH_REGISTERED_MODELS_MAX = 1000
SEARCH_MODEL_VERSIONS_DEFAULT = 10_000
SEARCH_MODEL_VERSIONS_MAX = 200_000
MAX_MODEL_NAME_LENGTH = 256
MAX_ALIAS_LENGTH = 255
MAX_REGISTRY_TAG_VALUE_LENGTH = 100_000
PROMPT_TAG = "mlflow.prompt.is_prompt"

_ALIAS_RE = re.compile(r"^[\w\-]+$")
_RUN_ID_RE = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
_VERSION_ALIAS_RE = re.compile(r"^[vV]\d+$")


class Stage(StrEnum):
    """The legacy deployment stage of a version; ``Staging`` and ``Production`` are active."""

    NONE = "None"
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"

    @classmethod
    def parse(cls, raw: object) -> Stage:
        """A stage in any letter case (``production``), as MLflow accepts it."""
        if isinstance(raw, str):
            for stage in cls:
                if stage.value.lower() == raw.strip().lower():
                    return stage
        raise InvalidParameter(
            f"Invalid Model Version stage: {raw}. Value must be one of {', '.join(s.value for s in cls)}."
        )

    @property
    def active(self) -> bool:
        return self in (Stage.STAGING, Stage.PRODUCTION)


class VersionStatus(StrEnum):
    PENDING_REGISTRATION = "PENDING_REGISTRATION"
    FAILED_REGISTRATION = "FAILED_REGISTRATION"
    READY = "READY"


@dataclass(slots=True)
class ModelVersion:
    name: str
    version: int
    creation_timestamp: int
    last_updated_timestamp: int
    user_id: str
    current_stage: str
    description: str
    source: str
    run_id: str | None
    status: str
    status_message: str
    run_link: str
    model_id: str | None
    # where the version's files are: the artifact URI that ``get-download-uri`` answers
    storage_location: str
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RegisteredModel:
    name: str
    group_id: int
    creation_timestamp: int
    last_updated_timestamp: int
    user_id: str
    description: str
    tags: dict[str, str] = field(default_factory=dict)
    # alias -> version number
    aliases: dict[str, int] = field(default_factory=dict)
    latest_versions: list[ModelVersion] = field(default_factory=list)


# ---- validation ---------------------------------------------------------------------------------


def validate_model_name(name: object, param: str = "name") -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameter(f"Missing value for required parameter '{param}'.")
    if "/" in name or ":" in name:
        raise InvalidParameter(f"Invalid model name '{name}'. Names cannot contain '/' or ':'.")
    if len(name) > MAX_MODEL_NAME_LENGTH:
        raise InvalidParameter(
            f"Invalid model name: it has {len(name)} characters, the limit is {MAX_MODEL_NAME_LENGTH}."
        )
    return name


def parse_version(raw: object) -> int:
    """A version number as the wire carries it: ``"3"`` or ``3``."""
    if isinstance(raw, bool) or raw is None or raw == "":
        raise InvalidParameter("Missing value for required parameter 'version'.")
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise InvalidParameter(
            f"Parameter 'version' must be an integer, got '{raw}'. Versions are numbered 1, 2, 3, ..."
        ) from None
    if value < 1 or value > 2**31 - 1:
        raise InvalidParameter(f"Invalid version '{raw}': versions are numbered from 1.")
    return value


def validate_alias(alias: object) -> str:
    """An alias names a version: letters, digits, ``_`` and ``-``; not ``latest`` nor like ``v3``."""
    if not isinstance(alias, str) or not alias:
        raise InvalidParameter("Registered model alias name cannot be empty.")
    if not _ALIAS_RE.match(alias):
        raise InvalidParameter(
            f"Invalid alias name: '{alias}'. Aliases may only contain letters, digits, underscores (_) "
            "and dashes (-)."
        )
    if len(alias) > MAX_ALIAS_LENGTH:
        raise InvalidParameter(
            f"Invalid alias name: it has {len(alias)} characters, the limit is {MAX_ALIAS_LENGTH}."
        )
    if alias.lower() == "latest":
        raise InvalidParameter("'latest' alias name (case insensitive) is reserved; choose another alias.")
    if _VERSION_ALIAS_RE.match(alias):
        raise InvalidParameter(
            f"Version alias name '{alias}' is reserved (it reads as a version number); choose another alias."
        )
    return alias


def latest_per_stage(versions: Sequence[ModelVersion]) -> list[ModelVersion]:
    """The highest version in each stage, by version number."""
    best: dict[str, ModelVersion] = {}
    for v in versions:
        if v.current_stage not in best or v.version > best[v.current_stage].version:
            best[v.current_stage] = v
    return sorted(best.values(), key=lambda v: v.version)


# ---- sources ------------------------------------------------------------------------------------


class SourceKind(StrEnum):
    LOGGED_MODEL = "logged_model"  # models:/m-<id>
    REGISTERED = "registered"  # models:/<name>/<version>
    RUN = "run"  # runs:/<run_id>/<path>
    PROXIED = "proxied"  # mlflow-artifacts:/<experiment_id>/...
    URI = "uri"  # anything else: a path or a store URI


@dataclass(frozen=True, slots=True)
class ModelSource:
    """What a version's ``source`` points at; ``ref`` is the id, name or experiment it names."""

    kind: SourceKind
    ref: str
    path: str = ""
    version: int = 0  # for a registered version


def parse_source(source: object) -> ModelSource:
    if not isinstance(source, str) or not source.strip():
        raise InvalidParameter("Missing value for required parameter 'source'.")
    if source.startswith("models:/"):
        parts = source.removeprefix("models:/").strip("/").split("/")
        if len(parts) == 1 and parts[0]:
            return ModelSource(SourceKind.LOGGED_MODEL, parts[0])
        if len(parts) == 2 and parts[0] and parts[1].isdigit():
            return ModelSource(SourceKind.REGISTERED, parts[0], version=parse_version(parts[1]))
        raise InvalidParameter(
            f"Invalid source '{source}': use models:/<model_id> for a logged model or "
            "models:/<name>/<version> for a registered version."
        )
    if source.startswith("runs:/"):
        run_id, _, path = source.removeprefix("runs:/").strip("/").partition("/")
        if not _RUN_ID_RE.match(run_id):
            raise InvalidParameter(f"Invalid source '{source}': expected runs:/<run_id>/<artifact path>.")
        return ModelSource(SourceKind.RUN, run_id, artifact_subpath(path, "source"))
    if source.startswith("mlflow-artifacts:"):
        rest = source.removeprefix("mlflow-artifacts:")
        if rest.startswith("//"):  # mlflow-artifacts://host:port/path
            rest = rest[2:].partition("/")[2]
        path = artifact_subpath(rest, "source")
        return ModelSource(SourceKind.PROXIED, path.split("/", 1)[0], path)
    parsed = urlparse(source)
    artifact_subpath(parsed.path if parsed.scheme else source, "source")  # refuse '..' in any spelling
    return ModelSource(SourceKind.URI, source)


def lies_under(uri: str, base: str) -> bool:
    """Whether ``uri`` is ``base`` or a path below it (both normalised, without '..')."""
    base = base.rstrip("/")
    return uri.rstrip("/") == base or uri.startswith(base + "/")


def join_uri(base: str, path: str) -> str:
    return f"{base.rstrip('/')}/{path}" if path else base


# ---- search -------------------------------------------------------------------------------------

_PREFIXES = {
    "attributes": Entity.ATTRIBUTE,
    "attribute": Entity.ATTRIBUTE,
    "attr": Entity.ATTRIBUTE,
    "tags": Entity.TAG,
    "tag": Entity.TAG,
}
_TAG = Field(Kind.STRING, TEXT_OPS)
_NAME = Field(Kind.STRING, TEXT_OPS | LIST_OPS)
_TIME = Field(Kind.NUMBER, NUMERIC_OPS, whole=True)

REGISTERED_MODELS = Grammar(
    subject="registered models",
    prefixes=_PREFIXES,
    open_keys={Entity.TAG: _TAG},
    closed_keys={
        Entity.ATTRIBUTE: {"name": _NAME, "creation_timestamp": _TIME, "last_updated_timestamp": _TIME}
    },
    orderable=frozenset({Entity.ATTRIBUTE}),
)

MODEL_VERSIONS = Grammar(
    subject="model versions",
    prefixes=_PREFIXES,
    open_keys={Entity.TAG: _TAG},
    closed_keys={
        Entity.ATTRIBUTE: {
            "name": _NAME,
            "run_id": _NAME,
            "source_path": Field(Kind.STRING, TEXT_OPS),
            "version_number": Field(Kind.NUMBER, NUMERIC_OPS, whole=True),
            "creation_timestamp": _TIME,
            "last_updated_timestamp": _TIME,
        }
    },
    orderable=frozenset({Entity.ATTRIBUTE}),
)

REGISTERED_MODEL_ORDER_KEYS = ("name", "creation_timestamp", "last_updated_timestamp")
MODEL_VERSION_ORDER_KEYS = ("name", "version_number", "creation_timestamp", "last_updated_timestamp")
DEFAULT_MODEL_VERSION_ORDER = ("last_updated_timestamp DESC", "name ASC", "version_number DESC")


def parse_order(grammar: Grammar, clauses: Sequence[str], keys: Sequence[str]) -> list[OrderBy]:
    orders = grammar.parse_order_by(clauses)
    for order in orders:
        if order.key not in keys:
            raise InvalidParameter(
                f"Invalid order_by key '{order.key}' for {grammar.subject}; valid keys: {', '.join(keys)}."
            )
    return orders


def with_tiebreaks(orders: list[OrderBy], tiebreaks: Sequence[OrderBy]) -> list[OrderBy]:
    """Append each tie-breaker whose key the ordering does not already use, so pages are stable."""
    used = {o.key for o in orders}
    return [*orders, *(t for t in tiebreaks if t.key not in used)]


def _like(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    """SQL LIKE as a regex: ``%`` any run, ``_`` one character, a backslash escapes the next one."""
    out: list[str] = []
    chars = iter(pattern)
    for ch in chars:
        if ch == "\\":
            out.append(re.escape(next(chars, "\\")))
        else:
            out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


_COMPARE: dict[Op, Callable[[Any, Any], bool]] = {
    Op.EQ: lambda a, b: bool(a == b),
    Op.NE: lambda a, b: bool(a != b),
    Op.LT: lambda a, b: bool(a < b),
    Op.LE: lambda a, b: bool(a <= b),
    Op.GT: lambda a, b: bool(a > b),
    Op.GE: lambda a, b: bool(a >= b),
}


def _test(actual: Any, clause: Comparison) -> bool:
    op, expected = clause.op, clause.value
    if actual is None:
        if clause.entity is Entity.TAG and clause.key == PROMPT_TAG:
            return (op is Op.NE and expected == "true") or (op is Op.EQ and expected == "false")
        return False
    if op in LIST_OPS:
        listed = expected if isinstance(expected, tuple) else ()
        return (actual in listed) == (op is Op.IN)
    if op in (Op.LIKE, Op.ILIKE):
        return bool(_like(str(expected), ignore_case=op is Op.ILIKE).fullmatch(str(actual)))
    if isinstance(actual, float) and math.isnan(actual):
        return False
    return _COMPARE[op](actual, expected)


def matches(attributes: Mapping[str, Any], tags: Mapping[str, str], clauses: Sequence[Comparison]) -> bool:
    """Whether one model (or version), given by its attribute values and tags, passes every clause."""
    return all(
        _test(tags.get(c.key) if c.entity is Entity.TAG else attributes.get(c.key), c) for c in clauses
    )


def sort_in_place(items: list[Any], orders: Sequence[OrderBy], value: Callable[[Any, str], Any]) -> None:
    """Sort by several keys with mixed directions: stable sorts from the last key to the first."""
    for order in reversed(orders):
        key = order.key
        items.sort(key=lambda item: value(item, key), reverse=not order.ascending)
