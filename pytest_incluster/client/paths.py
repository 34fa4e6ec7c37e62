"""URL paths for API objects, built as plain data so they are tested without HTTP.

``/api/v1/...`` for the core group, ``/apis/<group>/<version>/...`` otherwise, with
``namespaces/<ns>/`` for namespaced resources. Names are percent-encoded so a name can never
change the path's shape.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import quote


class ResourceLike(Protocol):
    """The parts of a discovered API resource that a path needs."""

    @property
    def name(self) -> str: ...  # plural, e.g. "deployments"
    @property
    def group(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def namespaced(self) -> bool: ...


def split_api_version(api_version: str) -> tuple[str, str]:
    """``"apps/v1"`` -> ``("apps", "v1")``; ``"v1"`` -> ``("", "v1")``."""
    group, _, version = api_version.rpartition("/")
    return group, version


def api_prefix(group: str, version: str) -> str:
    """``/api/v1`` for the core group, ``/apis/<group>/<version>`` otherwise."""
    return f"/api/{version}" if not group else f"/apis/{group}/{version}"


def resource_path(
    resource: ResourceLike,
    *,
    namespace: str | None,
    name: str | None = None,
    subresource: str | None = None,
    all_namespaces: bool = False,
) -> str:
    """Collection path, or the object path when ``name`` is given (``subresource`` appended).

    ``namespace`` is ignored for cluster-scoped resources and required for namespaced ones,
    unless ``all_namespaces`` asks for the path across namespaces (``/api/v1/pods``).
    """
    path = api_prefix(resource.group, resource.version)
    if resource.namespaced and namespace:
        path += f"/namespaces/{quote(namespace, safe='')}"
    elif resource.namespaced and not all_namespaces:
        raise ValueError(f"{resource.name} is namespaced; a namespace is required")
    path += f"/{resource.name}"
    if name is not None:
        if not name:
            raise ValueError(f"an empty name cannot address a single {resource.name} object")
        path += f"/{quote(name, safe='')}"
    if subresource:
        path += f"/{subresource}"
    return path
