"""README.md's gate loop (step 5 of "From zero to a gating Job") against the real API server.

There is no Job controller here, so the test writes the Job's status conditions itself,
through the status subresource, the way the Job controller reports an outcome; the loop under
test, the API server and kubectl are real.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.deploy import ROOT, apply_namespace, kubectl_ok, restricted_namespace

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

NOW = "2026-12-01T00:00:00Z"
OUTCOMES: dict[str, dict[str, Any]] = {
    "passed": {
        "startTime": NOW,
        "completionTime": NOW,
        "succeeded": 1,
        "conditions": [
            {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached"},
            {"type": "Complete", "status": "True", "reason": "CompletionsReached"},
        ],
    },
    "failed": {
        "startTime": NOW,
        "failed": 1,
        "conditions": [
            {"type": "FailureTarget", "status": "True", "reason": "PodFailurePolicy"},
            {
                "type": "Failed",
                "status": "True",
                "reason": "PodFailurePolicy",
                "message": "Container pytest for pod x failed with exit code 1 matching FailJob "
                "rule at index 1",
            },
        ],
    },
}


def gate_loop() -> str:
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"A gate must stop on \*either\* outcome.*?```sh\n(.*?)```", readme, re.S)
    assert found, "README.md: the gate loop after 'A gate must stop on *either* outcome'"
    return found[1]


@pytest.mark.parametrize(("outcome", "code"), [("passed", 0), ("failed", 1)])
def test_readme_gate_loop_ends_with_the_jobs_outcome(
    control_plane: ControlPlane, kubectl: Path, tmp_path: Path, outcome: str, code: int
) -> None:
    namespace = f"gate-loop-{uuid.uuid4().hex[:6]}"
    apply_namespace(control_plane, restricted_namespace(namespace), tmp_path)
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "pytest-incluster", "namespace": namespace},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "pytest", "image": "example.invalid/pytest"}],
                }
            }
        },
    }
    (tmp_path / "job.json").write_text(json.dumps(job))
    kubectl_ok(control_plane, "create", "-f", str(tmp_path / "job.json"))
    status = dict(OUTCOMES[outcome])
    status["conditions"] = [
        {**c, "lastTransitionTime": NOW, "lastProbeTime": NOW} for c in status["conditions"]
    ]
    kubectl_ok(
        control_plane,
        "patch",
        "job",
        "pytest-incluster",
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )
    env = {
        **os.environ,
        "PATH": f"{kubectl.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "KUBECONFIG": str(control_plane.admin_kubeconfig),
    }
    loop = gate_loop().replace("-n pytest-incluster", f"-n {namespace}")
    done = subprocess.run(
        ["sh", "-c", loop], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == code, done.stderr
    if outcome == "failed":
        assert done.stdout == (
            "Container pytest for pod x failed with exit code 1 matching FailJob rule at index 1\n"
        )
