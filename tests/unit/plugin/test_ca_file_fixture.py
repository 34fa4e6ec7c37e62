"""``k8s_ca_file`` is a ``str``, what ``ssl``, httpx and command lines take as they are, and
None when no CA file verifies the server.

No API server is involved: the fixture only reports the resolved configuration. The server is a
closed port, so the header's one request is refused at once (``--incluster-retries=0``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.certs import self_signed_ca

SUITE = """
import ssl


def test_ca_file(k8s_ca_file):
    assert type(k8s_ca_file) is str, type(k8s_ca_file)
    assert k8s_ca_file == {ca!r}
    ssl.create_default_context(cafile=k8s_ca_file)


def test_no_ca_file(k8s_ca_file):
    assert k8s_ca_file is None
"""


def run(pytester: pytest.Pytester, tmp_path: Path, *args: str) -> pytest.RunResult:
    token = tmp_path / "token"
    token.write_text("a-token-0123456789")
    ca = tmp_path / "ca.crt"
    ca.write_bytes(self_signed_ca("fixture-ca")[0])
    pytester.makepyfile(test_ca=SUITE.format(ca=str(ca)))
    return pytester.runpytest_subprocess(
        "--incluster-server=https://127.0.0.1:1",
        f"--incluster-token-file={token}",
        "--incluster-retries=0",
        "-p",
        "no:cacheprovider",
        *args,
    )


def test_the_ca_file_is_a_str(pytester: pytest.Pytester, tmp_path: Path) -> None:
    result = run(
        pytester, tmp_path, f"--incluster-ca-file={tmp_path / 'ca.crt'}", "-k", "test_ca_file"
    )
    result.assert_outcomes(passed=1)


def test_without_verification_there_is_no_ca_file(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    result = run(
        pytester,
        tmp_path,
        f"--incluster-ca-file={tmp_path / 'ca.crt'}",
        "--incluster-insecure-skip-tls-verify",
        "-k",
        "no_ca",
    )
    result.assert_outcomes(passed=1)
