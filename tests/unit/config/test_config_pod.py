"""Precedence in a pod and with explicit options: every branch, with the source it records."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_incluster.config.cluster_discovery import resolve
from pytest_incluster.config.errors import ConfigError, NoClusterFound
from pytest_incluster.config.options import Options, Sourced

POD_ENV = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}


def opts(sa_dir: Path, **values: object) -> Options:
    """Options as the pytest layer builds them; every explicit value gets a flag-like source.

    ``sa_dir`` is always given (with the "default" source, as if not set by the user) so no
    test looks at the real /var/run.
    """
    kwargs: dict[str, object] = {
        name: Sourced(value, f"--incluster-{name.replace('_', '-')}")
        for name, value in values.items()
    }
    kwargs["sa_dir"] = Sourced(str(sa_dir), "default")
    return Options(**kwargs)  # type: ignore[arg-type]


def test_pod_defaults_come_from_env_and_service_account(
    make_sa_dir: Callable[..., Path], tmp_path: Path
) -> None:
    sa = make_sa_dir()
    config = resolve(opts(sa), POD_ENV, home=tmp_path)
    assert config.server == "https://10.96.0.1:443"
    assert config.token_file == sa / "token"
    assert config.token is None
    assert config.ca_file == sa / "ca.crt"
    assert config.namespace == "team-a"
    assert config.insecure_skip_tls_verify is False
    assert config.source == f"in-cluster service account ({sa})"
    assert config.sources == {
        "server": "KUBERNETES_SERVICE_HOST/PORT",
        "token": f"service account {sa}",
        "ca_file": f"service account {sa}",
        "namespace": f"namespace file {sa}/namespace",
    }


def test_pod_namespace_env_beats_file_and_explicit_beats_env(
    make_sa_dir: Callable[..., Path], tmp_path: Path
) -> None:
    sa = make_sa_dir()
    env = {**POD_ENV, "POD_NAMESPACE": "from-downward-api"}
    config = resolve(opts(sa), env, home=tmp_path)
    assert (config.namespace, config.sources["namespace"]) == ("from-downward-api", "POD_NAMESPACE")
    config = resolve(opts(sa, namespace="mine"), env, home=tmp_path)
    assert (config.namespace, config.sources["namespace"]) == ("mine", "--incluster-namespace")


@pytest.mark.parametrize(
    ("env", "file", "source"),
    [
        ({"POD_NAMESPACE": "Team_A"}, None, "POD_NAMESPACE"),
        ({}, "team a\n", "/namespace"),
    ],
)
def test_a_namespace_that_cannot_exist_is_refused_naming_its_source(
    make_sa_dir: Callable[..., Path],
    tmp_path: Path,
    env: dict[str, str],
    file: str | None,
    source: str,
) -> None:
    sa = make_sa_dir(namespace=file) if file is not None else make_sa_dir()
    with pytest.raises(ConfigError) as caught:
        resolve(opts(sa), {**POD_ENV, **env}, home=tmp_path)
    message = str(caught.value)
    bad = env.get("POD_NAMESPACE") or (file or "").strip()
    assert message.startswith(f"The namespace {bad!r} (from "), message
    assert source in message
    assert "RFC 1123 DNS label" in message
    assert "pass --incluster-namespace NAME" in message
    # An explicit valid namespace wins over the bad one and is accepted.
    config = resolve(opts(sa, namespace="team-b"), {**POD_ENV, **env}, home=tmp_path)
    assert config.namespace == "team-b"


@pytest.mark.parametrize("content", [None, "  \n"])
def test_pod_namespace_defaults_when_file_missing_or_blank(
    make_sa_dir: Callable[..., Path], tmp_path: Path, content: str | None
) -> None:
    sa = make_sa_dir(namespace=content)
    config = resolve(opts(sa), POD_ENV, home=tmp_path)
    assert (config.namespace, config.sources["namespace"]) == ("default", "default")


@pytest.mark.parametrize(
    ("host", "server"),
    [
        ("fd00:10:96::1", "https://[fd00:10:96::1]:443"),
        ("fe80::1%eth0", "https://[fe80::1%eth0]:443"),
        ("kubernetes.default.svc", "https://kubernetes.default.svc:443"),
    ],
)
def test_service_host_is_bracketed_like_join_host_port(
    make_sa_dir: Callable[..., Path], tmp_path: Path, host: str, server: str
) -> None:
    env = {"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": "443"}
    assert resolve(opts(make_sa_dir()), env, home=tmp_path).server == server


@pytest.mark.parametrize(
    ("env_port", "state"), [({}, "is not set"), ({"KUBERNETES_SERVICE_PORT": ""}, "is empty")]
)
def test_host_without_port_names_the_variable(
    make_sa_dir: Callable[..., Path], tmp_path: Path, env_port: dict[str, str], state: str
) -> None:
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", **env_port}
    with pytest.raises(ConfigError) as info:
        resolve(opts(make_sa_dir()), env, home=tmp_path)
    assert str(info.value) == (
        f"KUBERNETES_SERVICE_HOST is set (10.96.0.1) but KUBERNETES_SERVICE_PORT {state}; both "
        "come from the pod's service links. Set both (the port of the kubernetes service, "
        "usually 443), or pass --incluster-server https://HOST:PORT."
    )


def test_non_numeric_port_is_an_error(make_sa_dir: Callable[..., Path], tmp_path: Path) -> None:
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "https"}
    with pytest.raises(ConfigError, match="KUBERNETES_SERVICE_PORT is 'https'"):
        resolve(opts(make_sa_dir()), env, home=tmp_path)


def test_explicit_server_skips_the_env_check(
    make_sa_dir: Callable[..., Path], tmp_path: Path
) -> None:
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1"}  # broken, but overridden
    config = resolve(opts(make_sa_dir(), server="https://api.example:6443/"), env, home=tmp_path)
    assert config.server == "https://api.example:6443"
    assert config.sources["server"] == "--incluster-server"


def test_sa_dir_without_env_uses_the_service_dns_name(
    make_sa_dir: Callable[..., Path], tmp_path: Path
) -> None:
    config = resolve(opts(make_sa_dir()), {}, home=tmp_path)
    assert config.server == "https://kubernetes.default.svc"
    assert (
        config.sources["server"] == "default (KUBERNETES_SERVICE_HOST unset, service account found)"
    )


def test_empty_host_counts_as_unset(make_sa_dir: Callable[..., Path], tmp_path: Path) -> None:
    env = {"KUBERNETES_SERVICE_HOST": "", "KUBERNETES_SERVICE_PORT": ""}
    assert (
        resolve(opts(make_sa_dir()), env, home=tmp_path).server == "https://kubernetes.default.svc"
    )


@pytest.mark.parametrize(("token", "problem"), [(None, "Cannot read"), ("\n \n", "is empty")])
def test_unusable_service_account_token_is_an_error(
    make_sa_dir: Callable[..., Path], tmp_path: Path, token: str | None, problem: str
) -> None:
    sa = make_sa_dir(token=token)
    with pytest.raises(ConfigError) as info:
        resolve(opts(sa), POD_ENV, home=tmp_path)
    message = str(info.value)
    assert problem in message
    assert f"{sa}/token (from service account {sa})" in message
    assert "automountServiceAccountToken" in message
    assert "tok-abc" not in message


def test_missing_ca_fails_closed(make_sa_dir: Callable[..., Path], tmp_path: Path) -> None:
    sa = make_sa_dir()
    (sa / "ca.crt").unlink()
    with pytest.raises(ConfigError, match=r"Cannot read the CA certificate file .*ca\.crt"):
        resolve(opts(sa), POD_ENV, home=tmp_path)


def test_garbage_ca_fails_closed(make_sa_dir: Callable[..., Path], tmp_path: Path) -> None:
    sa = make_sa_dir(ca=b"not a certificate\n")
    with pytest.raises(ConfigError, match="does not contain a PEM certificate"):
        resolve(opts(sa), POD_ENV, home=tmp_path)


def test_host_set_without_service_account_needs_a_ca(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir"
    with pytest.raises(ConfigError) as info:
        resolve(opts(missing), POD_ENV, home=tmp_path)
    assert "never falls back to an unverified connection" in str(info.value)
    assert "--incluster-ca-file" in str(info.value)


def test_host_set_without_service_account_with_explicit_ca_is_anonymous(
    tmp_path: Path, pem: tuple[bytes, bytes]
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(pem[0])
    config = resolve(opts(tmp_path / "none", ca_file=str(ca)), POD_ENV, home=tmp_path)
    assert config.token_file is None
    assert config.token is None
    assert config.ca_file == ca
    assert config.source == "in-cluster without a service account (KUBERNETES_SERVICE_HOST/PORT)"


def test_explicit_token_and_ca_beat_the_service_account(
    make_sa_dir: Callable[..., Path], tmp_path: Path, pem: tuple[bytes, bytes]
) -> None:
    sa = make_sa_dir()
    token = tmp_path / "other-token"
    token.write_text("other")
    ca = tmp_path / "other-ca.pem"
    ca.write_bytes(pem[0])
    config = resolve(opts(sa, token_file=str(token), ca_file=str(ca)), POD_ENV, home=tmp_path)
    assert (config.token_file, config.sources["token"]) == (token, "--incluster-token-file")
    assert (config.ca_file, config.sources["ca_file"]) == (ca, "--incluster-ca-file")


def test_explicit_token_file_in_home_is_expanded(
    make_sa_dir: Callable[..., Path], tmp_path: Path
) -> None:
    (tmp_path / "tok").write_text("t")
    config = resolve(opts(make_sa_dir(), token_file="~/tok"), POD_ENV, home=tmp_path)
    assert config.token_file == tmp_path / "tok"


def test_explicit_missing_token_file_names_the_option(
    make_sa_dir: Callable[..., Path], tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as info:
        resolve(opts(make_sa_dir(), token_file=str(tmp_path / "nope")), POD_ENV, home=tmp_path)
    assert f"token file {tmp_path / 'nope'} (from --incluster-token-file)" in str(info.value)


def test_explicit_sa_dir_must_exist(tmp_path: Path) -> None:
    options = Options(sa_dir=Sourced(str(tmp_path / "gone"), "ini incluster_sa_dir"))
    with pytest.raises(ConfigError) as info:
        resolve(options, {}, home=tmp_path)
    assert str(info.value).startswith(
        f"The service-account directory {tmp_path / 'gone'} (from ini incluster_sa_dir) does "
        "not exist"
    )


def test_local_mode_labels_the_source_and_uses_the_given_sa_dir(
    make_sa_dir: Callable[..., Path], tmp_path: Path
) -> None:
    sa = make_sa_dir(namespace="default")
    options = Options(
        server=Sourced("https://127.0.0.1:6443", "--incluster-local"),
        sa_dir=Sourced(str(sa), "--incluster-local"),
        local="local control plane (default/default)",
    )
    config = resolve(options, {}, home=tmp_path)
    assert config.source == "local control plane (default/default)"
    assert config.server == "https://127.0.0.1:6443"
    assert config.token_file == sa / "token"
    assert config.namespace == "default"


def test_insecure_is_explicit_only_and_drops_the_ca(
    make_sa_dir: Callable[..., Path], tmp_path: Path
) -> None:
    sa = make_sa_dir()
    (sa / "ca.crt").unlink()  # not needed when verification is explicitly off
    options = Options(
        sa_dir=Sourced(str(sa), "default"),
        insecure_skip_tls_verify=Sourced(True, "--incluster-insecure-skip-tls-verify"),
    )
    config = resolve(options, POD_ENV, home=tmp_path)
    assert config.insecure_skip_tls_verify is True
    assert config.ca_file is None
    assert config.sources["insecure"] == "--incluster-insecure-skip-tls-verify"


@pytest.mark.parametrize(
    "server",
    ["http://127.0.0.1:8001", "http://localhost:8001", "http://[::1]:8001", "http://127.8.9.10"],
)
def test_kubectl_proxy_sidecar_gets_no_token(
    make_sa_dir: Callable[..., Path], tmp_path: Path, server: str
) -> None:
    config = resolve(opts(make_sa_dir(), server=server), POD_ENV, home=tmp_path)
    assert config.server == server
    assert config.token_file is None
    assert config.token is None
    assert config.ca_file is None
    assert config.source == f"kubectl proxy at {server} (from --incluster-server)"


@pytest.mark.parametrize(
    "server", ["http://10.0.0.1:8001", "http://example.com", "http://[fd00::1]"]
)
def test_plain_http_to_a_remote_host_is_refused(tmp_path: Path, server: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve(opts(tmp_path / "none", server=server), {}, home=tmp_path)
    assert "from --incluster-server uses plain http://" in str(info.value)
    assert "kubectl proxy sidecar at http://127.0.0.1:8001" in str(info.value)


@pytest.mark.parametrize("server", ["10.0.0.1:6443", "ftp://x", "https://", "https://h:notaport"])
def test_malformed_server_is_an_error_naming_the_source(tmp_path: Path, server: str) -> None:
    with pytest.raises(ConfigError, match="from --incluster-server"):
        resolve(opts(tmp_path / "none", server=server), {}, home=tmp_path)


def test_explicit_server_outside_a_pod_uses_the_system_trust_store(tmp_path: Path) -> None:
    config = resolve(opts(tmp_path / "none", server="https://api.example:443"), {}, home=tmp_path)
    assert config.ca_file is None
    assert config.token_file is None
    assert config.sources["ca_file"] == "system trust store"
    assert config.source == "server from --incluster-server"
    assert config.namespace == "default"


def test_nothing_found_lists_what_was_looked_for(tmp_path: Path) -> None:
    sa = tmp_path / "serviceaccount"
    with pytest.raises(NoClusterFound) as info:
        resolve(opts(sa), {}, home=tmp_path)
    assert str(info.value) == (
        f"No Kubernetes cluster found. Looked for a pod's service-account directory at {sa} "
        "(missing), the KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT variables (not set), "
        "and a kubeconfig at ~/.kube/config (KUBECONFIG unset; no such file). Run the tests in a "
        "pod with a service account, pass --incluster-kubeconfig PATH or --incluster-server URL, "
        "or add --incluster-local to start a throwaway control plane."
    )
    assert info.value.anchor == "no-cluster-found"


def test_nothing_found_names_the_kubeconfig_list(tmp_path: Path) -> None:
    env = {"KUBECONFIG": "/nope/a:/nope/b"}
    with pytest.raises(NoClusterFound, match=r"at /nope/a, /nope/b \(KUBECONFIG=/nope/a:/nope/b;"):
        resolve(opts(tmp_path / "sa"), env, home=tmp_path)
