"""The soak's world, generated from a seed: subjects, namespaces, RBAC objects and checks.

Everything here is plain data computed without a server, so the same seed always gives the same
cluster contents and the same questions. :mod:`tests.soak.oracle` applies the objects and asks the
server for the truth; :mod:`tests.soak.files` writes the checks as access files.

The checks mix what the plugin supports: several subjects (the runner itself, ServiceAccounts and
users with groups through impersonation), many namespaces, namespaced and cluster-scoped types,
named objects, subresources, non-resource URLs, and the three modes. ``request`` checks (real
dry-run requests) are limited to requests whose answer after authorization is harmless and
decisive: reads and deletes of objects that exist or do not, and creates/updates/patches that
admission accepts or refuses *after* authorization (a 404 for the probe object, a 422 for a
minimal body), never a verb dryRun does not cover.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Literal

Mode = Literal["review", "request", "both"]
RBAC_API = "rbac.authorization.k8s.io"
HOME = "soak"  # the namespace of the runner and the impersonated ServiceAccounts
PROBE_NAME = "pytest-incluster-probe"  # what the plugin names unnamed request-mode objects
OBJECT_NAMES = ("cm-0", "cm-1")  # ConfigMaps created in every namespace


@dataclass(frozen=True)
class Kind:
    """A resource type the checks ask about and the roles grant."""

    resource: str
    group: str
    namespaced: bool
    verbs: tuple[str, ...]  # asked in review mode
    request_verbs: tuple[str, ...]  # asked in request/both mode (dry-run safe, see module doc)
    subresources: tuple[tuple[str, str], ...] = ()  # (subresource, verb), review only

    @property
    def text(self) -> str:
        """How an access entry names the type: ``configmaps``, ``deployments.apps``."""
        return f"{self.resource}.{self.group}" if self.group else self.resource


KINDS: tuple[Kind, ...] = (
    Kind(
        "configmaps",
        "",
        True,
        ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"),
        ("get", "list", "create", "update", "patch", "delete", "deletecollection"),
    ),
    Kind("secrets", "", True, ("get", "list", "watch", "create", "delete"), ("get", "list")),
    Kind("services", "", True, ("get", "list", "create", "update", "delete"), ("get", "list")),
    Kind(
        "pods",
        "",
        True,
        ("get", "list", "watch", "create", "delete"),
        ("get", "list", "delete"),
        (("log", "get"), ("exec", "create")),
    ),
    Kind(
        "serviceaccounts",
        "",
        True,
        ("get", "list", "create", "delete"),
        ("get", "list", "create", "delete"),
    ),
    Kind("events", "", True, ("get", "list", "create"), ("get", "list")),
    Kind(
        "deployments",
        "apps",
        True,
        ("get", "list", "watch", "create", "update", "patch", "delete"),
        ("get", "list", "delete"),
        (("scale", "get"), ("scale", "update")),
    ),
    Kind("jobs", "batch", True, ("get", "list", "create", "delete"), ("get", "list")),
    Kind("roles", RBAC_API, True, ("get", "list", "bind", "escalate"), ("get", "list")),
    Kind("namespaces", "", False, ("get", "list", "create", "delete"), ("get", "list")),
    Kind("nodes", "", False, ("get", "list"), ("get", "list")),
    Kind("clusterroles", RBAC_API, False, ("get", "list"), ("get", "list")),
)
KIND_BY_TEXT = {kind.text: kind for kind in KINDS}
# Non-resource URLs: public ones (system:public-info-viewer) and private ones.
PATHS: tuple[str, ...] = ("/healthz", "/version", "/metrics", "/logs", "/openapi/v2")
# Verbs a request-mode probe sends with a name (the object's, or the probe name).
_NAMED_PROBE_VERBS = frozenset({"get", "update", "patch", "delete"})


@dataclass(frozen=True)
class Subject:
    """Who a check is about. ``user`` None is the runner itself (a document without ``as:``)."""

    key: str  # file name stem and stable id: "self", "app-0", "alice"
    user: str | None = None
    groups: tuple[str, ...] = ()

    def identity(self, runner: str) -> tuple[str, tuple[str, ...]]:
        """(user, groups) as the API server sees the subject after impersonation.

        A ServiceAccount impersonated without groups gets its fixed groups; any other user the
        groups given; and every non-anonymous user ``system:authenticated`` (the impersonation
        filter adds it; a token's own authenticator does too).
        """
        user = self.user or runner
        groups: tuple[str, ...] = self.groups
        if user.startswith("system:serviceaccount:") and not groups:
            namespace = user.split(":")[2]
            groups = ("system:serviceaccounts", f"system:serviceaccounts:{namespace}")
        if "system:authenticated" not in groups:
            groups = (*groups, "system:authenticated")
        return user, groups


RUNNER_SA = "runner"
SUBJECTS: tuple[Subject, ...] = (
    Subject("self"),
    Subject("app-0", f"system:serviceaccount:{HOME}:app-0"),
    Subject("app-1", f"system:serviceaccount:{HOME}:app-1"),
    Subject("app-2", f"system:serviceaccount:{HOME}:app-2"),
    Subject("alice", "alice", ("team-a",)),
    Subject("bob", "bob", ("team-b", "team-a")),
    Subject("carol", "carol"),
)


@dataclass(frozen=True)
class Check:
    """One access question for one subject in one mode; ``planted`` expects the opposite of the
    truth on purpose (the item must then fail)."""

    subject: str
    mode: Mode
    verb: str
    kind: str = ""  # Kind.text, "" for a non-resource URL
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    path: str | None = None

    def entry(self, default_namespace: str | None = None) -> str:
        """The access-file entry; ``-n`` is left out when it equals the document's namespace."""
        if self.path is not None:
            return f"{self.verb} {self.path}"
        text = f"{self.verb} {self.kind}"
        if self.name:
            text += f"/{self.name}"
        if self.subresource:
            text += f" --subresource={self.subresource}"
        if self.namespace and self.namespace != default_namespace:
            text += f" -n {self.namespace}"
        return text

    def attributes(self, *, as_request: bool) -> dict[str, Any]:
        """The SubjectAccessReview spec attributes this check is decided by.

        ``as_request``: the attributes of the real request the plugin sends in request mode,
        where an unnamed get/update/patch/delete addresses the probe object by name. Written
        here from the API's rules, not taken from the plugin, so the oracle shares no code with
        what it judges.
        """
        if self.path is not None:
            return {"nonResourceAttributes": {"path": self.path, "verb": self.verb}}
        kind = KIND_BY_TEXT[self.kind]
        name = self.name
        if as_request and name is None and self.verb in _NAMED_PROBE_VERBS:
            name = PROBE_NAME
        attributes = {
            "namespace": self.namespace or "",
            "verb": self.verb,
            "group": kind.group,
            "resource": kind.resource,
            "subresource": self.subresource or "",
            "name": name or "",
        }
        return {"resourceAttributes": {k: v for k, v in attributes.items() if v}}


@dataclass
class World:
    """Everything one seed generates."""

    seed: int
    namespaces: list[str]
    objects: list[tuple[str, dict[str, Any]]]  # (collection path, body), created in order
    checks: list[Check]
    planted: set[int] = field(default_factory=set)  # indexes into checks


def namespaces_for(checks: int) -> int:
    """How many namespaces a matrix of ``checks`` spreads over: many, but each still dense."""
    return max(4, min(40, checks // 100))


def _rule(rng: random.Random) -> dict[str, Any]:
    kinds = [k for k in KINDS if k.namespaced]
    group = rng.choice(sorted({k.group for k in kinds}))
    in_group = [k for k in kinds if k.group == group]
    chosen = rng.sample(in_group, rng.randint(1, len(in_group)))
    resources = [k.resource for k in chosen]
    verbs = sorted({v for k in chosen for v in k.verbs})
    for kind in chosen:
        resources += [
            f"{kind.resource}/{sub}" for sub, _ in kind.subresources if rng.random() < 0.5
        ]
    rule: dict[str, Any] = {
        "apiGroups": [group],
        "resources": resources,
        "verbs": rng.sample(verbs, rng.randint(1, len(verbs))),
    }
    if resources == ["configmaps"] and rng.random() < 0.4:
        rule["resourceNames"] = [rng.choice(OBJECT_NAMES)]
        rule["verbs"] = [v for v in rule["verbs"] if v in _NAMED_PROBE_VERBS] or ["get"]
    return rule


def _cluster_rule(rng: random.Random) -> dict[str, Any]:
    if rng.random() < 0.3:
        return {"nonResourceURLs": [rng.choice(("/metrics", "/logs", "/logs/*"))], "verbs": ["get"]}
    kinds = [k for k in KINDS if not k.namespaced]
    kind = rng.choice(kinds)
    return {
        "apiGroups": [kind.group],
        "resources": [kind.resource],
        "verbs": rng.sample(kind.verbs, rng.randint(1, len(kind.verbs))),
    }


def _binding_subject(who: str) -> dict[str, str]:
    if who.startswith("group:"):
        return {"kind": "Group", "apiGroup": RBAC_API, "name": who[len("group:") :]}
    if who.startswith("sa:"):
        return {"kind": "ServiceAccount", "namespace": HOME, "name": who[len("sa:") :]}
    return {"kind": "User", "apiGroup": RBAC_API, "name": who}


def _role_ref(kind: str, name: str) -> dict[str, str]:
    return {"apiGroup": RBAC_API, "kind": kind, "name": name}


def rbac_objects(rng: random.Random, namespaces: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """Namespaces, objects, ServiceAccounts, and mixed grants across all namespaces.

    Grants go to ServiceAccounts (the runner included), users and groups, through RoleBindings
    to shared ClusterRoles, namespaced Roles, and a few ClusterRoleBindings. The runner also
    gets what running the matrix needs: impersonation of users, groups and ServiceAccounts, and
    reading ServiceAccounts in its namespace (the plugin checks that an impersonated one
    exists).
    """
    rbac = f"/apis/{RBAC_API}/v1"
    out: list[tuple[str, dict[str, Any]]] = []
    for ns in [HOME, *namespaces]:
        out.append(("/api/v1/namespaces", {"metadata": {"name": ns}}))
    for sa in (RUNNER_SA, "app-0", "app-1", "app-2"):
        out.append((f"/api/v1/namespaces/{HOME}/serviceaccounts", {"metadata": {"name": sa}}))
    for ns in namespaces:
        for name in OBJECT_NAMES:
            out.append((f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": name}}))
    out.append(
        (
            f"{rbac}/clusterroles",
            {
                "metadata": {"name": "soak-runner-impersonate"},
                "rules": [
                    {
                        "apiGroups": [""],
                        "resources": ["users", "groups", "serviceaccounts"],
                        "verbs": ["impersonate"],
                    }
                ],
            },
        )
    )
    out.append(
        (
            f"{rbac}/clusterrolebindings",
            {
                "metadata": {"name": "soak-runner-impersonate"},
                "roleRef": _role_ref("ClusterRole", "soak-runner-impersonate"),
                "subjects": [_binding_subject(f"sa:{RUNNER_SA}")],
            },
        )
    )
    out.append(
        (
            f"{rbac}/namespaces/{HOME}/roles",
            {
                "metadata": {"name": "soak-runner-read-sa"},
                "rules": [{"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["get"]}],
            },
        )
    )
    out.append(
        (
            f"{rbac}/namespaces/{HOME}/rolebindings",
            {
                "metadata": {"name": "soak-runner-read-sa"},
                "roleRef": _role_ref("Role", "soak-runner-read-sa"),
                "subjects": [_binding_subject(f"sa:{RUNNER_SA}")],
            },
        )
    )
    pool = [f"soak-pool-{i}" for i in range(12)]
    for name in pool:
        rules = [_rule(rng) for _ in range(rng.randint(1, 4))]
        out.append((f"{rbac}/clusterroles", {"metadata": {"name": name}, "rules": rules}))
    grantees = [
        f"sa:{RUNNER_SA}",
        "sa:app-0",
        "sa:app-1",
        "sa:app-2",
        "alice",
        "bob",
        "carol",
        "group:team-a",
        "group:team-b",
        f"group:system:serviceaccounts:{HOME}",
    ]
    for ns in namespaces:
        for index, who in enumerate(grantees):
            roll = rng.random()
            name = f"soak-{index}-{rng.randrange(10**6)}"
            if roll < 0.3:
                ref = _role_ref("ClusterRole", rng.choice(pool))
            elif roll < 0.4:
                rules = [_rule(rng) for _ in range(rng.randint(1, 3))]
                out.append(
                    (f"{rbac}/namespaces/{ns}/roles", {"metadata": {"name": name}, "rules": rules})
                )
                ref = _role_ref("Role", name)
            else:
                continue
            out.append(
                (
                    f"{rbac}/namespaces/{ns}/rolebindings",
                    {
                        "metadata": {"name": name},
                        "roleRef": ref,
                        "subjects": [_binding_subject(who)],
                    },
                )
            )
    for index, who in enumerate(grantees):
        if rng.random() < 0.5:
            continue
        name = f"soak-cluster-{index}"
        rules = [_cluster_rule(rng) for _ in range(rng.randint(1, 3))]
        out.append((f"{rbac}/clusterroles", {"metadata": {"name": name}, "rules": rules}))
        out.append(
            (
                f"{rbac}/clusterrolebindings",
                {
                    "metadata": {"name": name},
                    "roleRef": _role_ref("ClusterRole", name),
                    "subjects": [_binding_subject(who)],
                },
            )
        )
    return out


FILLER_NAMESPACE = "soak-filler"


def filler_objects(count: int) -> list[tuple[str, dict[str, Any]]]:
    """``count`` RoleBindings for users nobody asks about, in a namespace of their own.

    They change no verdict. They make the restarted API server's RBAC informers take as long
    to fill as on a cluster with thousands of bindings (about 0.1 s for 6,000 here): the window
    in which it answers "no" to what it allows. Without them that window is a few milliseconds
    and a soak would rarely meet it.
    """
    rbac = f"/apis/{RBAC_API}/v1/namespaces/{FILLER_NAMESPACE}/rolebindings"
    out: list[tuple[str, dict[str, Any]]] = [
        ("/api/v1/namespaces", {"metadata": {"name": FILLER_NAMESPACE}})
    ]
    for index in range(count):
        body = {
            "metadata": {"name": f"filler-{index}"},
            "roleRef": _role_ref("ClusterRole", "view"),
            "subjects": [_binding_subject(f"nobody-{index}")],
        }
        out.append((rbac, body))
    return out


def candidate_checks(namespaces: list[str]) -> list[Check]:
    """Every question the soak may ask, for every subject and mode (sampled from later)."""
    out: list[Check] = []
    for subject in SUBJECTS:
        for mode in ("review", "request", "both"):
            request_like = mode != "review"
            for kind in KINDS:
                verbs = kind.request_verbs if request_like else kind.verbs
                scopes: list[str | None] = list(namespaces) if kind.namespaced else [None]
                for ns in scopes:
                    for verb in verbs:
                        out.append(Check(subject.key, mode, verb, kind.text, ns))
                    if kind.resource == "configmaps" and ns is not None:
                        for name in OBJECT_NAMES:
                            for verb in ("get", "delete"):
                                out.append(Check(subject.key, mode, verb, kind.text, ns, name))
                    if not request_like and ns is not None:
                        for sub, verb in kind.subresources:
                            out.append(Check(subject.key, mode, verb, kind.text, ns, "web", sub))
            for path in PATHS:
                out.append(Check(subject.key, mode, "get", path=path))
    return out


def sample_checks(
    rng: random.Random, candidates: list[Check], truth: dict[Check, bool], count: int
) -> list[Check]:
    """``count`` distinct checks, about 40% allowed where the candidates allow it.

    Sampling after the oracle has answered every candidate keeps both verdicts well represented
    (random grants alone leave most questions forbidden). The mode mix is about half review,
    a third request and the rest both.
    """
    weights = {"review": 0.5, "request": 0.33, "both": 0.17}
    chosen: list[Check] = []
    for mode, share in weights.items():
        in_mode = [c for c in candidates if c.mode == mode and c in truth]
        want = round(count * share) if mode != "both" else count - len(chosen)
        allowed = [c for c in in_mode if truth[c]]
        forbidden = [c for c in in_mode if not truth[c]]
        rng.shuffle(allowed)
        rng.shuffle(forbidden)
        take_allowed = min(len(allowed), round(want * 0.4))
        take_forbidden = min(len(forbidden), want - take_allowed)
        take_allowed = min(len(allowed), want - take_forbidden)
        chosen += allowed[:take_allowed] + forbidden[:take_forbidden]
    rng.shuffle(chosen)
    return chosen


def plant(rng: random.Random, checks: list[Check], share: float = 0.05) -> set[int]:
    """Indexes of checks whose file expectation is deliberately the opposite of the truth."""
    count = max(3, round(len(checks) * share))
    return set(rng.sample(range(len(checks)), min(count, len(checks))))
