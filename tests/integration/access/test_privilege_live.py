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
from pytest_incluster.privilege.who_can import WhoCanForbidden
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


def test_a_node_identity_takes_the_incomplete_rules_path(
    shop: Shop, control_plane: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Node authorizer cannot list its rules: the server says so, and the snapshot sweeps."""
    ns = shop.ns
    doc, text, err = snapshot(
        capsys, control_plane, shop, "--as", "system:node:n1", "--groups", "system:nodes", "-n", ns
    )
    assert f"namespace {ns}: the server said the rules are incomplete" in err
    assert "SelfSubjectAccessReviews over every served resource and verb" in err
    assert f"# namespace {ns}: the server said the rules are incomplete" in text
    # What only the Node authorizer grants (mirror pods), found by the sweep.
    assert f"create pods -n {ns}" in doc["allowed"]
    assert doc["groups"] == ["system:nodes"]


def test_the_same_name_without_the_nodes_group_is_plain_rbac(
    shop: Shop, control_plane: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not a node identity (no system:nodes group): complete rules, nothing of the node's."""
    ns = shop.ns
    doc, _, err = snapshot(
        capsys, control_plane, shop, "--as", "system:node:n1", "--groups", "developers", "-n", ns
    )
    assert f"namespace {ns}: SelfSubjectRulesReview (complete)" in err
    assert "incomplete" not in err
    assert f"create pods -n {ns}" not in doc["allowed"]


def test_snapshot_refuses_groups_without_a_user(
    shop: Shop, control_plane: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["snapshot", *runner_flags(control_plane, shop), "--groups", "ops"])
    _, err = capsys.readouterr()
    assert status == 2
    assert err == (
        "pytest-incluster: error: --groups needs --as: the server only impersonates groups "
        "together with a user (example: --as alice --groups ops).\n"
    )


WHO_CAN_COMPONENT = Path(__file__).parents[3] / "deploy/components/who-can/who-can.yaml"


def grant_who_can(admin: K8sClient, shop: Shop) -> None:
    """The deploy component's ClusterRole, bound to this test's runner."""
    cluster_role = next(
        d for d in yaml.safe_load_all(WHO_CAN_COMPONENT.read_text()) if d["kind"] == "ClusterRole"
    )
    admin.apply(cluster_role)
    subjects = [sa_subject(shop.ns, "runner")]
    name = cluster_role["metadata"]["name"]
    admin.apply(bind("ClusterRoleBinding", f"{shop.ns}-who-can", "ClusterRole", name, subjects))
    request = AccessRequest(verb="create", resource="subjectaccessreviews", group=AUTHZ)
    admin.impersonate(shop.who("runner")).wait_for_access(request, timeout=10)


AUTHZ = "authorization.k8s.io"


def test_who_can_says_what_the_runner_lacks(runner: K8sClient, shop: Shop) -> None:
    with pytest.raises(WhoCanForbidden) as caught:
        runner.who_can("get", "secrets", shop.ns)
    message = str(caught.value)
    assert message.startswith("who-can needs 'list' on clusterrolebindings, which the runner may ")
    assert message.endswith(
        "Grant it with the optional who-can component (deploy/components/who-can), or drop the "
        "who-can checks."
    )


def test_who_can_lists_bound_subjects_the_server_allows(
    runner: K8sClient, shop: Shop, admin: K8sClient
) -> None:
    ns = shop.ns
    grant_who_can(admin, shop)
    found = {a.subject.text: a for a in runner.who_can("get", "secrets", ns)}
    assert f"serviceaccount:{ns}:editor" in found  # edit
    assert f"serviceaccount:{ns}:boss" in found  # admin
    assert f"serviceaccount:{ns}:viewer" not in found  # view: no secrets
    assert f"serviceaccount:{ns}:api" not in found
    assert "group:system:masters" in found
    assert found[f"serviceaccount:{ns}:editor"].reason.startswith(
        f'RBAC: allowed by RoleBinding "editor/{ns}" of ClusterRole "edit"'
    )


def test_a_service_account_group_given_cluster_admin_shows_up_and_fails_who_can(
    pytester: pytest.Pytester,
    runner: K8sClient,
    shop: Shop,
    admin: K8sClient,
    control_plane: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    ns = shop.ns
    grant_who_can(admin, shop)
    before = [a.subject.text for a in runner.who_can("get", "secrets", ns)]
    listed = ", ".join(s for s in before if s != "group:system:masters")
    document = f"who-can:\n  get secrets -n {ns}: [{listed}]\n"
    result = run_access_file(pytester, control_plane, shop, document)
    result.assert_outcomes(passed=1)

    group = f"system:serviceaccounts:{ns}"
    subjects = [{"kind": "Group", "name": group, "apiGroup": "rbac.authorization.k8s.io"}]
    admin.apply(
        bind("ClusterRoleBinding", f"{ns}-sa-admins", "ClusterRole", "cluster-admin", subjects)
    )
    request = AccessRequest(verb="get", resource="secrets", namespace="kube-system")
    admin.impersonate(shop.who("nobody")).wait_for_access(request, timeout=10)

    after = {a.subject.text: a for a in runner.who_can("get", "secrets", ns)}
    assert f"group:{group}" in after
    assert [b.text for b in after[f"group:{group}"].bindings] == [
        f"ClusterRoleBinding {ns}-sa-admins (ClusterRole cluster-admin)"
    ]
    # The ServiceAccount viewer (bound elsewhere to view only) now may, through its group.
    viewer = after[f"serviceaccount:{ns}:viewer"]
    assert viewer.reason == (
        f'RBAC: allowed by ClusterRoleBinding "{ns}-sa-admins" of ClusterRole "cluster-admin" '
        f'to Group "{group}"'
    )
    result = run_access_file(pytester, control_plane, shop, document, "--html=r.html")
    result.assert_outcomes(failed=1)
    report = (pytester.path / "r.html").read_text()
    assert 'id="incluster-who-can"' in report
    assert f"<td>get secrets -n {ns}</td><td>group:{group}</td><td>NO</td>" in report
    assert f"<td>get secrets -n {ns}</td><td>serviceaccount:{ns}:boss</td><td>yes</td>" in report
    granted = (
        f'RBAC: allowed by ClusterRoleBinding "{ns}-sa-admins" of ClusterRole "cluster-admin" '
        f'to Group "{group}")'
    )
    result.stdout.fnmatch_lines(
        [
            f"who-can 'get secrets -n {ns}' (least.access.yaml:2): 4 bound subjects not listed "
            "may do it:",
            f"  - group:{group}  (bound by ClusterRoleBinding {ns}-sa-admins (ClusterRole "
            f"cluster-admin); {granted}",
            f"  - serviceaccount:{ns}:api  (bound by *; {granted}",
            f"  - serviceaccount:{ns}:runner  (bound by *; {granted}",
            f"  - serviceaccount:{ns}:viewer  (bound by RoleBinding {ns}/viewer (ClusterRole "
            f"view); {granted}",
            "Allowed and listed: group:system:masters, *",
        ]
    )
    # system:masters never fails the check.
    result.stdout.no_fnmatch_line("*- group:system:masters*")


SELF_REVIEWS = "create selfsubjectaccessreviews.authorization.k8s.io"


def test_cluster_scope_exhaustive_accepts_ignored_entries_and_fails_without_them(
    pytester: pytest.Pytester,
    shop: Shop,
    control_plane: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every authenticated user may ask about itself: left out of the list, an ``ignore:``
    pattern accepts it; without the pattern the cluster-scope item names it."""
    monkeypatch.setenv("COLUMNS", "400")
    doc, _, err = snapshot(
        capsys, control_plane, shop, "--as", shop.who("viewer"), "--cluster-scope"
    )
    assert "the cluster scope: SelfSubjectRulesReview (complete)" in err
    assert SELF_REVIEWS in doc["allowed"]
    assert "get /healthz" in doc["allowed"]
    assert not any(" -n " in e for e in doc["allowed"])  # no namespace was asked for
    kept = [e for e in doc["allowed"] if not e.startswith("create self") and " /" not in e]
    base = {"as": doc["as"], "exhaustive": True, "cluster-scope": True, "allowed": kept}
    ignoring = {**base, "ignore": ["create self*reviews.*", "get /*"]}
    result = run_access_file(pytester, control_plane, shop, yaml.safe_dump(ignoring))
    result.assert_outcomes(passed=len(kept) + 1)

    result = run_access_file(pytester, control_plane, shop, yaml.safe_dump(base), "--html=r.html")
    result.assert_outcomes(passed=len(kept), failed=1)
    result.stdout.fnmatch_lines(
        [
            f"{shop.who('viewer')} may do * things in the cluster scope that least.access.yaml:* "
            "does not allow:",
            f'  - {SELF_REVIEWS}  (RBAC: allowed by ClusterRoleBinding "system:basic-user" of '
            'ClusterRole "system:basic-user" to Group "system:authenticated")',
        ]
    )
    report = (pytester.path / "r.html").read_text()
    assert (
        '<table class="incluster-table incluster-sortable" id="incluster-extra-permissions">'
        in report
    )
    assert f"<td>{SELF_REVIEWS}</td>" in report


def test_snapshot_refuses_a_service_account_that_does_not_exist(
    shop: Shop, control_plane: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """kubectl answers for a ServiceAccount that does not exist; a snapshot of it says so."""
    ghost = shop.who("ghost")
    status = main(["snapshot", *runner_flags(control_plane, shop), "--as", ghost])
    out, err = capsys.readouterr()
    assert (status, out) == (2, "")
    assert err == (
        f'pytest-incluster: error: --as {ghost}: ServiceAccount "ghost" does not exist in '
        f'namespace "{shop.ns}": a snapshot of it would describe an identity no pod can have. '
        "Create the ServiceAccount or correct --as.\n"
    )
