"""The native resource API (cube-studio convention) from the client side: one generic set of calls for
every resource the server declares, under ``/<resource>/api/``.

Answers come in the envelope ``{"status": 0, "message": "success", "result": ...}``; these calls return
the ``result``. Items are plain dicts keyed by column name (``GET /<resource>/api/_info`` lists them).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson

from modelyard.client.errors import BAD_RESPONSE, ModelyardError
from modelyard.client.transport import Transport

Filter = tuple[str, str, Any]
"""``(column, operator, value)``, e.g. ``("name", "eq", "alice")``; operators as in ``_info``."""
PAGE = 500


def _result(data: dict[str, Any]) -> Any:
    if data.get("status") != 0 or "result" not in data:
        raise ModelyardError(
            f"Unexpected answer from the resource API: {str(data)[:200]}", error_code=BAD_RESPONSE
        )
    return data["result"]


class Resources:
    def __init__(self, http: Transport) -> None:
        self._http = http

    def info(self, resource: str) -> dict[str, Any]:
        return dict(_result(self._http.get(f"/{resource}/api/_info")))

    def list(
        self,
        resource: str,
        filters: Sequence[Filter] = (),
        *,
        page: int = 0,
        page_size: int | None = None,
        order_column: str | None = None,
        order_direction: str | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of items, and how many items match in all."""
        form: dict[str, Any] = {
            "filters": [{"col": c, "opr": o, "value": v} for c, o, v in filters],
            "page": page,
        }
        for key, value in (
            ("page_size", page_size),
            ("order_column", order_column),
            ("order_direction", order_direction),
        ):
            if value is not None:
                form[key] = value
        result = _result(self._http.get(f"/{resource}/api/", {"form_data": orjson.dumps(form).decode()}))
        return list(result["data"]), int(result["count"])

    def iterate(
        self,
        resource: str,
        filters: Sequence[Filter] = (),
        *,
        limit: int | None = None,
        order_column: str | None = None,
        order_direction: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every matching item (at most ``limit``), page after page."""
        size = PAGE if limit is None else max(1, min(PAGE, limit))
        page, seen = 0, 0
        while True:
            items, total = self.list(
                resource,
                filters,
                page=page,
                page_size=size,
                order_column=order_column,
                order_direction=order_direction,
            )
            for item in items:
                if limit is not None and seen >= limit:
                    return
                yield item
                seen += 1
            if len(items) < size or (page + 1) * size >= total:
                return
            page += 1

    def find(self, resource: str, column: str, value: Any, *, what: str) -> dict[str, Any]:
        """The one item whose ``column`` equals ``value``; a not-found error naming ``what`` else."""
        items, _ = self.list(resource, [(column, "eq", value)], page_size=1)
        if not items:
            raise ModelyardError(
                f"No {what} '{value}' (or you do not have access to it).",
                error_code="RESOURCE_DOES_NOT_EXIST",
                status_code=404,
            )
        return items[0]

    def get(self, resource: str, key: Any) -> dict[str, Any]:
        return dict(_result(self._http.get(f"/{resource}/api/{key}")))

    def create(self, resource: str, body: Mapping[str, Any]) -> dict[str, Any]:
        # not retried once sent: creating twice is not the same as creating once
        return dict(_result(self._http.call("POST", f"/{resource}/api/", body=body, idempotent=False)))

    def update(self, resource: str, key: Any, body: Mapping[str, Any]) -> dict[str, Any]:
        return dict(_result(self._http.call("PUT", f"/{resource}/api/{key}", body=body)))

    def delete(self, resource: str, key: Any) -> dict[str, Any]:
        return dict(_result(self._http.call("DELETE", f"/{resource}/api/{key}")))

    def action(self, resource: str, name: str, key: Any) -> dict[str, Any]:
        return dict(_result(self._http.get(f"/{resource}/api/action/{name}/{key}")))

    def multi_action(self, resource: str, name: str, keys: Sequence[Any]) -> dict[str, Any]:
        return dict(_result(self._http.post(f"/{resource}/api/multi_action/{name}", {"ids": list(keys)})))

    def endpoint(self, resource: str, name: str) -> Any:
        return _result(self._http.get(f"/{resource}/api/{name}"))
