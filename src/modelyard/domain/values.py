"""What every number and text a client sends must be before anything stores or compares it.

Integers are 64-bit (the database's BIGINT; MLflow's int64): a value outside is refused, never clamped
or left to overflow later. Text holds no NUL character (PostgreSQL cannot store one) and no lone UTF-16
surrogate (not Unicode: it can be neither stored nor written back in an answer). Ids and counters in
paths and query strings are ASCII digits: ``str.isdigit`` also accepts ``²`` and ``٣``, which ``int``
refuses. Every refusal names the field.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

from modelyard.domain.errors import InvalidParameter

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MAX_JSON_DEPTH = 64
"""How deeply a request's JSON may nest. MLflow's requests nest 4 levels, a deployment spec 5; the
answers and audit records that echo a value are written by encoders that stop at 255."""


def check_int64(field: str, value: int) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        shown = (
            str(value)
            if abs(value) < 10**40
            else f"{'-' if value < 0 else ''}a {len(str(abs(value)))}-digit number"
        )
        raise InvalidParameter(
            f"Invalid value {shown} for parameter '{field}': it must be a 64-bit integer, between "
            f"{INT64_MIN} and {INT64_MAX}."
        )
    return value


def ascii_digits(text: str, max_digits: int = 19) -> bool:
    """Whether ``text`` is 1 to ``max_digits`` ASCII digits (what ``int`` reads as a small whole number)."""
    return 0 < len(text) <= max_digits and text.isascii() and text.isdigit()


def bad_text(text: str) -> str | None:
    """Why ``text`` cannot be stored (a NUL character, a lone surrogate), or None."""
    if "\x00" in text:
        return "NUL characters (\\u0000) are not allowed"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "it holds a lone UTF-16 surrogate, which is not Unicode text"
    return None


def check_text(field: str, text: str) -> str:
    problem = bad_text(text)
    if problem is not None:
        raise InvalidParameter(f"Invalid value for parameter '{field}': {problem}.")
    return text


def _children(value: Any, where: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{where}.{key}" if where else str(key)
            yield name, key
            yield name, item
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield f"{where}[{i}]", item


def check_json(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Refuse a decoded JSON document that nests deeper than ``max_depth`` or holds text that cannot be
    stored, naming where (iterative: no depth can exhaust the stack)."""
    stack: list[tuple[str, Any, int]] = [("", value, 0)]
    while stack:
        where, item, depth = stack.pop()
        if isinstance(item, str):
            problem = bad_text(item)
            if problem is not None:
                shown = where.encode("utf-8", "backslashreplace").decode() or "the request body"
                raise InvalidParameter(f"Invalid value for parameter '{shown}': {problem}.")
        elif isinstance(item, dict | list):
            if depth >= max_depth:
                raise InvalidParameter(
                    f"The request body nests deeper than {max_depth} levels (at '{where}'); "
                    "no request of this API needs that."
                )
            stack.extend((name, child, depth + 1) for name, child in _children(item, where))


def artifact_subpath(raw: str, where: str) -> str:
    """A path inside an artifact location as a URI carries it, normalised: percent-escapes decoded (what
    the artifact proxy does before it reads), empty and ``.`` segments dropped. Refused, whatever its
    spelling (``..``, ``%2e%2e``, ``%252e%252e``, ``a\\..``), is anything that could leave the location."""
    text = raw
    for _ in range(3):  # a doubly encoded escape is decoded too: no spelling of '..' gets through
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    else:
        raise InvalidParameter(f"Invalid {where} '{raw}': its percent-escapes are encoded more than twice.")
    problem = bad_text(text)
    if problem is not None or "\\" in text:
        raise InvalidParameter(f"Invalid {where} '{raw}': {problem or 'backslashes are not allowed'}.")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidParameter(
            f"Invalid {where} '{raw}': '..' segments are not allowed; a source must lie inside the artifacts "
            "it names."
        )
    return "/".join(parts)
