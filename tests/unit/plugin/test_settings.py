"""Flags win over ini keys, which win over defaults; each value records where it came from."""

from __future__ import annotations

import pytest

SHOW = """
from pytest_incluster.state import get_state
from pytest_incluster.settings import get_setting

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
