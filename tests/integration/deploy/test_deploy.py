"""deploy/ against the real kube-apiserver: admission, RBAC and the Job's own command line.

There is no kube-controller-manager or kubelet here, so no pod ever runs. Instead:

* Pod Security admission (on in the API server) judges the Job's pod template. For Jobs it only
  *warns*, so the template is also dry-run-created as a Pod, where it enforces.
* The Job's exact ``command`` + ``args``, read from the rendered manifest, run through
  :func:`run_in_pod` as the Job's ServiceAccount, in a working directory laid out like the pod's:
  the tests ConfigMap rendered to files the way kubelet writes a ConfigMap volume (``..data``
  symlinks), read-only, under a read-only root filesystem, as the pod's non-root ``runAsUser``.
  What the Job's volumes and security context would provide is emulated; the command itself is
  not changed.

Each layout is run twice: deploy/ as shipped, and an overlay that moves it to another namespace
and renames everything, which proves neither the manifests nor the example tests hard-code
their namespace or ServiceAccount.
"""

from __future__ import annotations

import copy
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import pytest
import yaml

import pytest_incluster
from tests.support.podmount import POD_SA_DIR, run_in_pod

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
EXAMPLES = ROOT / "example_tests"
# Files in example_tests/ that are not part of the suite.
NOT_SHIPPED = {"kustomization.yaml"}

Doc = dict[str, Any]


# -- rendering -------------------------------------------------------------------------------


def render(kubectl: Path, directory: Path) -> list[Doc]:
    done = subprocess.run(
        [str(kubectl), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def only(docs: list[Doc], kind: str) -> Doc:
    found = [doc for doc in docs if doc["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


@dataclass
class Layout:
    """A rendered kustomization and the parts of it the tests look at."""

    directory: Path
    docs: list[Doc]

    @property
    def namespace(self) -> str:
        return str(only(self.docs, "Namespace")["metadata"]["name"])

    @property
    def job(self) -> Doc:
        return only(self.docs, "Job")

    @property
    def pod_spec(self) -> Doc:
        spec: Doc = self.job["spec"]["template"]["spec"]
        return spec

    @property
    def container(self) -> Doc:
        containers = self.pod_spec["containers"]
        assert len(containers) == 1
        container: Doc = containers[0]
        return container

    def volume(self, name: str) -> Doc:
        volume: Doc = next(v for v in self.pod_spec["volumes"] if v["name"] == name)
        return volume

    def mount_path(self, volume: str) -> str:
        return str(
            next(m for m in self.container["volumeMounts"] if m["name"] == volume)["mountPath"]
        )

    def configmap(self, name: str) -> Doc:
        return next(
            doc
            for doc in self.docs
            if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == name
        )


def overlay(tmp_path: Path, text: str) -> Path:
    """A kustomization in ``tmp_path`` on top of deploy/ (kustomize wants relative paths)."""
    deploy = os.path.relpath(DEPLOY, tmp_path)
    (tmp_path / "kustomization.yaml").write_text(text.replace("DEPLOY", deploy))
    return tmp_path


def renamed_overlay(tmp_path: Path, namespace: str, suffix: str) -> Path:
    """deploy/ in another namespace with every name changed (as README.md shows)."""
    return overlay(
        tmp_path,
        f"""\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: "{namespace}"
nameSuffix: "{suffix}"
resources:
  - DEPLOY
transformers:
  - |-
    apiVersion: builtin
    kind: NamespaceTransformer
    metadata:
      name: namespace
      namespace: "{namespace}"
    setRoleBindingSubjects: allServiceAccounts
""",
    )


# -- what the API server says ----------------------------------------------------------------


def kubectl_ok(cp: ControlPlane, *args: str) -> subprocess.CompletedProcess[str]:
    done = cp.kubectl(*args)
    assert done.returncode == 0, f"kubectl {shlex.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def write_docs(path: Path, docs: list[Doc]) -> Path:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def create_namespace(cp: ControlPlane, layout: Layout, tmp_path: Path) -> None:
    """The Namespace for real, so Pod Security admission sees its labels."""
    ns = write_docs(tmp_path / "namespace.yaml", [only(layout.docs, "Namespace")])
    kubectl_ok(cp, "apply", "-f", str(ns))


def pod_from_job(layout: Layout, name: str) -> Doc:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": layout.namespace},
        "spec": copy.deepcopy(layout.pod_spec),
    }


# -- the pod, emulated -----------------------------------------------------------------------


def resolve_env(layout: Layout) -> dict[str, str]:
    """The container's ``env`` as the kubelet would fill it in (downward API included)."""
    fields = {
        "metadata.namespace": layout.namespace,
        "metadata.name": f"{layout.job['metadata']['name']}-emulated",
        "spec.serviceAccountName": layout.pod_spec["serviceAccountName"],
    }
    env = {}
    for var in layout.container.get("env", []):
        if "value" in var:
            env[var["name"]] = str(var["value"])
            continue
        field = var.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
        assert field in fields, f"env {var['name']}: teach resolve_env about {var['valueFrom']}"
        env[var["name"]] = fields[field]
    return env


def write_configmap_volume(target: Path, data: Mapping[str, str]) -> None:
    """Lay out ``data`` like kubelet's atomic writer: a timestamped directory, a ``..data``
    link to it, and one ``key -> ..data/key`` link per key."""
    payload = target / "..2026_01_01_00_00_00.000000001"
    payload.mkdir(parents=True)
    for key, value in data.items():
        (payload / key).write_text(value)
        (payload / key).chmod(0o644)
    (target / "..data").symlink_to(payload.name)
    for key in data:
        (target / key).symlink_to(f"..data/{key}")


# Runs inside run_in_pod's private mount namespace, then execs the Job's command unchanged:
# the tests directory read-only (a ConfigMap volume), the root filesystem read-only, /tmp and
# the working directory writable (the Job's emptyDirs). Bind remounts change only this mount
# namespace's view; the host's mounts are untouched.
POD_FILESYSTEM = """\
set -e
mount --bind /tmp /tmp
cd "$(pwd -P)"
mount --bind "$1" "$1"
mount -o remount,bind,ro "$1"
mount -o remount,bind,ro /
shift
exec "$@"
"""


@dataclass
class PodRun:
    layout: Layout
    sa_dir: Path
    workdir: Path
    process: subprocess.CompletedProcess[str]
    termination_log: Path


def pod_user(layout: Layout) -> list[str]:
    """``setpriv`` arguments for the container's runAsUser/runAsGroup (container wins)."""
    context = {
        **layout.pod_spec.get("securityContext", {}),
        **layout.container.get("securityContext", {}),
    }
    uid = context.get("runAsUser")
    if uid is None:
        return []
    gid = context.get("runAsGroup", uid)
    switch = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]
    if _closed_to_others(Path(sys.prefix), Path(pytest_incluster.__file__).parent):
        # The image's venv is world-readable; this checkout may not be (a clone in a 0700
        # directory). Then let the pod user read (never write) it; the read-only root and the
        # writable emptyDir are still enforced.
        switch += ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
    return switch


def _closed_to_others(*paths: Path) -> bool:
    """Whether another user cannot reach one of ``paths`` (a directory on the way lacks o+x)."""
    for path in paths:
        for directory in (path, *path.parents):
            if not directory.stat().st_mode & stat.S_IXOTH:
                return True
    return False


def run_job(
    cp: ControlPlane,
    layout: Layout,
    make_service_account: Callable[..., Path],
    tmp_path: Path,
    pod_dir: Path,
) -> PodRun:
    """Run the Job's container command as its ServiceAccount, in an emulated pod.

    ``pod_dir`` holds what the non-root user must reach (tmp_path's parents are root-only):
    the working directory, world-writable like an emptyDir, and the termination log.
    """
    container = layout.container
    command = [*container.get("command", []), *container.get("args", [])]
    assert not any("$(" in part for part in command), "teach run_job about $(VAR) expansion"
    workdir = pod_dir / "work"
    workdir.mkdir()
    workdir.chmod(0o777)
    tests_at = PurePosixPath(layout.mount_path("tests")).relative_to(container["workingDir"])
    tests_volume = layout.configmap(layout.volume("tests")["configMap"]["name"])
    write_configmap_volume(workdir / tests_at, tests_volume["data"])
    sa_dir = make_service_account(
        layout.namespace, layout.pod_spec["serviceAccountName"], out_dir=tmp_path / "sa"
    )
    # The files as the projected volume presents them: its defaultMode, readable by the user.
    mode = layout.volume("kube-api-access")["projected"].get("defaultMode", 0o644)
    for file in sa_dir.iterdir():
        file.chmod(mode)
    termination_log = pod_dir / "termination-log"
    termination_log.touch(mode=0o666)
    termination_log.chmod(0o666)
    env = {
        **resolve_env(layout),
        # From deploy/Dockerfile: the image's venv on PATH, HOME in /tmp, no bytecode written.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": "/tmp",
        "PYTHONDONTWRITEBYTECODE": "1",
        # kubelet provides /dev/termination-log; here it is a file of our own.
        "PYTEST_INCLUSTER_TERMINATION_LOG": str(termination_log),
    }
    process = run_in_pod(
        ["sh", "-c", POD_FILESYSTEM, "pod-filesystem", str(tests_at), *pod_user(layout), *command],
        sa_dir,
        cp.server,
        cwd=workdir,
        env=env,
    )
    return PodRun(layout, sa_dir, workdir, process, termination_log)


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


# -- fixtures --------------------------------------------------------------------------------


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
    return Layout(DEPLOY, render(kubectl, DEPLOY))


@pytest.fixture
def shipped_namespace(control_plane: ControlPlane, shipped: Layout, tmp_path: Path) -> Layout:
    create_namespace(control_plane, shipped, tmp_path)
    return shipped


@pytest.fixture(params=["shipped", "renamed"])
def applied(
    request: pytest.FixtureRequest,
    control_plane: ControlPlane,
    kubectl: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Layout:
    """deploy/ (or the renamed overlay of it) applied for real: `kubectl apply -k`."""
    if request.param == "shipped":
        directory = DEPLOY
    else:
        token = uuid.uuid4().hex[:6]
        directory = renamed_overlay(
            tmp_path_factory.mktemp("overlay"), f"suite-{token}", f"-{token}"
        )
    layout = Layout(directory, render(kubectl, directory))
    create_namespace(control_plane, layout, tmp_path_factory.mktemp("namespace"))
    kubectl_ok(control_plane, "apply", "-k", str(directory))
    return layout


# -- the manifests ---------------------------------------------------------------------------


def test_every_example_file_ships_in_the_tests_configmap(shipped: Layout) -> None:
    volume = shipped.volume("tests")["configMap"]["name"]
    shipped_files = set(shipped.configmap(volume)["data"])
    on_disk = {p.name for p in EXAMPLES.iterdir() if p.is_file()} - NOT_SHIPPED
    assert shipped_files == on_disk


def test_tests_configmap_survives_helm_templating(shipped: Layout) -> None:
    """The helm-test variant puts the ConfigMap into a chart, where "{{" starts a template."""
    volume = shipped.volume("tests")["configMap"]["name"]
    for key, text in shipped.configmap(volume)["data"].items():
        assert "{{" not in text, f"{key} contains '{{{{'"


def test_job_runs_once_locked_down_with_a_short_lived_token(shipped: Layout) -> None:
    """What Pod Security "restricted" does not check, but deploy/ promises."""
    job = shipped.job["spec"]
    assert job["backoffLimit"] == 0
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
    directory = overlay(
        tmp_path,
        f"""\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - DEPLOY
components:
  - DEPLOY/components/{component}
""",
    )
    variant = Layout(directory, render(kubectl, directory))
    assert variant.job["metadata"]["annotations"] == annotations
    without = copy.deepcopy(variant.docs)
    del only(without, "Job")["metadata"]["annotations"]
    assert without == shipped.docs


# -- admission -------------------------------------------------------------------------------


def test_server_dry_run_apply_is_clean(
    control_plane: ControlPlane, shipped_namespace: Layout
) -> None:
    done = kubectl_ok(control_plane, "apply", "--dry-run=server", "-k", str(DEPLOY))
    assert "Warning" not in done.stderr, done.stderr
    assert "job.batch/pytest-incluster created (server dry run)" in done.stdout or (
        "job.batch/pytest-incluster unchanged (server dry run)" in done.stdout
    ), done.stdout


def test_job_pod_is_admitted_under_restricted_pod_security(
    control_plane: ControlPlane, shipped_namespace: Layout, tmp_path: Path
) -> None:
    pod = write_docs(tmp_path / "pod.yaml", [pod_from_job(shipped_namespace, "job-pod")])
    done = kubectl_ok(control_plane, "create", "--dry-run=server", "-f", str(pod))
    assert done.stderr == ""
    assert "pod/job-pod created (server dry run)" in done.stdout


def test_restricted_pod_security_is_enforced_here(
    control_plane: ControlPlane, shipped_namespace: Layout, tmp_path: Path
) -> None:
    """The control for the test above: the same pod with capabilities kept is refused."""
    pod = pod_from_job(shipped_namespace, "capable-pod")
    del pod["spec"]["containers"][0]["securityContext"]["capabilities"]
    done = control_plane.kubectl(
        "create", "--dry-run=server", "-f", str(write_docs(tmp_path / "pod.yaml", [pod]))
    )
    assert done.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in done.stderr
    assert "capabilities.drop" in done.stderr


# -- the Job's command, as its pod would run it ----------------------------------------------


SUMMARY = re.compile(r"^=+ (\d+) passed in [\d.]+s", re.MULTILINE)


def test_job_command_passes_and_stores_its_report(
    control_plane: ControlPlane,
    kubectl: Path,
    applied: Layout,
    make_service_account: Callable[..., Path],
    tmp_path: Path,
    pod_dir: Path,
) -> None:
    run = run_job(control_plane, applied, make_service_account, tmp_path, pod_dir)
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
    assert report_file.stat().st_uid == applied.pod_spec["securityContext"]["runAsUser"]
    report = report_file.read_text()
    assert "test_cannot_make_itself_cluster_admin" in report
    assert "list secrets -n kube-system" in report

    configmap = _option(applied.container["args"], "--incluster-report-configmap")
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


def _option(args: list[str], flag: str) -> str:
    """The value of ``--flag=VALUE`` or ``--flag VALUE`` in ``args``."""
    for index, arg in enumerate(args):
        if arg.startswith(f"{flag}="):
            return arg.split("=", 1)[1]
        if arg == flag:
            return args[index + 1]
    raise AssertionError(f"{flag} is not in {args}")
