"""Kubeconfig discovery from a workstation: files, merging, credentials, and refusals."""

from __future__ import annotations

import base64
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_incluster.config.cluster_discovery import resolve
from pytest_incluster.config.errors import ConfigError
from pytest_incluster.config.options import Options, Sourced
from pytest_incluster.secret import Secret
from tests.support.certs import self_signed_ca


def kubeconfig(
    *,
    user: dict[str, Any] | None = None,
    cluster: dict[str, Any] | None = None,
    namespace: str | None = None,
    current: str | None = "dev",
    name: str = "dev",
) -> dict[str, Any]:
    context: dict[str, Any] = {"cluster": f"{name}-cluster", "user": f"{name}-user"}
    if namespace:
        context["namespace"] = namespace
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": f"{name}-cluster", "cluster": cluster or {"server": "https://api.dev:6443"}}
        ],
        "users": [
            {"name": f"{name}-user", "user": user if user is not None else {"token": "s3cr3t"}}
        ],
        "contexts": [{"name": name, "context": context}],
    }
    if current is not None:
        doc["current-context"] = current
    return doc


def write(path: Path, doc: dict[str, Any] | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return path


def no_pod(tmp_path: Path, **values: str) -> Options:
    """Options outside a pod: the service-account dir does not exist."""
    kwargs: dict[str, Any] = {
        k: Sourced(v, f"--incluster-{k.replace('_', '-')}") for k, v in values.items()
    }
    return Options(sa_dir=Sourced(str(tmp_path / "no-sa"), "default"), **kwargs)


def test_default_kubeconfig_with_static_token(tmp_path: Path) -> None:
    write(tmp_path / ".kube" / "config", kubeconfig(namespace="team-b"))
    config = resolve(no_pod(tmp_path), {}, home=tmp_path, private_dir=tmp_path)
    assert config.server == "https://api.dev:6443"
    assert config.token == Secret("s3cr3t")
    assert config.token_file is None
    assert config.ca_file is None
    assert config.namespace == "team-b"
    label = "kubeconfig ~/.kube/config context dev"
    assert config.source == label
    assert config.sources == {
        "kubeconfig": "default",
        "context": label,
        "server": label,
        "token": label,
        "ca_file": "system trust store",
        "namespace": label,
    }
    assert "s3cr3t" not in repr(config)


def test_namespace_defaults_when_the_context_has_none(tmp_path: Path) -> None:
    write(tmp_path / ".kube" / "config", kubeconfig())
    config = resolve(no_pod(tmp_path), {}, home=tmp_path)
    assert (config.namespace, config.sources["namespace"]) == ("default", "default")


def test_token_file_is_resolved_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    write(tmp_path / "conf" / "kc", kubeconfig(user={"tokenFile": "tokens/t"}))
    (tmp_path / "conf" / "tokens").mkdir()
    (tmp_path / "conf" / "tokens" / "t").write_text("abc\n")
    config = resolve(no_pod(tmp_path, kubeconfig=str(tmp_path / "conf" / "kc")), {}, home=tmp_path)
    assert config.token_file == tmp_path / "conf" / "tokens" / "t"
    assert config.token is None
    assert config.sources["kubeconfig"] == "--incluster-kubeconfig"


def test_token_file_wins_over_token(tmp_path: Path) -> None:
    (tmp_path / "t").write_text("from-file")
    write(
        tmp_path / ".kube" / "config",
        kubeconfig(user={"token": "x", "tokenFile": str(tmp_path / "t")}),
    )
    config = resolve(no_pod(tmp_path), {}, home=tmp_path)
    assert config.token_file == tmp_path / "t"
    assert config.token is None


def test_empty_token_file_in_kubeconfig_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "t").write_text("")
    write(tmp_path / ".kube" / "config", kubeconfig(user={"tokenFile": str(tmp_path / "t")}))
    with pytest.raises(
        ConfigError,
        match=r"is empty\. Fix the kubeconfig \(kubeconfig ~/\.kube/config context dev\)",
    ):
        resolve(no_pod(tmp_path), {}, home=tmp_path)


def test_inline_certificates_become_private_files(tmp_path: Path, pem: tuple[bytes, bytes]) -> None:
    cert, key = pem

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    write(
        tmp_path / ".kube" / "config",
        kubeconfig(
            cluster={"server": "https://api.dev:6443", "certificate-authority-data": b64(cert)},
            user={"client-certificate-data": b64(cert), "client-key-data": b64(key)},
        ),
    )
    private = tmp_path / "private"
    private.mkdir()
    config = resolve(no_pod(tmp_path), {}, home=tmp_path, private_dir=private)
    assert config.token is None
    assert config.token_file is None
    for path, data in (
        (config.ca_file, cert),
        (config.client_cert_file, cert),
        (config.client_key_file, key),
    ):
        assert path is not None
        assert path.parent == private
        assert path.read_bytes() == data
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert config.sources["cert"] == "kubeconfig ~/.kube/config context dev"


def test_certificate_paths_relative_to_the_file(tmp_path: Path, pem: tuple[bytes, bytes]) -> None:
    (tmp_path / "kc").mkdir()
    (tmp_path / "kc" / "ca.pem").write_bytes(pem[0])
    (tmp_path / "kc" / "c.pem").write_bytes(pem[0])
    (tmp_path / "kc" / "k.pem").write_bytes(pem[1])
    write(
        tmp_path / "kc" / "config",
        kubeconfig(
            cluster={"server": "https://api.dev:6443", "certificate-authority": "ca.pem"},
            user={"client-certificate": "c.pem", "client-key": "k.pem"},
        ),
    )
    config = resolve(
        no_pod(tmp_path), {"KUBECONFIG": str(tmp_path / "kc" / "config")}, home=tmp_path
    )
    assert config.ca_file == tmp_path / "kc" / "ca.pem"
    assert config.client_cert_file == tmp_path / "kc" / "c.pem"
    assert config.client_key_file == tmp_path / "kc" / "k.pem"
    assert config.sources["kubeconfig"] == "KUBECONFIG"


def test_missing_client_key_file_is_an_error(tmp_path: Path, pem: tuple[bytes, bytes]) -> None:
    (tmp_path / "c.pem").write_bytes(pem[0])
    write(
        tmp_path / ".kube" / "config",
        kubeconfig(
            user={"client-certificate": str(tmp_path / "c.pem"), "client-key": "/nope/k.pem"}
        ),
    )
    with pytest.raises(ConfigError, match=r"Cannot read the client key /nope/k\.pem"):
        resolve(no_pod(tmp_path), {}, home=tmp_path)


def test_certificate_without_key_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / ".kube" / "config", kubeconfig(user={"client-certificate": "/x.pem"}))
    with pytest.raises(ConfigError, match="client certificate without a key"):
        resolve(no_pod(tmp_path), {}, home=tmp_path)


def test_invalid_base64_names_the_field(tmp_path: Path) -> None:
    write(
        tmp_path / ".kube" / "config",
        kubeconfig(cluster={"server": "https://a:1", "certificate-authority-data": "%%%"}),
    )
    with pytest.raises(ConfigError) as info:
        resolve(no_pod(tmp_path), {}, home=tmp_path, private_dir=tmp_path)
    assert str(info.value).startswith(
        "kubeconfig ~/.kube/config: cluster 'dev-cluster' has certificate-authority-data that is "
        "not valid base64."
    )


def test_insecure_skip_tls_verify_from_the_cluster(tmp_path: Path) -> None:
    write(
        tmp_path / ".kube" / "config",
        kubeconfig(cluster={"server": "https://a:1", "insecure-skip-tls-verify": True}),
    )
    config = resolve(no_pod(tmp_path), {}, home=tmp_path)
    assert config.insecure_skip_tls_verify is True
    assert config.ca_file is None
    assert config.sources["insecure"] == "kubeconfig ~/.kube/config context dev"


@pytest.mark.parametrize(
    ("user", "what"),
    [
        (
            {"auth-provider": {"name": "oidc"}},
            "an auth-provider plugin (deprecated by Kubernetes and removed from kubectl; "
            "providers moved to exec credential plugins)",
        ),
        (
            {"username": "admin", "password": "pw"},
            "basic auth (a username and password; the API server no longer accepts it)",
        ),
    ],
)
def test_unsupported_auth_names_context_and_file(
    tmp_path: Path, user: dict[str, Any], what: str
) -> None:
    write(tmp_path / ".kube" / "config", kubeconfig(user=user))
    with pytest.raises(ConfigError) as info:
        resolve(no_pod(tmp_path), {}, home=tmp_path)
    assert str(info.value) == (
        f"kubeconfig ~/.kube/config: user 'dev-user' (context 'dev') authenticates with {what}, "
        "which pytest-incluster does not support. Use a context whose user has a token, tokenFile, "
        "client certificate or exec credential plugin (for example a ServiceAccount token from "
        "'kubectl create token', or the plugin your cloud provider documents), pass "
        "--incluster-token-file, or run the tests inside the cluster."
    )
    # The README section that explains exactly this, not the general kubeconfig one.
    assert info.value.help_url == "README.md#unsupported-credentials"


def test_explicit_token_file_replaces_an_exec_user(tmp_path: Path) -> None:
    write(tmp_path / ".kube" / "config", kubeconfig(user={"exec": {"command": "aws"}}))
    (tmp_path / "tok").write_text("t")
    config = resolve(no_pod(tmp_path, token_file=str(tmp_path / "tok")), {}, home=tmp_path)
    assert config.token_file == tmp_path / "tok"
    assert config.sources["token"] == "--incluster-token-file"


def test_malformed_yaml_names_the_file(tmp_path: Path) -> None:
    write(tmp_path / ".kube" / "config", "clusters: [\n  - name: a\n  cluster: {")
    with pytest.raises(ConfigError) as info:
        resolve(no_pod(tmp_path), {}, home=tmp_path)
    assert str(info.value).startswith("kubeconfig ~/.kube/config: is not valid YAML at line")


def test_non_mapping_yaml_names_the_file(tmp_path: Path) -> None:
    write(tmp_path / ".kube" / "config", "- just\n- a list\n")
    with pytest.raises(ConfigError, match=r"kubeconfig ~/\.kube/config: is not a YAML mapping"):
        resolve(no_pod(tmp_path), {}, home=tmp_path)


def test_unknown_context_lists_the_known_ones(tmp_path: Path) -> None:
    write(tmp_path / ".kube" / "config", kubeconfig())
    with pytest.raises(ConfigError) as info:
        resolve(no_pod(tmp_path, context="prod"), {}, home=tmp_path)
    assert str(info.value) == (
        "kubeconfig ~/.kube/config has no context named 'prod' (from --incluster-context); it "
        "defines: dev. Pass --incluster-context with one of those, or fix the kubeconfig."
    )


def test_no_current_context(tmp_path: Path) -> None:
    write(tmp_path / ".kube" / "config", kubeconfig(current=None))
    with pytest.raises(
        ConfigError, match=r"has no current-context\. Pass --incluster-context NAME \(one of: dev\)"
    ):
        resolve(no_pod(tmp_path), {}, home=tmp_path)


def test_explicit_context_is_used(tmp_path: Path) -> None:
    doc = kubeconfig()
    other = kubeconfig(name="prod", cluster={"server": "https://prod:443"})
    for key in ("clusters", "users", "contexts"):
        doc[key] += other[key]
    write(tmp_path / ".kube" / "config", doc)
    config = resolve(no_pod(tmp_path, context="prod"), {}, home=tmp_path)
    assert config.server == "https://prod:443"
    assert config.sources["context"] == "--incluster-context"
    assert config.source == "kubeconfig ~/.kube/config context prod"


def test_kubeconfig_list_skips_missing_and_merges_first_wins(tmp_path: Path) -> None:
    first = write(tmp_path / "a", kubeconfig(cluster={"server": "https://first:1"}))
    second_doc = kubeconfig(name="other", current="other", cluster={"server": "https://second:2"})
    second_doc["clusters"].append(
        {"name": "dev-cluster", "cluster": {"server": "https://shadowed:3"}}
    )
    second = write(tmp_path / "b", second_doc)
    env = {"KUBECONFIG": f"{tmp_path / 'missing'}:{first}:{second}"}
    config = resolve(no_pod(tmp_path), env, home=tmp_path)
    assert config.server == "https://first:1"  # current-context and cluster from the first file
    config = resolve(no_pod(tmp_path, context="other"), env, home=tmp_path)
    assert config.server == "https://second:2"  # a context only the second file defines
    assert config.source == "kubeconfig ~/b context other"


def test_context_refers_to_a_missing_cluster(tmp_path: Path) -> None:
    doc = kubeconfig()
    doc["clusters"] = []
    write(tmp_path / ".kube" / "config", doc)
    with pytest.raises(
        ConfigError, match="context 'dev' refers to cluster 'dev-cluster', which is not defined"
    ):
        resolve(no_pod(tmp_path), {}, home=tmp_path)


def test_explicit_kubeconfig_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        resolve(no_pod(tmp_path, kubeconfig=str(tmp_path / "nope")), {}, home=tmp_path)
    assert str(info.value).startswith(
        f"The kubeconfig {tmp_path / 'nope'} (from --incluster-kubeconfig) does not exist"
    )


def test_context_without_any_kubeconfig(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"--incluster-context selects context 'x', but no kubeconfig exists at ~/\.kube/",
    ):
        resolve(no_pod(tmp_path, context="x"), {}, home=tmp_path)


def test_explicit_values_override_the_kubeconfig(tmp_path: Path, pem: tuple[bytes, bytes]) -> None:
    kc = write(tmp_path / "kc", kubeconfig(namespace="ctx-ns"))
    (tmp_path / "ca.pem").write_bytes(pem[0])
    options = no_pod(
        tmp_path,
        kubeconfig=str(kc),
        server="https://override:6443",
        namespace="mine",
        ca_file=str(tmp_path / "ca.pem"),
    )
    config = resolve(options, {}, home=tmp_path)
    assert config.server == "https://override:6443"
    assert config.namespace == "mine"
    assert config.ca_file == tmp_path / "ca.pem"
    assert config.token == Secret("s3cr3t")  # credentials still from the chosen kubeconfig
    assert config.sources["server"] == "--incluster-server"
    assert config.sources["ca_file"] == "--incluster-ca-file"


def test_explicit_server_alone_ignores_the_default_kubeconfig(tmp_path: Path) -> None:
    # Credentials for one cluster must never be sent to a server the user typed in.
    write(tmp_path / ".kube" / "config", kubeconfig())
    config = resolve(no_pod(tmp_path, server="https://elsewhere:6443"), {}, home=tmp_path)
    assert config.token is None
    assert config.token_file is None
    assert config.source == "server from --incluster-server"


def test_explicit_kubeconfig_wins_even_in_a_pod(tmp_path: Path, pem: tuple[bytes, bytes]) -> None:
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("pod-token")
    (sa / "ca.crt").write_bytes(pem[0])
    kc = write(tmp_path / "kc", kubeconfig())
    options = Options(
        sa_dir=Sourced(str(sa), "default"),
        kubeconfig=Sourced(str(kc), "ini incluster_kubeconfig"),
    )
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    config = resolve(options, env, home=tmp_path)
    assert config.server == "https://api.dev:6443"
    assert config.sources["kubeconfig"] == "ini incluster_kubeconfig"


def test_in_a_pod_an_implicit_kubeconfig_is_ignored(
    tmp_path: Path, pem: tuple[bytes, bytes]
) -> None:
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("pod-token")
    (sa / "ca.crt").write_bytes(pem[0])
    kc = write(tmp_path / "kc", kubeconfig())
    env = {
        "KUBERNETES_SERVICE_HOST": "10.96.0.1",
        "KUBERNETES_SERVICE_PORT": "443",
        "KUBECONFIG": str(kc),
    }
    config = resolve(Options(sa_dir=Sourced(str(sa), "default")), env, home=tmp_path)
    assert config.server == "https://10.96.0.1:443"


def test_plain_http_server_in_kubeconfig_must_be_loopback(tmp_path: Path) -> None:
    write(tmp_path / ".kube" / "config", kubeconfig(cluster={"server": "http://api.dev:8080"}))
    with pytest.raises(
        ConfigError, match=r"from kubeconfig ~/\.kube/config context dev uses plain http://"
    ):
        resolve(no_pod(tmp_path), {}, home=tmp_path)


def test_socks_proxy_url_is_refused_with_the_file(tmp_path: Path) -> None:
    write(
        tmp_path / ".kube" / "config",
        kubeconfig(cluster={"server": "https://a:1", "proxy-url": "socks5://proxy:1080"}),
    )
    with pytest.raises(ConfigError) as info:
        resolve(no_pod(tmp_path), {}, home=tmp_path)
    assert str(info.value) == (
        "kubeconfig ~/.kube/config: cluster 'dev-cluster' has a proxy-url with scheme 'socks5'; "
        "pytest-incluster supports http:// and https:// proxies (reached with CONNECT), not "
        "SOCKS. Write it as http://HOST:PORT, or remove it to reach the API server directly."
    )


def test_cluster_connection_fields_are_read(tmp_path: Path) -> None:
    write(
        tmp_path / ".kube" / "config",
        kubeconfig(
            cluster={
                "server": "https://127.0.0.1:6443",
                "insecure-skip-tls-verify": True,
                "tls-server-name": "api.internal",
                "proxy-url": "http://user:pw@127.0.0.1:3128",
                "disable-compression": True,
            }
        ),
    )
    config = resolve(no_pod(tmp_path), {}, home=tmp_path)
    assert config.tls_server_name == "api.internal"
    assert config.proxy_url == "http://user:pw@127.0.0.1:3128"
    assert config.disable_compression is True
    rows = {row[0]: row[1:] for row in config.describe()}
    assert rows["TLS server name"] == (
        "api.internal",
        "kubeconfig ~/.kube/config context dev, cluster 'dev-cluster'",
    )
    # The proxy's password is not shown.
    assert rows["proxy"] == (
        "http://127.0.0.1:3128",
        "kubeconfig ~/.kube/config context dev, cluster 'dev-cluster', user 'dev-user'",
    )


def test_disable_compression_must_be_a_boolean(tmp_path: Path) -> None:
    write(
        tmp_path / ".kube" / "config",
        kubeconfig(cluster={"server": "https://a:1", "disable-compression": "yes"}),
    )
    with pytest.raises(ConfigError) as info:
        resolve(no_pod(tmp_path), {}, home=tmp_path)
    assert str(info.value) == (
        "kubeconfig ~/.kube/config: cluster 'dev-cluster' has disable-compression 'yes', not "
        "true or false. Write it as a YAML boolean."
    )


def test_exec_user_is_described_with_its_place(tmp_path: Path) -> None:
    ca_pem = self_signed_ca()[0]
    exec_stanza = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "command": "./bin/get-token",
        "args": ["--cluster", "prod"],
        "env": [{"name": "AWS_PROFILE", "value": "ci"}],
        "interactiveMode": "Never",
        "installHint": "brew install get-token",
        "provideClusterInfo": True,
    }
    cluster = {
        "server": "https://127.0.0.1:6443",
        "certificate-authority-data": base64.b64encode(ca_pem).decode(),
        "extensions": [
            {"name": "client.authentication.k8s.io/exec", "extension": {"audience": "ci"}}
        ],
    }
    write(tmp_path / ".kube" / "config", kubeconfig(user={"exec": exec_stanza}, cluster=cluster))
    config = resolve(no_pod(tmp_path), {}, home=tmp_path, private_dir=tmp_path)
    plugin = config.exec_plugin
    assert plugin is not None
    assert config.token is None
    assert config.token_file is None
    # A relative path with a separator is taken from the kubeconfig's directory, as client-go.
    assert plugin.command == str(tmp_path / ".kube" / "bin" / "get-token")
    assert plugin.args == ("--cluster", "prod")
    assert plugin.env == (("AWS_PROFILE", "ci"),)
    assert plugin.where == "kubeconfig ~/.kube/config user 'dev-user' (context 'dev')"
    assert plugin.cluster is not None
    assert plugin.cluster.server == "https://127.0.0.1:6443"
    assert plugin.cluster.ca_data == ca_pem
    assert plugin.cluster.extension_json == '{"audience": "ci"}'
    assert ("exec credential plugin", plugin.command, plugin.where) in config.describe()
    # Arguments and environment can hold secrets: not in the repr (tracebacks, logs).
    assert "prod" not in repr(config)
    assert "AWS_PROFILE" not in repr(config)


def test_exec_command_without_a_separator_stays_a_name(tmp_path: Path) -> None:
    stanza = {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws"}
    write(tmp_path / ".kube" / "config", kubeconfig(user={"exec": stanza}))
    plugin = resolve(no_pod(tmp_path), {}, home=tmp_path).exec_plugin
    assert plugin is not None
    assert plugin.command == "aws"
    assert plugin.interactive_mode == "IfAvailable"  # the v1beta1 default
    assert plugin.cluster is None  # provideClusterInfo unset


@pytest.mark.parametrize(
    ("stanza", "problem"),
    [
        (
            {"apiVersion": "client.authentication.k8s.io/v1", "command": "aws"},
            "exec with apiVersion client.authentication.k8s.io/v1 needs interactiveMode (one "
            "of Never, IfAvailable, Always)",
        ),
        (
            {"command": "aws"},
            "exec has no apiVersion (use client.authentication.k8s.io/v1)",
        ),
        (
            {"apiVersion": "client.authentication.k8s.io/v1alpha1", "command": "aws"},
            "exec has apiVersion 'client.authentication.k8s.io/v1alpha1'; pytest-incluster "
            "supports client.authentication.k8s.io/v1 and client.authentication.k8s.io/v1beta1",
        ),
    ],
)
def test_malformed_exec_stanza_names_the_user_and_file(
    tmp_path: Path, stanza: dict[str, Any], problem: str
) -> None:
    write(tmp_path / ".kube" / "config", kubeconfig(user={"exec": stanza}))
    with pytest.raises(ConfigError) as info:
        resolve(no_pod(tmp_path), {}, home=tmp_path)
    assert str(info.value) == (
        f"kubeconfig ~/.kube/config: user 'dev-user' (context 'dev'): {problem}. Fix the exec "
        "stanza as your cloud provider's documentation shows it (compare with 'kubectl config "
        "view')."
    )
    assert info.value.help_url == "README.md#exec-plugin"


def test_exec_with_a_static_token_is_refused(tmp_path: Path) -> None:
    stanza = {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws"}
    write(tmp_path / ".kube" / "config", kubeconfig(user={"exec": stanza, "token": "t"}))
    with pytest.raises(ConfigError, match="has an exec credential plugin and also a token"):
        resolve(no_pod(tmp_path), {}, home=tmp_path)


def test_exec_timeout_must_be_a_positive_number(tmp_path: Path) -> None:
    stanza = {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws"}
    write(tmp_path / ".kube" / "config", kubeconfig(user={"exec": stanza}))
    with pytest.raises(ConfigError) as info:
        resolve(no_pod(tmp_path, exec_timeout="soon"), {}, home=tmp_path)
    assert str(info.value) == (
        "The exec plugin timeout 'soon' (from --incluster-exec-timeout) is not a positive "
        "number of seconds. Give e.g. --incluster-exec-timeout 120."
    )
    plugin = resolve(no_pod(tmp_path, exec_timeout="5"), {}, home=tmp_path).exec_plugin
    assert plugin is not None
    assert plugin.timeout_s == 5.0
