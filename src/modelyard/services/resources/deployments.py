"""Declaration of the ``deployment`` resource, and the use cases its dedicated routes share.

The generic framework lists, filters, describes (``_info``) and acts (``stop``, ``start``) on
deployments like on any resource. Three things do not fit it, so the API has dedicated routes for them
(``api/resources/deployments.py``) that call the functions here:

* the create and update bodies are JSON documents (``predictors`` is a list of objects), which form
  fields cannot express; they are checked strictly by ``domain.deployments.parse_spec`` instead, and the
  form fields below only *describe* them in ``_info``;
* ``<id>`` in a path is the numeric id *or* the deployment's name (names start with a letter, so the two
  never collide);
* show answers ``DeploymentService``'s view (spec, status, history, models), not just the row's columns.

Rows belong to a group: viewers read, members change staging deployments, the group's admins change
production ones (``DeploymentService`` checks that; the generic policy here is the first fence).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, literal, select

from modelyard.domain.deployments import Phase, Stage
from modelyard.domain.errors import HiddenNotFound, InvalidParameter, NotFound
from modelyard.domain.identity import Principal
from modelyard.services.resources.access import GroupScoped
from modelyard.services.resources.forms import Field, FieldType, Length, Regexp
from modelyard.services.resources.spec import Action, Column, ColumnType, OneToMany, ResourceSpec
from modelyard.storage.orm import DeploymentRow, GroupRow
from modelyard.storage.resource_query import GroupPath, lookup

if TYPE_CHECKING:
    from modelyard.services.container import Services

_MS = "Milliseconds since the epoch."
_ID_RE = re.compile(r"^[0-9]{1,10}$")
MAX_ID = 2**31 - 1
SPEC_FIELDS = ("display_name", "description", "stage", "stop", "endpoint", "predictors")
CREATE_FIELDS = ("name", "group", *SPEC_FIELDS)


# ---- ids and names -----------------------------------------------------------------------------
def _missing(raw: str) -> NotFound:
    return NotFound(f"Deployment '{raw}' does not exist (or you do not have access to it).")


def deployment_name(svc: Services, raw: Any, actor: Principal | None = None) -> str:
    """The name of the deployment that ``raw`` (a numeric id or a name) points at. An id of a deployment
    ``actor`` may not see is answered as missing here, by its id: the service's own answer would name it.
    What the actor may do with a visible one is checked by the service call that follows."""
    text = str(raw)
    if not _ID_RE.match(text):
        return text
    if int(text) > MAX_ID:
        raise _missing(text)
    with svc.db.read() as s:
        found = s.execute(
            select(DeploymentRow.name, DeploymentRow.group_id).where(DeploymentRow.id == int(text))
        ).first()
    if found is None:
        raise _missing(text)
    if actor is not None and actor.role_in(found.group_id) is None:
        raise HiddenNotFound(_missing(text).message, group_id=found.group_id)
    return str(found.name)


def deployment_id(svc: Services, actor: Principal, raw: Any) -> int:
    """The id of the deployment ``raw`` names, after checking that ``actor`` may read it."""
    return int(svc.deployments.get(actor, deployment_name(svc, raw, actor))["id"])


# ---- bodies ------------------------------------------------------------------------------------
def _object(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidParameter(f"{what}: expected a JSON object.")
    return body


def create_deployment(svc: Services, actor: Principal, body: Any) -> dict[str, Any]:
    """``POST /deployment/api/``: ``name``, optional ``group`` and the spec's fields at the top level."""
    data = _object(body, "body")
    unknown = sorted(set(data) - set(CREATE_FIELDS))
    if unknown:
        raise InvalidParameter(
            f"body: unknown field(s) {unknown}; a deployment is created with: {', '.join(CREATE_FIELDS)}."
        )
    if "name" not in data:
        raise InvalidParameter("name: required (1-40 lowercase letters, digits and '-').")
    group = data.get("group")
    if group is not None and not isinstance(group, str):
        raise InvalidParameter(f"group: expected a group's name, got {group!r}.")
    spec = {k: v for k, v in data.items() if k in SPEC_FIELDS}
    return svc.deployments.create(actor, data["name"], spec, group=group)


def update_deployment(svc: Services, actor: Principal, key: Any, body: Any) -> dict[str, Any]:
    """``PUT /deployment/api/<id>``: a partial spec (the fields given replace the current ones;
    ``predictors`` items are matched to the current predictors by name)."""
    data = _object(body, "body")
    if not data:
        raise InvalidParameter(f"body: nothing to change; give at least one of: {', '.join(SPEC_FIELDS)}.")
    return svc.deployments.update(actor, deployment_name(svc, key, actor), data)


def history(svc: Services, actor: Principal, key: Any) -> list[dict[str, Any]]:
    """The spec history, newest first, each entry with its ``index`` (what ``rollback`` takes)."""
    entries = svc.deployments.get(actor, deployment_name(svc, key, actor))["history"]
    return [{"index": i, **entry} for i, entry in enumerate(entries)]


# ---- hooks and actions (keys are ids here: the generic layer resolved them) ---------------------
def _by_id(svc: Services, key: Any) -> str:
    return deployment_name(svc, key)


def _create(svc: Services, actor: Principal, values: dict[str, Any]) -> int:
    return int(create_deployment(svc, actor, values)["id"])


def _update(svc: Services, actor: Principal, key: Any, values: dict[str, Any]) -> None:
    update_deployment(svc, actor, key, values)


def _delete(svc: Services, actor: Principal, key: Any) -> None:
    svc.deployments.delete(actor, _by_id(svc, key))


def _stop(svc: Services, actor: Principal, key: Any) -> None:
    svc.deployments.stop(actor, _by_id(svc, key))


def _start(svc: Services, actor: Principal, key: Any) -> None:
    svc.deployments.start(actor, _by_id(svc, key))


def _restart(svc: Services, actor: Principal, key: Any) -> None:
    svc.deployments.restart(actor, _by_id(svc, key))


def _rollback(svc: Services, actor: Principal, key: Any) -> None:
    svc.deployments.rollback(actor, _by_id(svc, key), 1)


# ---- access --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LiveDeployments(GroupScoped):
    """The group policy, with deployments being deleted left out of every read."""

    def visible(self, actor: Principal) -> ColumnElement[bool] | None:
        live = DeploymentRow.deleting.is_(False)
        condition = super().visible(actor)
        return live if condition is None else and_(condition, live)


# ---- the declaration -----------------------------------------------------------------------------
_JSON_HELP = "A JSON value (see docs/deployments.md)."
_PREDICTORS_HELP = (
    'A JSON list: [{"name": "main", "model": "models:/iris/1", "replicas": 1, "resources": {"cpu": '
    '"500m", "memory": "512Mi", "gpu": 0}, "instance_type": "", "env": {}, "traffic": 100, '
    '"batching": {"max_batch_size": 0, "max_batch_wait_ms": 5}}].'
)
_SPEC_FORM = (
    Field("display_name", "Display name", default="", validators=(Length(0, 250),)),
    Field("description", "Description", FieldType.TEXT, default=""),
    Field("stop", "Stopped", FieldType.BOOLEAN, "True: no replicas run; the endpoint stays.", default=False),
    Field(
        "endpoint",
        "Endpoint",
        description='A JSON object: {"access": "public" | "private"} (private: client tokens needed).',
        ui_type="json",
    ),
    Field("predictors", "Predictors", description=_PREDICTORS_HELP, ui_type="json"),
)
_ADD_FORM = (
    Field(
        "name",
        "Name",
        description="1-40 lowercase letters, digits and '-', starting with a letter: part of the endpoint URL.",
        required=True,
        validators=(Regexp(r"[a-z]([a-z0-9-]{0,38}[a-z0-9])?", "use lowercase letters, digits and '-'."),),
    ),
    Field("group", "Group", description="The group's name; default: your only group, or 'default'."),
    Field(
        "stage",
        "Stage",
        FieldType.ENUM,
        "Production needs the group's admin role.",
        default=Stage.STAGING.value,
        values=tuple(s.value for s in Stage),
    ),
    *_SPEC_FORM,
)
JSON_FIELDS = frozenset({"endpoint", "predictors"})

DEPLOYMENT = ResourceSpec(
    name="deployment",
    label="Deployments",
    description="Registered model versions served over HTTP at /deployment/<name>/, with replicas, "
    "phases, spec history, group quotas and client tokens. See docs/deployments.md.",
    row=DeploymentRow,
    primary_key="id",
    title_column="name",
    order_column="name",
    order_direction="asc",
    columns=(
        Column("id", "Id", ColumnType.INTEGER),
        Column("name", "Name"),
        Column("group_id", "Group id", ColumnType.INTEGER, relation=OneToMany("group")),
        Column(
            "group",
            "Group",
            description="The owning group's name.",
            source=lookup(DeploymentRow.group_id, GroupRow.id, GroupRow.name),
        ),
        Column("owner", "Owner", description="Who created it."),
        Column("stage", "Stage", ColumnType.ENUM, values=tuple(s.value for s in Stage)),
        Column("phase", "Phase", ColumnType.ENUM, values=tuple(p.value for p in Phase)),
        Column("message", "Message", ColumnType.TEXT, "Why the deployment is in its phase."),
        Column("replicas", "Replicas", ColumnType.INTEGER, "Replicas that exist now."),
        Column("available_replicas", "Available", ColumnType.INTEGER, "Replicas ready to answer."),
        Column(
            "endpoint",
            "Endpoint",
            description="Where the deployment answers, below the server's URL.",
            searchable=False,
            orderable=False,
            source=literal("/deployment/") + DeploymentRow.name,
        ),
        Column("spec", "Spec", ColumnType.JSON, "The desired state.", orderable=False),
        Column(
            "models",
            "Models",
            ColumnType.JSON,
            "Per predictor: the model, its version and the files its replicas load.",
            listed=False,
            orderable=False,
        ),
        Column(
            "source_deployment_id",
            "Promoted from",
            ColumnType.INTEGER,
            "The staging deployment a production one was promoted from.",
            relation=OneToMany("deployment"),
        ),
        Column("generation", "Generation", ColumnType.INTEGER, "Bumped by every spec change."),
        Column("created_at", "Created", ColumnType.TIMESTAMP, _MS),
        Column("updated_at", "Updated", ColumnType.TIMESTAMP, _MS),
    ),
    add_fields=_ADD_FORM,
    edit_fields=_SPEC_FORM,
    create=_create,
    update=_update,
    delete=_delete,
    actions=(
        Action("stop", "Stop", _stop, "Stop every replica? The endpoint stays and answers 503."),
        Action("start", "Start", _start),
        Action(
            "restart",
            "Restart",
            _restart,
            "Replace every replica with a new one (surge-first)? A Failed deployment tries again.",
        ),
        Action("rollback", "Roll back", _rollback, "Restore the spec before the latest change?"),
    ),
    access=LiveDeployments(GroupPath(DeploymentRow.group_id)),
)

DEPLOYMENT_RESOURCES = (DEPLOYMENT,)
