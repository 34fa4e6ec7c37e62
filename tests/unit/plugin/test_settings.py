"""Flags win over ini keys, which win over defaults; each value records where it came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.certs import self_signed_ca
from tests.support.listener import SilentListener

SHOW = """
from pytest_incluster.pytest_plugin.state import get_state
from pytest_incluster.pytest_plugin.settings import get_setting

def test_show(pytestconfig):
    o = get_state(pytestconfig).options
    for name in ("server", "namespace", "sa_dir", "context", "insecure_skip_tls_verify"):
        got = getattr(o, name)
        print(f"OPT {name}={got.value!r} from {got.source}")
    t = get_setting(pytestconfig, "timeout")
    print(f"OPT timeout={t.value!r} from {t.source}")
"""


def test_flag_beats_ini_beats_default(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        """
        [pytest]
        incluster_server = https://from-ini:6443
        incluster_namespace = ini-ns
        incluster_insecure_skip_tls_verify = true
        """
    )
    pytester.makepyfile(SHOW)
    result = pytester.runpytest("-s", "--incluster-server", "https://from-flag:443")
    result.stdout.fnmatch_lines(
        [
            "*OPT server='https://from-flag:443' from --incluster-server",
            "OPT namespace='ini-ns' from ini incluster_namespace",
            "OPT sa_dir='/var/run/secrets/kubernetes.io/serviceaccount' from default",
            "OPT context=None from default",
            "OPT insecure_skip_tls_verify=True from ini incluster_insecure_skip_tls_verify",
            "OPT timeout='30' from default",
        ]
    )


@pytest.mark.parametrize("value", ["0", "-3", "soon"])
def test_bad_number_is_a_usage_error_naming_its_origin(
    pytester: pytest.Pytester, value: str
) -> None:
    pytester.makeini(f"[pytest]\nincluster_timeout = {value}\n")
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: --incluster-timeout (from ini incluster_timeout) must be a positive "
            f"number, got '{value}'. Fix the value, or remove it to use the default 30."
        ]
    )


NAMESPACE_RULE = (
    "a namespace name is an RFC 1123 DNS label: at most 63 lower-case letters, digits and '-', "
    "starting and ending with a letter or digit"
)


@pytest.mark.parametrize("value", ["Shop", "shop_1", "-shop", "shop.a", "a" * 64])
def test_namespace_that_is_not_a_dns_label_is_a_usage_error(
    pytester: pytest.Pytester, value: str
) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest(f"--incluster-namespace={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            f"ERROR: --incluster-namespace (from --incluster-namespace) is {value!r}, which is "
            f"not a namespace name: {NAMESPACE_RULE}. Fix the value, or remove it to use the "
            "runner's own namespace (POD_NAMESPACE, the service account's namespace file or "
            "the kubeconfig context's, else 'default')."
        ]
    )


def test_namespace_error_names_the_ini_key(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nincluster_namespace = Shop\n")
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --incluster-namespace (from ini incluster_namespace) is 'Shop', which is not*"]
    )


@pytest.mark.parametrize("value", ["shop", "a", "team-1", "a" * 63])
def test_namespace_that_is_a_dns_label_is_accepted(pytester: pytest.Pytester, value: str) -> None:
    pytester.makepyfile(SHOW)
    result = pytester.runpytest("-s", f"--incluster-namespace={value}")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([f"*OPT namespace={value!r} from --incluster-namespace"])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--incluster-local-as=shop/api"],
            "ERROR: --incluster-local-as only works with --incluster-local, which is not set: "
            "without it the run uses the cluster it finds (a pod's service account or a "
            "kubeconfig) and would ignore it. Add --incluster-local, or remove "
            "--incluster-local-as.",
        ),
        (
            ["--incluster-local-apply=a.yaml", "--incluster-local-dir=d"],
            "ERROR: --incluster-local-apply and --incluster-local-dir only work with "
            "--incluster-local, which is not set: without it the run uses the cluster it finds "
            "(a pod's service account or a kubeconfig) and would ignore them. Add "
            "--incluster-local, or remove --incluster-local-apply and --incluster-local-dir.",
        ),
    ],
)
def test_local_flags_without_local_are_a_usage_error(
    pytester: pytest.Pytester, args: list[str], expected: str
) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])


def test_local_ini_keys_without_local_are_kept_for_local_runs(pytester: pytest.Pytester) -> None:
    # A shared ini file configures the local runs; runs without --incluster-local ignore it.
    pytester.makeini("[pytest]\nincluster_local_as = shop/api\nincluster_local_apply = rbac.yaml\n")
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)


def test_bad_unreachable_after_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest("--incluster-unreachable-after=-1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: --incluster-unreachable-after (from --incluster-unreachable-after) must be "
            "zero or a positive whole number, got '-1'. Fix the value, or remove it to use the "
            "default 2."
        ]
    )


def test_unreachable_after_from_the_ini_file_is_used(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """With ``incluster_unreachable_after = 1`` only the header's request reaches a server that
    never answers; both tests then fail without a connection."""
    token = tmp_path / "token"
    token.write_text("ini-test-token-0123456789")
    ca = tmp_path / "ca.crt"
    ca.write_bytes(self_signed_ca("ini-ca")[0])
    pytester.makepyfile(
        "def test_one(k8s):\n    k8s.get('/version')\n\n"
        "def test_two(k8s):\n    k8s.get('/version')\n"
    )
    with SilentListener() as silent:
        pytester.makeini(
            "[pytest]\n"
            "incluster_unreachable_after = 1\n"
            "incluster_timeout = 1\n"
            f"incluster_server = {silent.url}\n"
            f"incluster_token_file = {token}\n"
            f"incluster_ca_file = {ca}\n"
        )
        # -rN: no short summary, whose lines CI=true prints untruncated (a second copy).
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rN")
        connections = silent.connections
    result.assert_outcomes(failed=2)
    assert connections == 1
    assert result.stdout.str().count("; not sent: the last request got no answer") == 2
