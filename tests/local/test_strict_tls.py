"""The local control plane's certificates pass X.509 strict verification, which Python 3.13's
``ssl.create_default_context()`` turns on by default (``VERIFY_X509_STRICT``).

The flag is set here explicitly, so the check runs on every Python the suite runs on, against the
real kube-apiserver serving the certificates the plugin generated.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane


def test_the_api_server_certificate_passes_strict_verification(
    control_plane: ControlPlane,
) -> None:
    context = ssl.create_default_context(cafile=str(control_plane.ca_file))
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    with httpx.Client(verify=context, trust_env=False) as client:
        response = client.get(f"{control_plane.server}/livez")
    assert response.status_code in (200, 401, 403)
