"""deploy/ rendered, applied and run the way a user does it: shared by tests/integration/deploy.

* :func:`render` is ``kubectl kustomize`` (the kubectl built with the control plane), and
  :func:`overlay` writes a user's overlay beside the test, with relative paths as kustomize
  wants them. Overlays set the image through :data:`IMAGE_ENTRY`, exactly as README.md shows.
* :func:`run_job` runs the Job's exact ``command`` + ``args``, read from the rendered manifest,
  as its ServiceAccount in an emulated pod (there is no kubelet here): the tests ConfigMap laid
  out like a ConfigMap volume, read-only, under a read-only root filesystem, as the pod's user.
"""

from __future__ import annotations

import copy
import os
import shlex
import stat
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import yaml

import pytest_incluster
from tests.support.podmount import run_in_pod

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
EXAMPLES = ROOT / "example_tests"

Doc = dict[str, Any]

# The Job's image placeholder (none), and the overlay entry that sets it (README.md).
PLACEHOLDER = ""
IMAGE = "registry.example.com/pytest-incluster:0.1.0"
IMAGE_ENTRY = """\
images:
  - name: ""
    newName: registry.example.com/pytest-incluster
    newTag: "0.1.0"
"""


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


def kinds(docs: list[Doc], kind: str) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] == kind]


def only(docs: list[Doc], kind: str) -> Doc:
    found = kinds(docs, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


@dataclass
class Layout:
    """A rendered kustomization and the parts of it the tests look at."""

    directory: Path
    docs: list[Doc]

    @property
    def namespace(self) -> str:
        """Where the Job runs (from the Job: the safe overlays emit no Namespace object)."""
        return str(self.job["metadata"]["namespace"])

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

    @property
    def tests_configmap(self) -> Doc:
        return self.configmap(self.volume("tests")["configMap"]["name"])


def overlay(directory: Path, text: str) -> Path:
    """A kustomization in ``directory``; DEPLOY and EXAMPLES in ``text`` become relative paths
    to deploy/ and example_tests/ (kustomize wants relative paths)."""
    text = text.replace("DEPLOY", os.path.relpath(DEPLOY, directory))
    text = text.replace("EXAMPLES", os.path.relpath(EXAMPLES, directory))
    (directory / "kustomization.yaml").write_text(text)
    return directory


def example_overlay(directory: Path, components: Sequence[str] = ()) -> Path:
    """The README's first overlay: deploy/ with the image set, plus ``components``."""
    listed = "".join(f"  - {c}\n" for c in components)
    return overlay(
        directory,
        "apiVersion: kustomize.config.k8s.io/v1beta1\n"
        "kind: Kustomization\n"
        "resources:\n"
        "  - DEPLOY\n" + (f"components:\n{listed}" if components else "") + IMAGE_ENTRY,
    )


def other_namespace_overlay(
    directory: Path, namespace: str, suffix: str, components: Sequence[str] = ()
) -> Path:
    """The README's overlay for an existing namespace: built on base/ and job/ (no Namespace
    object), with every name changed so that copies do not collide."""
    listed = "".join(f"  - {c}\n" for c in components)
    return overlay(
        directory,
        f"""\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: "{namespace}"
nameSuffix: "{suffix}"
resources:
  - DEPLOY/base
  - DEPLOY/job
  - EXAMPLES
"""
        + (f"components:\n{listed}" if components else "")
        + f"""\
transformers:
  - |-
    apiVersion: builtin
    kind: NamespaceTransformer
    metadata:
      name: namespace
      namespace: "{namespace}"
    setRoleBindingSubjects: allServiceAccounts
"""
        + IMAGE_ENTRY,
    )


# -- what the API server says ----------------------------------------------------------------


def kubectl_ok(cp: ControlPlane, *args: str) -> subprocess.CompletedProcess[str]:
    done = cp.kubectl(*args)
    assert done.returncode == 0, f"kubectl {shlex.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def write_docs(path: Path, docs: list[Doc]) -> Path:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def restricted_namespace(name: str, **labels: str) -> Doc:
    """A Namespace like components/namespace's: Pod Security "restricted" enforced."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
                **labels,
            },
        },
    }


def apply_namespace(cp: ControlPlane, namespace: Doc, tmp_path: Path) -> None:
    """The Namespace for real, so Pod Security admission sees its labels."""
    kubectl_ok(cp, "apply", "-f", str(write_docs(tmp_path / "namespace.yaml", [namespace])))


def pod_from_job(layout: Layout, name: str) -> Doc:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": layout.namespace},
        "spec": copy.deepcopy(layout.pod_spec),
    }


# -- the pod, emulated -----------------------------------------------------------------------


def resolve_env(layout: Layout, pod_name: str) -> dict[str, str]:
    """The container's ``env`` as the kubelet would fill it in (downward API included)."""
    fields = {
        "metadata.namespace": layout.namespace,
        "metadata.name": pod_name,
        "metadata.labels['batch.kubernetes.io/job-name']": layout.job["metadata"]["name"],
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
    uid: int


@dataclass(frozen=True)
class PodUser:
    """Who the container runs as: the manifest's runAsUser/runAsGroup, or, where the manifest
    leaves it to the platform (OpenShift's SCC), an arbitrary UID."""

    uid: int
    gid: int


def pod_user(layout: Layout, *, arbitrary: PodUser) -> PodUser:
    """The container's user (container securityContext wins over the pod's)."""
    context = {
        **layout.pod_spec.get("securityContext", {}),
        **layout.container.get("securityContext", {}),
    }
    uid = context.get("runAsUser")
    if uid is None:
        return arbitrary
    return PodUser(int(uid), int(context.get("runAsGroup", uid)))


def switch_user(user: PodUser, venv_bin: Path) -> list[str]:
    """``setpriv`` arguments that become ``user`` with no supplementary groups."""
    switch = ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups"]
    if closed_to_others(venv_bin, Path(pytest_incluster.__file__).parent):
        # The checkout's venv may sit in a 0700 directory (the image's is world-readable, and
        # the installed-image test uses one that is). Then let the pod user read (never write)
        # it; the read-only root and the writable emptyDir are still enforced.
        switch += ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
    return switch


def closed_to_others(*paths: Path) -> bool:
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
    *,
    venv_bin: Path | None = None,
    arbitrary: PodUser = PodUser(1000680000, 0),  # an OpenShift-style UID, group root
) -> PodRun:
    """Run the Job's container command as its ServiceAccount, in an emulated pod.

    ``pod_dir`` holds what the non-root user must reach (tmp_path's parents are root-only):
    the working directory, world-writable like an emptyDir, and the termination log.
    ``venv_bin`` is the image's ``/opt/venv/bin`` (default: this interpreter's).
    """
    container = layout.container
    command = [*container.get("command", []), *container.get("args", [])]
    assert not any("$(" in part for part in command), "teach run_job about $(VAR) expansion"
    workdir = pod_dir / "work"
    workdir.mkdir()
    workdir.chmod(0o777)
    tests_at = PurePosixPath(layout.mount_path("tests")).relative_to(container["workingDir"])
    write_configmap_volume(workdir / tests_at, layout.tests_configmap["data"])
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
    bin_dir = venv_bin or Path(sys.executable).parent
    env = {
        **resolve_env(layout, f"{layout.job['metadata']['name']}-emulated"),
        # From deploy/Dockerfile: the image's venv on PATH, HOME in /tmp, no bytecode written.
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": "/tmp",
        "PYTHONDONTWRITEBYTECODE": "1",
        # kubelet provides /dev/termination-log; here it is a file of our own.
        "PYTEST_INCLUSTER_TERMINATION_LOG": str(termination_log),
    }
    user = pod_user(layout, arbitrary=arbitrary)
    process = run_in_pod(
        [
            "sh",
            "-c",
            POD_FILESYSTEM,
            "pod-filesystem",
            str(tests_at),
            *switch_user(user, bin_dir),
            *command,
        ],
        sa_dir,
        cp.server,
        cwd=workdir,
        env=env,
    )
    return PodRun(layout, sa_dir, workdir, process, termination_log, user.uid)


def option(args: list[str], flag: str) -> str:
    """The value of ``--flag=VALUE`` or ``--flag VALUE`` in ``args``."""
    for index, arg in enumerate(args):
        if arg.startswith(f"{flag}="):
            return arg.split("=", 1)[1]
        if arg == flag:
            return args[index + 1]
    raise AssertionError(f"{flag} is not in {args}")
