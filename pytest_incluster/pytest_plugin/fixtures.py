"""The fixtures test authors type: the cluster as a pod sees it, and a client for it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_incluster.config.errors import ConfigError
from pytest_incluster.config.files import read_token_file
from pytest_incluster.pytest_plugin.cluster_access import (
    cluster_config,
    fail_without_cluster,
    runner_identity,
    session_client,
)
from pytest_incluster.pytest_plugin.state import get_state

if TYPE_CHECKING:
    from pytest_incluster.client import K8sClient
    from pytest_incluster.client.identity import Identity
    from pytest_incluster.config.model import ClusterConfig

_REREAD_FIX = "It was readable when the session started; check that it is still mounted."


@pytest.fixture(scope="session")
def k8s_config(pytestconfig: pytest.Config) -> ClusterConfig:
    """The resolved configuration: server, namespace, token file, CA, and where each came from."""
    try:
        return cluster_config(pytestconfig)
    except ConfigError as exc:
        error = exc
    # Outside the except block: the message is the whole story, not a chained traceback.
    fail_without_cluster(pytestconfig, error)


@pytest.fixture(scope="session")
def k8s_server(k8s_config: ClusterConfig) -> str:
    """The API server URL, e.g. ``https://10.96.0.1:443``."""
    return k8s_config.server


@pytest.fixture
def k8s_token(pytestconfig: pytest.Config, k8s_config: ClusterConfig) -> str:
    """The current bearer token, read now (so a rotated token is seen, and an exec credential
    plugin's expired token is renewed); empty if none is used.

    Function-scoped on purpose: a session-scoped value would go stale when the kubelet rotates
    the projected token. Treat it as a secret; the report redacts it wherever it appears. A
    token file that has gone or is empty errors the test with the plugin's message for it.
    """
    token = ""
    if k8s_config.token_file is not None:
        source = k8s_config.sources.get("token", k8s_config.source)
        error: ConfigError | None = None
        try:
            token = read_token_file(k8s_config.token_file, source, fix=_REREAD_FIX).reveal()
        except ConfigError as exc:
            error = exc
        if error is not None:  # outside the except block: no chained traceback
            fail_without_cluster(pytestconfig, error)
    elif k8s_config.token is not None:
        token = k8s_config.token.reveal()
    elif k8s_config.exec_plugin is not None:
        token = _exec_token(pytestconfig)
    if token:
        get_state(pytestconfig).redactor.add_secret(token)
    return token


def _exec_token(pytestconfig: pytest.Config) -> str:
    """The exec plugin's current token (run again if it expired); empty for a certificate."""
    from pytest_incluster.credentials.exec_source import source_for

    plugin = cluster_config(pytestconfig).exec_plugin
    assert plugin is not None
    error: ConfigError | None = None
    try:
        session_client(pytestconfig)  # registers the redactor with the plugin's credentials
        credential = source_for(plugin).current()
    except ConfigError as exc:
        error = exc
    if error is not None:
        fail_without_cluster(pytestconfig, error)
    return credential.token.reveal() if credential.token else ""


@pytest.fixture(scope="session")
def k8s_ca_file(k8s_config: ClusterConfig) -> str | None:
    """Path of the CA bundle that verifies the API server, as a ``str``: what
    ``ssl.create_default_context(cafile=...)``, ``requests`` and command lines take without a
    conversion. None when the server is checked against the system trust store or not at all."""
    return str(k8s_config.ca_file) if k8s_config.ca_file is not None else None


@pytest.fixture(scope="session")
def k8s_namespace(k8s_config: ClusterConfig) -> str:
    """The namespace the runner works in (pod namespace, or from the kubeconfig context)."""
    return k8s_config.namespace


@pytest.fixture(scope="session")
def k8s(pytestconfig: pytest.Config, k8s_config: ClusterConfig) -> K8sClient:
    """The authenticated client (an ``httpx.Client`` with the server as base URL).

    Non-2xx responses raise typed errors (``Forbidden``, ``NotFound``, ...). Objects created
    through ``k8s.create``/``k8s.apply`` in a test are deleted when that test ends. This client
    always acts as the runner; in a test marked ``impersonate``, only that test's own ``k8s``
    argument is replaced (for the test's body) by ``k8s.impersonate(user, groups)``.
    """
    try:
        return session_client(pytestconfig)
    except ConfigError as exc:
        error = exc
    fail_without_cluster(pytestconfig, error)  # outside the except: no chained traceback


@pytest.fixture(scope="session")
def k8s_identity(pytestconfig: pytest.Config, k8s: K8sClient) -> Identity:
    """Who the API server says the runner is (SelfSubjectReview): username, uid, groups.

    Always the runner, also in a test marked ``impersonate`` (its own ``k8s`` argument is the
    one that acts as the user; ``k8s.whoami()`` there names the user).
    """
    return runner_identity(pytestconfig)
