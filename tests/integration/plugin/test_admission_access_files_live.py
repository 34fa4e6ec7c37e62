"""``admitted:``/``rejected:`` lists in access documents against the real kube-apiserver: each
object is its own item named ``Kind/name``, run as the document's subject (impersonation
included) in the document's namespace, passing and failing on the cluster's decision."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_incluster.client import K8sClient
from tests.integration.access.access_rbac import bind, role, sa_subject
from tests.integration.admission.admission_world import labelled_namespace
from tests.support.htmlreport import read_report, test_log

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

PRIVILEGED_SPEC = '{containers: [{name: app, image: "app:1", securityContext: {privileged: true}}]}'
COMPLIANT = """\
apiVersion: v1
kind: Pod
metadata: {name: NAME}
spec:
  containers:
  - name: app
    image: app:1
    securityContext:
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}
      runAsNonRoot: true
      runAsUser: 1000
      seccompProfile: {type: RuntimeDefault}
"""


def test_access_document_admission_lists(
    pytester: pytest.Pytester,
    admin: K8sClient,
    control_plane: ControlPlane,
    make_service_account: Callable[..., Path],
) -> None:
    ns = labelled_namespace(admin, "docs", {"pod-security.kubernetes.io/enforce": "restricted"})
    sa_dir = make_service_account(ns, "runner")
    create_pods = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}]
    impersonate_jane = [
        {
            "apiGroups": [""],
            "resources": ["users"],
            "verbs": ["impersonate"],
            "resourceNames": ["jane"],
        }
    ]
    runner = [sa_subject(ns, "runner")]
    admin.create(role("Role", "pod-creator", create_pods, ns))
    admin.create(bind("RoleBinding", "pod-creator", "Role", "pod-creator", runner, ns))
    admin.create(role("ClusterRole", f"{ns}-as-jane", impersonate_jane))
    admin.create(
        bind("ClusterRoleBinding", f"{ns}-as-jane", "ClusterRole", f"{ns}-as-jane", runner)
    )
    manifests = pytester.path / "manifests"
    manifests.mkdir()
    (manifests / "web.yaml").write_text(
        COMPLIANT.replace("NAME", "web") + "---\n" + COMPLIANT.replace("NAME", "worker")
    )
    (pytester.path / "prod.access.yaml").write_text(
        f"""\
namespace: {ns}
rejected:
  - manifest:
      apiVersion: v1
      kind: Pod
      metadata: {{name: root}}
      spec: {{containers: [{{name: app, image: "app:1", securityContext: {{privileged: true}}}}]}}
    by: PodSecurity
    match: privileged
  - file: manifests/web.yaml
admitted:
  - manifest: {{apiVersion: v1, kind: Pod, metadata: {{name: root2}}, spec: {PRIVILEGED_SPEC}}}
---
as: jane
namespace: {ns}
rejected:
  - manifest: {{apiVersion: v1, kind: Pod, metadata: {{name: root}}, spec: {PRIVILEGED_SPEC}}}
    by: PodSecurity
"""
    )
    options = [
        f"--incluster-server={control_plane.server}",
        f"--incluster-token-file={sa_dir / 'token'}",
        f"--incluster-ca-file={sa_dir / 'ca.crt'}",
        f"--incluster-namespace={ns}",
        "-p",
        "no:cacheprovider",
    ]
    report = pytester.path / "report.html"
    result = pytester.runpytest_subprocess(
        *options, "-rA", "-v", f"--html={report}", "--incluster-results=results.json"
    )
    result.assert_outcomes(passed=1, failed=4)
    result.stdout.fnmatch_lines_random(
        [
            "prod.access.yaml::self::rejected::Pod/root PASSED*",
            "prod.access.yaml::self::rejected::Pod/web FAILED*",
            "prod.access.yaml::self::rejected::Pod/worker FAILED*",
            "prod.access.yaml::self::admitted::Pod/root2 FAILED*",
            "prod.access.yaml::jane::rejected::Pod/root FAILED*",
        ]
    )
    denial = (
        f'pods is forbidden: User "jane" cannot create resource "pods" in API group "" in the '
        f'namespace "{ns}"'
    )
    result.stdout.fnmatch_lines_random(
        [
            f"prod.access.yaml:10: self rejected Pod/web: expected a rejection by admission, but "
            f"the cluster admitted: create Pod/web -n {ns}: admitted",
            f"prod.access.yaml:12: self admitted Pod/root2: expected the cluster to admit the "
            f"test's requests, but: create Pod/root2 -n {ns}: rejected by admission "
            '(PodSecurity): pods "root2" is forbidden: violates PodSecurity "restricted:latest"*',
            f"prod.access.yaml:17: jane rejected Pod/root: rejected by authorization, not "
            f"admission: {denial}",
        ]
    )

    # The report: the access summary's admission table (stage and by), the call log's note.
    page, data = read_report(report)
    assert "Admission decisions (5, 4 failed)" in page
    log = test_log(data, "prod.access.yaml::self::rejected::Pod/root")
    assert "admission: rejected by admission (PodSecurity)" in log
    assert "admission: rejected by authorization" in test_log(
        data, "prod.access.yaml::jane::rejected::Pod/root"
    )
    rows = re.findall(
        r"<tr[^>]*><td>self \([^<]*\)</td><td>create</td><td>Pod/root</td>"
        r"<td>[^<]*</td><td>rejected</td><td>rejected</td><td>admission</td>"
        r"<td>PodSecurity</td><td>passed</td>",
        page,
    )
    assert len(rows) == 1

    # The machine-readable results carry the same decisions, stage and by included.
    results = json.loads((pytester.path / "results.json").read_text())
    by_item = {(a["test_id"].split("::", 1)[1], a["target"]): a for a in results["admission"]}
    assert len(results["admission"]) == 5
    root = by_item[("self::rejected::Pod/root", "Pod/root")]
    assert (root["expected"], root["actual"], root["stage"], root["by"], root["outcome"]) == (
        "rejected",
        "rejected",
        "admission",
        "PodSecurity",
        "passed",
    )
    jane = by_item[("jane::rejected::Pod/root", "Pod/root")]
    assert (jane["subject"], jane["stage"], jane["outcome"]) == ("jane", "authorization", "failed")
    assert (results["totals"]["admission"], results["totals"]["admission_failed"]) == (5, 4)
