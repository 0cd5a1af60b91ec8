"""Declared resources and the generic use cases behind the native resource API (cube-studio convention).

A resource is declared once as a ``ResourceSpec`` (columns, filters, forms, actions, service hooks and
an access policy); ``ResourceService`` then lists, shows, creates, updates, deletes and acts on it for
one principal, whatever it is, showing only the rows that principal may see. The registry of declared
resources is built by ``default_registry()``; a new resource is one more spec in it.
"""

from modelyard.services.resources.access import Access, GroupScoped, OwnerScoped, PlatformAdminOnly
from modelyard.services.resources.deployments import DEPLOYMENT_RESOURCES
from modelyard.services.resources.forms import Field, FieldType, Length, Range, Regexp
from modelyard.services.resources.identity import IDENTITY_RESOURCES
from modelyard.services.resources.query import ListRequest
from modelyard.services.resources.registry import REGISTRY_RESOURCES
from modelyard.services.resources.service import ResourceService
from modelyard.services.resources.spec import (
    Action,
    Column,
    ColumnType,
    Created,
    Endpoint,
    ManyToMany,
    OneToMany,
    ResourceRegistry,
    ResourceSpec,
)
from modelyard.services.resources.tracking import TRACKING_RESOURCES
from modelyard.storage.resource_query import GroupPath, Hop, Link, Op


def default_registry() -> ResourceRegistry:
    """Every resource modelyard serves under ``/<name>/api/``."""
    return ResourceRegistry(
        TRACKING_RESOURCES + IDENTITY_RESOURCES + REGISTRY_RESOURCES + DEPLOYMENT_RESOURCES
    )


__all__ = [
    "Access",
    "Action",
    "Column",
    "ColumnType",
    "Created",
    "Endpoint",
    "Field",
    "FieldType",
    "GroupPath",
    "GroupScoped",
    "Hop",
    "Length",
    "Link",
    "ListRequest",
    "ManyToMany",
    "OneToMany",
    "Op",
    "OwnerScoped",
    "PlatformAdminOnly",
    "Range",
    "Regexp",
    "ResourceRegistry",
    "ResourceService",
    "ResourceSpec",
    "default_registry",
]
