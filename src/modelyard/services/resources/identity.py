"""Declarations of the identity resources: ``user``, ``group``, ``membership``, ``token``, ``audit_event``.

Every hook is one call into ``IdentityService`` (or ``AuditService``), which checks the actor's rights
and writes the audit event; the access policies here decide what each principal sees. Users see
themselves and the members of their groups; groups, their members and projects are seen by the
groups' members; a membership is changed by the group's admins; a token by its owner (and platform
admins); audit events by platform admins, and by group admins for their groups. No column reads a
password or token hash: the secret of a new token is in the answer to its creation, once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.orm import QueryableAttribute, Session

from modelyard.domain.audit_diff import field_changes
from modelyard.domain.errors import NotFound
from modelyard.domain.identity import Principal, Role
from modelyard.services.resources.access import ADD, DELETE, EDIT, GroupScoped, OwnerScoped, describe
from modelyard.services.resources.forms import Field, FieldType, Length, Range, Regexp
from modelyard.services.resources.spec import (
    Action,
    Column,
    ColumnType,
    Created,
    Endpoint,
    ManyToMany,
    OneToMany,
    ResourceSpec,
)
from modelyard.storage.orm import AuditEventRow, GroupRow, MembershipRow, ProjectRow, TokenRow, UserRow
from modelyard.storage.resource_query import GroupPath, Link, count_of, lookup

if TYPE_CHECKING:
    from modelyard.services.container import Services

_MS = "Milliseconds since the epoch."
_ROLES = tuple(r.label for r in Role)
_NAME = Regexp(
    r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}",
    "use 1-64 letters, digits, '_', '.', '@' or '-', starting alphanumeric.",
)


def _memberships(name: str, label: str, local_key: QueryableAttribute[Any]) -> Column:
    return Column(
        name,
        label,
        ColumnType.RELATION,
        "Group memberships and roles.",
        listed=False,
        orderable=False,
        searchable=False,
        relation=ManyToMany("membership", Link(MembershipRow, local_key, MembershipRow.id)),
    )


# ---- user --------------------------------------------------------------------------------------
class UserAccess:
    """Users see themselves and the members of their groups; only platform admins change users."""

    def visible(self, actor: Principal) -> ColumnElement[bool] | None:
        if actor.is_admin:
            return None
        if actor.user_id is None:
            return false()
        shared = select(MembershipRow.user_id).where(MembershipRow.group_id.in_(sorted(actor.roles)))
        return or_(UserRow.id == actor.user_id, UserRow.id.in_(shared))

    def check(
        self,
        session: Session,
        actor: Principal,
        *,
        primary_key: QueryableAttribute[Any],
        key: Any,
        operation: str,
        what: str,
    ) -> None:
        actor.require_platform_admin(what=describe(operation, what))

    def allowed(self, actor: Principal, operation: str) -> bool:
        return operation == "read" or actor.is_admin

    def requirement(self, operation: str) -> str:
        return "a platform admin"


def _create_user(svc: Services, actor: Principal, values: dict[str, Any]) -> int:
    return svc.identity.create_user(actor, **values).id


def _disable_user(svc: Services, actor: Principal, key: Any) -> None:
    svc.identity.set_disabled(actor, _username(svc, key), True)


def _enable_user(svc: Services, actor: Principal, key: Any) -> None:
    svc.identity.set_disabled(actor, _username(svc, key), False)


def _username(svc: Services, user_id: int) -> str:
    with svc.db.read() as s:
        name = s.scalar(select(UserRow.username).where(UserRow.id == user_id))
    if name is None:
        raise NotFound(f"No user with id={user_id} exists.")
    return name


def _me(svc: Services, actor: Principal) -> dict[str, Any]:
    """Who the request acts as, with the names of its groups and its role in each."""
    names = {g.id: g.name for g in svc.identity.list_groups(actor) if g.id in actor.roles}
    return {
        "id": actor.user_id,
        "username": actor.username,
        "is_admin": actor.is_admin,
        "groups": {names[g]: role.label for g, role in actor.roles.items() if g in names},
    }


USER = ResourceSpec(
    name="user",
    label="Users",
    description="People and service accounts. Platform admins create, disable and enable them.",
    row=UserRow,
    primary_key="id",
    title_column="username",
    columns=(
        Column("id", "Id", ColumnType.INTEGER),
        Column("username", "Username"),
        Column("display_name", "Display name"),
        Column("email", "Email"),
        Column("is_admin", "Platform admin", ColumnType.BOOLEAN),
        Column("disabled", "Disabled", ColumnType.BOOLEAN, "A disabled user's tokens are refused."),
        Column("created_at", "Created", ColumnType.TIMESTAMP, _MS),
        Column("updated_at", "Updated", ColumnType.TIMESTAMP, _MS),
        _memberships("memberships", "Memberships", MembershipRow.user_id),
    ),
    order_column="username",
    order_direction="asc",
    add_fields=(
        Field("username", "Username", required=True, validators=(_NAME,)),
        Field(
            "password",
            "Password",
            description="For HTTP Basic and the UI; leave out for a token-only account.",
            ui_type="password",
            validators=(Length(8, 1024),),
        ),
        Field("is_admin", "Platform admin", FieldType.BOOLEAN, default=False),
        Field("display_name", "Display name", default="", validators=(Length(0, 250),)),
        Field("email", "Email", default="", validators=(Length(0, 250),)),
        Field("group", "Group", description="A group to add the user to, by name."),
        Field("role", "Role", FieldType.ENUM, "The role in that group.", default="member", values=_ROLES),
    ),
    actions=(
        Action("disable", "Disable", _disable_user, "Disable the user? Their tokens stop working."),
        Action("enable", "Enable", _enable_user),
    ),
    endpoints=(Endpoint("me", "The user the request acts as, with its groups and roles.", _me),),
    create=_create_user,
    access=UserAccess(),
)


# ---- group -------------------------------------------------------------------------------------
def _create_group(svc: Services, actor: Principal, values: dict[str, Any]) -> int:
    return svc.identity.create_group(actor, name=values["name"], description=values["description"]).id


GROUP = ResourceSpec(
    name="group",
    label="Groups",
    description="Every project belongs to a group; members are viewers, members or admins of it. Creating a "
    "group also creates its default project, named like the group.",
    row=GroupRow,
    primary_key="id",
    title_column="name",
    columns=(
        Column("id", "Id", ColumnType.INTEGER),
        Column("name", "Name"),
        Column("description", "Description", ColumnType.TEXT),
        Column(
            "member_count",
            "Members",
            ColumnType.INTEGER,
            "How many users belong to the group.",
            source=count_of(MembershipRow.group_id, GroupRow.id),
        ),
        Column("created_at", "Created", ColumnType.TIMESTAMP, _MS),
        Column("updated_at", "Updated", ColumnType.TIMESTAMP, _MS),
        _memberships("members", "Members", MembershipRow.group_id),
        Column(
            "projects",
            "Projects",
            ColumnType.RELATION,
            "The group's projects.",
            listed=False,
            orderable=False,
            searchable=False,
            relation=ManyToMany("project", Link(ProjectRow, ProjectRow.group_id, ProjectRow.id)),
        ),
    ),
    order_column="name",
    order_direction="asc",
    add_fields=(
        Field("name", "Name", required=True, validators=(_NAME,)),
        Field("description", "Description", FieldType.TEXT, default=""),
    ),
    create=_create_group,
    access=GroupScoped(GroupPath(GroupRow.id), platform_admin=frozenset({ADD})),
)


# ---- membership --------------------------------------------------------------------------------
def _membership_id(svc: Services, group: str, username: str) -> int:
    with svc.db.read() as s:
        found = s.scalar(
            select(MembershipRow.id)
            .join(GroupRow, GroupRow.id == MembershipRow.group_id)
            .join(UserRow, UserRow.id == MembershipRow.user_id)
            .where(GroupRow.name == group, UserRow.username == username)
        )
    if found is None:
        raise NotFound(f"User '{username}' is not a member of group '{group}'.")
    return int(found)


def _names(svc: Services, membership_id: int) -> tuple[str, str]:
    with svc.db.read() as s:
        found = s.execute(
            select(GroupRow.name, UserRow.username)
            .select_from(MembershipRow)
            .join(GroupRow, GroupRow.id == MembershipRow.group_id)
            .join(UserRow, UserRow.id == MembershipRow.user_id)
            .where(MembershipRow.id == membership_id)
        ).first()
    if found is None:
        raise NotFound(f"No membership with id={membership_id} exists.")
    return str(found[0]), str(found[1])


def _set_member(svc: Services, actor: Principal, values: dict[str, Any]) -> int:
    svc.identity.set_member(actor, group=values["group"], username=values["username"], role=values["role"])
    return _membership_id(svc, values["group"], values["username"])


def _change_role(svc: Services, actor: Principal, key: Any, values: dict[str, Any]) -> None:
    group, username = _names(svc, key)
    svc.identity.set_member(actor, group=group, username=username, role=values["role"])


def _remove_member(svc: Services, actor: Principal, key: Any) -> None:
    group, username = _names(svc, key)
    svc.identity.remove_member(actor, group=group, username=username)


MEMBERSHIP = ResourceSpec(
    name="membership",
    label="Memberships",
    description="Who belongs to which group, with which role (viewer, member, admin). Adding a user who is "
    "already a member changes their role. Group admins manage their group's memberships.",
    row=MembershipRow,
    primary_key="id",
    title_column="username",
    columns=(
        Column("id", "Id", ColumnType.INTEGER),
        Column("group", "Group", source=lookup(MembershipRow.group_id, GroupRow.id, GroupRow.name)),
        Column("username", "User", source=lookup(MembershipRow.user_id, UserRow.id, UserRow.username)),
        Column("role", "Role", ColumnType.ENUM, values=_ROLES),
        Column("group_id", "Group id", ColumnType.INTEGER, relation=OneToMany("group")),
        Column("user_id", "User id", ColumnType.INTEGER, relation=OneToMany("user")),
        Column("created_at", "Added", ColumnType.TIMESTAMP, _MS),
    ),
    order_column="id",
    order_direction="asc",
    add_fields=(
        Field("group", "Group", description="The group's name.", required=True),
        Field("username", "User", description="The user's name.", required=True),
        Field("role", "Role", FieldType.ENUM, default="member", values=_ROLES),
    ),
    edit_fields=(Field("role", "Role", FieldType.ENUM, required=True, values=_ROLES),),
    create=_set_member,
    update=_change_role,
    delete=_remove_member,
    access=GroupScoped(
        GroupPath(MembershipRow.group_id), roles={ADD: Role.ADMIN, EDIT: Role.ADMIN, DELETE: Role.ADMIN}
    ),
)


# ---- token -------------------------------------------------------------------------------------
def _create_token(svc: Services, actor: Principal, values: dict[str, Any]) -> Created:
    token, secret = svc.identity.create_token(
        actor,
        username=values.get("username"),
        name=values["name"],
        expires_in_days=values.get("expires_in_days"),
    )
    return Created(token.id, {"token": secret})


def _revoke_token(svc: Services, actor: Principal, key: Any) -> None:
    svc.identity.revoke_token(actor, key)


TOKEN = ResourceSpec(
    name="token",
    label="API tokens",
    description="Bearer tokens. The secret is shown once, in the answer to the creation, and stored only "
    "as a hash; a revoked or expired token is refused.",
    row=TokenRow,
    primary_key="id",
    title_column="name",
    columns=(
        Column("id", "Id", ColumnType.INTEGER),
        Column("name", "Name"),
        Column("username", "User", source=lookup(TokenRow.user_id, UserRow.id, UserRow.username)),
        Column("user_id", "User id", ColumnType.INTEGER, relation=OneToMany("user")),
        Column("prefix", "Prefix", description="The token's first characters, to tell tokens apart."),
        Column("created_at", "Created", ColumnType.TIMESTAMP, _MS),
        Column("expires_at", "Expires", ColumnType.TIMESTAMP, _MS + " Empty: never."),
        Column("revoked_at", "Revoked", ColumnType.TIMESTAMP, _MS),
        Column("last_used_at", "Last used", ColumnType.TIMESTAMP, _MS),
    ),
    order_column="id",
    add_fields=(
        Field("name", "Name", description="What the token is for.", default="", validators=(Length(0, 250),)),
        Field("expires_in_days", "Expires in (days)", FieldType.INTEGER, validators=(Range(1, 36500),)),
        Field("username", "User", description="Platform admins may create tokens for other users."),
    ),
    actions=(Action("revoke", "Revoke", _revoke_token, "Revoke the token? It stops working at once."),),
    create=_create_token,
    access=OwnerScoped(TokenRow.user_id),
)


# ---- audit_event -------------------------------------------------------------------------------
def _verify(svc: Services, actor: Principal) -> dict[str, Any]:
    actor.require_platform_admin(what="verifying the audit trail")
    report = svc.audit.verify()
    return {"ok": report.ok, "checked": report.checked, "problems": list(report.problems)}


AUDIT_EVENT = ResourceSpec(
    name="audit_event",
    label="Audit events",
    description="Every change and every refused attempt, newest first; append-only and hash-chained. "
    "One resource's history: filter on resource_type and resource_id (or resource_name). Each item has a "
    "computed 'diff': [{field, change, before, after}] with nested fields spelled like "
    "'predictors[main].replicas'.",
    row=AuditEventRow,
    primary_key="seq",
    title_column="action",
    columns=(
        Column("seq", "Seq", ColumnType.INTEGER, "The event's place in the chain."),
        Column("time", "Time", ColumnType.TIMESTAMP, _MS),
        Column(
            "actor",
            "Actor",
            description="The username that acted ('anonymous' or 'token' for refused credentials).",
        ),
        Column("actor_id", "Actor id", ColumnType.INTEGER),
        Column("group_id", "Group", ColumnType.INTEGER, relation=OneToMany("group")),
        Column("resource_type", "Resource type"),
        Column(
            "resource_id",
            "Resource id",
            description="The resource's id, never reused (older events of users, groups, memberships, "
            "registered models, model versions, deployments and quotas hold the name here).",
        ),
        Column(
            "resource_name",
            "Resource name",
            description="The resource's name when the event was written (a deployment's, a user's); empty "
            "on older events.",
        ),
        Column("action", "Action"),
        Column("outcome", "Outcome", description="success, denied or unauthenticated."),
        Column(
            "changes",
            "Changes",
            ColumnType.JSON,
            "Before/after of the changed top-level fields, whole; summaries carry a 'count'. Each item also "
            "has 'diff': the changed fields one by one, [{field, change, before, after}].",
            orderable=False,
        ),
        Column("prev_hash", "Previous hash", listed=False, searchable=False, orderable=False),
        Column("hash", "Hash", listed=False, searchable=False, orderable=False),
    ),
    order_column="seq",
    endpoints=(Endpoint("verify", "Check the hash chain: {ok, checked, problems}.", _verify),),
    computed=lambda item: {"diff": field_changes(item.get("changes"))},
    access=GroupScoped(GroupPath(AuditEventRow.group_id), read=Role.ADMIN),
)

IDENTITY_RESOURCES = (USER, GROUP, MEMBERSHIP, TOKEN, AUDIT_EVENT)
