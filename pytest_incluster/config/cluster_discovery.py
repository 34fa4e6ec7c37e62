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

from collections.abc import Mapping
from pathlib import Path

from pytest_incluster.config import kubeconfig
from pytest_incluster.config.errors import ConfigError, NoClusterFound
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
            sources["namespace"] = source
            return value
    raise AssertionError("unreachable: 'default' always matches")


def _explicit_token_file(options: Options, home: Path, sources: dict[str, str]) -> Path | None:
    value = _given(options.token_file)
    if value is None:
        return None
    path = _path(value, home)
    check_token_file(path, options.token_file.source, fix=_EXPLICIT_FIX)
    sources["token"] = options.token_file.source
    return path


def _explicit_ca_file(options: Options, home: Path, sources: dict[str, str]) -> Path | None:
    value = _given(options.ca_file)
    if value is None:
        return None
    path = _path(value, home)
    check_ca_file(path, options.ca_file.source, fix=_EXPLICIT_FIX)
    sources["ca_file"] = options.ca_file.source
    return path


def _from_pod(
    options: Options, environ: Mapping[str, str], home: Path, sa_dir: Path | None
) -> ClusterConfig:
    """The pod's view: service variables and service-account directory, or --incluster-server."""
    sources: dict[str, str] = {}
    explicit_server = _given(options.server)
    if explicit_server is not None:
        server = check_server(explicit_server, options.server.source)
        sources["server"] = options.server.source
    else:
        from_env = server_from_env(environ)
        if from_env is not None:
            server = check_server(from_env, ENV_SOURCE)
            sources["server"] = ENV_SOURCE
        else:
            server = DEFAULT_SERVER
            sources["server"] = f"default ({SERVICE_HOST} unset, service account found)"
    # A kubectl proxy sidecar adds its own credentials; our token stays off plain HTTP.
    plain_http = server.startswith("http://")
    insecure = options.insecure_skip_tls_verify.value
    if insecure:
        sources["insecure"] = options.insecure_skip_tls_verify.source

    token_file = _explicit_token_file(options, home, sources)
    if token_file is None and sa_dir is not None and not plain_http:
        token_file = sa_dir / "token"
        check_token_file(token_file, f"service account {sa_dir}", fix=_SA_FIX)
        sources["token"] = f"service account {sa_dir}"

    ca_file = None
    if not plain_http and not insecure:
        ca_file = _explicit_ca_file(options, home, sources)
        if ca_file is None and sa_dir is not None:
            ca_file = sa_dir / "ca.crt"
            check_ca_file(ca_file, f"service account {sa_dir}", fix=_SA_FIX)
            sources["ca_file"] = f"service account {sa_dir}"
        elif ca_file is None and explicit_server is None:
            raise ConfigError(
                f"{SERVICE_HOST} is set but there is no service-account directory at "
                f"{options.sa_dir.value}, so there is no CA certificate to verify the API server "
                "with (pytest-incluster never falls back to an unverified connection). Mount the "
                "service account (automountServiceAccountToken: true), or pass "
                "--incluster-ca-file and --incluster-token-file.",
                anchor="no-ca-certificate",
            )
        elif ca_file is None:
            sources["ca_file"] = "system trust store"

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
    if options.local:
        source = options.local
    elif plain_http:
        source = f"kubectl proxy at {server} (from {sources['server']})"
    elif sa_dir is not None:
        source = f"in-cluster service account ({sa_dir})"
    elif explicit_server is None:
        source = f"in-cluster without a service account ({ENV_SOURCE})"
    else:
        source = f"server from {options.server.source}"
    return ClusterConfig(
        server=server,
        namespace=namespace,
        source=source,
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
    token_file = _explicit_token_file(options, home, sources)
    chosen = kubeconfig.select(
        loaded,
        _given(options.context),
        options.context.source,
        home=home,
        private=private,
        user_auth=token_file is None,
    )
    label = chosen.label
    sources["context"] = options.context.source if _given(options.context) else label

    explicit_server = _given(options.server)
    if explicit_server is not None:
        server = check_server(explicit_server, options.server.source)
        sources["server"] = options.server.source
    else:
        server = check_server(chosen.server, label)
        sources["server"] = label

    fix = f"Fix the kubeconfig ({label}) or override it with the matching --incluster-* option."
    token: Secret | None = None
    if token_file is None and chosen.token_file is not None:
        token_file = chosen.token_file
        check_token_file(token_file, label, fix=fix)
        sources["token"] = label
    elif token_file is None and chosen.token is not None:
        token = chosen.token
        sources["token"] = label

    insecure = options.insecure_skip_tls_verify.value or chosen.insecure
    if insecure:
        sources["insecure"] = (
            options.insecure_skip_tls_verify.source
            if options.insecure_skip_tls_verify.value
            else label
        )
    ca_file = None
    if not insecure and server.startswith("https://"):
        ca_file = _explicit_ca_file(options, home, sources)
        if ca_file is None and chosen.ca_file is not None:
            ca_file = chosen.ca_file
            check_ca_file(ca_file, label, fix=fix)
            sources["ca_file"] = label
        elif ca_file is None:
            sources["ca_file"] = "system trust store"

    if chosen.client_cert_file is not None and chosen.client_key_file is not None:
        check_readable(chosen.client_cert_file, "client certificate", label, fix=fix)
        check_readable(chosen.client_key_file, "client key", label, fix=fix)
        sources["cert"] = label

    namespace = _namespace(options, [(chosen.namespace, label)], sources)
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
    )
