"""An audit event's change as a list of fields: ``predictors[main].replicas: 1 → 3``.

Events store ``{"before": {...}, "after": {...}}`` with the top-level fields that changed, whole. This
walks both sides down to the values that differ: nested objects by key (``spec.endpoint.private``),
lists of objects that each have a distinct ``name`` by that name (``predictors[main]``, so a
predictor added in front does not make every other one look changed), other lists by position
(``args[2]``). A field only on one side is ``added`` or ``removed``; a list or object that appears or
disappears whole is walked too, so each of its leaves is listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

ADDED: Final = "added"
REMOVED: Final = "removed"
CHANGED: Final = "changed"


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Final = _Missing()


def field_changes(changes: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """``[{"field", "change", "before", "after"}, ...]`` for an event's ``changes``, in the order the
    fields appear; ``before``/``after`` are null on the side where the field is absent."""
    if not changes:
        return []
    before, after = changes.get("before"), changes.get("after")
    if not isinstance(before, Mapping) and not isinstance(after, Mapping):
        return []
    out: list[dict[str, Any]] = []
    _walk("", before if isinstance(before, Mapping) else {}, after if isinstance(after, Mapping) else {}, out)
    return out


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _named(items: list[Any]) -> dict[str, Any] | None:
    """The items keyed by their ``name`` when every item is an object with a distinct string name."""
    named: dict[str, Any] = {}
    for item in items:
        name = item.get("name") if isinstance(item, Mapping) else None
        if not isinstance(name, str) or name in named:
            return None
        named[name] = item
    return named or None


def _container(value: Any) -> bool:
    return isinstance(value, Mapping | list) and bool(value)


def _walk(path: str, before: Any, after: Any, out: list[dict[str, Any]]) -> None:
    if before == after:
        return
    b_map = isinstance(before, Mapping) or (before is _MISSING and isinstance(after, Mapping))
    a_map = isinstance(after, Mapping) or (after is _MISSING and isinstance(before, Mapping))
    if b_map and a_map and (_container(before) or _container(after)):
        b = before if isinstance(before, Mapping) else {}
        a = after if isinstance(after, Mapping) else {}
        for key in dict.fromkeys([*b, *a]):
            _walk(_join(path, str(key)), b.get(key, _MISSING), a.get(key, _MISSING), out)
        return
    b_list = isinstance(before, list) or (before is _MISSING and isinstance(after, list))
    a_list = isinstance(after, list) or (after is _MISSING and isinstance(before, list))
    if b_list and a_list and (_container(before) or _container(after)):
        b_items = before if isinstance(before, list) else []
        a_items = after if isinstance(after, list) else []
        b_named, a_named = _named(b_items), _named(a_items)
        if (b_named is not None or not b_items) and (a_named is not None or not a_items):
            b_by, a_by = b_named or {}, a_named or {}
            for name in dict.fromkeys([*b_by, *a_by]):
                _walk(f"{path}[{name}]", b_by.get(name, _MISSING), a_by.get(name, _MISSING), out)
            return
        if all(not _container(v) for v in (*b_items, *a_items)):
            _leaf(path, before, after, out)  # a list of plain values reads best whole: [1, 2] → [1, 2, 3]
            return
        for i in range(max(len(b_items), len(a_items))):
            _walk(
                f"{path}[{i}]",
                b_items[i] if i < len(b_items) else _MISSING,
                a_items[i] if i < len(a_items) else _MISSING,
                out,
            )
        return
    _leaf(path, before, after, out)


def _leaf(path: str, before: Any, after: Any, out: list[dict[str, Any]]) -> None:
    change = ADDED if before is _MISSING else REMOVED if after is _MISSING else CHANGED
    out.append(
        {
            "field": path,
            "change": change,
            "before": None if before is _MISSING else before,
            "after": None if after is _MISSING else after,
        }
    )
