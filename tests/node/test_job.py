"""deploy/ on a real node: the Job runs as a real pod from an image built here; `cluster down`
cleans up after it.

One node for the module (building the image and starting the node take minutes on two cores):
``pytest-incluster image`` builds deploy/Dockerfile on a local Debian base,
``pytest-incluster cluster up --node --image ...`` starts the control plane and the node, and
``kubectl apply -k`` applies deploy/ as shipped, or through an overlay that adds a probe file to
the tests ConfigMap (what the pod saw from the inside: uid, read-only root, its token), swaps
the suite for a failing one, or adds the Helm-test / Argo CD PostSync components. The last test
runs `cluster down` and compares the machine with a snapshot taken before `cluster up`.

Needs root (CI runs as root), like the node itself; nothing is skipped without it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.node.machine import MachineSnapshot, snapshot

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NAMESPACE = "pytest-incluster"
JOB = "pytest-incluster"
CLI = (sys.executable, "-m", "pytest_incluster.cli")
STORED = f"; report: ConfigMap {NAMESPACE}/pytest-incluster-report"

PROBE = '''\
"""What the pod sees from the inside, recorded as JUnit properties for the test outside."""
import base64, errno, json, os, pathlib

SA = pathlib.Path("/var/run/secrets/kubernetes.io/serviceaccount")


def test_probe(record_property):
    record_property("uid", os.getuid())
    record_property("gid", os.getgid())
    try:
        pathlib.Path("/probe").write_text("x")
        record_property("root_write", "allowed")
    except OSError as error:
        record_property("root_write", errno.errorcode[error.errno])
    claims = json.loads(base64.urlsafe_b64decode((SA / "token").read_text().split(".")[1] + "=="))
    record_property("claims", json.dumps(claims))
    mounts = pathlib.Path("/proc/self/mountinfo").read_text().splitlines()
    # /var/run is a symlink to /run in Debian: the mount shows under the resolved path.
    sa_mounts = [m for m in mounts if " /run/secrets/kubernetes.io/serviceaccount " in m]
    record_property("sa_mount", sa_mounts[0].split(" - ")[1])
'''

FAILING = """\
def test_the_cluster_is_flat():
    assert "round" == "flat", "the cluster is round"
"""


@dataclass
class Node:
    state: Path
    kubeconfig: Path
    kubectl: Path
    before: MachineSnapshot


def _run(*argv: str | Path, timeout: float = 1800, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"{argv} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, k8s_assets: Path) -> Iterator[Node]:
    state = tmp_path_factory.mktemp("node-cluster")
    before = snapshot()
    started = time.monotonic()
    image = _run(*CLI, "image", "--context", ROOT).strip()
    print(f"\nimage built in {time.monotonic() - started:.0f}s: {image}", file=sys.__stderr__)
    started = time.monotonic()
    try:
        _run(*CLI, "cluster", "up", "--dir", state, "--node", "--image", image, timeout=900)
        print(f"node up in {time.monotonic() - started:.0f}s", file=sys.__stderr__)
        yield Node(state, state / "kubeconfig", k8s_assets / "kubectl", before)
    finally:
        subprocess.run([*CLI, "cluster", "down", "--dir", str(state)], check=False, timeout=600)


def kubectl(node: Node, *args: str, check: bool = True) -> str:
    done = subprocess.run(
        [str(node.kubectl), "--kubeconfig", str(node.kubeconfig), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if check:
        assert done.returncode == 0, f"kubectl {args}: {done.stderr}"
    return done.stdout


def overlay(tmp_path: Path, *, components: tuple[str, ...] = (), files: dict[str, str]) -> Path:
    """A kustomization over deploy/ that adds ``files`` to (or, for the failing suite, puts them
    in place of) the tests ConfigMap, and lists ``components`` of deploy/components."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    behavior = "merge" if "test_probe.py" in files else "replace"
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        # kustomize refuses absolute paths to other kustomization roots
        "resources": [os.path.relpath(DEPLOY, tmp_path)],
        "components": [os.path.relpath(DEPLOY / "components" / c, tmp_path) for c in components],
        "configMapGenerator": [
            {
                "name": "pytest-incluster-tests",
                "namespace": NAMESPACE,
                "behavior": behavior,
                "files": sorted(files),
            }
        ],
    }
    # The Job names the image `pytest-incluster`, or (newer layout) leaves it empty for the
    # overlay to set; either way it becomes the name the node's containerd holds the image as.
    job_image = "" if (DEPLOY / "job" / "job.yaml").exists() else "pytest-incluster"
    kustomization["images"] = [
        {"name": job_image, "newName": "pytest-incluster", "newTag": "0.1.0"}
    ]
    if behavior == "replace":
        (tmp_path / "pytest.ini").write_text((ROOT / "example_tests" / "pytest.ini").read_text())
        kustomization["configMapGenerator"][0]["files"].append("pytest.ini")
    (tmp_path / "kustomization.yaml").write_text(json.dumps(kustomization))
    return tmp_path


def run_job(node: Node, directory: Path) -> dict[str, Any]:
    """Apply ``directory`` (a fresh Job), wait until the Job finishes; its pod as JSON."""
    kubectl(
        node, "delete", "job", JOB, "-n", NAMESPACE, "--ignore-not-found", "--cascade=foreground"
    )
    started = time.monotonic()
    kubectl(node, "apply", "-k", str(directory))
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        job = json.loads(kubectl(node, "get", "job", JOB, "-n", NAMESPACE, "-o", "json"))
        finished = [
            c["type"]
            for c in job.get("status", {}).get("conditions", [])
            if c["type"] in ("Complete", "Failed") and c["status"] == "True"
        ]
        if finished:
            took = time.monotonic() - started
            print(f"\nJob {finished[0]} {took:.0f}s after apply", file=sys.__stderr__)
            pods = json.loads(
                kubectl(node, "get", "pods", "-n", NAMESPACE, "-l", f"job-name={JOB}", "-o", "json")
            )["items"]
            assert len(pods) == 1
            pod: dict[str, Any] = pods[0]
            pod["jobCondition"] = finished[0]
            return pod
        time.sleep(1)
    pytest.fail(f"the Job did not finish within 600 s: {kubectl(node, 'describe', 'pod', '-A')}")


def termination_message(pod: dict[str, Any]) -> str:
    state = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    return str(state.get("message", "")).rstrip("\n")


def fetch_report(node: Node, out: Path) -> str:
    """deploy/fetch-report.sh; returns the summary line it prints last."""
    env = {**os.environ, "KUBECTL": str(node.kubectl), "KUBECONFIG": str(node.kubeconfig)}
    printed = _run(
        "bash",
        DEPLOY / "fetch-report.sh",
        "pytest-incluster-report",
        "-n",
        NAMESPACE,
        "-o",
        out,
        env=env,
        timeout=120,
    )
    return printed.strip().splitlines()[-1]


def junit_cases(path: Path) -> dict[str, ET.Element]:
    return {case.get("name", ""): case for case in ET.parse(path).getroot().iter("testcase")}


def properties(case: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in case.iter("property")}


def test_the_example_suite_completes_as_a_real_pod(node: Node, tmp_path: Path) -> None:
    pod = run_job(node, overlay(tmp_path / "overlay", files={"test_probe.py": PROBE}))
    summary = fetch_report(node, tmp_path / "report")
    cases = junit_cases(tmp_path / "report" / "junit.xml")
    failures = [ET.tostring(c, encoding="unicode") for c in cases.values() if len(c)]
    assert pod["jobCondition"] == "Complete", failures
    # The ConfigMap's summary is written before the upload; the termination message after it.
    assert termination_message(pod) == f"{summary}{STORED}"
    assert summary.startswith("pytest-incluster: ")
    assert ", 0 failed, 0 errors; access checks: " in summary

    examples = {p.stem for p in (ROOT / "example_tests").glob("test_*.py")}
    ran = {case.get("classname", "").split(".")[-1] for case in cases.values()}
    assert examples <= ran, f"missing example modules: {examples - ran}"
    assert not [c for c in cases.values() if c.find("failure") is not None]
    html = (tmp_path / "report" / "report.html").read_text()
    assert "test_identity.py" in html

    probe = properties(cases["test_probe"])
    assert (probe["uid"], probe["gid"]) == ("10001", "10001")
    assert probe["root_write"] == "EROFS"
    assert probe["sa_mount"].startswith("tmpfs ")
    claims = json.loads(probe["claims"])
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["aud"] == [
        "https://kubernetes.default.svc.cluster.local",
        "https://kubernetes.default.svc",
    ]
    assert claims["kubernetes.io"]["pod"]["name"] == pod["metadata"]["name"]
    assert claims["kubernetes.io"]["serviceaccount"]["name"] == "pytest-incluster"


def test_a_failing_suite_fails_the_job_with_the_failure_in_its_message(
    node: Node, tmp_path: Path
) -> None:
    pod = run_job(node, overlay(tmp_path / "overlay", files={"test_flat.py": FAILING}))
    assert pod["jobCondition"] == "Failed"
    message = termination_message(pod)
    assert message.startswith("pytest-incluster: 0 passed, 1 failed, 0 errors; "), message
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 1
    assert f"{fetch_report(node, tmp_path / 'report')}{STORED}" == message
    failed = junit_cases(tmp_path / "report" / "junit.xml")["test_the_cluster_is_flat"]
    failure = failed.find("failure")
    assert failure is not None
    assert "the cluster is round" in (failure.get("message") or "")


@pytest.mark.parametrize("component", ["helm-test", "argocd-postsync"])
def test_the_hook_variants_run_once(node: Node, tmp_path: Path, component: str) -> None:
    pod = run_job(
        node, overlay(tmp_path / "overlay", components=(component,), files={"test_probe.py": PROBE})
    )
    assert pod["jobCondition"] == "Complete", termination_message(pod)
    job = json.loads(kubectl(node, "get", "job", JOB, "-n", NAMESPACE, "-o", "json"))
    annotations = job["metadata"].get("annotations", {})
    expected = "helm.sh/hook" if component == "helm-test" else "argocd.argoproj.io/hook"
    assert expected in annotations


def test_zz_cluster_down_after_a_crash_leaves_nothing(node: Node) -> None:
    """Runs last in this module. The kubelet, containerd and the forwarder are killed (as in a
    crash: containers and shims keep running), then `cluster down` works from the state file
    alone, and the machine is as before `cluster up`."""
    during = snapshot()
    assert during.netns - node.before.netns, "the node's network namespace was not seen"
    assert during.sysctls["vm.overcommit_memory"] == "1"  # what the kubelet sets
    recorded = json.loads((node.state / "node" / "node.json").read_text())
    for name in ("kubelet", "containerd", "forwarder"):
        os.kill(recorded[name]["pid"], signal.SIGKILL)
    _run(*CLI, "cluster", "down", "--dir", node.state, timeout=600)
    after = snapshot()
    assert after.mounts == node.before.mounts
    assert after.netns == node.before.netns
    assert after.sysctls == node.before.sysctls
    assert after.cgroups - node.before.cgroups == set()
    assert after.related_processes(node.state) == []
    assert after.var_lib_cni == node.before.var_lib_cni
    assert not (node.state / "node" / "node.json").exists()
    assert not (node.state / "node" / "cni").exists()
