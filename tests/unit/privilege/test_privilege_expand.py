"""Rules expanded against discovery, and what an allowed entry covers: pure functions.

The live tests (tests/integration/access/test_privilege_live.py) hold the same behaviour to the
server's own decisions; these pin the edge cases without one.
"""

from __future__ import annotations

from pytest_incluster.client.api_discovery import ApiResource
from pytest_incluster.privilege.exhaustive import Grant
from pytest_incluster.privilege.expand import (
    expand_cluster,
    expand_namespace,
    expand_non_resource,
    targets,
)
from pytest_incluster.privilege.permission import Permission, sorted_permissions
from pytest_incluster.privilege.rules_review import NonResourceRule, ResourceRule

POD_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")
SERVED = targets(
    [
        ApiResource(
            "pods", "pod", "Pod", "", "v1", True, POD_VERBS, (), ("log", "status"),
            (("log", ("get",)), ("status", ("get", "patch", "update"))),
        ),
        ApiResource(
            "deployments", "deployment", "Deployment", "apps", "v1", True, POD_VERBS, (),
            ("scale",), (("scale", ("get", "patch", "update")),),
        ),
        ApiResource("roles", "role", "Role", "rbac.authorization.k8s.io", "v1", True, POD_VERBS),
        ApiResource("nodes", "node", "Node", "", "v1", False, ("get", "list")),
        ApiResource("namespaces", "namespace", "Namespace", "", "v1", False, POD_VERBS),
    ]
)  # fmt: skip


def texts(permissions: set[Permission]) -> list[str]:
    return [p.text for p in sorted_permissions(permissions)]


def test_star_verbs_are_discovery_verbs_plus_authorizer_only_verbs() -> None:
    rule = ResourceRule(("*",), ("rbac.authorization.k8s.io",), ("roles",))
    found = texts(expand_namespace([rule], SERVED, "shop"))
    assert "bind roles.rbac.authorization.k8s.io -n shop" in found
    assert "escalate roles.rbac.authorization.k8s.io -n shop" in found
    assert len(found) == len(POD_VERBS) + 2


def test_star_resources_include_subresources_and_star_slash_sub_only_that_one() -> None:
    everything = texts(expand_namespace([ResourceRule(("get",), ("",), ("*",))], SERVED, "shop"))
    assert "get pods -n shop" in everything
    assert "get pods --subresource=log -n shop" in everything
    assert "get namespaces/shop" in everything
    assert "get nodes" not in everything  # cluster-scoped: not in a namespace
    scale = texts(expand_namespace([ResourceRule(("update",), ("*",), ("*/scale",))], SERVED, "s"))
    assert scale == ["update deployments.apps --subresource=scale -n s"]


def test_resource_names_give_one_entry_per_name() -> None:
    rule = ResourceRule(("get", "delete"), ("",), ("pods",), ("web", "db"))
    assert texts(expand_namespace([rule], SERVED, "shop")) == [
        "delete pods/db -n shop",
        "get pods/db -n shop",
        "delete pods/web -n shop",
        "get pods/web -n shop",
    ]


def test_cluster_scope_uses_all_namespaces_and_authorizer_only_types() -> None:
    found = texts(expand_cluster([ResourceRule(("*",), ("*",), ("*",))], SERVED))
    assert "list pods -A" in found
    assert "get nodes" in found
    assert "impersonate users" in found
    assert "sign signers.certificates.k8s.io" in found


def test_non_resource_urls_keep_their_globs() -> None:
    rules = [NonResourceRule(("get",), ("/healthz", "/healthz/*")), NonResourceRule(("*",), ("*",))]
    assert texts(expand_non_resource(rules)) == ["* /*", "get /healthz", "get /healthz/*"]


def test_what_an_allowed_entry_covers() -> None:
    pods = Permission("get", "pods", namespace="shop")
    named = Permission("get", "pods", name="web", namespace="shop")
    assert Grant("get", "pods", "", "", "", "shop").covers(named)
    assert not Grant("get", "pods", "", "", "db", "shop").covers(named)
    assert Grant("get", "pods", "", "", "", "*").covers(pods)  # -A covers every namespace
    assert not Grant("get", "pods", "", "", "", "web").covers(pods)
    assert Grant("*", "*", "", "", "", "shop").covers(pods)
    assert not Grant("*", "*", "apps", "", "", "shop").covers(pods)
    assert not Grant("get", "pods", "", "log", "", "shop").covers(pods)
    assert Grant("get", "", "", "", "", None, path="/healthz*").covers(
        Permission("get", path="/healthz/etcd")
    )
