"""Administration from the client: users, groups and their members, API tokens, the audit trail.

Each call is one or two calls of the resource API (``user``, ``group``, ``membership``, ``token``,
``audit_event``); people and groups are named by name here and looked up by name there. Items are the
resource API's dicts: no call ever returns a password or a token hash, and a new token's secret is in
the answer to ``create_token`` only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from modelyard.client.errors import ModelyardError
from modelyard.client.resources import Filter, Resources

Time = int | datetime
"""Milliseconds since the epoch, or a datetime (naive ones are local time)."""


def to_ms(value: Time) -> int:
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else int(value)


class Admin:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources

    # -- who am I -----------------------------------------------------------------------------------
    def whoami(self) -> dict[str, Any]:
        """``{"id", "username", "is_admin", "groups": {group: role}}`` of the caller."""
        return dict(self.resources.endpoint("user", "me"))

    # -- users --------------------------------------------------------------------------------------
    def create_user(
        self,
        username: str,
        *,
        password: str | None = None,
        is_admin: bool = False,
        display_name: str = "",
        email: str = "",
        group: str | None = None,
        role: str | None = None,
    ) -> dict[str, Any]:
        """A new user (platform admins only), optionally added to ``group`` with ``role``."""
        body: dict[str, Any] = {
            "username": username,
            "is_admin": is_admin,
            "display_name": display_name,
            "email": email,
        }
        optional = {"password": password, "group": group, "role": role}
        body.update({k: v for k, v in optional.items() if v is not None})
        return self.resources.create("user", body)

    def list_users(self) -> list[dict[str, Any]]:
        return list(self.resources.iterate("user"))

    def get_user(self, username: str) -> dict[str, Any]:
        """The user with their memberships."""
        found = self.resources.find("user", "username", username, what="user")
        return self.resources.get("user", found["id"])

    def set_user_disabled(self, username: str, disabled: bool) -> dict[str, Any]:
        found = self.resources.find("user", "username", username, what="user")
        return self.resources.action("user", "disable" if disabled else "enable", found["id"])

    # -- groups -------------------------------------------------------------------------------------
    def create_group(self, name: str, description: str = "") -> dict[str, Any]:
        """A group and its default project, named like it (platform admins only)."""
        return self.resources.create("group", {"name": name, "description": description})

    def list_groups(self) -> list[dict[str, Any]]:
        return list(self.resources.iterate("group"))

    def get_group(self, name: str) -> dict[str, Any]:
        """The group with its ``members`` (username, role) and ``projects``."""
        found = self.resources.find("group", "name", name, what="group")
        return self.resources.get("group", found["id"])

    def set_member(self, group: str, username: str, role: str) -> dict[str, Any]:
        """Add ``username`` to ``group`` with ``role``, or change their role (group admins only)."""
        return self.resources.create("membership", {"group": group, "username": username, "role": role})

    def remove_member(self, group: str, username: str) -> dict[str, Any]:
        return self.resources.delete("membership", self._membership(group, username)["id"])

    def _membership(self, group: str, username: str) -> dict[str, Any]:
        items, _ = self.resources.list(
            "membership", [("group", "eq", group), ("username", "eq", username)], page_size=1
        )
        if not items:
            raise ModelyardError(
                f"User '{username}' is not a member of group '{group}' (or you do not have access to it).",
                error_code="RESOURCE_DOES_NOT_EXIST",
                status_code=404,
            )
        return items[0]

    # -- tokens -------------------------------------------------------------------------------------
    def create_token(
        self, *, name: str = "", expires_in_days: int | None = None, username: str | None = None
    ) -> dict[str, Any]:
        """A new token; its secret is the ``token`` of the answer, shown this once."""
        body: dict[str, Any] = {"name": name}
        if expires_in_days is not None:
            body["expires_in_days"] = expires_in_days
        if username is not None:
            body["username"] = username
        return self.resources.create("token", body)

    def list_tokens(self, username: str | None = None) -> list[dict[str, Any]]:
        """The tokens of ``username`` (default: the caller's own); never their secrets."""
        owner = username or str(self.whoami()["username"])
        return list(self.resources.iterate("token", [("username", "eq", owner)]))

    def revoke_token(self, token_id: int) -> dict[str, Any]:
        return self.resources.action("token", "revoke", token_id)

    # -- audit --------------------------------------------------------------------------------------
    def audit_events(
        self,
        *,
        resource_type: str | None = None,
        resource_id: str | None = None,
        resource: str | int | None = None,
        user: str | None = None,
        action: str | None = None,
        since: Time | None = None,
        until: Time | None = None,
        limit: int | None = 100,
    ) -> list[dict[str, Any]]:
        """Audit events, newest first, that match every given filter (``since`` and ``until`` included).

        ``resource`` is a resource's id or its name: events whose ``resource_id`` or ``resource_name``
        equals it. Names can be shared over time (a deployment deleted and another created with its
        name), so the events may belong to several resources; each event's ``resource_id`` tells them
        apart (``resources_of`` groups them). Each event has ``diff``: its changed fields one by one."""
        filters: list[Filter] = [
            (column, "eq", value)
            for column, value in (
                ("resource_type", resource_type),
                ("resource_id", resource_id),
                ("actor", user),
                ("action", action),
            )
            if value is not None
        ]
        if since is not None:
            filters.append(("time", "gt", to_ms(since) - 1))
        if until is not None:
            filters.append(("time", "lt", to_ms(until) + 1))
        if resource is None:
            return list(self.resources.iterate("audit_event", filters, limit=limit))
        # The resource API's filters are all AND: ask for the id and for the name, merge by seq.
        found: dict[int, dict[str, Any]] = {}
        for column in ("resource_id", "resource_name"):
            for event in self.resources.iterate(
                "audit_event", [*filters, (column, "eq", str(resource))], limit=limit
            ):
                found[int(event["seq"])] = event
        events = sorted(found.values(), key=lambda e: -int(e["seq"]))
        return events if limit is None else events[:limit]

    def history(self, resource_type: str, resource: str | int) -> list[dict[str, Any]]:
        """Every event of one resource by its id or name (``("deployment", 7)``, ``("user", "alice")``),
        newest first. By name, the events of every resource that had that name: see ``resources_of``."""
        return self.audit_events(resource_type=resource_type, resource=resource, limit=None)

    @staticmethod
    def resources_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The distinct resources ``events`` belong to, newest first: ``{"type", "id", "names", "events"}``
        (``id`` is a name for events written before names were recorded separately)."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for event in events:
            key = (str(event["resource_type"]), str(event["resource_id"]))
            entry = out.setdefault(key, {"type": key[0], "id": key[1], "names": [], "events": 0})
            entry["events"] += 1
            name = event.get("resource_name")
            if name and name not in entry["names"]:
                entry["names"].append(name)
        return list(out.values())

    def verify_audit(self) -> dict[str, Any]:
        """``{"ok", "checked", "problems"}``: whether the audit chain is intact (platform admins only)."""
        return dict(self.resources.endpoint("audit_event", "verify"))
