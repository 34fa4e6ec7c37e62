"""Reading kubeconfig files the way kubectl does, for runs from a workstation.

Supported: ``KUBECONFIG`` lists merged first-wins (the first file that names a cluster, user or
context, or sets ``current-context``, wins; missing files are skipped), relative paths resolved
against the file that holds them, bearer ``token``/``tokenFile``, client certificates and CAs as
paths or inline ``-data`` (written to private files), exec credential plugins (described here,
run by the ``credentials`` package), and the cluster's ``insecure-skip-tls-verify``,
``tls-server-name``, ``proxy-url`` (HTTP or HTTPS proxies) and ``disable-compression``, and the
context's namespace. Auth providers (deprecated, removed from kubectl), passwords and kubeconfig
impersonation are refused with a message that names the context and file: a silent anonymous
fallback would make every negative access test pass for the wrong reason.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pytest_incluster.config.errors import ConfigError
from pytest_incluster.config.exec_spec import (
    DEFAULT_EXEC_TIMEOUT_S,
    EXEC_EXTENSION,
    ExecPlugin,
    ExecSpecError,
    parse_exec,
)
from pytest_incluster.config.private_files import PrivateFiles
from pytest_incluster.secret import Secret

KUBECONFIG_ENV = "KUBECONFIG"

_UNSUPPORTED_AUTH = {
    "auth-provider": (
        "an auth-provider plugin (deprecated by Kubernetes and removed from kubectl; "
        "providers moved to exec credential plugins)"
    ),
    "username": "basic auth (a username and password; the API server no longer accepts it)",
    "password": "basic auth (a username and password; the API server no longer accepts it)",
    "as": "kubeconfig impersonation ('as')",
    "as-groups": "kubeconfig impersonation ('as-groups')",
    "as-uid": "kubeconfig impersonation ('as-uid')",
}
_AUTH_FIX = (
    "Use a context whose user has a token, tokenFile, client certificate or exec credential "
    "plugin (for example a ServiceAccount token from 'kubectl create token', or the plugin "
    "your cloud provider documents), pass --incluster-token-file, or run the tests inside the "
    "cluster."
)
_PROXY_SCHEMES = ("http", "https")


def display_path(path: Path, home: Path) -> str:
    """``path`` with the home directory shown as ``~``, as users type it."""
    try:
        return "~/" + str(path.relative_to(home))
    except ValueError:
        return str(path)


def candidate_paths(environ: Mapping[str, str], home: Path) -> list[Path]:
    """Where kubectl would look: the ``KUBECONFIG`` list, else ``~/.kube/config``."""
    listed = environ.get(KUBECONFIG_ENV, "")
    if listed:
        return [Path(p) for p in listed.split(os.pathsep) if p]
    return [home / ".kube" / "config"]


def existing(paths: Sequence[Path]) -> list[Path]:
    """The regular files among ``paths``, in order, without duplicates."""
    seen: set[Path] = set()
    found = []
    for path in paths:
        if path.is_file() and path not in seen:
            seen.add(path)
            found.append(path)
    return found


@dataclass(frozen=True)
class _Entry:
    """A named cluster, user or context body, with the file it came from."""

    body: Mapping[str, Any]
    origin: Path


@dataclass(frozen=True)
class Kubeconfig:
    """One or more kubeconfig files merged first-wins."""

    files: tuple[Path, ...]
    current_context: str | None
    contexts: dict[str, _Entry]
    clusters: dict[str, _Entry]
    users: dict[str, _Entry]


@dataclass(frozen=True)
class Selection:
    """A context resolved to what ``ClusterConfig`` needs; ``label`` says where it came from."""

    context: str
    label: str  # e.g. "kubeconfig ~/.kube/config context kind-x"
    server: str
    namespace: str | None
    ca_file: Path | None
    insecure: bool
    token: Secret | None
    token_file: Path | None
    client_cert_file: Path | None
    client_key_file: Path | None
    exec_plugin: ExecPlugin | None = None
    user: str | None = None
    cluster: str = ""
    tls_server_name: str | None = None
    proxy_url: str | None = None
    disable_compression: bool = False
    exec_extension: Any = None  # the cluster's client.authentication.k8s.io/exec extension


def _fail(
    path: Path, home: Path, problem: str, fix: str, *, anchor: str = "kubeconfig"
) -> ConfigError:
    return ConfigError(f"kubeconfig {display_path(path, home)}: {problem}. {fix}", anchor=anchor)


def _named_list(
    doc: Mapping[str, Any], key: str, inner: str, path: Path, home: Path
) -> list[tuple[str, Mapping[str, Any]]]:
    items = doc.get(key) or []
    fix = (
        f"Each entry of '{key}' needs a 'name' and a '{inner}' mapping; compare with "
        "'kubectl config view'."
    )
    if not isinstance(items, list):
        raise _fail(path, home, f"'{key}' is not a list", fix)
    named = []
    for item in items:
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise _fail(path, home, f"an entry in '{key}' has no name", fix)
        body = item.get(inner) or {}
        if not isinstance(body, Mapping):
            raise _fail(path, home, f"{inner} {item['name']!r} is not a mapping", fix)
        named.append((item["name"], body))
    return named


def _read(path: Path, home: Path) -> Mapping[str, Any]:
    fix = (
        "Fix the file (check it with 'kubectl config view') or point --incluster-kubeconfig at "
        "another one."
    )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(path, home, f"cannot be read ({exc})", fix) from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise _fail(path, home, f"is not valid YAML{at}", fix) from None
    if doc is None:
        return {}
    if not isinstance(doc, Mapping):
        raise _fail(path, home, "is not a YAML mapping", fix)
    return doc


def load(paths: Sequence[Path], home: Path) -> Kubeconfig:
    """Read and merge ``paths`` (all must exist) first-wins, as kubectl merges ``KUBECONFIG``."""
    current: str | None = None
    maps: dict[str, dict[str, _Entry]] = {"contexts": {}, "clusters": {}, "users": {}}
    inner = {"contexts": "context", "clusters": "cluster", "users": "user"}
    for path in paths:
        doc = _read(path, home)
        if current is None and isinstance(doc.get("current-context"), str):
            current = doc["current-context"] or None
        for key, entries in maps.items():
            for name, body in _named_list(doc, key, inner[key], path, home):
                entries.setdefault(name, _Entry(body, path))
    return Kubeconfig(
        files=tuple(paths),
        current_context=current,
        contexts=maps["contexts"],
        clusters=maps["clusters"],
        users=maps["users"],
    )


def _path_value(value: str, origin: Path, home: Path) -> Path:
    if value == "~" or value.startswith("~/"):
        return home / value[2:]
    path = Path(value)
    return path if path.is_absolute() else origin.parent / path


def _string(body: Mapping[str, Any], key: str, where: str, entry: _Entry, home: Path) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _fail(
            entry.origin, home, f"{where} has a {key} that is not a string", "Quote the value."
        )
    return value


def _file_or_data(
    body: Mapping[str, Any],
    key: str,
    where: str,
    entry: _Entry,
    *,
    home: Path,
    private: PrivateFiles,
    suffix: str,
) -> Path | None:
    """``key`` as a path, else ``key-data`` (base64) written to a private file."""
    data = _string(body, f"{key}-data", where, entry, home)
    if data is not None:
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise _fail(
                entry.origin,
                home,
                f"{where} has {key}-data that is not valid base64",
                f"Paste the PEM encoded with 'base64 -w0', or use a file path in '{key}' instead.",
            ) from None
        return private.write(suffix, raw)
    value = _string(body, key, where, entry, home)
    return None if value is None else _path_value(value, entry.origin, home)


def _context_entry(
    config: Kubeconfig, context: str | None, context_source: str, home: Path
) -> tuple[str, _Entry]:
    """The context's name and entry: ``context``, else the current context."""
    shown = ", ".join(display_path(p, home) for p in config.files)
    name = context
    if name is None:
        name = config.current_context
        if name is None:
            raise ConfigError(
                f"kubeconfig {shown} has no current-context. Pass --incluster-context NAME "
                f"(one of: {', '.join(sorted(config.contexts)) or 'none defined'}) or run "
                "'kubectl config use-context NAME'.",
                anchor="kubeconfig",
            )
        context_source = "current-context"
    entry = config.contexts.get(name)
    if entry is None:
        raise ConfigError(
            f"kubeconfig {shown} has no context named {name!r} (from {context_source}); it "
            f"defines: {', '.join(sorted(config.contexts)) or 'no contexts'}. Pass "
            "--incluster-context with one of those, or fix the kubeconfig.",
            anchor="kubeconfig",
        )
    return name, entry


@dataclass(frozen=True)
class _Cluster:
    """What a context's cluster says about reaching and trusting the API server."""

    name: str
    server: str
    ca_file: Path | None
    insecure: bool
    tls_server_name: str | None
    proxy_url: str | None
    disable_compression: bool
    exec_extension: Any


def _bool(body: Mapping[str, Any], key: str, where: str, entry: _Entry, home: Path) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise _fail(
            entry.origin,
            home,
            f"{where} has {key} {value!r}, not true or false",
            "Write it as a YAML boolean.",
        )
    return value


def _proxy_url(body: Mapping[str, Any], where: str, entry: _Entry, home: Path) -> str | None:
    url = _string(body, "proxy-url", where, entry, home)
    if url is None:
        return None
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in _PROXY_SCHEMES or not rest.strip("/"):
        shown = f"scheme {scheme!r}" if sep else "no scheme"
        raise _fail(
            entry.origin,
            home,
            f"{where} has a proxy-url with {shown}; pytest-incluster supports http:// and "
            "https:// proxies (reached with CONNECT), not SOCKS",
            "Write it as http://HOST:PORT, or remove it to reach the API server directly.",
            anchor="proxy",
        )
    return url


def _exec_extension(body: Mapping[str, Any]) -> Any:
    """The ``extension`` of the cluster's ``client.authentication.k8s.io/exec`` extension."""
    for item in body.get("extensions") or []:
        if isinstance(item, Mapping) and item.get("name") == EXEC_EXTENSION:
            return item.get("extension")
    return None


def _cluster_of(
    config: Kubeconfig, name: str, entry: _Entry, *, home: Path, private: PrivateFiles
) -> _Cluster:
    """What the cluster that context ``name`` names says."""
    where = f"context {name!r}"
    cluster_name = _string(entry.body, "cluster", where, entry, home)
    cluster = config.clusters.get(cluster_name or "")
    if cluster is None or cluster_name is None:
        raise _fail(
            entry.origin if cluster_name else config.files[0],
            home,
            f"{where} refers to cluster {cluster_name!r}, which is not defined",
            "Add the cluster or choose another context with --incluster-context.",
        )
    cwhere = f"cluster {cluster_name!r}"
    server = _string(cluster.body, "server", cwhere, cluster, home)
    if server is None:
        raise _fail(
            cluster.origin, home, f"{cwhere} has no server", "Add 'server: https://HOST:PORT'."
        )
    ca_file = _file_or_data(
        cluster.body,
        "certificate-authority",
        cwhere,
        cluster,
        home=home,
        private=private,
        suffix="ca.crt",
    )
    return _Cluster(
        name=cluster_name,
        server=server,
        ca_file=ca_file,
        insecure=_bool(cluster.body, "insecure-skip-tls-verify", cwhere, cluster, home),
        tls_server_name=_string(cluster.body, "tls-server-name", cwhere, cluster, home),
        proxy_url=_proxy_url(cluster.body, cwhere, cluster, home),
        disable_compression=_bool(cluster.body, "disable-compression", cwhere, cluster, home),
        exec_extension=_exec_extension(cluster.body),
    )


@dataclass(frozen=True)
class _Credentials:
    """A user's credentials; all None when the context has no user."""

    user: str | None = None
    token: Secret | None = None
    token_file: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    exec_plugin: ExecPlugin | None = None


def _exec_plugin(
    user: _Entry, uwhere: str, user_name: str, *, home: Path, exec_timeout: float
) -> ExecPlugin:
    others = ("token", "tokenFile", "client-certificate", "client-certificate-data")
    if any(user.body.get(k) for k in others):
        raise _fail(
            user.origin,
            home,
            f"{uwhere} has an exec credential plugin and also a token or client certificate",
            "Keep one way to authenticate: remove the exec stanza or the static credential.",
            anchor="exec-plugin",
        )
    where = f"kubeconfig {display_path(user.origin, home)} {uwhere}"
    try:
        return parse_exec(
            user.body["exec"],
            origin=user.origin,
            where=where,
            user=user_name,
            timeout_s=exec_timeout,
        )
    except ExecSpecError as exc:
        raise _fail(
            user.origin,
            home,
            f"{uwhere}: {exc}",
            "Fix the exec stanza as your cloud provider's documentation shows it (compare with "
            "'kubectl config view').",
            anchor="exec-plugin",
        ) from None


def _user_credentials(
    config: Kubeconfig,
    name: str,
    entry: _Entry,
    *,
    home: Path,
    private: PrivateFiles,
    exec_timeout: float,
) -> _Credentials:
    """Token, token file, client certificate and key, or exec plugin of the context's user."""
    where = f"context {name!r}"
    user_name = _string(entry.body, "user", where, entry, home)
    if not user_name:
        return _Credentials()
    user = config.users.get(user_name)
    if user is None:
        raise _fail(
            entry.origin,
            home,
            f"{where} refers to user {user_name!r}, which is not defined",
            "Add the user or choose another context with --incluster-context.",
        )
    uwhere = f"user {user_name!r} (context {name!r})"
    for field, what in _UNSUPPORTED_AUTH.items():
        if user.body.get(field):
            raise _fail(
                user.origin,
                home,
                f"{uwhere} authenticates with {what}, which pytest-incluster does not support",
                _AUTH_FIX,
                anchor="unsupported-credentials",
            )
    if user.body.get("exec"):
        plugin = _exec_plugin(user, uwhere, user_name, home=home, exec_timeout=exec_timeout)
        return _Credentials(user=user_name, exec_plugin=plugin)
    token: Secret | None = None
    token_file = None
    token_path = _string(user.body, "tokenFile", uwhere, user, home)
    if token_path is not None:
        token_file = _path_value(token_path, user.origin, home)
    else:
        raw = _string(user.body, "token", uwhere, user, home)
        token = Secret(raw.strip()) if raw else None
    cert = _file_or_data(
        user.body,
        "client-certificate",
        uwhere,
        user,
        home=home,
        private=private,
        suffix="client.crt",
    )
    key = _file_or_data(
        user.body, "client-key", uwhere, user, home=home, private=private, suffix="client.key"
    )
    if (cert is None) != (key is None):
        raise _fail(
            user.origin,
            home,
            f"{uwhere} has a client certificate without a key or a key without a certificate",
            "Give both client-certificate(-data) and client-key(-data).",
        )
    return _Credentials(user_name, token, token_file, cert, key)


def select(
    config: Kubeconfig,
    context: str | None,
    context_source: str,
    *,
    home: Path,
    private: PrivateFiles,
    user_auth: bool = True,
    exec_timeout: float = DEFAULT_EXEC_TIMEOUT_S,
) -> Selection:
    """Resolve ``context`` (or the current context) to server, credentials and namespace.

    ``user_auth=False`` skips the user's credentials (an explicit ``--incluster-token-file``
    replaces them), so a user the plugin cannot use does not block a run that brings its own
    token.
    """
    name, entry = _context_entry(config, context, context_source, home)
    cluster = _cluster_of(config, name, entry, home=home, private=private)
    creds = (
        _user_credentials(
            config, name, entry, home=home, private=private, exec_timeout=exec_timeout
        )
        if user_auth
        else _Credentials()
    )
    return Selection(
        context=name,
        label=f"kubeconfig {display_path(entry.origin, home)} context {name}",
        server=cluster.server,
        namespace=_string(entry.body, "namespace", f"context {name!r}", entry, home),
        ca_file=cluster.ca_file,
        insecure=cluster.insecure,
        token=creds.token,
        token_file=creds.token_file,
        client_cert_file=creds.cert,
        client_key_file=creds.key,
        exec_plugin=creds.exec_plugin,
        user=creds.user,
        cluster=cluster.name,
        tls_server_name=cluster.tls_server_name,
        proxy_url=cluster.proxy_url,
        disable_compression=cluster.disable_compression,
        exec_extension=cluster.exec_extension,
    )
