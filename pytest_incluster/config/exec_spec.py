"""A kubeconfig user's ``exec`` stanza, checked and turned into an :class:`ExecPlugin`.

Only the description of the credential plugin lives here (what to run, how, and what to tell
it); running it is the ``credentials`` package's job. The rules follow client-go's
``clientcmd`` (semantics, not code): ``apiVersion`` is required and must be
``client.authentication.k8s.io/v1`` or ``v1beta1``; ``v1`` requires ``interactiveMode`` while
``v1beta1`` defaults to ``IfAvailable``; a ``command`` that contains a path separator and is
relative is resolved against the directory of the kubeconfig file that holds it (a bare name is
looked up on ``PATH``); ``env`` entries need a ``name`` and a ``value``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_incluster.errors import InclusterError

API_V1 = "client.authentication.k8s.io/v1"
API_V1BETA1 = "client.authentication.k8s.io/v1beta1"
API_VERSIONS = (API_V1, API_V1BETA1)
INTERACTIVE_MODES = ("Never", "IfAvailable", "Always")
# The cluster extension whose ``config`` client-go hands to the plugin (provideClusterInfo).
EXEC_EXTENSION = "client.authentication.k8s.io/exec"
# How long one plugin run may take before it is stopped; --incluster-exec-timeout changes it.
DEFAULT_EXEC_TIMEOUT_S = 60.0


class ExecSpecError(InclusterError):
    """The ``exec`` stanza is malformed; ``str()`` is the problem, the caller adds the place."""

    anchor = "exec-plugin"


@dataclass(frozen=True)
class ClusterInfo:
    """What ``provideClusterInfo: true`` passes to the plugin in ``KUBERNETES_EXEC_INFO``.

    ``ca_data`` is the CA bundle as PEM bytes (sent base64-encoded, as
    ``certificate-authority-data``); ``extension_json`` is the cluster's
    ``client.authentication.k8s.io/exec`` extension as JSON, passed through unchanged as
    ``config`` (kept as text so the description stays hashable: one cached credential per
    plugin and cluster, as in client-go).
    """

    server: str
    ca_data: bytes | None = None
    tls_server_name: str | None = None
    insecure_skip_tls_verify: bool = False
    proxy_url: str | None = None
    disable_compression: bool = False
    extension_json: str | None = None


@dataclass(frozen=True)
class ExecPlugin:
    """A credential plugin to run, and where it was configured (for every message).

    ``where`` reads like ``kubeconfig ~/.kube/config user 'eks' (context 'prod')``.
    ``cluster`` is filled in by the resolver (with the final server, CA and proxy) only when
    the stanza says ``provideClusterInfo: true``.
    """

    api_version: str
    command: str
    where: str
    # Arguments and environment may carry secrets (a key passed as an argument, a client
    # secret in the environment): kept out of the repr, hence out of tracebacks and logs.
    args: tuple[str, ...] = field(default=(), repr=False)
    env: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    interactive_mode: str = "IfAvailable"
    install_hint: str = ""
    provide_cluster_info: bool = False
    cluster: ClusterInfo | None = field(default=None, repr=False)
    timeout_s: float = DEFAULT_EXEC_TIMEOUT_S
    user: str = ""


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ExecSpecError(f"exec {key} is not a list of strings")
    return tuple(value)


def _env(value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ExecSpecError("exec env is not a list of {name, value} entries")
    pairs = []
    for item in value:
        if (
            not isinstance(item, Mapping)
            or not isinstance(item.get("name"), str)
            or not item["name"]
            or not isinstance(item.get("value", ""), str)
        ):
            raise ExecSpecError("an exec env entry has no name or a value that is not a string")
        pairs.append((item["name"], item.get("value", "")))
    return tuple(pairs)


def resolve_command(command: str, origin: Path) -> str:
    """``command`` as client-go runs it: a relative path with a separator is taken relative to
    the kubeconfig file's directory; a bare name stays a name to look up on ``PATH``."""
    if "/" not in command:
        return command
    path = Path(command)
    return str(path if path.is_absolute() else origin.parent / path)


def _interactive_mode(body: Mapping[str, Any], api_version: str) -> str:
    mode = body.get("interactiveMode")
    if mode is None or mode == "":
        if api_version == API_V1:
            raise ExecSpecError(
                f"exec with apiVersion {API_V1} needs interactiveMode (one of "
                f"{', '.join(INTERACTIVE_MODES)})"
            )
        return "IfAvailable"
    if mode not in INTERACTIVE_MODES:
        raise ExecSpecError(
            f"exec interactiveMode is {mode!r}, not one of {', '.join(INTERACTIVE_MODES)}"
        )
    return str(mode)


def parse_exec(
    body: Any,
    *,
    origin: Path,
    where: str,
    user: str,
    timeout_s: float = DEFAULT_EXEC_TIMEOUT_S,
) -> ExecPlugin:
    """The plugin ``body`` (a user's ``exec`` mapping) describes; ExecSpecError if malformed."""
    if not isinstance(body, Mapping):
        raise ExecSpecError("exec is not a mapping")
    api_version = body.get("apiVersion")
    if not api_version:
        raise ExecSpecError(f"exec has no apiVersion (use {API_V1})")
    if api_version not in API_VERSIONS:
        raise ExecSpecError(
            f"exec has apiVersion {api_version!r}; pytest-incluster supports "
            f"{' and '.join(API_VERSIONS)}"
        )
    command = body.get("command")
    if not isinstance(command, str) or not command.strip():
        raise ExecSpecError("exec has no command")
    hint = body.get("installHint") or ""
    if not isinstance(hint, str):
        raise ExecSpecError("exec installHint is not a string")
    provide = body.get("provideClusterInfo", False)
    if not isinstance(provide, bool):
        raise ExecSpecError("exec provideClusterInfo is not true or false")
    return ExecPlugin(
        api_version=str(api_version),
        command=resolve_command(command, origin),
        where=where,
        args=_strings(body.get("args"), "args"),
        env=_env(body.get("env")),
        interactive_mode=_interactive_mode(body, str(api_version)),
        install_hint=hint,
        provide_cluster_info=provide,
        timeout_s=timeout_s,
        user=user,
    )
