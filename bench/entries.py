"""The access checks every contender answers: generated, deterministic, and rendered four ways.

One :class:`Entry` is one SelfSubjectAccessReview. It is rendered as an access-matrix line (A),
as ``kubectl auth can-i`` arguments (B), and as the review's attributes (C and D), from the same
fields, so all contenders ask exactly the same question. The attributes are written out here
rather than asked of the plugin (D is the yardstick for the plugin and must not share its code);
:func:`check_types` confirms the type table against the server's discovery before anything is
timed, so a table mistake fails the setup instead of showing up as a "disagreement".

Two rules keep kubectl honest without changing what is asked:

* Cluster-scoped types are never written with ``-n``: ``kubectl auth can-i`` would still send a
  namespace (RoleBindings there would then count), while the plugin and the API server's real
  requests drop it.
* Named objects of ``namespaces`` are not generated: the server authorizes ``namespaces/NAME``
  *in* namespace NAME, which kubectl does not copy.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from pytest_incluster.access.decision import AccessRequest
from pytest_incluster.access.review import review_body

TEAM_NAMESPACES = (
    "shop",
    "payments",
    "search",
    "frontend",
    "backend",
    "data",
    "ml",
    "monitoring",
    "ci",
    "staging",
)
NAMESPACES = (*TEAM_NAMESPACES, "kube-system", "default")
RUNNER_NAMESPACE = "ci"
RUNNER_NAME = "bench-runner"


@dataclass(frozen=True)
class ResourceType:
    """A type as typed in an entry, and what the server calls it."""

    typed: str  # "deployments.apps"
    resource: str  # "deployments"
    group: str  # "apps"
    version: str  # "v1"
    namespaced: bool
    subresources: Mapping[str, tuple[str, ...]]  # subresource -> verbs that make sense on it


def _t(
    typed: str, version: str, namespaced: bool = True, **subresources: tuple[str, ...]
) -> ResourceType:
    resource, _, group = typed.partition(".")
    return ResourceType(typed, resource, group, version, namespaced, subresources)


NAMESPACED_TYPES = (
    _t("pods", "v1", log=("get",), exec=("create", "get"), status=("get", "update", "patch")),
    _t("secrets", "v1"),
    _t("configmaps", "v1"),
    _t("services", "v1"),
    _t("serviceaccounts", "v1"),
    _t("deployments.apps", "v1", scale=("get", "update", "patch")),
    _t("jobs.batch", "v1"),
    _t("cronjobs.batch", "v1"),
    _t("roles.rbac.authorization.k8s.io", "v1"),
    _t("rolebindings.rbac.authorization.k8s.io", "v1"),
    _t("ingresses.networking.k8s.io", "v1"),
)
CLUSTER_TYPES = (
    _t("namespaces", "v1", namespaced=False),
    _t("nodes", "v1", namespaced=False),
    _t("clusterroles.rbac.authorization.k8s.io", "v1", namespaced=False),
)
# Reads dominate real access matrices; weights per verb.
VERBS = {"get": 3, "list": 3, "watch": 1, "create": 2, "update": 1, "patch": 1, "delete": 1}
NAMED_VERBS = {"get": 3, "update": 1, "patch": 1, "delete": 1}
OBJECT_NAMES = (
    "web",
    "api",
    "worker",
    "db-credentials",
    "api-key",
    "kube-root-ca.crt",
    "nightly",
    "frontend-v2",
    "cache",
    "reports",
)
PATHS = (
    "/healthz",
    "/livez",
    "/readyz",
    "/version",
    "/metrics",
    "/api",
    "/apis",
    "/openapi/v2",
    "/logs",
    "/debug/pprof/",
)
PATH_VERBS = ("get", "get", "get", "post", "put", "delete")


@dataclass(frozen=True)
class Entry:
    """One access question. ``explicit_namespace`` False: the runner's namespace, no ``-n``."""

    verb: str
    type: ResourceType | None = None
    namespace: str | None = None
    explicit_namespace: bool = True
    name: str | None = None
    subresource: str | None = None
    path: str | None = None

    @property
    def key(self) -> tuple[Any, ...]:
        """What the authorizer is asked; two entries with one key would be one review."""
        if self.type is None:
            return ("path", self.verb, self.path)
        t = self.type
        return (t.group, t.resource, self.subresource, self.verb, self.namespace, self.name)

    def matrix_text(self) -> str:
        """The access-matrix line (A); also the test's name in the JUnit XML."""
        if self.type is None:
            return f"{self.verb} {self.path}"
        return " ".join([self.verb, self._target(), *self._flags()])

    def kubectl_args(self) -> list[str]:
        """``kubectl auth can-i`` arguments (B)."""
        if self.type is None:
            return ["auth", "can-i", self.verb, str(self.path)]
        return ["auth", "can-i", self.verb, self._target(), *self._flags()]

    def access_request(self) -> AccessRequest:
        """The question as the plugin models it."""
        if self.type is None:
            return AccessRequest(verb=self.verb, path=self.path)
        t = self.type
        return AccessRequest(
            verb=self.verb,
            resource=t.resource,
            group=t.group,
            version=t.version,
            namespace=self.namespace,
            name=self.name,
            subresource=self.subresource,
        )

    def review_body(self) -> dict[str, Any]:
        """The SelfSubjectAccessReview (D): the very body the plugin sends for this question."""
        return review_body(self.access_request())

    def resource_attributes(self) -> dict[str, str]:
        """The non-empty ``resourceAttributes`` (C), taken from the same body."""
        assert self.type is not None
        attributes: dict[str, str] = self.review_body()["spec"]["resourceAttributes"]
        return attributes

    def _target(self) -> str:
        assert self.type is not None
        return self.type.typed + (f"/{self.name}" if self.name else "")

    def _flags(self) -> list[str]:
        flags = [f"--subresource={self.subresource}"] if self.subresource else []
        if self.namespace and self.explicit_namespace:
            flags += ["-n", self.namespace]
        return flags


def _verb(rng: random.Random, weights: Mapping[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


# Object names for matrices larger than the plain mix has distinct checks (10,000 does not fit).
WIDE_NAMES = tuple(f"{name}-{i}" for name in OBJECT_NAMES for i in range(2, 60))
# Consecutive repeats after which the plain mix counts as exhausted; independent of the count
# asked for, so a smaller matrix is always a prefix of a larger one of the same seed.
_EXHAUSTED = 5000


def _draw(rng: random.Random, names: Sequence[str] = OBJECT_NAMES) -> Entry:
    """One random entry; the weights give a realistic mix of plain, named, scoped and URL checks."""
    kind = rng.choices(
        ("plain", "named", "subresource", "cluster", "path"), weights=(55, 22, 8, 8, 7)
    )[0]
    if kind == "path":
        return Entry(verb=rng.choice(PATH_VERBS), path=rng.choice(PATHS))
    if kind == "cluster":
        cluster_type = rng.choice(CLUSTER_TYPES)
        name = rng.choice(("node-1", "system:basic-user")) if rng.random() < 0.2 else None
        if cluster_type.resource == "namespaces":
            name = None  # see the module docstring
        return Entry(verb=_verb(rng, NAMED_VERBS if name else VERBS), type=cluster_type, name=name)
    explicit = rng.random() < 0.85
    namespace = rng.choice(NAMESPACES) if explicit else RUNNER_NAMESPACE
    if kind == "subresource":
        owner = rng.choice([t for t in NAMESPACED_TYPES if t.subresources])
        sub = rng.choice(sorted(owner.subresources))
        return Entry(
            verb=rng.choice(owner.subresources[sub]),
            type=owner,
            namespace=namespace,
            explicit_namespace=explicit,
            name=rng.choice(names),
            subresource=sub,
        )
    rtype = rng.choice(NAMESPACED_TYPES)
    if kind == "named":
        return Entry(
            verb=_verb(rng, NAMED_VERBS),
            type=rtype,
            namespace=namespace,
            explicit_namespace=explicit,
            name=rng.choice(names),
        )
    return Entry(
        verb=_verb(rng, VERBS), type=rtype, namespace=namespace, explicit_namespace=explicit
    )


def generate(count: int, seed: int) -> list[Entry]:
    """``count`` distinct entries, the same for the same seed (prefixes are smaller sets).

    When the plain mix runs out of distinct checks (after a few thousand), named checks draw
    from :data:`WIDE_NAMES` as well, so 10,000 and more can be generated.
    """
    rng = random.Random(seed)
    entries: list[Entry] = []
    seen: set[tuple[Any, ...]] = set()
    texts: set[str] = set()
    names: Sequence[str] = OBJECT_NAMES
    misses = attempts = 0
    while len(entries) < count:
        attempts += 1
        if attempts > count * 50:
            raise ValueError(f"cannot draw {count} distinct entries; the mix has too few")
        entry = _draw(rng, names)
        if entry.key in seen or entry.matrix_text() in texts:
            misses += 1
            if misses >= _EXHAUSTED and names is OBJECT_NAMES:
                names = OBJECT_NAMES + WIDE_NAMES
            continue
        misses = 0
        seen.add(entry.key)
        texts.add(entry.matrix_text())
        entries.append(entry)
    return entries


def check_types(admin: httpx.Client) -> None:
    """Fail if the server does not serve a type as the table says (name, version, scope)."""
    problems = []
    for rtype in (*NAMESPACED_TYPES, *CLUSTER_TYPES):
        base = f"/apis/{rtype.group}/{rtype.version}" if rtype.group else f"/api/{rtype.version}"
        listing = admin.get(base)
        resources = listing.json().get("resources", []) if listing.is_success else []
        served = {r["name"]: r for r in resources}
        found = served.get(rtype.resource)
        if found is None or bool(found.get("namespaced")) != rtype.namespaced:
            problems.append(f"{rtype.typed} ({base})")
        for sub in rtype.subresources:
            if f"{rtype.resource}/{sub}" not in served:
                problems.append(f"{rtype.typed} --subresource={sub}")
    if problems:
        raise RuntimeError(f"the server's discovery disagrees with bench/entries.py: {problems}")
