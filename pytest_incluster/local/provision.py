"""Put things into a local control plane: manifests, namespaces, service accounts, tokens.

The point of the pod-style directory (:func:`write_pod_dir`) is that code under test cannot tell
it from a real pod's ``/var/run/secrets/kubernetes.io/serviceaccount``: same three files, a
bound token from the real TokenRequest API, and the CA that signs the real serving certificate.
No controller-manager runs, so nothing creates ``default`` service accounts or token Secrets on
its own; the helpers here create exactly what a test asks for.

All API calls run as the admin (client certificate, ``system:masters``). Error messages carry the
API server's own ``Status`` message and never a token.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from pytest_incluster.local.errors import LocalError
from pytest_incluster.local.policy_ready import (
    applies_admission_policies,
    wait_until_policies_enforced,
)
from pytest_incluster.secret import Secret

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
FIELD_MANAGER = "pytest-incluster"
_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DURATION_RE = re.compile(r"^(?:(?P<h>[0-9]+)h)?(?:(?P<m>[0-9]+)m)?(?:(?P<s>[0-9]+)s)?$")
DEFAULT_TOKEN_SECONDS = 3600
"""What kubelet requests for a pod's projected token, and our default: one hour."""


class ProvisionError(LocalError):
    """Something could not be created in the control plane; the message names what and why."""


def parse_service_account(spec: str) -> tuple[str, str]:
    """``"NAMESPACE/NAME"`` -> ``(namespace, name)``, validated like the API server would."""
    namespace, sep, name = spec.partition("/")
    if (
        sep
        and len(namespace) <= 63
        and _LABEL_RE.match(namespace)
        and len(name) <= 253
        and _SUBDOMAIN_RE.match(name)
    ):
        return namespace, name
    raise ProvisionError(
        f"{spec!r} does not name a service account: write NAMESPACE/NAME, for example "
        "default/default, where NAMESPACE is a lowercase DNS label and NAME a lowercase DNS "
        "subdomain (letters, digits, '-' and '.')."
    )


def parse_duration(text: str) -> int:
    """A token lifetime in seconds from ``3600``, ``3600s``, ``10m``, ``2h`` or ``1h30m``.

    The same spelling as ``kubectl create token --duration``, in whole seconds. The API server
    decides the bounds (at least 10 minutes); zero is rejected here because it cannot be meant.
    """
    spelled = text.strip()
    match = _DURATION_RE.match(spelled)
    seconds = 0
    if spelled.isascii() and spelled.isdigit():
        seconds = int(spelled)
    elif match and any(match.groupdict().values()):
        parts = {unit: int(value or 0) for unit, value in match.groupdict().items()}
        seconds = parts["h"] * 3600 + parts["m"] * 60 + parts["s"]
    if seconds <= 0:
        raise ProvisionError(
            f"--duration {text!r} is not a token lifetime: write seconds (3600 or 3600s), "
            "minutes (10m), hours (2h) or a combination (1h30m); the API server accepts 10 "
            "minutes or more."
        )
    return seconds


def manifest_files(paths: Sequence[Path]) -> list[Path]:
    """The manifest files ``paths`` stand for; a missing path or an empty directory is an error."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in MANIFEST_SUFFIXES)
            if not found:
                raise ProvisionError(
                    f"--apply {path} is a directory without manifests (*.yaml, *.yml, *.json); "
                    "point it at a manifest file or a directory that holds some."
                )
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise ProvisionError(
                f"--apply {path} does not exist; pass a manifest file or a directory of them."
            )
    return files


KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def is_kustomization(path: Path) -> bool:
    """A directory kubectl must build with ``-k`` (its YAML files are not plain manifests)."""
    return path.is_dir() and any((path / name).is_file() for name in KUSTOMIZATION_FILES)


def apply_manifests(cp: ControlPlane, paths: Sequence[Path]) -> None:
    """Server-side apply each manifest file (directories: their top-level manifests, sorted).

    Files are applied one by one, in order, so an error names the exact file; multi-document
    YAML is fine. A directory holding a ``kustomization.yaml`` is built and applied with
    ``kubectl apply -k``, as a user would. Applying is idempotent, which is what lets
    ``cluster up --apply`` be rerun. When ValidatingAdmissionPolicies were applied, it returns
    only once the API server enforces them (:mod:`pytest_incluster.local.policy_ready`).
    """
    targets: list[tuple[str, Path]] = []
    for path in paths:
        if is_kustomization(path):
            targets.append(("-k", path))
        else:
            targets.extend(("-f", file) for file in manifest_files([path]))
    policies_applied = False
    for flag, file in targets:
        done = cp.kubectl(
            "apply", "--server-side", f"--field-manager={FIELD_MANAGER}", flag, str(file)
        )
        policies_applied = policies_applied or applies_admission_policies(done.stdout)
        if done.returncode != 0:
            detail = " ".join(done.stderr.split()) or f"kubectl exited with {done.returncode}"
            raise ProvisionError(
                f"Applying {file} to the local control plane failed: {detail}. Fix the manifest "
                "(or create what it depends on, such as its namespace, in an earlier file)."
            )
    if targets:
        # Applied ClusterRoles may carry aggregate-to-view/edit/admin labels.
        cp.aggregate_cluster_roles()
    if policies_applied:
        # Stored is not yet enforced: tests run next and must see the policies (policy_ready).
        wait_until_policies_enforced(cp)


def _status_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    message = body.get("message") if isinstance(body, dict) else None
    return f"HTTP {response.status_code}: {message}" if message else f"HTTP {response.status_code}"


def _create(client: httpx.Client, path: str, body: Mapping[str, Any], what: str) -> bool:
    """POST ``body``; True if created, False if it already existed (409)."""
    response = client.post(path, json=body)
    if response.status_code == 409:
        return False
    if response.status_code not in (200, 201, 202):
        raise ProvisionError(f"Creating {what} failed ({_status_message(response)}).")
    return True


def ensure_namespace(cp: ControlPlane, name: str, labels: Mapping[str, str] | None = None) -> None:
    """Create namespace ``name`` if missing, and merge ``labels`` into it (e.g. PodSecurity)."""
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    with cp.admin_client() as client:
        if labels:
            body["metadata"]["labels"] = dict(labels)
        created = _create(client, "/api/v1/namespaces", body, f"namespace {name}")
        if labels and not created:
            response = client.patch(
                f"/api/v1/namespaces/{name}",
                json={"metadata": {"labels": dict(labels)}},
                headers={"Content-Type": "application/merge-patch+json"},
            )
            if response.status_code != 200:
                raise ProvisionError(
                    f"Labelling namespace {name} failed ({_status_message(response)})."
                )


def ensure_service_account(cp: ControlPlane, namespace: str, name: str) -> None:
    """Create ServiceAccount ``namespace/name`` if missing (the namespace must exist)."""
    body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}
    with cp.admin_client() as client:
        response = client.post(f"/api/v1/namespaces/{namespace}/serviceaccounts", json=body)
    if response.status_code == 404:
        raise ProvisionError(
            f"Cannot create service account {namespace}/{name}: namespace {namespace} does not "
            "exist. Create the namespace first: add --create to `pytest-incluster cluster "
            "serviceaccount`, or run `kubectl --kubeconfig "
            f"{cp.admin_kubeconfig} create namespace {namespace}`."
        )
    if response.status_code not in (200, 201, 202, 409):
        raise ProvisionError(
            f"Creating service account {namespace}/{name} failed ({_status_message(response)})."
        )


def request_token(
    cp: ControlPlane,
    namespace: str,
    name: str,
    *,
    expiration_seconds: int = DEFAULT_TOKEN_SECONDS,
    audiences: Sequence[str] = (),
) -> Secret:
    """A bound token for ``namespace/name`` from the TokenRequest API (what kubelet mounts).

    ``expiration_seconds`` becomes ``spec.expirationSeconds``: the token's ``exp`` is that far
    after its ``iat``. Empty ``audiences`` means the API server's own (``--api-audiences``).
    The API server enforces a minimum lifetime of 10 minutes; its refusal is quoted.
    """
    spec: dict[str, Any] = {"expirationSeconds": expiration_seconds}
    if audiences:
        spec["audiences"] = list(audiences)
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
    with cp.admin_client() as client:
        response = client.post(
            f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", json=body
        )
    if response.status_code == 404:
        raise ProvisionError(
            f"Cannot request a token for service account {namespace}/{name}: it does not exist "
            f"({_status_message(response)}). Create it first: add --create to "
            "`pytest-incluster cluster serviceaccount` (it creates the namespace too), or run "
            f"`kubectl --kubeconfig {cp.admin_kubeconfig} create serviceaccount {name} -n "
            f"{namespace}`."
        )
    if response.status_code not in (200, 201):
        raise ProvisionError(
            f"Requesting a token for {namespace}/{name} with expirationSeconds="
            f"{expiration_seconds} failed ({_status_message(response)})."
        )
    token = response.json().get("status", {}).get("token")
    if not isinstance(token, str) or not token:
        raise ProvisionError(
            f"The TokenRequest for {namespace}/{name} returned no token; the API server is "
            "misconfigured (check --service-account-signing-key-file)."
        )
    return Secret(token)


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write via a temporary file and rename, so a concurrent reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_pod_dir(
    cp: ControlPlane,
    namespace: str,
    name: str,
    out_dir: Path,
    *,
    create: bool = False,
    expiration_seconds: int = DEFAULT_TOKEN_SECONDS,
) -> Path:
    """Write ``token`` (0600), ``ca.crt`` and ``namespace`` for ``namespace/name`` into ``out_dir``.

    The layout and contents match a pod's ``/var/run/secrets/kubernetes.io/serviceaccount``
    (no trailing newlines, like kubelet writes them). ``create`` first creates the namespace and
    the service account if missing. The token lasts ``expiration_seconds`` (one hour by
    default); rewriting an existing directory replaces it atomically, like kubelet's rotation.
    """
    if create:
        ensure_namespace(cp, namespace)
        ensure_service_account(cp, namespace, name)
    token = request_token(cp, namespace, name, expiration_seconds=expiration_seconds)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_atomic(out_dir / "ca.crt", cp.ca_file.read_bytes(), 0o644)
    _write_atomic(out_dir / "namespace", namespace.encode(), 0o644)
    _write_atomic(out_dir / "token", token.reveal().encode(), 0o600)
    return out_dir
