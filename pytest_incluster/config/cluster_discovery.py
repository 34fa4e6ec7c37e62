"""The one precedence function: where the cluster is, who we are, and where each answer came from.

Order, first match wins:

1. ``--incluster-kubeconfig`` or ``--incluster-context`` given: that kubeconfig.
2. In a pod (the service-account directory exists, or ``KUBERNETES_SERVICE_HOST`` is set), or an
   explicit ``--incluster-server``: the pod's view (client-go ``InClusterConfig`` semantics).
3. Otherwise a kubeconfig from ``KUBECONFIG`` or ``~/.kube/config``.
4. Nothing found: :class:`NoClusterFound`, listing what was looked at and how to fix it.

Explicit settings (server, token file, CA file, namespace, insecure) override whatever the chosen
source says. Each value's origin is kept in ``ClusterConfig.sources`` so the header, the report
and every error can say "from --incluster-ca-file" instead of leaving the user to guess.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from pytest_incluster.config import kubeconfig
from pytest_incluster.config.errors import ConfigError, NoClusterFound
from pytest_incluster.config.exec_spec import DEFAULT_EXEC_TIMEOUT_S, ClusterInfo, ExecPlugin
from pytest_incluster.config.files import check_ca_file, check_readable, check_token_file
from pytest_incluster.config.incluster import (
    DEFAULT_SERVER,
    ENV_SOURCE,
    POD_NAMESPACE,
    SERVICE_HOST,
    namespace_from_file,
    server_from_env,
)
from pytest_incluster.config.model import ClusterConfig
from pytest_incluster.config.names import NAMESPACE_RULE, is_namespace_name
from pytest_incluster.config.options import Options, Sourced
from pytest_incluster.config.private_files import PrivateFiles
from pytest_incluster.config.server import check_server
from pytest_incluster.secret import Secret

_EXPLICIT_FIX = "Fix the path or leave the option unset to use the discovered value."
_SA_FIX = (
    "Kubernetes mounts it unless automountServiceAccountToken is false for the pod or its "
    "ServiceAccount; enable it, or pass --incluster-token-file and --incluster-ca-file."
)


def _home(environ: Mapping[str, str]) -> Path:
    home = environ.get("HOME")
    return Path(home) if home else Path.home()


def _path(value: str, home: Path) -> Path:
    if value == "~" or value.startswith("~/"):
        return home / value[2:]
    return Path(value)


def _given(option: Sourced[str | None]) -> str | None:
    """The option's value when the user set it (an empty string counts as unset)."""
    return option.value if option.value else None


def resolve(
    options: Options,
    environ: Mapping[str, str],
    *,
    home: Path | None = None,
    private_dir: Path | None = None,
) -> ClusterConfig:
    """Resolve the cluster configuration; raise ConfigError/NoClusterFound with the fix.

    ``environ`` and ``home`` are parameters so tests never touch ``os.environ`` or ``~``.
    ``private_dir`` receives inline kubeconfig certificate data (default: a private temporary
    directory removed at exit).
    """
    home = _home(environ) if home is None else home
    sa_dir = _path(options.sa_dir.value, home)
    if options.sa_dir.source != "default" and not sa_dir.is_dir():
        raise ConfigError(
            f"The service-account directory {sa_dir} (from {options.sa_dir.source}) does not "
            "exist or is not a directory. It must hold token, ca.crt and optionally namespace, "
            "as mounted into a pod; fix the path or leave the option unset.",
            anchor="service-account-directory",
        )
    private = PrivateFiles(private_dir)
    if _given(options.kubeconfig) or _given(options.context):
        return _from_kubeconfig(options, environ, home, private)
    in_pod = sa_dir.is_dir() or bool(environ.get(SERVICE_HOST, "").strip())
    if in_pod or _given(options.server):
        return _from_pod(options, environ, home, sa_dir if sa_dir.is_dir() else None)
    if kubeconfig.existing(kubeconfig.candidate_paths(environ, home)):
        return _from_kubeconfig(options, environ, home, private)
    raise _nothing_found(sa_dir, environ, home)


def _nothing_found(sa_dir: Path, environ: Mapping[str, str], home: Path) -> NoClusterFound:
    paths = ", ".join(
        kubeconfig.display_path(p, home) for p in kubeconfig.candidate_paths(environ, home)
    )
    via = (
        f"{kubeconfig.KUBECONFIG_ENV}={environ[kubeconfig.KUBECONFIG_ENV]}"
        if environ.get(kubeconfig.KUBECONFIG_ENV)
        else f"{kubeconfig.KUBECONFIG_ENV} unset"
    )
    return NoClusterFound(
        "No Kubernetes cluster found. Looked for a pod's service-account directory at "
        f"{sa_dir} (missing), the {SERVICE_HOST} and KUBERNETES_SERVICE_PORT variables (not "
        f"set), and a kubeconfig at {paths} ({via}; no such file). Run the tests in a pod with "
        "a service account, pass --incluster-kubeconfig PATH or --incluster-server URL, or add "
        "--incluster-local to start a throwaway control plane.",
        anchor="no-cluster-found",
    )


def _namespace(
    options: Options, fallbacks: list[tuple[str | None, str]], sources: dict[str, str]
) -> str:
    explicit = _given(options.namespace)
    candidates = [(explicit, options.namespace.source), *fallbacks, ("default", "default")]
    for value, source in candidates:
        if value:
            if not is_namespace_name(value):
                raise ConfigError(_bad_namespace_message(value, source))
            sources["namespace"] = source
            return value
    raise AssertionError("unreachable: 'default' always matches")


def _bad_namespace_message(value: str, source: str) -> str:
    """A namespace that cannot exist, from the environment or a file: the server would answer
    an empty list or "no" for it, so every test about it would pass or fail for a wrong reason.
    """
    shown = value if len(value) <= 80 else value[:77] + "..."
    return (
        f"The namespace {shown!r} (from {source}) is not a namespace name: {NAMESPACE_RULE}. "
        "Fix it there, or pass --incluster-namespace NAME to choose the namespace explicitly."
    )


_FileCheck = Callable[..., None]  # check_token_file / check_ca_file(path, source, *, fix)


def _explicit_file(
    option: Sourced[str | None], check: _FileCheck, key: str, home: Path, sources: dict[str, str]
) -> Path | None:
    """The file an --incluster-* option names, checked; None when the option is unset."""
    value = _given(option)
    if value is None:
        return None
    path = _path(value, home)
    check(path, option.source, fix=_EXPLICIT_FIX)
    sources[key] = option.source
    return path


def _override(
    explicit: Path | None,
    found: Path | None,
    source: str,
    *,
    check: _FileCheck,
    fix: str,
    key: str,
    sources: dict[str, str],
) -> Path | None:
    """The explicit file if given (already checked), else ``found`` from ``source``, checked.

    The one place the rule "an explicit option overrides what the pod or kubeconfig says" is
    written for files (token, CA); the server follows the same rule in :func:`_server`.
    """
    if explicit is not None or found is None:
        return explicit
    check(found, source, fix=fix)
    sources[key] = source
    return found


def _server(
    options: Options, found: str | None, source: str, sources: dict[str, str]
) -> str | None:
    """--incluster-server if given, else ``found`` from ``source``; each checked."""
    explicit = _given(options.server)
    if explicit is not None:
        found, source = explicit, options.server.source
    if found is None:
        return None
    sources["server"] = source
    return check_server(found, source)


def _pod_ca_file(
    options: Options, home: Path, sa_dir: Path | None, sources: dict[str, str]
) -> Path | None:
    """The CA to verify the API server with, from the options or the service account."""
    explicit = _explicit_file(options.ca_file, check_ca_file, "ca_file", home, sources)
    where = f"service account {sa_dir}"
    found = sa_dir / "ca.crt" if sa_dir is not None else None
    ca_file = _override(
        explicit, found, where, check=check_ca_file, fix=_SA_FIX, key="ca_file", sources=sources
    )
    if ca_file is None and _given(options.server) is None:
        raise ConfigError(
            f"{SERVICE_HOST} is set but there is no service-account directory at "
            f"{options.sa_dir.value}, so there is no CA certificate to verify the API server "
            "with (pytest-incluster never falls back to an unverified connection). Mount the "
            "service account (automountServiceAccountToken: true), or pass "
            "--incluster-ca-file and --incluster-token-file.",
            anchor="no-ca-certificate",
        )
    if ca_file is None:
        sources["ca_file"] = "system trust store"
    return ca_file


def _pod_source(options: Options, server: str, sa_dir: Path | None, sources: dict[str, str]) -> str:
    """How the header names a pod's view (or a kubectl proxy, or an explicit server)."""
    if options.local:
        return options.local
    if server.startswith("http://"):
        return f"kubectl proxy at {server} (from {sources['server']})"
    if sa_dir is not None:
        return f"in-cluster service account ({sa_dir})"
    if _given(options.server) is None:
        return f"in-cluster without a service account ({ENV_SOURCE})"
    return f"server from {options.server.source}"


def _from_pod(
    options: Options, environ: Mapping[str, str], home: Path, sa_dir: Path | None
) -> ClusterConfig:
    """The pod's view: service variables and service-account directory, or --incluster-server."""
    sources: dict[str, str] = {}
    # An explicit server wins before the service variables are even read (they may be broken).
    from_env = server_from_env(environ) if _given(options.server) is None else None
    server = _server(options, from_env, ENV_SOURCE, sources)
    if server is None:
        server = DEFAULT_SERVER
        sources["server"] = f"default ({SERVICE_HOST} unset, service account found)"
    # A kubectl proxy sidecar adds its own credentials; our token stays off plain HTTP.
    plain_http = server.startswith("http://")
    insecure = options.insecure_skip_tls_verify.value
    if insecure:
        sources["insecure"] = options.insecure_skip_tls_verify.source

    token_file = _explicit_file(options.token_file, check_token_file, "token", home, sources)
    if not plain_http:
        token_file = _override(
            token_file,
            sa_dir / "token" if sa_dir is not None else None,
            f"service account {sa_dir}",
            check=check_token_file,
            fix=_SA_FIX,
            key="token",
            sources=sources,
        )
    ca_file = None if plain_http or insecure else _pod_ca_file(options, home, sa_dir, sources)
    namespace = _namespace(
        options,
        [
            (environ.get(POD_NAMESPACE, "").strip(), POD_NAMESPACE),
            (
                namespace_from_file(sa_dir) if sa_dir is not None else None,
                f"namespace file {sa_dir}/namespace",
            ),
        ],
        sources,
    )
    return ClusterConfig(
        server=server,
        namespace=namespace,
        source=_pod_source(options, server, sa_dir, sources),
        sources=sources,
        token_file=token_file,
        ca_file=ca_file,
        insecure_skip_tls_verify=insecure,
    )


def _kubeconfig_files(
    options: Options, environ: Mapping[str, str], home: Path, sources: dict[str, str]
) -> list[Path]:
    explicit = _given(options.kubeconfig)
    if explicit is not None:
        path = _path(explicit, home)
        if not path.is_file():
            raise ConfigError(
                f"The kubeconfig {path} (from {options.kubeconfig.source}) does not exist or is "
                "not a file. Fix the path, or leave the option unset to use KUBECONFIG or "
                "~/.kube/config.",
                anchor="kubeconfig",
            )
        sources["kubeconfig"] = options.kubeconfig.source
        return [path]
    candidates = kubeconfig.candidate_paths(environ, home)
    files = kubeconfig.existing(candidates)
    if not files:
        shown = ", ".join(kubeconfig.display_path(p, home) for p in candidates)
        raise ConfigError(
            f"{options.context.source} selects context {options.context.value!r}, but no "
            f"kubeconfig exists at {shown}. Pass --incluster-kubeconfig PATH or set KUBECONFIG.",
            anchor="kubeconfig",
        )
    sources["kubeconfig"] = (
        kubeconfig.KUBECONFIG_ENV if environ.get(kubeconfig.KUBECONFIG_ENV) else "default"
    )
    return files


def _from_kubeconfig(
    options: Options, environ: Mapping[str, str], home: Path, private: PrivateFiles
) -> ClusterConfig:
    """A workstation's view: a kubeconfig context, with explicit options on top."""
    sources: dict[str, str] = {}
    files = _kubeconfig_files(options, environ, home, sources)
    loaded = kubeconfig.load(files, home)
    token_file = _explicit_file(options.token_file, check_token_file, "token", home, sources)
    chosen = kubeconfig.select(
        loaded,
        _given(options.context),
        options.context.source,
        home=home,
        private=private,
        user_auth=token_file is None,
        exec_timeout=_exec_timeout(options),
    )
    label = chosen.label
    sources["context"] = options.context.source if _given(options.context) else label
    server = _server(options, chosen.server, label, sources)
    assert server is not None  # a selected context always has a server

    fix = f"Fix the kubeconfig ({label}) or override it with the matching --incluster-* option."
    token: Secret | None = None
    token_file = _override(
        token_file,
        chosen.token_file,
        label,
        check=check_token_file,
        fix=fix,
        key="token",
        sources=sources,
    )
    if token_file is None and chosen.token is not None:
        token = chosen.token
        sources["token"] = label

    insecure, ca_file = _kubeconfig_trust(options, chosen, server, home, fix, sources)

    if chosen.client_cert_file is not None and chosen.client_key_file is not None:
        check_readable(chosen.client_cert_file, "client certificate", label, fix=fix)
        check_readable(chosen.client_key_file, "client key", label, fix=fix)
        sources["cert"] = label

    namespace = _namespace(options, [(chosen.namespace, label)], sources)
    _connection_sources(chosen, sources)
    return ClusterConfig(
        server=server,
        namespace=namespace,
        source=options.local or label,
        sources=sources,
        token_file=token_file,
        token=token,
        ca_file=ca_file,
        client_cert_file=chosen.client_cert_file,
        client_key_file=chosen.client_key_file,
        insecure_skip_tls_verify=insecure,
        exec_plugin=_with_cluster_info(chosen, server, ca_file, insecure),
        tls_server_name=chosen.tls_server_name,
        proxy_url=chosen.proxy_url,
        disable_compression=chosen.disable_compression,
    )


def _kubeconfig_trust(
    options: Options,
    chosen: kubeconfig.Selection,
    server: str,
    home: Path,
    fix: str,
    sources: dict[str, str],
) -> tuple[bool, Path | None]:
    """insecure-skip-tls-verify and the CA file: the options', else the kubeconfig's."""
    label = chosen.label
    insecure = options.insecure_skip_tls_verify.value or chosen.insecure
    if insecure:
        sources["insecure"] = (
            options.insecure_skip_tls_verify.source
            if options.insecure_skip_tls_verify.value
            else label
        )
    ca_file = None
    if not insecure and server.startswith("https://"):
        ca_file = _override(
            _explicit_file(options.ca_file, check_ca_file, "ca_file", home, sources),
            chosen.ca_file,
            label,
            check=check_ca_file,
            fix=fix,
            key="ca_file",
            sources=sources,
        )
        if ca_file is None:
            sources["ca_file"] = "system trust store"
    return insecure, ca_file


def _exec_timeout(options: Options) -> float:
    """--incluster-exec-timeout as seconds (a positive number), else the default."""
    value = _given(options.exec_timeout)
    if value is None:
        return DEFAULT_EXEC_TIMEOUT_S
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise ConfigError(
            f"The exec plugin timeout {value!r} (from {options.exec_timeout.source}) is not a "
            "positive number of seconds. Give e.g. --incluster-exec-timeout 120.",
            anchor="exec-plugin",
        )
    return seconds


def _connection_sources(chosen: kubeconfig.Selection, sources: dict[str, str]) -> None:
    """Name the kubeconfig (with cluster and user) as the source of what it configured."""
    cluster = f"{chosen.label}, cluster {chosen.cluster!r}"
    if chosen.exec_plugin is not None:
        sources["exec"] = chosen.exec_plugin.where
    if chosen.tls_server_name is not None:
        sources["tls"] = cluster
    if chosen.proxy_url is not None:
        sources["proxy"] = f"{cluster}, user {chosen.user!r}" if chosen.user else cluster


def _with_cluster_info(
    chosen: kubeconfig.Selection, server: str, ca_file: Path | None, insecure: bool
) -> ExecPlugin | None:
    """The exec plugin with the cluster it is asked about, when it wants to know."""
    plugin = chosen.exec_plugin
    if plugin is None or not plugin.provide_cluster_info:
        return plugin
    info = ClusterInfo(
        server=server,
        ca_data=ca_file.read_bytes() if ca_file is not None else None,
        tls_server_name=chosen.tls_server_name,
        insecure_skip_tls_verify=insecure,
        proxy_url=chosen.proxy_url,
        disable_compression=chosen.disable_compression,
        extension_json=(
            json.dumps(chosen.exec_extension) if chosen.exec_extension is not None else None
        ),
    )
    return replace(plugin, cluster=info)
