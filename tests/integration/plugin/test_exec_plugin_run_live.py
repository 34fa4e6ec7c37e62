"""A whole pytest run whose kubeconfig authenticates with a real exec credential plugin.

What a user on a laptop against EKS sees: the header names the plugin, tests reach the API with
its token, the token never appears in any output (a failing test that prints it, ``--debug``
logs), and a broken plugin is one paragraph, not a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_incluster.client import K8sClient
from tests.support.exec_kubeconfig import runs, token_env, write_kubeconfig

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

TEST = """
def test_prints_its_credential(k8s):
    response = k8s.get("/version")
    print("sent:", response.request.headers["Authorization"])
    # Only the signature: no JWT or "Bearer" pattern matches it, only the known token does.
    print("signature:", response.request.headers["Authorization"].rsplit(".", 1)[1])
    print("whoami:", k8s.whoami().username)
    assert False, response.request.headers["Authorization"]
"""


@pytest.fixture
def service_account(admin: K8sClient, unique_namespace: str) -> str:
    admin.post(
        f"/api/v1/namespaces/{unique_namespace}/serviceaccounts",
        json={"metadata": {"name": "laptop"}},
    )
    return f"{unique_namespace}/laptop"


def test_a_run_with_an_exec_plugin_never_shows_its_token(
    pytester: pytest.Pytester,
    control_plane: ControlPlane,
    kubectl: Path,
    service_account: str,
) -> None:
    home = pytester.path / "home"
    home.mkdir()
    log = home / "runs.log"
    kubeconfig = write_kubeconfig(
        home, control_plane, token_env(control_plane, kubectl, service_account, log)
    )
    pytester.makepyfile(TEST)
    result = pytester.runpytest_subprocess(
        f"--incluster-kubeconfig={kubeconfig}", "-p", "no:cacheprovider", "--debug", "-rA"
    )
    result.assert_outcomes(failed=1)
    namespace, name = service_account.split("/")
    result.stdout.fnmatch_lines(
        [
            "incluster: server * | source kubeconfig ~/home/kubeconfig context eks",
            "sent: Bearer ***",
            "signature: ***",
            f"whoami: system:serviceaccount:{namespace}:{name}",
        ]
    )
    (run,) = runs(log)
    output = result.stdout.str() + result.stderr.str()
    debug_log = (pytester.path / "pytestdebug.log").read_text()
    (signature,) = Path(f"{log}.signatures").read_text().split()
    assert len(signature) > 40
    assert signature not in output
    assert signature not in debug_log
    assert "eyJ" not in output + debug_log
    assert run["stdin"] == "/dev/null"


def test_a_broken_plugin_fails_the_tests_with_one_paragraph(
    pytester: pytest.Pytester, control_plane: ControlPlane
) -> None:
    home = pytester.path / "home"
    home.mkdir()
    log = home / "runs.log"
    env = {
        "PLUGIN_MODE": "fail",
        "PLUGIN_STDERR": "error: token for profile ci has expired",
        "PLUGIN_LOG": str(log),
    }
    kubeconfig = write_kubeconfig(home, control_plane, env)
    pytester.makepyfile(
        "def test_needs_the_cluster(k8s):\n    pass\n\ndef test_needs_it_too(k8s):\n    pass\n"
    )
    result = pytester.runpytest_subprocess(
        f"--incluster-kubeconfig={kubeconfig}", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "incluster: server * | kubernetes not asked (kubeconfig ~/home/kubeconfig user "
            "'eks-user' (context 'eks'): the exec credential plugin * failed with exit code 3; *",
            "kubeconfig ~/home/kubeconfig user 'eks-user' (context 'eks'): the exec credential "
            f'plugin {home}/get-token failed with exit code 3; its stderr said: "error: token '
            'for profile ci has expired". Run the command by hand with the same arguments to '
            "see why (often a login that expired), or fix the exec stanza. (see "
            "README.md#exec-plugin)",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert len(runs(log)) == 1  # not run again, with its timeout, for every test


def test_a_hanging_plugin_is_stopped_after_the_exec_timeout(
    pytester: pytest.Pytester, control_plane: ControlPlane
) -> None:
    home = pytester.path / "home"
    home.mkdir()
    env = {"PLUGIN_MODE": "hang", "PLUGIN_STDERR": "Opening the browser to log in..."}
    kubeconfig = write_kubeconfig(home, control_plane, env)
    pytester.makepyfile("def test_needs_the_cluster(k8s):\n    pass\n")
    result = pytester.runpytest_subprocess(
        f"--incluster-kubeconfig={kubeconfig}",
        "--incluster-exec-timeout=2",
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "kubeconfig ~/home/kubeconfig user 'eks-user' (context 'eks'): the exec credential "
            f"plugin {home}/get-token did not finish within 2 s and was stopped; its stderr said: "
            '"Opening the browser to log in...". If it waits for a login or a prompt, log in '
            "first by running the command by hand; if it is just slow, raise "
            "--incluster-exec-timeout. (see README.md#exec-plugin)",
        ]
    )
