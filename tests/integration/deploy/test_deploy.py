"""deploy/ against the real kube-apiserver: admission, RBAC and the Job's own command line.

There is no kube-controller-manager or kubelet here, so no pod ever runs. Instead:

* Pod Security admission (on in the API server) judges the Job's pod template. For Jobs it only
  *warns*, so the template is also dry-run-created as a Pod, where it enforces.
* The Job's exact ``command`` + ``args``, read from the rendered manifest, run through
  :func:`tests.support.deploy.run_job` as the Job's ServiceAccount, in a working directory laid
  out like the pod's (see there). What the Job's volumes and security context would provide is
  emulated; the command itself is not changed.

Each layout is run as README.md presents it: the example overlay of deploy/ (image set,
impersonation examples on), the overlay for an existing namespace with every name changed
(which proves neither the manifests nor the example tests hard-code their namespace or
ServiceAccount), and the latter with the OpenShift component, run as an arbitrary UID from a
virtualenv installed exactly like the image's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.deploy import (
    DEPLOY,
    EXAMPLES,
    IMAGE,
    PLACEHOLDER,
    Layout,
    PodUser,
    apply_namespace,
    example_overlay,
    kubectl_ok,
    only,
    option,
    other_namespace_overlay,
    pod_from_job,
    render,
    restricted_namespace,
    run_job,
    write_docs,
)
from tests.support.podmount import POD_SA_DIR

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

# Files in example_tests/ that are not part of the suite.
NOT_SHIPPED = {"kustomization.yaml"}
IMPERSONATION_EXAMPLES = "EXAMPLES/impersonation"


@pytest.fixture
def pod_dir() -> Iterator[Path]:
    """A directory the pod's non-root user can reach (pytest's tmp_path is root-only)."""
    directory = Path(tempfile.mkdtemp(prefix="pytest-incluster-pod-"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def shipped(kubectl: Path) -> Layout:
    """deploy/ as it is in the repository."""
    return Layout(DEPLOY, render(kubectl, DEPLOY))


@pytest.fixture(scope="module")
def example(kubectl: Path, tmp_path_factory: pytest.TempPathFactory) -> Layout:
    """The README's overlay: deploy/ with the image set and the impersonation examples on."""
    directory = example_overlay(tmp_path_factory.mktemp("example"), [IMPERSONATION_EXAMPLES])
    return Layout(directory, render(kubectl, directory))


# -- the manifests ---------------------------------------------------------------------------


def files_of(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir() if p.is_file()} - NOT_SHIPPED


def test_every_example_file_ships_in_the_tests_configmap(shipped: Layout, example: Layout) -> None:
    assert set(shipped.tests_configmap["data"]) == files_of(EXAMPLES)
    with_impersonation = files_of(EXAMPLES) | files_of(EXAMPLES / "impersonation")
    assert set(example.tests_configmap["data"]) == with_impersonation


def test_impersonation_is_opt_in(shipped: Layout, example: Layout) -> None:
    """deploy/ alone grants no impersonation and ships no test that would need it."""
    kinds_shipped = {doc["kind"] for doc in shipped.docs}
    assert not kinds_shipped & {"ClusterRole", "ClusterRoleBinding"}
    assert "test_impersonation.py" not in shipped.tests_configmap["data"]
    assert "developer.access.yaml" not in shipped.tests_configmap["data"]
    # The overlay that lists example_tests/impersonation gets the tests AND the grant.
    assert "test_impersonation.py" in example.tests_configmap["data"]
    grant = next(d for d in example.docs if d["kind"] == "ClusterRole")
    assert grant["metadata"]["name"] == "pytest-incluster-impersonate"


def test_tests_configmap_is_immutable(shipped: Layout, example: Layout) -> None:
    """With and without the component that merges files into it (a merge drops options)."""
    assert shipped.tests_configmap.get("immutable") is True
    assert example.tests_configmap.get("immutable") is True


def test_tests_configmap_survives_helm_templating(example: Layout) -> None:
    """The helm-test variant puts the ConfigMap into a chart, where "{{" starts a template."""
    for key, text in example.tests_configmap["data"].items():
        assert "{{" not in text, f"{key} contains '{{{{'"


def test_job_runs_once_locked_down_with_a_short_lived_token(shipped: Layout) -> None:
    """What Pod Security "restricted" does not check, but deploy/ promises."""
    job = shipped.job["spec"]
    assert job["activeDeadlineSeconds"] > 0
    assert job["ttlSecondsAfterFinished"] > 0
    pod, container = shipped.pod_spec, shipped.container
    assert pod["automountServiceAccountToken"] is False
    assert pod["restartPolicy"] == "Never"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    # Writable places are emptyDirs: the working directory (report) and /tmp.
    for path in (container["workingDir"], "/tmp"):
        volume = next(m["name"] for m in container["volumeMounts"] if m["mountPath"] == path)
        assert "emptyDir" in shipped.volume(volume)
    # The token, CA and namespace exactly where a pod's automatic mount puts them.
    mount = shipped.mount_path("kube-api-access")
    assert mount == "/var/run/secrets/kubernetes.io/serviceaccount"
    sources = shipped.volume("kube-api-access")["projected"]["sources"]
    token = next(s["serviceAccountToken"] for s in sources if "serviceAccountToken" in s)
    assert token["path"] == "token"
    assert 600 <= token["expirationSeconds"] <= 86400
    ca = next(s["configMap"] for s in sources if "configMap" in s)
    assert ca["name"] == "kube-root-ca.crt"
    assert ca["items"] == [{"key": "ca.crt", "path": "ca.crt"}]
    namespace = next(s["downwardAPI"] for s in sources if "downwardAPI" in s)
    assert namespace["items"] == [
        {"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}
    ]


def test_job_fails_at_once_on_a_failed_suite_and_retries_disruptions(shipped: Layout) -> None:
    job = shipped.job["spec"]
    rules = job["podFailurePolicy"]["rules"]
    # Disruptions first: a drained pod gets SIGTERM and pytest exits 2, which the FailJob rule
    # would otherwise match.
    assert rules[0] == {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}
    assert rules[1] == {
        "action": "FailJob",
        "onExitCodes": {"containerName": "pytest", "operator": "In", "values": [1, 2, 3, 4, 5]},
    }
    assert len(rules) == 2
    assert job["backoffLimit"] == 1  # one retry for failures no rule matches (OOMKilled...)
    assert shipped.container["name"] == "pytest"


def test_job_pod_opts_out_of_sidecars_and_names_itself(shipped: Layout) -> None:
    template = shipped.job["spec"]["template"]
    assert template["metadata"]["annotations"] == {"sidecar.istio.io/inject": "false"}
    env = {var["name"]: var for var in shipped.container["env"]}
    assert env["INCLUSTER_POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["INCLUSTER_JOB_NAME"]["valueFrom"] == {
        "fieldRef": {"fieldPath": "metadata.labels['batch.kubernetes.io/job-name']"}
    }


def test_image_is_a_placeholder_until_an_overlay_sets_it(shipped: Layout, example: Layout) -> None:
    assert shipped.container["image"] == PLACEHOLDER
    assert example.container["image"] == IMAGE


@pytest.mark.parametrize(
    ("component", "annotations"),
    [
        (
            "helm-test",
            {"helm.sh/hook": "test", "helm.sh/hook-delete-policy": "before-hook-creation"},
        ),
        (
            "argocd-postsync",
            {
                "argocd.argoproj.io/hook": "PostSync",
                "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
            },
        ),
    ],
)
def test_hook_variants_only_annotate_the_job(
    kubectl: Path, shipped: Layout, tmp_path: Path, component: str, annotations: dict[str, str]
) -> None:
    directory = example_overlay(tmp_path, [f"DEPLOY/components/{component}"])
    variant = Layout(directory, render(kubectl, directory))
    assert variant.job["metadata"]["annotations"] == annotations
    del variant.job["metadata"]["annotations"]
    variant.container["image"] = PLACEHOLDER
    assert variant.docs == shipped.docs


def test_openshift_variant_only_drops_the_fixed_user(
    kubectl: Path, shipped: Layout, tmp_path: Path
) -> None:
    directory = example_overlay(tmp_path, ["DEPLOY/components/openshift"])
    variant = Layout(directory, render(kubectl, directory))
    assert variant.pod_spec["securityContext"] == {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    variant.pod_spec["securityContext"].update(runAsUser=10001, runAsGroup=10001)
    variant.container["image"] = PLACEHOLDER
    assert variant.docs == shipped.docs


def test_network_policy_allows_only_egress_to_the_api_server(kubectl: Path, tmp_path: Path) -> None:
    directory = example_overlay(tmp_path, ["DEPLOY/components/networkpolicy"])
    variant = Layout(directory, render(kubectl, directory))
    policy = next(d for d in variant.docs if d["kind"] == "NetworkPolicy")
    assert policy["metadata"]["namespace"] == variant.namespace
    spec = policy["spec"]
    assert spec["podSelector"]["matchLabels"].items() <= (
        variant.job["spec"]["template"]["metadata"]["labels"].items()
    )
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["ingress"] == []
    # One rule: a single address on the endpoints' port. No DNS (port 53): the plugin
    # connects to KUBERNETES_SERVICE_HOST, an IP address.
    assert spec["egress"] == [
        {
            "to": [{"ipBlock": {"cidr": "203.0.113.1/32"}}],
            "ports": [{"protocol": "TCP", "port": 6443}],
        }
    ]


# -- namespaces ------------------------------------------------------------------------------


def test_overlay_for_an_existing_namespace_emits_no_namespace(
    kubectl: Path, tmp_path: Path
) -> None:
    directory = other_namespace_overlay(tmp_path, "team-a", "-team-a")
    docs = render(kubectl, directory)
    assert [d for d in docs if d["kind"] == "Namespace"] == []
    namespaced = [d for d in docs if d["kind"] not in {"ClusterRole", "ClusterRoleBinding"}]
    assert {d["metadata"]["namespace"] for d in namespaced} == {"team-a"}
    subjects = [s for d in docs if d["kind"].endswith("Binding") for s in d["subjects"]]
    assert {s["namespace"] for s in subjects if s["kind"] == "ServiceAccount"} == {"team-a"}


def test_namespace_component_creates_the_namespace_when_asked_for(
    kubectl: Path, tmp_path: Path
) -> None:
    directory = other_namespace_overlay(
        tmp_path, "team-a", "-team-a", ["DEPLOY/components/namespace"]
    )
    (namespace,) = [d for d in render(kubectl, directory) if d["kind"] == "Namespace"]
    assert namespace["metadata"]["name"] == "team-a"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_namespace_field_on_deploy_itself_would_take_the_namespace_over(
    kubectl: Path, tmp_path: Path
) -> None:
    """Why README.md builds the other-namespace overlay on base/ and job/: deploy/ includes
    components/namespace, and kustomize's `namespace:` renames that Namespace object."""
    directory = example_overlay(tmp_path)
    text = (directory / "kustomization.yaml").read_text()
    (directory / "kustomization.yaml").write_text(text + "namespace: team-a\n")
    (namespace,) = [d for d in render(kubectl, directory) if d["kind"] == "Namespace"]
    assert namespace["metadata"]["name"] == "team-a"


def test_existing_namespace_is_left_as_it_was_by_apply_and_delete(
    control_plane: ControlPlane, kubectl: Path, tmp_path: Path
) -> None:
    token = uuid.uuid4().hex[:6]
    name = f"team-{token}"
    existing = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"owner": "team-a"}},
    }
    apply_namespace(control_plane, existing, tmp_path)
    directory = other_namespace_overlay(tmp_path, name, f"-{token}")
    kubectl_ok(control_plane, "apply", "-k", str(directory))
    kubectl_ok(control_plane, "delete", "-k", str(directory))
    done = kubectl_ok(control_plane, "get", "namespace", name, "-o", "json")
    after = json.loads(done.stdout)
    assert after["status"]["phase"] == "Active"
    assert "deletionTimestamp" not in after["metadata"]
    labels = dict(after["metadata"]["labels"])
    labels.pop("kubernetes.io/metadata.name")
    assert labels == {"owner": "team-a"}


# -- admission -------------------------------------------------------------------------------


def test_deploy_without_an_image_is_refused_at_apply(control_plane: ControlPlane) -> None:
    """A forgotten image is an error at `kubectl apply`, not a pod in ImagePullBackOff: deploy/
    applied as it is (no overlay) creates the rest and the API server refuses the Job."""
    done = control_plane.kubectl("apply", "-k", str(DEPLOY))
    assert done.returncode != 0
    assert (
        'The Job "pytest-incluster" is invalid: spec.template.spec.containers[0].image: '
        "Required value"
    ) in done.stderr, done.stderr


HOOKS = ["", "DEPLOY/components/argocd-postsync", "DEPLOY/components/helm-test"]
OPTIONAL = [
    IMPERSONATION_EXAMPLES,
    "DEPLOY/components/networkpolicy",
    "DEPLOY/components/openshift",
]
COMBINATIONS = [
    [c for i, c in enumerate(OPTIONAL) if mask & (1 << i)] + ([hook] if hook else [])
    for mask in range(1 << len(OPTIONAL))
    for hook in HOOKS
]


def combination_layout(kubectl: Path, work: Path, components: list[str], namespace: str) -> Layout:
    """deploy/ with the image set and ``components``, moved to ``namespace`` (which then is the
    namespace components/namespace creates)."""
    directory = example_overlay(work, components)
    text = (directory / "kustomization.yaml").read_text()
    (directory / "kustomization.yaml").write_text(
        text
        + f"""\
namespace: {namespace}
transformers:
  - |-
    apiVersion: builtin
    kind: NamespaceTransformer
    metadata:
      name: namespace
      namespace: {namespace}
    setRoleBindingSubjects: allServiceAccounts
"""
    )
    return Layout(directory, render(kubectl, directory))


def test_every_component_combination_is_admitted_under_restricted(
    control_plane: ControlPlane, kubectl: Path, tmp_path: Path
) -> None:
    """Each combination rendered in its own namespace, created by components/namespace with
    Pod Security "restricted" enforced; then all of them in one server dry run (one kubectl
    call, to stay fast), and every Job's pod dry-run-created as a Pod, where Pod Security
    enforces."""
    token = uuid.uuid4().hex[:6]
    namespaces, objects, pods = [], [], []
    for number, components in enumerate(COMBINATIONS):
        work = tmp_path / f"combination-{number}"
        work.mkdir()
        layout = combination_layout(kubectl, work, components, f"combination-{number}-{token}")
        namespace = only(layout.docs, "Namespace")
        labels = namespace["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted", components
        namespaces.append(namespace)
        objects += layout.docs
        pods.append(pod_from_job(layout, "job-pod"))
    kubectl_ok(control_plane, "apply", "-f", str(write_docs(tmp_path / "ns.yaml", namespaces)))

    done = kubectl_ok(
        control_plane,
        "apply",
        "--dry-run=server",
        "-f",
        str(write_docs(tmp_path / "all.yaml", objects)),
    )
    assert "Warning" not in done.stderr, done.stderr
    created = re.findall(
        r"^job\.batch/pytest-incluster created \(server dry run\)$", done.stdout, re.M
    )
    assert len(created) == len(COMBINATIONS), done.stdout

    admitted = kubectl_ok(
        control_plane,
        "create",
        "--dry-run=server",
        "-f",
        str(write_docs(tmp_path / "pods.yaml", pods)),
    )
    assert admitted.stderr == ""
    assert admitted.stdout.count("pod/job-pod created (server dry run)") == len(COMBINATIONS)


def test_restricted_pod_security_is_enforced_here(
    control_plane: ControlPlane, example: Layout, tmp_path: Path
) -> None:
    """The control for the test above: the same pod with capabilities kept is refused."""
    namespace = f"restricted-{uuid.uuid4().hex[:6]}"
    apply_namespace(control_plane, restricted_namespace(namespace), tmp_path)
    pod = pod_from_job(example, "capable-pod")
    pod["metadata"]["namespace"] = namespace
    del pod["spec"]["containers"][0]["securityContext"]["capabilities"]
    done = control_plane.kubectl(
        "create", "--dry-run=server", "-f", str(write_docs(tmp_path / "pod.yaml", [pod]))
    )
    assert done.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in done.stderr
    assert "capabilities.drop" in done.stderr


# -- the Job's command, as its pod would run it ----------------------------------------------


@pytest.fixture(params=["example", "other-namespace", "openshift-any-uid"])
def applied(
    request: pytest.FixtureRequest,
    control_plane: ControlPlane,
    kubectl: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Layout:
    """An overlay from README.md applied for real: `kubectl apply -k`."""
    work = tmp_path_factory.mktemp("overlay")
    if request.param == "example":
        directory = example_overlay(work, [IMPERSONATION_EXAMPLES])
    else:
        token = uuid.uuid4().hex[:6]
        components = [IMPERSONATION_EXAMPLES]
        if request.param == "openshift-any-uid":
            components.append("DEPLOY/components/openshift")
        directory = other_namespace_overlay(work, f"suite-{token}", f"-{token}", components)
        apply_namespace(control_plane, restricted_namespace(f"suite-{token}"), work)
    kubectl_ok(control_plane, "apply", "-k", str(directory))
    return Layout(directory, render(kubectl, directory))


SUMMARY = re.compile(r"^=+ (\d+) passed in [\d.]+s", re.MULTILINE)


def test_job_command_passes_and_stores_its_report(
    request: pytest.FixtureRequest,
    control_plane: ControlPlane,
    kubectl: Path,
    applied: Layout,
    make_service_account: Callable[..., Path],
    tmp_path: Path,
    pod_dir: Path,
) -> None:
    if "runAsUser" in applied.pod_spec["securityContext"]:
        run = run_job(control_plane, applied, make_service_account, tmp_path, pod_dir)
    else:
        # No fixed user (OpenShift picks one): an arbitrary UID and GID, owner of nothing,
        # running the plugin from a virtualenv installed like the image's.
        venv: Path = request.getfixturevalue("image_venv")
        run = run_job(
            control_plane,
            applied,
            make_service_account,
            tmp_path,
            pod_dir,
            venv_bin=venv / "bin",
            arbitrary=PodUser(123456, 123456),
        )
        assert run.uid == 123456
    output = run.process.stdout + run.process.stderr
    if run.process.returncode != 0:
        pytest.fail(f"the Job's command exited {run.process.returncode}:\n{output}", pytrace=False)
    # Everything passed: no failure, error, skip, xfail or warning in the summary line.
    passed = SUMMARY.search(run.process.stdout)
    assert passed, output
    runner = f"system:serviceaccount:{applied.namespace}:{applied.pod_spec['serviceAccountName']}"
    assert f"identity {runner}" in run.process.stdout, output
    assert f"source in-cluster service account ({POD_SA_DIR})" in run.process.stdout, output

    report_file = run.workdir / "report.html"
    assert report_file.stat().st_uid == run.uid
    report = report_file.read_text()
    assert "test_cannot_make_itself_cluster_admin" in report
    assert "list secrets -n kube-system" in report
    assert "test_developers_cannot_read_secrets" in report

    configmap = option(applied.container["args"], "--incluster-report-configmap")
    fetched = tmp_path / "fetched"
    fetch_report(control_plane, kubectl, configmap, applied.namespace, fetched)
    assert (fetched / "report.html").read_text() == report
    assert (fetched / "junit.xml").read_bytes() == (run.workdir / "junit.xml").read_bytes()

    summary = run.termination_log.read_text()
    assert f"{passed[1]} passed, 0 failed, 0 errors" in summary
    assert "0 unexpectedly allowed, 0 unexpectedly forbidden" in summary
    assert f"report: ConfigMap {applied.namespace}/{configmap}" in summary

    token = (run.sa_dir / "token").read_text().strip()
    for text in (output, report, summary):
        assert token not in text


def fetch_report(cp: ControlPlane, kubectl: Path, name: str, namespace: str, out: Path) -> None:
    """deploy/fetch-report.sh as a user runs it: kubectl on PATH, admin kubeconfig."""
    env = {
        **os.environ,
        "PATH": f"{kubectl.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "KUBECONFIG": str(cp.admin_kubeconfig),
    }
    done = subprocess.run(
        ["bash", str(DEPLOY / "fetch-report.sh"), name, "-n", namespace, "-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, f"fetch-report.sh failed:\n{done.stdout}\n{done.stderr}"
