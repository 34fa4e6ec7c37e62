# Expectations that depend on where the suite runs live here, in one place, and come from the
# environment rather than being hard-coded: the same tests then pass in any namespace and under
# any ServiceAccount name.
from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def expected_service_account() -> str:
    """The ServiceAccount the runner should be.

    deploy/job.yaml passes the pod's own ``spec.serviceAccountName`` through the downward API;
    without it (a run from a workstation or scripts/example.sh), deploy/'s name is expected.
    """
    return os.environ.get("EXPECTED_SERVICE_ACCOUNT", "pytest-incluster")
