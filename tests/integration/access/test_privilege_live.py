"""Least privilege against real RBAC: snapshots, ``exhaustive: true`` and who-can.

The server decides every answer: snapshots are compared with SelfSubjectAccessReviews of the
same subject, and the exhaustive and who-can items run through pytest as a pod would run them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_incluster.access.decision import AccessRequest
from pytest_incluster.access.grammar import parse_entry
from pytest_incluster.access.resolve import resolve
from pytest_incluster.cli.main import main
from pytest_incluster.client import K8sClient
from tests.integration.access.access_rbac import Shop, bind, role, sa_subject

pytestmark = pytest.mark.controlplane

pytest_plugins = ["pytester"]
RBAC_GROUP = "rbac.authorization.k8s.io"

# Probes in can-i grammar (NS: the test's namespace); the server is asked each as a review.
PROBES = [
    "get pods -n NS",
    "list secrets -n NS",
    "create deployments.apps -n NS",
    "get pods --subresource=log -n NS",
    "create pods --subresource=exec -n NS",
    "create roles.rbac.authorization.k8s.io -n NS",
    "create rolebindings.rbac.authorization.k8s.io -n NS",
    "escalate roles.rbac.authorization.k8s.io -n NS",
    "impersonate serviceaccounts -n NS",
    "update resourcequotas -n NS",
    "get resourcequotas -n NS",
    "watch configmaps -n NS",
    "delete events.events.k8s.io -n NS",
    "update deployments.apps --subresource=scale -n NS",
]


def runner_flags(control_plane: Any, shop: Shop) -> list[str]:
    """The least-privilege runner's pod credentials, as ``--incluster-*`` settings."""
    return [
        f"--incluster-server={control_plane.server}",
        f"--incluster-token-file={shop.runner_dir / 'token'}",
        f"--incluster-ca-file={shop.runner_dir / 'ca.crt'}",
        f"--incluster-namespace={shop.ns}",
    ]


def snapshot(
    capsys: pytest.CaptureFixture[str], control_plane: Any, shop: Shop, *args: str
) -> tuple[dict[str, Any], str, str]:
    """``pytest-incluster snapshot ARGS`` as the runner: (document, its text, stderr)."""
    status = main(["snapshot", *runner_flags(control_plane, shop), *args])
    out, err = capsys.readouterr()
    assert status == 0, err
    return yaml.safe_load(out), out, err


def allowed_by_review(admin: K8sClient, who: str, entry: str) -> bool:
    request = resolve(parse_entry(entry), admin.discovery(), None).request
    return admin.impersonate(who).review(request).allowed


@pytest.mark.parametrize("name", ["viewer", "editor", "boss"])
def test_snapshot_of_a_built_in_role_matches_what_the_server_allows(
    name: str,
    shop: Shop,
    control_plane: Any,
    admin: K8sClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc, text, err = snapshot(capsys, control_plane, shop, "--as", shop.who(name), "-n", shop.ns)
    assert doc["as"] == shop.who(name)
    assert doc["exhaustive"] is True
    assert doc["namespaces"] == [shop.ns]
    assert len(doc["allowed"]) == len(set(doc["allowed"]))
    assert f"namespace {shop.ns}: SelfSubjectRulesReview (complete)" in err
    assert f"# namespace {shop.ns}: SelfSubjectRulesReview (complete)" in text
    listed = set(doc["allowed"])
    for probe in PROBES:
        entry = probe.replace("NS", shop.ns)
        server = allowed_by_review(admin, shop.who(name), entry)
        assert (entry in listed) == server, f"{name}: {entry}: server says {server}"
    # The namespace object itself is authorized in its namespace (view grants get on it).
    assert (f"get namespaces/{shop.ns}" in listed) == admin.impersonate(shop.who(name)).review(
        AccessRequest(verb="get", resource="namespaces", name=shop.ns, namespace=shop.ns)
    ).allowed


def test_snapshot_is_sorted_one_entry_per_resource_and_verb(
    shop: Shop, control_plane: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    doc, _, _ = snapshot(capsys, control_plane, shop, "--as", shop.who("viewer"), "-n", shop.ns)
    entries = doc["allowed"]
    assert f"get pods -n {shop.ns}" in entries
    assert entries.index(f"get configmaps -n {shop.ns}") < entries.index(f"get pods -n {shop.ns}")
    assert entries.index(f"get pods -n {shop.ns}") < entries.index(f"list pods -n {shop.ns}")
    assert not any(e.startswith("* ") or " * " in e for e in entries)  # verbs are expanded


WILD_RULES = [
    {"apiGroups": ["apps"], "resources": ["*"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]},
    {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["db", "tls"], "verbs": ["get"]},
    {"apiGroups": ["*"], "resources": ["*/scale"], "verbs": ["update"]},
]


def add_subject(
    admin: K8sClient, make_service_account: Callable[..., Path], ns: str, name: str, rules: Any
) -> str:
    make_service_account(ns, name)
    admin.apply(role("Role", name, rules, ns))
    admin.apply(bind("RoleBinding", name, "Role", name, [sa_subject(ns, name)], ns))
    who = f"system:serviceaccount:{ns}:{name}"
    first = rules[0]
    request = AccessRequest(
        verb=first["verbs"][0], resource="deployments", group="apps", namespace=ns
    )
    admin.impersonate(who).wait_for_access(request, timeout=10)
    return who


def test_wildcards_and_resource_names_expand_against_discovery(
    shop: Shop,
    control_plane: Any,
    admin: K8sClient,
    make_service_account: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    ns = shop.ns
    who = add_subject(admin, make_service_account, ns, "wild", WILD_RULES)
    doc, _, _ = snapshot(capsys, control_plane, shop, "--as", who, "-n", ns)
    listed = set(doc["allowed"])
    apps = {r.name for r in admin.discovery().resources() if r.group == "apps" and r.namespaced}
    for resource in apps:  # "*" in apps: every apps type, and its subresources
        assert f"get {resource}.apps -n {ns}" in listed
    assert f"get deployments.apps --subresource=scale -n {ns}" in listed
    assert f"list deployments.apps -n {ns}" not in listed
    configmap_verbs = admin.discovery().resolve_type("configmaps").verbs
    assert {f"{v} configmaps -n {ns}" for v in configmap_verbs} <= listed
    assert f"get secrets/db -n {ns}" in listed
    assert f"get secrets/tls -n {ns}" in listed
    assert f"get secrets -n {ns}" not in listed
    assert not any(e.startswith("get secrets/other") for e in listed)
    # "*/scale" in every group: the scale subresource of each type that has one.
    assert f"update deployments.apps --subresource=scale -n {ns}" in listed
    assert f"update replicasets.apps --subresource=scale -n {ns}" in listed
    assert f"update deployments.apps -n {ns}" not in listed
    # ... and the server agrees with each of those decisions.
    client = admin.impersonate(who)

    def may(verb: str, resource: str, group: str = "", **more: str) -> bool:
        request = AccessRequest(verb=verb, resource=resource, group=group, namespace=ns, **more)
        return client.review(request).allowed

    assert may("get", "secrets", name="db")
    assert may("get", "secrets", name="tls")
    assert not may("get", "secrets")
    assert not may("get", "secrets", name="other")
    assert may("update", "replicasets", "apps", subresource="scale")
    assert not may("update", "deployments", "apps")


def run_access_file(
    pytester: pytest.Pytester, control_plane: Any, shop: Shop, text: str, *args: str
) -> pytest.RunResult:
    (pytester.path / "least.access.yaml").write_text(text)
    return pytester.runpytest_subprocess(
        *runner_flags(control_plane, shop), "-p", "no:cacheprovider", "-rfE", *args
    )


def test_snapshot_passes_unchanged_and_an_added_binding_fails_it(
    pytester: pytest.Pytester,
    shop: Shop,
    control_plane: Any,
    admin: K8sClient,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    ns = shop.ns
    _, text, _ = snapshot(capsys, control_plane, shop, "--as", shop.who("editor"), "-n", ns)
    result = run_access_file(pytester, control_plane, shop, text, "-k", "exhaustive")
    result.assert_outcomes(passed=1)

    rule = {"apiGroups": [RBAC_GROUP], "resources": ["rolebindings"], "verbs": ["create"]}
    admin.apply(role("Role", "extra", [rule], ns))
    admin.apply(bind("RoleBinding", "extra", "Role", "extra", [sa_subject(ns, "editor")], ns))
    request = AccessRequest(verb="create", resource="rolebindings", group=RBAC_GROUP, namespace=ns)
    admin.impersonate(shop.who("editor")).wait_for_access(request, timeout=10)

    result = run_access_file(pytester, control_plane, shop, text, "-k", "exhaustive")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"{shop.who('editor')} may do 1 thing in namespace {ns} that least.access.yaml:* "
            "does not allow:",
            f"  - create rolebindings.rbac.authorization.k8s.io -n {ns}  (RBAC: allowed by "
            f'RoleBinding "extra/{ns}" of Role "extra" to ServiceAccount "editor/{ns}")',
            "List them under 'allowed:' after review, accept them with an 'ignore:' pattern, or "
            "remove the binding that grants them.",
        ]
    )
    result.stdout.no_fnmatch_line("*Traceback*")

    # Accepted with an ignore pattern: passes again.
    ignoring = text.replace(
        "exhaustive: true\n", "exhaustive: true\nignore: ['create rolebindings.*']\n"
    )
    result = run_access_file(pytester, control_plane, shop, ignoring, "-k", "exhaustive")
    result.assert_outcomes(passed=1)
