"""Which resource types the API server serves, and what a user means by ``deploy``.

Access checks must name resources exactly as the authorizer sees them (plural, API group), and a
type the server does not serve must be an error rather than a quiet "yes" from a wildcard rule.
Both need the server's own discovery documents, fetched once per session:

* aggregated discovery (``GET /api`` and ``GET /apis`` asking for ``APIGroupDiscoveryList``,
  Kubernetes 1.26+): two requests for everything, all versions included;
* legacy discovery when the server answers with a plain ``APIVersions``/``APIGroupList``: one
  request per preferred group-version (fetched concurrently), other versions on demand.

Type resolution follows kubectl's REST mapper: ``resource``, ``resource.group`` (exact group,
then group prefix such as ``storageclasses.storage``), ``resource.version.group``; a name matches
the plural, the singular or the Kind (case-insensitive) before any short name is tried; among
several groups the core group wins, then the order the server lists groups in (its priority).
"""

from __future__ import annotations

import difflib
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from pytest_incluster.errors import InclusterError

AGGREGATED_ACCEPT = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
    "application/json"
)
_LEGACY_WORKERS = 8
# A miss re-fetches (kubectl does the same) when what we hold is at least this old, so a CRD
# installed during the session is found while a file full of typos costs one re-fetch.
REFRESH_ON_MISS_AFTER_S = 5.0


@dataclass(frozen=True)
class ApiResource:
    """One resource type as served in one group-version (subresources folded in)."""

    name: str  # plural, e.g. "deployments"
    singular_name: str
    kind: str
    group: str  # "" for the core group
    version: str
    namespaced: bool
    verbs: tuple[str, ...] = ()
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    # (subresource, its verbs): what least-privilege snapshots expand ``*`` verbs into.
    subresource_verbs: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def verbs_of(self, subresource: str) -> tuple[str, ...]:
        """The verbs discovery lists for ``subresource`` ("" : the resource itself)."""
        if not subresource:
            return self.verbs
        return dict(self.subresource_verbs).get(subresource, ())

    @property
    def group_version(self) -> str:
        """``v1`` for the core group, else ``group/version`` (an object's ``apiVersion``)."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified_name(self) -> str:
        """``deployments.apps``; just the plural for the core group."""
        return f"{self.name}.{self.group}" if self.group else self.name


class DiscoveryError(InclusterError):
    """Discovery itself failed (no answer, 401/403/5xx on ``/api`` or ``/apis``)."""

    anchor = "discovery"


class UnknownResourceType(InclusterError):
    """The server serves no resource type by that name.

    ``str()`` is kubectl's wording, ``the server doesn't have a resource type "deplyments"``;
    ``suggestions`` holds close names the server does serve, ``incomplete`` the group-versions
    whose discovery failed (the type may live in one of them).
    """

    anchor = "access-file"

    def __init__(
        self,
        text: str,
        *,
        api_version: str = "",
        suggestions: Sequence[str] = (),
        incomplete: Sequence[str] = (),
    ) -> None:
        self.text = text
        self.api_version = api_version
        self.suggestions = tuple(suggestions)
        self.incomplete = tuple(incomplete)
        message = f'the server doesn\'t have a resource type "{text}"'
        if api_version:
            message += f' in apiVersion "{api_version}"'
        super().__init__(message)

    def hint(self) -> str:
        """Extra sentences for a failure message: close matches and failed discovery."""
        parts = []
        if self.suggestions:
            parts.append("did you mean " + " or ".join(f'"{s}"' for s in self.suggestions) + "?")
        if self.incomplete:
            parts.append(
                "discovery failed for " + ", ".join(self.incomplete) + ", so it may be served there"
            )
        return "; ".join(parts)


@dataclass
class _Catalog:
    """Everything discovered so far, in priority order."""

    by_version: dict[tuple[str, str], list[ApiResource]] = field(default_factory=dict)
    preferred: dict[str, str] = field(default_factory=dict)  # group -> preferred version
    versions: dict[str, list[str]] = field(default_factory=dict)  # group -> all versions
    failed: dict[str, str] = field(default_factory=dict)  # group-version -> why
    # Type names already resolved against this catalog: an access file asks about the same few
    # types hundreds of times, and each lookup otherwise scans every resource.
    resolved: dict[str, ApiResource] = field(default_factory=dict)

    def preferred_resources(self) -> list[ApiResource]:
        out: list[ApiResource] = []
        for group, version in self.preferred.items():
            out.extend(self.by_version.get((group, version), []))
        return out

    def ordered_resources(self) -> list[ApiResource]:
        """Preferred versions of every group first (priority order), then the other versions."""
        out = self.preferred_resources()
        for group, versions in self.versions.items():
            for version in versions:
                if version != self.preferred.get(group):
                    out.extend(self.by_version.get((group, version), []))
        return out


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str))


def _singular(declared: Any, kind: str) -> str:
    # Old servers and some aggregated APIs leave singularName empty; kubectl falls back to the
    # lower-cased Kind, which is what the singular is for every built-in type.
    return declared if isinstance(declared, str) and declared else kind.lower()


@dataclass(frozen=True)
class DiscoveredGroup:
    """One API group from aggregated discovery: versions in preference order."""

    name: str  # "" for the core group
    versions: tuple[str, ...]
    resources: dict[str, list[ApiResource]]  # version -> resources
    stale: tuple[str, ...] = ()  # versions whose aggregated API did not answer


def parse_aggregated(document: dict[str, Any]) -> list[DiscoveredGroup]:
    """The groups of an ``APIGroupDiscoveryList`` (v2 and v2beta1 share this shape)."""
    groups: list[DiscoveredGroup] = []
    for item in document.get("items") or []:
        if not isinstance(item, dict):
            continue
        metadata = item.get("metadata")
        name = metadata.get("name", "") if isinstance(metadata, dict) else ""
        group = name if isinstance(name, str) else ""
        versions: list[str] = []
        resources: dict[str, list[ApiResource]] = {}
        stale: list[str] = []
        for entry in item.get("versions") or []:
            if not isinstance(entry, dict) or not isinstance(entry.get("version"), str):
                continue
            version = entry["version"]
            versions.append(version)
            parsed = (
                _aggregated_resource(group, version, raw) for raw in entry.get("resources") or []
            )
            resources[version] = [r for r in parsed if r is not None]
            if entry.get("freshness") == "Stale":
                stale.append(version)
        groups.append(DiscoveredGroup(group, tuple(versions), resources, tuple(stale)))
    return groups


def _aggregated_resource(group: str, version: str, raw: Any) -> ApiResource | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("resource"), str):
        return None
    response_kind = raw.get("responseKind") or {}
    kind = response_kind.get("kind", "") if isinstance(response_kind, dict) else ""
    kind = kind if isinstance(kind, str) else ""
    subresource_verbs = tuple(
        (s["subresource"], _strings(s.get("verbs")))
        for s in raw.get("subresources") or []
        if isinstance(s, dict) and isinstance(s.get("subresource"), str)
    )
    subresources = tuple(name for name, _ in subresource_verbs)
    return ApiResource(
        name=raw["resource"],
        singular_name=_singular(raw.get("singularResource"), kind),
        kind=kind,
        group=group,
        version=version,
        namespaced=raw.get("scope") == "Namespaced",
        verbs=_strings(raw.get("verbs")),
        short_names=_strings(raw.get("shortNames")),
        subresources=subresources,
        subresource_verbs=subresource_verbs,
    )


def parse_resource_list(group: str, version: str, document: dict[str, Any]) -> list[ApiResource]:
    """The resources of one legacy ``APIResourceList``; ``pods/log`` entries become subresources."""
    top: list[dict[str, Any]] = []
    subs: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for raw in document.get("resources") or []:
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            continue
        name = raw["name"]
        if "/" in name:
            parent, sub = name.split("/", 1)
            subs.setdefault(parent, []).append((sub, _strings(raw.get("verbs"))))
        else:
            top.append(raw)
    out = []
    for raw in top:
        kind = raw["kind"] if isinstance(raw.get("kind"), str) else ""
        out.append(
            ApiResource(
                name=raw["name"],
                singular_name=_singular(raw.get("singularName"), kind),
                kind=kind,
                group=group,
                version=version,
                namespaced=raw.get("namespaced") is True,
                verbs=_strings(raw.get("verbs")),
                short_names=_strings(raw.get("shortNames")),
                subresources=tuple(sub for sub, _ in subs.get(raw["name"], ())),
                subresource_verbs=tuple(subs.get(raw["name"], ())),
            )
        )
    return out


def _split_type(text: str) -> list[tuple[str, str | None, str | None]]:
    """Candidate (resource, version, group) readings of ``text``, most specific first.

    ``deployments.v1.apps`` reads as version v1 of group apps, then as group ``v1.apps``;
    ``clusterrolebindings.rbac.authorization.k8s.io`` fails the first reading and passes the
    second, exactly like kubectl's ``ParseResourceArg``.
    """
    lowered = text.lower()
    readings: list[tuple[str, str | None, str | None]] = []
    if lowered.count(".") >= 2:
        resource, version, group = lowered.split(".", 2)
        readings.append((resource, version, group))
    if "." in lowered:
        resource, group = lowered.split(".", 1)
        readings.append((resource, None, group))
    else:
        readings.append((lowered, None, None))
    return readings


def _names(resource: ApiResource) -> tuple[str, ...]:
    return (resource.name, resource.singular_name, resource.kind.lower())


class Discovery:
    """The server's resource types, fetched lazily and once (thread-safe).

    ``client`` is any authenticated ``httpx.Client`` whose ``base_url`` is the API server. A
    type created later (a CRD installed mid-session) is seen after :meth:`refresh`.
    """

    def __init__(self, client: httpx.Client, *, aggregated: bool = True) -> None:
        self._client = client
        # aggregated=False asks like a pre-1.26 client, which tests use to exercise the legacy
        # path against a current server.
        self._accept = AGGREGATED_ACCEPT if aggregated else "application/json"
        self._lock = threading.Lock()
        self._catalog: _Catalog | None = None
        self._fetched_at = 0.0
        self._legacy = False

    # ---- fetching -------------------------------------------------------------------------

    def refresh(self) -> None:
        """Forget what was fetched; the next question fetches again."""
        with self._lock:
            self._catalog = None

    def _get(self, path: str, accept: str = "application/json") -> dict[str, Any]:
        try:
            response = self._client.get(path, headers={"Accept": accept})
        except httpx.HTTPStatusError as exc:  # a client that raises on non-2xx
            response = exc.response
        except httpx.HTTPError as exc:
            raise DiscoveryError(f"API discovery GET {path} failed: {exc}") from None
        if response.status_code != 200:
            raise DiscoveryError(
                f"API discovery GET {path} answered {response.status_code}: "
                f"{_status_message(response)}"
            )
        try:
            body = response.json()
        except ValueError:
            raise DiscoveryError(f"API discovery GET {path} returned no JSON") from None
        if not isinstance(body, dict):
            raise DiscoveryError(f"API discovery GET {path} returned {type(body).__name__}")
        return body

    def _catalog_now(self) -> _Catalog:
        with self._lock:
            if self._catalog is None:
                self._catalog = self._fetch()
                self._fetched_at = time.monotonic()
            return self._catalog

    def _refreshed_after_miss(self, seen: _Catalog, min_age: float) -> _Catalog | None:
        """A newer catalog if ``seen`` is at least ``min_age`` seconds old, else None."""
        with self._lock:
            if self._catalog is not seen:
                return self._catalog  # someone else re-fetched meanwhile
            if time.monotonic() - self._fetched_at < min_age:
                return None
            self._catalog = None
        return self._catalog_now()

    def _fetch(self) -> _Catalog:
        catalog = _Catalog()
        core = self._get("/api", self._accept)
        groups = self._get("/apis", self._accept)
        legacy_targets: list[tuple[str, str]] = []
        for body, path in ((core, "/api"), (groups, "/apis")):
            kind = body.get("kind")
            if kind == "APIGroupDiscoveryList":
                self._add_aggregated(catalog, body)
            elif kind == "APIVersions":
                legacy_targets.extend(self._add_core_versions(catalog, body))
            elif kind == "APIGroupList":
                legacy_targets.extend(self._add_group_list(catalog, body))
            else:
                raise DiscoveryError(f"API discovery GET {path} returned kind {kind!r}")
        if legacy_targets:
            self._legacy = True
            self._fetch_versions(catalog, legacy_targets)
        return catalog

    def _add_aggregated(self, catalog: _Catalog, body: dict[str, Any]) -> None:
        for group in parse_aggregated(body):
            if not group.versions:
                continue
            catalog.versions[group.name] = list(group.versions)
            catalog.preferred.setdefault(group.name, group.versions[0])
            for version in group.versions:
                catalog.by_version[(group.name, version)] = group.resources.get(version, [])
            for version in group.stale:
                catalog.failed[_gv(group.name, version)] = (
                    "stale: its aggregated API did not answer"
                )

    def _add_core_versions(self, catalog: _Catalog, body: dict[str, Any]) -> list[tuple[str, str]]:
        versions = list(_strings(body.get("versions"))) or ["v1"]
        catalog.versions[""] = versions
        catalog.preferred[""] = versions[0]
        return [("", versions[0])]

    def _add_group_list(self, catalog: _Catalog, body: dict[str, Any]) -> list[tuple[str, str]]:
        targets = []
        for group in body.get("groups") or []:
            if not isinstance(group, dict) or not isinstance(group.get("name"), str):
                continue
            name = group["name"]
            versions = [
                v["version"]
                for v in group.get("versions") or []
                if isinstance(v, dict) and isinstance(v.get("version"), str)
            ]
            preferred = group.get("preferredVersion") or {}
            chosen = preferred.get("version") if isinstance(preferred, dict) else None
            if not isinstance(chosen, str) or not chosen:
                chosen = versions[0] if versions else None
            if chosen is None:
                continue
            catalog.versions[name] = versions or [chosen]
            catalog.preferred[name] = chosen
            targets.append((name, chosen))
        return targets

    def _fetch_versions(self, catalog: _Catalog, targets: Iterable[tuple[str, str]]) -> None:
        def one(target: tuple[str, str]) -> tuple[tuple[str, str], list[ApiResource] | str]:
            group, version = target
            path = f"/apis/{group}/{version}" if group else f"/api/{version}"
            try:
                return target, parse_resource_list(group, version, self._get(path))
            except DiscoveryError as exc:
                return target, str(exc)

        with ThreadPoolExecutor(max_workers=_LEGACY_WORKERS) as pool:
            for (group, version), result in pool.map(one, list(targets)):
                if isinstance(result, str):
                    catalog.by_version[(group, version)] = []
                    catalog.failed[_gv(group, version)] = result
                else:
                    catalog.by_version[(group, version)] = result

    def _ensure_version(self, catalog: _Catalog, group: str, version: str) -> None:
        """Legacy mode fetches non-preferred versions only when someone names one."""
        if not self._legacy or (group, version) in catalog.by_version:
            return
        if version not in catalog.versions.get(group, []):
            return
        with self._lock:
            if (group, version) not in catalog.by_version:
                self._fetch_versions(catalog, [(group, version)])

    # ---- questions ------------------------------------------------------------------------

    def resources(self) -> list[ApiResource]:
        """Every resource type at its group's preferred version, in priority order."""
        return list(self._catalog_now().preferred_resources())

    def failed_group_versions(self) -> dict[str, str]:
        """Group-versions whose discovery failed or is stale, with why."""
        return dict(self._catalog_now().failed)

    def resolve_type(self, text: str) -> ApiResource:
        """The resource ``text`` names, as kubectl would read it; raises UnknownResourceType."""
        catalog = self._catalog_now()
        stripped = text.strip()
        if not stripped:
            raise UnknownResourceType(text)
        found = catalog.resolved.get(stripped)
        if found is not None:
            return found
        found = self._lookup(catalog, stripped)
        if found is None:
            newer = self._refreshed_after_miss(catalog, REFRESH_ON_MISS_AFTER_S)
            if newer is not None:
                catalog = newer
                found = self._lookup(catalog, stripped)
        if found is not None:
            catalog.resolved[stripped] = found
            return found
        raise UnknownResourceType(
            stripped,
            suggestions=_suggest(catalog, stripped.lower()),
            incomplete=sorted(catalog.failed),
        )

    def _lookup(self, catalog: _Catalog, text: str) -> ApiResource | None:
        for resource, version, group in _split_type(text):
            if version is not None and group is not None:
                self._ensure_version(catalog, group, version)
            found = _match(catalog, resource, version, group)
            if found is not None:
                return found
        return None

    def for_kind(self, api_version: str, kind: str) -> ApiResource:
        """The resource serving objects of ``kind`` in ``api_version`` (e.g. ``apps/v1``).

        A miss always re-fetches once: applying a custom resource right after its CRD is the
        normal way to meet a type this discovery has not seen yet.
        """
        catalog = self._catalog_now()
        found = self._kind_in(catalog, api_version, kind)
        if found is None:
            newer = self._refreshed_after_miss(catalog, 0.0)
            if newer is not None:
                catalog = newer
                found = self._kind_in(catalog, api_version, kind)
        if found is not None:
            return found
        raise UnknownResourceType(kind, api_version=api_version, incomplete=sorted(catalog.failed))

    def _kind_in(self, catalog: _Catalog, api_version: str, kind: str) -> ApiResource | None:
        group, _, version = api_version.rpartition("/")
        self._ensure_version(catalog, group, version)
        for resource in catalog.by_version.get((group, version), []):
            if resource.kind == kind:
                return resource
        return None


def _gv(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def _status_message(response: httpx.Response) -> str:
    try:
        response.read()
        body = response.json()
    except (ValueError, httpx.HTTPError):
        return response.reason_phrase or "no message"
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])[:500]
    return response.reason_phrase or "no message"


def _match(
    catalog: _Catalog, name: str, version: str | None, group: str | None
) -> ApiResource | None:
    ordered = catalog.ordered_resources()
    if version is not None:
        ordered = [r for r in ordered if r.version == version]
    if group is None:
        return _first(ordered, name)
    # Exact group first; failing that, a group prefix ("storageclasses.storage"), as kubectl does.
    exact = _first([r for r in ordered if r.group == group], name)
    if exact is not None:
        return exact
    return _first([r for r in ordered if r.group.startswith(group)], name)


def _first(candidates: list[ApiResource], name: str) -> ApiResource | None:
    """Full names (plural, singular, Kind) beat short names, so ``pv`` never shadows a plural."""
    for resource in candidates:
        if name in _names(resource):
            return resource
    for resource in candidates:
        if name in (s.lower() for s in resource.short_names):
            return resource
    return None


def _suggest(catalog: _Catalog, text: str) -> list[str]:
    known: dict[str, str] = {}
    for resource in catalog.preferred_resources():
        for label in (resource.name, resource.qualified_name, *resource.short_names):
            known.setdefault(
                label.lower(), resource.qualified_name if "." in text else resource.name
            )
    close = difflib.get_close_matches(text, list(known), n=3, cutoff=0.75)
    out: list[str] = []
    for label in close:
        if known[label] not in out:
            out.append(known[label])
    return out
