"""Building the distribution once per session, fresh virtualenvs from it, and example_tests run
from such a virtualenv against the real control plane (as a renamed copy of deploy/local)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pytest_incluster.local.provision import apply_manifests

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Built:
    """The sdist and wheel, and a fresh virtualenv with the wheel installed."""

    sdist: Path
    wheel: Path
    venv: Path

    def bin(self, name: str) -> Path:
        return self.venv / "bin" / name


def run(*args: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a command to success (the assertion shows its output otherwise)."""
    done = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
        **kwargs,  # type: ignore[call-overload]
    )
    assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
    return done


def clean_env(home: Path) -> dict[str, str]:
    """The environment of a user's shell: no pod variables, no kubeconfig, no virtualenv."""
    drop = ("KUBERNETES_", "POD_", "PYTEST_", "KUBECONFIG", "VIRTUAL_ENV", "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["HOME"] = str(home)
    return env


def fresh_venv(path: Path, *requirements: str | Path) -> Path:
    """A new virtualenv at ``path`` with ``requirements`` installed by pip, as a user would."""
    run(sys.executable, "-m", "venv", path)
    run(path / "bin" / "python", "-m", "pip", "install", "--quiet", *requirements)
    return path


def build(dist: Path) -> tuple[Path, Path]:
    """``python -m build``: the sdist, then the wheel built from the sdist."""
    run(sys.executable, "-m", "build", "--outdir", dist, ROOT)
    (sdist,) = dist.glob("*.tar.gz")
    (wheel,) = dist.glob("*.whl")
    return sdist, wheel


COPY = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: "{namespace}"
nameSuffix: "{suffix}"
resources:
  - {deploy}
transformers:
  - |-
    apiVersion: builtin
    kind: NamespaceTransformer
    metadata:
      name: namespace
      namespace: "{namespace}"
    setRoleBindingSubjects: allServiceAccounts
"""


def run_example_tests(
    venv: Path,
    control_plane: ControlPlane,
    make_service_account: Callable[..., Path],
    tmp_path: Path,
    *args: str,
) -> tuple[Path, str]:
    """example_tests/, copied away from the checkout, run with ``venv``'s pytest as the
    ServiceAccount of a renamed copy of deploy/local in a new namespace, as a pod runs them.

    Returns the suite's directory and the namespace. Fails unless every test passes.
    """
    token = uuid.uuid4().hex[:6]
    namespace, account = f"wheel-{token}", f"pytest-incluster-{token}"
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    deploy = os.path.relpath(ROOT / "deploy" / "local", overlay)
    overlay.joinpath("kustomization.yaml").write_text(
        COPY.format(namespace=namespace, suffix=f"-{token}", deploy=deploy)
    )
    # As --incluster-local-apply does: the example policy is enforced before the suite runs.
    apply_manifests(control_plane, [overlay])
    sa_dir = make_service_account(namespace, account)

    # Copied away from the checkout: only the virtualenv's package can be imported.
    suite = tmp_path / "suite"
    run("cp", "-r", ROOT / "example_tests", suite)
    env = clean_env(tmp_path) | {
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": str(urlsplit(control_plane.server).port),
        "EXPECTED_SERVICE_ACCOUNT": account,
        "PYTEST_INCLUSTER_TERMINATION_LOG": "",
    }
    done = subprocess.run(
        [
            str(venv / "bin" / "pytest"),
            f"--incluster-sa-dir={sa_dir}",
            "-p",
            "no:cacheprovider",
            *args,
        ],
        cwd=suite,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "incluster-0.1.0" in done.stdout
    assert " passed in " in done.stdout.splitlines()[-1]
    assert "failed" not in done.stdout.splitlines()[-1]
    return suite, namespace
