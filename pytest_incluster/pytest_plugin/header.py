"""The terminal header: one line saying which cluster, as whom, and why these values.

Connecting here (``/version`` and SelfSubjectReview) is deliberate: a wrong server or identity is
the most common reason an access suite proves nothing, and the header is where people look first.
Failures never abort the run; they are shown in the line and left to the tests to report.
pytest prints no header under ``-q`` or ``--no-header``; the warnings it would have carried are
then printed at the end of the run (:func:`unshown_warnings`).
A run that only lists tests (``--collect-only`` and the like) connects nowhere.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import pytest

from pytest_incluster.config.errors import ConfigError
from pytest_incluster.kube_versions import support_warning
from pytest_incluster.pytest_plugin.cluster_access import (
    cluster_config,
    runner_identity,
    session_client,
)
from pytest_incluster.pytest_plugin.run_context_hooks import run_context
from pytest_incluster.pytest_plugin.settings import get_setting, listing_only
from pytest_incluster.pytest_plugin.state import SessionState, get_state

if TYPE_CHECKING:
    from pytest_incluster.client.client import K8sClient


def header_lines(config: pytest.Config) -> list[str]:
    """``incluster: server ... | kubernetes ... | identity ... | namespace ... | source ...``."""
    state = get_state(config)
    listing = listing_only(config)
    if listing and get_setting(config, "local").value:
        return [f"incluster: --incluster-local: no control plane started ({listing} runs no tests)"]
    context = run_context(config).header()
    try:
        resolved = cluster_config(config)
    except ConfigError as exc:
        first = str(exc).split(". ")[0]
        lines = [f"incluster: no cluster ({first}); tests that need one will error"]
        return lines + ([f"incluster: {state.redactor.redact(context)}"] if context else [])
    if listing:
        line = (
            f"incluster: server {resolved.server} | namespace {resolved.namespace} | source "
            f"{resolved.source} (not contacted: {listing} runs no tests)"
        )
        return _with_warnings(state, [line], context)
    version = identity = "unknown"
    try:
        client = session_client(config)
        version = record_server_version(state, client)
        me = runner_identity(config)
        identity = me.username
        groups = [g for g in me.groups if g != "system:authenticated"]
        if groups:
            identity += f" (groups {', '.join(groups)})"
        if not any(w.startswith("runner privilege") for w in state.warnings):
            from pytest_incluster.report.privilege import privilege_warnings

            state.warnings.extend(privilege_warnings(client))
    except Exception as exc:  # the header must never abort the run
        from pytest_incluster.client.errors import ApiError

        problem = state.redactor.redact(str(exc)).splitlines()[0]
        if isinstance(exc, ConfigError):  # no client: e.g. the exec credential plugin failed
            version = f"not asked ({problem})"
        elif not isinstance(exc, ApiError):
            version = f"unreachable: {problem}"
        elif state.server_version is None:
            version = f"unknown ({problem})"  # the server answered, e.g. 401 for a bad token
        else:
            identity = f"unknown ({problem})"
    line = (
        f"incluster: server {resolved.server} | kubernetes {version} | identity {identity} | "
        f"namespace {resolved.namespace} | source {resolved.source}"
    )
    return _with_warnings(state, [line], context)


def record_server_version(state: SessionState, client: K8sClient) -> str:
    """Ask ``/version`` once, remember it for the report, and warn (once) about an old server.

    Called by the header, and at the end of a run that printed none (``-q``), so the report
    names the server version either way.
    """
    state.server_version_asked = True
    state.server_version = client.server_version()
    warning = support_warning(state.server_version)
    if warning is not None and warning not in state.warnings:
        state.warnings.append(warning)
    return state.server_version


def ensure_server_version(state: SessionState) -> None:
    """At the end of a run whose header did not ask (``-q``, ``--no-header``): ask now, if a
    test connected, for the report and the old-server warning. Never fails the run, and never
    asks twice: a server the header could not reach is not waited for again."""
    if state.client is None or state.server_version_asked:
        return
    with contextlib.suppress(Exception):  # the report then says "unknown"
        record_server_version(state, state.client)


def _with_warnings(state: SessionState, lines: list[str], context: str = "") -> list[str]:
    """``lines``, the run's context (cluster name, Job, pod) if any, and then the session's
    warnings, which count as shown from now on."""
    if context:
        lines = [*lines, f"incluster: {state.redactor.redact(context)}"]
    lines = lines + [f"incluster WARNING: {w}" for w in state.warnings]
    state.shown_warnings.update(state.warnings)
    return lines


def unshown_warnings(config: pytest.Config) -> list[str]:
    """Warnings the header did not print, for the end of the run.

    pytest calls no header hook under ``-q`` or ``--no-header``, and there a disabled TLS
    verification must still be said. The configuration is resolved here if no test did (on
    the pytest-xdist controller, say); that reads files, it does not connect.
    """
    state = get_state(config)
    if state.cluster_config is None and state.cluster_error is None:
        with contextlib.suppress(ConfigError):  # the tests have reported it
            cluster_config(config)
    return [w for w in dict.fromkeys(state.warnings) if w not in state.shown_warnings]
