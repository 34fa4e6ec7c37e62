"""Running a real exec credential plugin (tests/support/exec_plugin.py) and what goes wrong.

No control plane: the plugin runs in ``file`` mode (a token from a file) or one of its broken
modes, as a real program started by the code under test. Messages are asserted verbatim: they
are what a user sees when ``aws eks get-token`` or ``kubelogin`` misbehaves.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pytest_incluster.config.exec_spec import API_V1, API_V1BETA1, ClusterInfo, ExecPlugin
from pytest_incluster.credentials.errors import ExecPluginError
from pytest_incluster.credentials.exec_runner import run_plugin
from pytest_incluster.credentials.exec_source import ExecCredentialSource

PLUGIN = Path(__file__).resolve().parents[2] / "support" / "exec_plugin.py"
WHERE = "kubeconfig ~/.kube/config user 'eks' (context 'prod')"
TOKEN = "plugin-token-abcdefghijklmnopqrstuvwxyz"


def plugin(tmp_path: Path, mode: str = "file", **env: str) -> ExecPlugin:
    token = tmp_path / "token"
    token.write_text(TOKEN)
    values = {
        "PLUGIN_MODE": mode,
        "PLUGIN_TOKEN_FILE": str(token),
        "PLUGIN_LOG": str(tmp_path / "runs.log"),
        **env,
    }
    return ExecPlugin(
        api_version=API_V1,
        command=sys.executable,
        args=(str(PLUGIN),),
        env=tuple(values.items()),
        interactive_mode="Never",
        where=WHERE,
        user="eks",
    )


def runs(tmp_path: Path) -> list[dict[str, Any]]:
    log = tmp_path / "runs.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_a_token_is_read_and_the_plugin_gets_no_stdin(tmp_path: Path) -> None:
    credential = run_plugin(plugin(tmp_path), terminal=False)
    assert credential.token is not None
    assert credential.token.reveal() == TOKEN
    assert credential.expires is None
    (run,) = runs(tmp_path)
    assert run["stdin"] == "/dev/null"
    assert run["info"] == {
        "kind": "ExecCredential",
        "apiVersion": API_V1,
        "spec": {"interactive": False},
    }


def test_cluster_info_is_passed_only_when_asked_for(tmp_path: Path) -> None:
    info = ClusterInfo(
        server="https://127.0.0.1:6443",
        ca_data=b"-----BEGIN CERTIFICATE-----\n",
        tls_server_name="api.internal",
        proxy_url="http://127.0.0.1:3128",
        extension_json='{"audience": "tests"}',
    )
    described = replace(plugin(tmp_path), provide_cluster_info=True, cluster=info)
    run_plugin(described, terminal=False)
    assert runs(tmp_path)[0]["info"]["spec"] == {
        "interactive": False,
        "cluster": {
            "server": "https://127.0.0.1:6443",
            "tls-server-name": "api.internal",
            "certificate-authority-data": base64.b64encode(info.ca_data or b"").decode(),
            "proxy-url": "http://127.0.0.1:3128",
            "config": {"audience": "tests"},
        },
    }


def test_if_available_uses_stdin_only_with_a_terminal(tmp_path: Path) -> None:
    described = replace(plugin(tmp_path), api_version=API_V1BETA1, interactive_mode="IfAvailable")
    run_plugin(described, terminal=False)
    assert runs(tmp_path)[-1]["stdin"] == "/dev/null"
    assert runs(tmp_path)[-1]["info"]["spec"]["interactive"] is False
    # Our standard input, replaced for a moment by a pipe so the plugin's can be recognised.
    reader, writer = os.pipe()
    saved = os.dup(0)
    os.dup2(reader, 0)
    try:
        run_plugin(described, terminal=True)
    finally:
        os.dup2(saved, 0)
        for fd in (saved, reader, writer):
            os.close(fd)
    assert runs(tmp_path)[-1]["info"]["spec"]["interactive"] is True
    assert runs(tmp_path)[-1]["stdin"].startswith("pipe:")


def test_always_refuses_without_a_terminal(tmp_path: Path) -> None:
    described = replace(plugin(tmp_path), interactive_mode="Always")
    with pytest.raises(ExecPluginError) as info:
        run_plugin(described, terminal=False)
    assert str(info.value) == (
        f"{WHERE}: the exec credential plugin {sys.executable} needs a terminal "
        "(interactiveMode: Always) and standard input is not a terminal. Log in first so the "
        "plugin need not ask (run the command by hand), run pytest from a terminal, or set "
        "interactiveMode to IfAvailable or Never if the plugin can work without one."
    )
    assert runs(tmp_path) == []  # not started


@pytest.mark.parametrize("mode", ["Always", "IfAvailable"])
def test_with_a_real_terminal_the_plugin_gets_it(tmp_path: Path, mode: str) -> None:
    """Our standard input is a pseudo-terminal (as when pytest runs in a shell): detected as
    a terminal without being told, and handed to the plugin, which may prompt on it."""
    import pty

    described = replace(plugin(tmp_path), interactive_mode=mode)
    controller, terminal = pty.openpty()
    saved = os.dup(0)
    os.dup2(terminal, 0)
    try:
        credential = run_plugin(described)
    finally:
        os.dup2(saved, 0)
        for fd in (saved, controller, terminal):
            os.close(fd)
    assert credential.token is not None
    (run,) = runs(tmp_path)
    assert run["stdin"].startswith("/dev/pts/"), run
    assert run["info"]["spec"]["interactive"] is True


def test_a_failing_plugin_is_quoted_from_stderr_never_stdout(tmp_path: Path) -> None:
    described = plugin(tmp_path, "fail", PLUGIN_STDERR="error: SSO session expired\nrun login\n")
    with pytest.raises(ExecPluginError) as info:
        run_plugin(described, terminal=False)
    assert str(info.value) == (
        f"{WHERE}: the exec credential plugin {sys.executable} failed with exit code 3; its "
        'stderr said: "error: SSO session expired run login". Run the command by hand with the '
        "same arguments to see why (often a login that expired), or fix the exec stanza."
    )
    assert info.value.help_url == "README.md#exec-plugin"


def test_a_hanging_plugin_is_stopped(tmp_path: Path) -> None:
    described = replace(
        plugin(tmp_path, "hang", PLUGIN_STDERR="waiting for browser login"), timeout_s=1.0
    )
    with pytest.raises(ExecPluginError) as info:
        run_plugin(described, terminal=False)
    assert str(info.value) == (
        f"{WHERE}: the exec credential plugin {sys.executable} did not finish within 1 s and "
        'was stopped; its stderr said: "waiting for browser login". If it waits for a login or '
        "a prompt, log in first by running the command by hand; if it is just slow, raise "
        "--incluster-exec-timeout."
    )


_OUTPUT_FIX = (
    f"Check that the plugin supports apiVersion {API_V1} (the kubeconfig's exec apiVersion "
    "must match what it prints) and works when run by hand."
)


@pytest.mark.parametrize(
    ("mode", "env", "problem"),
    [
        ("no-api-version", {}, f"its ExecCredential has no apiVersion (expected {API_V1})"),
        (
            "file",
            {"PLUGIN_API_VERSION": API_V1BETA1},
            f"it is configured to use API version {API_V1}, and the plugin returned version "
            f"{API_V1BETA1}",
        ),
        ("garbage", {}, "it printed text that is not JSON instead of an ExecCredential"),
    ],
)
def test_output_that_is_not_a_credential(
    tmp_path: Path, mode: str, env: dict[str, str], problem: str
) -> None:
    with pytest.raises(ExecPluginError) as info:
        run_plugin(plugin(tmp_path, mode, **env), terminal=False)
    message = str(info.value)
    assert message == (
        f"{WHERE}: the exec credential plugin {sys.executable} did not give a usable "
        f"credential: {problem} (its output is not shown: it may hold a secret); it wrote "
        f"nothing on stderr. {_OUTPUT_FIX}"
    )
    assert TOKEN not in message


def test_an_expired_credential_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExecPluginError) as info:
        run_plugin(plugin(tmp_path, "expired"), terminal=False)
    message = str(info.value)
    assert message.startswith(
        f"{WHERE}: the exec credential plugin {sys.executable} did not give a usable "
        "credential: it returned a credential that had already expired (expirationTimestamp "
    )
    assert TOKEN not in message


def test_a_credential_that_expires_later_is_accepted(tmp_path: Path) -> None:
    credential = run_plugin(plugin(tmp_path, PLUGIN_TTL="3600"), terminal=False)
    assert credential.expires is not None
    assert credential.expires > datetime.now(UTC)


def test_command_not_found_shows_the_install_hint(tmp_path: Path) -> None:
    described = replace(
        plugin(tmp_path),
        command="aws-iam-authenticator-missing",
        install_hint="Install it with:\n  brew install aws-iam-authenticator\n",
    )
    with pytest.raises(ExecPluginError) as info:
        run_plugin(described, terminal=False)
    assert str(info.value) == (
        f"{WHERE}: the exec credential plugin executable aws-iam-authenticator-missing was not "
        "found on PATH. Install it with: brew install aws-iam-authenticator"
    )


def test_command_not_found_without_a_hint(tmp_path: Path) -> None:
    described = replace(plugin(tmp_path), command=str(tmp_path / "bin" / "get-token"))
    with pytest.raises(ExecPluginError) as info:
        run_plugin(described, terminal=False)
    assert str(info.value) == (
        f"{WHERE}: the exec credential plugin executable {tmp_path}/bin/get-token was not found. "
        "Install it, or fix the command (and PATH) in the kubeconfig's exec stanza."
    )


class _Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def test_the_credential_is_reused_until_it_expires(tmp_path: Path) -> None:
    clock = _Clock()
    described = plugin(tmp_path, PLUGIN_TTL="600")
    source = ExecCredentialSource(
        described, runner=lambda p: run_plugin(p, terminal=False), now=clock
    )
    seen: list[str] = []
    source.add_secret_sink(seen.append)
    first = source.current()
    assert source.current() is first
    assert len(runs(tmp_path)) == 1
    clock.now += timedelta(seconds=601)
    assert source.current() is not first
    assert len(runs(tmp_path)) == 2
    assert seen == [TOKEN, TOKEN]


def test_a_credential_without_expiry_is_reused(tmp_path: Path) -> None:
    clock = _Clock()
    source = ExecCredentialSource(
        plugin(tmp_path), runner=lambda p: run_plugin(p, terminal=False), now=clock
    )
    first = source.current()
    clock.now += timedelta(days=30)
    assert source.current() is first
    assert len(runs(tmp_path)) == 1


def test_a_rejection_runs_the_plugin_again_once(tmp_path: Path) -> None:
    source = ExecCredentialSource(plugin(tmp_path), runner=lambda p: run_plugin(p, terminal=False))
    rejected = source.current()
    renewed = source.renew_after_rejection(rejected)
    # A second request that was rejected with the same old credential does not run it again.
    assert source.renew_after_rejection(rejected) is renewed
    assert len(runs(tmp_path)) == 2
