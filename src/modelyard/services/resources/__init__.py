"""Declared resources and the generic use cases behind the native resource API (cube-studio convention).

A resource is declared once as a ``ResourceSpec`` (columns, filters, forms, actions and service hooks);
``ResourceService`` then lists, shows, creates, updates, deletes and acts on it, whatever it is. The
registry of declared resources is built by ``default_registry()``; a new resource is one more spec in it.
"""

from modelyard.services.resources.forms import Field, FieldType, Length, Range, Regexp
from modelyard.services.resources.query import ListRequest
from modelyard.services.resources.service import ResourceService
from modelyard.services.resources.spec import (
    Action,
    Column,
    ColumnType,
    ManyToMany,
    OneToMany,
    ResourceRegistry,
    ResourceSpec,
)
from modelyard.services.resources.tracking import TRACKING_RESOURCES
from modelyard.storage.resource_query import Link, Op


def default_registry() -> ResourceRegistry:
    """Every resource modelyard serves under ``/<name>/api/``."""
    return ResourceRegistry(TRACKING_RESOURCES)


__all__ = [
    "Action",
    "Column",
    "ColumnType",
    "Field",
    "FieldType",
    "Length",
    "Link",
    "ListRequest",
    "ManyToMany",
    "OneToMany",
    "Op",
    "Range",
    "Regexp",
    "ResourceRegistry",
    "ResourceService",
    "ResourceSpec",
    "default_registry",
]
