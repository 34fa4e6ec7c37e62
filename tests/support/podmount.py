"""Run a command exactly as it would run in a pod: the service-account directory at the real
default path, and the Kubernetes service variables set.

``unshare --mount`` gives the child a private mount namespace; inside it a tmpfs over ``/run``
(``/var/run`` links there) holds the real path ``/var/run/secrets/kubernetes.io/serviceaccount``
bind-mounted from a test directory. Nothing outside the child sees either mount, and the host's
``/run`` is untouched. Needs root (CI and the dev machine run as root).
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

POD_SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def pod_env(server: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a pod gets: KUBERNETES_SERVICE_HOST/PORT for ``server``, no kubeconfig."""
    parts = urlsplit(server)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "POD_"))}
    env["KUBERNETES_SERVICE_HOST"] = parts.hostname or ""
    env["KUBERNETES_SERVICE_PORT"] = str(parts.port or 443)
    env["HOME"] = "/nonexistent"  # no ~/.kube/config to fall back on, as in a pod
    env.update(extra or {})
    return env


def run_in_pod(
    command: Sequence[str],
    sa_dir: Path,
    server: str,
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` with ``sa_dir`` mounted at the pod path; returns the finished process."""
    script = (
        "set -e; mount -t tmpfs tmpfs /run; "
        f"mkdir -p {POD_SA_DIR}; "
        f"mount --bind {shlex.quote(str(sa_dir))} {POD_SA_DIR}; "
        f"exec {shlex.join(command)}"
    )
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        cwd=cwd,
        env=pod_env(server, env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
