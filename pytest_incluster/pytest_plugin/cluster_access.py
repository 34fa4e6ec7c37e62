"""Lazy, cached access to the session's configuration and client.

Resolution happens on first use, not at start-up, so a run whose tests need no cluster never
fails for lack of one, and every test that does need one gets the same one-paragraph error.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, NoReturn

import pytest

from pytest_incluster.config.errors import ConfigError
from pytest_incluster.pytest_plugin.settings import get_setting, number
from pytest_incluster.pytest_plugin.state import get_state

if TYPE_CHECKING:
    from pytest_incluster.calls import CallLog
    from pytest_incluster.client import K8sClient
    from pytest_incluster.client.identity import Identity
    from pytest_incluster.config.model import ClusterConfig


def cluster_config(config: pytest.Config) -> ClusterConfig:
    """The resolved configuration; raises the (cached) :class:`ConfigError` if there is none."""
    state = get_state(config)
    if state.cluster_config is not None:
        return state.cluster_config
    if state.cluster_error is not None:
        raise state.cluster_error
    from pytest_incluster.config.cluster_discovery import resolve

    try:
        resolved = resolve(state.options, os.environ)
    except ConfigError as exc:
        state.cluster_error = exc
        raise
    state.cluster_config = resolved
    if resolved.insecure_skip_tls_verify:
        state.warnings.append(
            "TLS verification of the API server is DISABLED "
            f"({resolved.sources.get('insecure', '--incluster-insecure-skip-tls-verify')}): "
            "anyone on the network path could impersonate the API server."
        )
    return resolved


def session_client(config: pytest.Config) -> K8sClient:
    """The session's authenticated client, created on first use and closed at unconfigure.

    Raises :class:`ConfigError` (the same one every time) when it cannot be built.
    """
    state = get_state(config)
    if state.client is not None:
        client: K8sClient = state.client
        return client
    if state.client_error is not None:
        raise state.client_error
    try:
        client = new_client(config, call_log=state.calls)
    except ConfigError as exc:  # an exec credential plugin or a client certificate
        state.client_error = exc
        raise
    state.client = client
    return client


def new_client(config: pytest.Config, *, call_log: CallLog | None) -> K8sClient:
    """A client as the settings describe it: TLS, token, timeout, retries (429/503 with
    ``Retry-After``), concurrency, the breaker (``unreachable_after``) and ``trust_env``.

    The one construction for every client the plugin makes from the session's settings: the
    tests' client and the report upload's must be equally reliable and reach the server the
    same way (through the same proxy, trusting the same CA, with the same exec plugin).
    """
    from pytest_incluster.client import K8sClient

    resolved = cluster_config(config)
    timeout = float(number(config, "timeout"))
    import httpx

    return K8sClient(
        resolved,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        retries=int(number(config, "retries")),
        call_log=call_log,
        on_secret=get_state(config).redactor.add_secret,
        trust_env=bool(get_setting(config, "trust_env").value),
        max_concurrency=int(number(config, "concurrency")),
        unreachable_after=int(number(config, "unreachable_after")),
    )


def runner_identity(config: pytest.Config) -> Identity:
    """Who the server says the runner is (SelfSubjectReview), asked once per session.

    Shared by the header, the ``k8s_identity`` fixture and the access summary, so every part
    names the runner the same way whether or not the header was shown (``-q`` hides it).
    Raises the client's errors (and :class:`ConfigError`) when the server cannot say.
    """
    state = get_state(config)
    if state.identity is None:
        client = session_client(config)
        with state.calls.outside_tests():
            state.identity = client.whoami()
    identity: Identity = state.identity
    return identity


def runner_name(config: pytest.Config) -> str:
    """The runner's username, or "" when the server cannot say (no cluster, 401, ...)."""
    from pytest_incluster.client.errors import ApiError, ApiUnreachable, IdentityUnavailable

    try:
        return runner_identity(config).username
    except (ConfigError, ApiError, ApiUnreachable, IdentityUnavailable):
        return ""


def runner_label(config: pytest.Config, fallback: str = "") -> str:
    """``self (USERNAME)``, the access summary's name for the runner.

    ``fallback`` (the user a 403 named) is used only when the server cannot say who the runner
    is; then ``self`` alone if there is none.
    """
    username = runner_name(config) or fallback
    return f"self ({username})" if username else "self"


def fail_without_cluster(config: pytest.Config, exc: ConfigError) -> NoReturn:
    """Turn a configuration error into a test error (or a skip with --incluster-skip-unavailable).

    ``pytrace=False``: the message is the whole story; a traceback into the plugin would only
    hide it.
    """
    from pytest_incluster.config.errors import NoClusterFound

    if isinstance(exc, NoClusterFound) and get_setting(config, "skip_unavailable").value:
        pytest.skip(f"no Kubernetes cluster: {exc}")
    pytest.fail(f"{exc} (see {exc.help_url})", pytrace=False)
