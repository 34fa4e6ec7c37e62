"""A real validating webhook (an HTTPS program on loopback with its own CA) registered by URL:
its refusal names it, and a webhook registered without dry-run support is reported as exactly
that, with the fix."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from pytest_incluster.client import K8sClient
from tests.integration.admission.admission_world import configmap, labelled_namespace

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

WEBHOOK = Path(__file__).resolve().parents[2] / "support" / "admission_webhook.py"


@pytest.fixture
def webhook_server(tmp_path: Path) -> Iterator[tuple[str, bytes, Path]]:
    """The webhook program: its URL, its CA certificate (PEM) and its review log."""
    process = subprocess.Popen(
        [sys.executable, str(WEBHOOK), str(tmp_path)],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        yield (
            f"https://127.0.0.1:{port}/validate",
            (tmp_path / "ca.crt").read_bytes(),
            (tmp_path / "reviews.log"),
        )
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


def webhook_configuration(
    name: str, namespace: str, url: str, ca: bytes, side_effects: str = "None"
) -> dict[str, Any]:
    """A ValidatingWebhookConfiguration for ConfigMaps in ``namespace`` only."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": f"{name}.example.com",
                "clientConfig": {"url": url, "caBundle": base64.b64encode(ca).decode()},
                "rules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["configmaps"],
                    }
                ],
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
                "sideEffects": side_effects,
                "admissionReviewVersions": ["v1"],
                "failurePolicy": "Fail",
                "timeoutSeconds": 5,
            }
        ],
    }


def _until(check: Any, what: str) -> Any:
    """Webhook configurations reach admission through an informer, moments after creation."""
    deadline = time.monotonic() + 30
    while True:
        decision = check()
        if decision.stage is not None or time.monotonic() > deadline:
            assert decision.stage is not None, f"{what} was never called"
            return decision
        time.sleep(0.2)


def test_a_webhook_refusal_names_the_webhook(
    admin: K8sClient, webhook_server: tuple[str, bytes, Path]
) -> None:
    url, ca, log = webhook_server
    ns = labelled_namespace(admin, "webhook", {})
    name = f"{ns}-names"
    admin.create(webhook_configuration(name, ns, url, ca))
    try:
        refused = _until(
            lambda: admin.admission_check(configmap("denied-x", 1), namespace=ns), "the webhook"
        )
        admitted = admin.admission_check(configmap("welcome", 1), namespace=ns)
    finally:
        admin.delete_tracked()
    assert (refused.admitted, refused.stage, refused.status) == (False, "admission", 403)
    assert refused.by == f"{name}.example.com"
    assert refused.message == (
        f'admission webhook "{name}.example.com" denied the request: '
        "names starting with denied- are not allowed"
    )
    assert refused.refusal is not None
    assert refused.refusal.matches_by("ValidatingAdmissionWebhook")
    assert admitted.admitted
    assert "CREATE welcome dryRun=True" in log.read_text().splitlines()


def _etcd_put(control_plane: ControlPlane, key: str, value: dict[str, Any]) -> None:
    """Write an object straight into etcd (its JSON gateway on loopback)."""
    encode = lambda b: base64.b64encode(b).decode()  # noqa: E731
    response = httpx.post(
        f"http://127.0.0.1:{control_plane.etcd_port}/v3/kv/put",
        json={"key": encode(key.encode()), "value": encode(json.dumps(value).encode())},
    )
    response.raise_for_status()


def test_a_webhook_without_dry_run_support_is_reported_with_the_fix(
    admin: K8sClient, control_plane: ControlPlane, webhook_server: tuple[str, bytes, Path]
) -> None:
    """``sideEffects: Unknown``/``Some`` can no longer be created through the v1 API, but
    configurations stored before v1 (admissionregistration v1beta1) keep them, and the API
    server still refuses every dry run they match. Such a stored object is written into etcd
    directly, as a cluster upgraded from an old release holds it."""
    url, ca, log = webhook_server
    ns = labelled_namespace(admin, "webhook", {})
    name = f"{ns}-legacy"
    legacy = webhook_configuration(name, ns, url, ca, side_effects="Unknown")
    legacy["metadata"].update(
        uid=str(uuid.uuid4()), creationTimestamp="2020-01-01T00:00:00Z", generation=1
    )
    _etcd_put(control_plane, f"/registry/validatingwebhookconfigurations/{name}", legacy)
    try:
        decision = _until(
            lambda: admin.admission_check(configmap("anything", 1), namespace=ns),
            "the legacy webhook",
        )
    finally:
        admin.delete_object(
            "admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", name
        )
    assert (decision.admitted, decision.stage, decision.status) == (False, "admission", 400)
    assert decision.by == f"{name}.example.com"
    assert decision.message == f'admission webhook "{name}.example.com" does not support dry run'
    assert decision.refusal is not None
    assert decision.refusal.dry_run_unsupported
    assert decision.describe() == (
        f"create ConfigMap/anything -n {ns}: rejected by admission ({name}.example.com): "
        f'admission webhook "{name}.example.com" does not support dry run (the webhook '
        f"'{name}.example.com' does not declare sideEffects None or NoneOnDryRun, so the API "
        "server refuses every dry run it would see before asking it: this is no verdict on the "
        "object. Fix: set sideEffects: None (or NoneOnDryRun, if it skips its side effects when "
        "AdmissionReview.request.dryRun is true) on that webhook in its "
        "ValidatingWebhookConfiguration/MutatingWebhookConfiguration)"
    )
    assert not log.exists()  # refused before the webhook was asked
