"""``k8s_token`` reads the token file when a test asks, and a file that has gone (or is empty)
errors that test with the plugin's one-paragraph message, not a ``FileNotFoundError``.

No API server is involved: the fixture only reads the file. The server is a closed port, so the
header's one request is refused at once (``--incluster-retries=0``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.certs import self_signed_ca

SUITE = """
from pathlib import Path

import pytest

TOKEN = Path({token!r})


@pytest.fixture
def gone():
    TOKEN.unlink()


@pytest.fixture
def emptied():
    TOKEN.write_text("  \\n")


@pytest.fixture
def rotated():
    TOKEN.write_text("rotated-token-9876543210\\n")


def test_reads_the_file_when_asked(rotated, k8s_token):
    assert k8s_token == "rotated-token-9876543210"


def test_file_gone(gone, k8s_token):
    pass


def test_file_empty(emptied, k8s_token):
    pass
"""


@pytest.fixture
def suite(pytester: pytest.Pytester, tmp_path: Path) -> tuple[pytest.Pytester, Path, list[str]]:
    token = tmp_path / "token"
    token.write_text("first-token-0123456789")
    ca = tmp_path / "ca.crt"
    ca.write_bytes(self_signed_ca("token-ca")[0])
    pytester.makepyfile(test_token=SUITE.format(token=str(token)))
    args = [
        "--incluster-server=https://127.0.0.1:1",
        f"--incluster-token-file={token}",
        f"--incluster-ca-file={ca}",
        "--incluster-retries=0",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
    ]
    return pytester, token, args


def test_a_token_file_that_is_gone_is_the_plugins_error(
    suite: tuple[pytest.Pytester, Path, list[str]],
) -> None:
    pytester, token, args = suite
    result = pytester.runpytest_subprocess(*args, "-k", "gone")
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    assert "FileNotFoundError" not in out
    assert "Traceback" not in out
    result.stdout.fnmatch_lines(
        [
            f"Cannot read the token file {token} (from --incluster-token-file): No such file or "
            "directory. It was readable when the session started; check that it is still "
            "mounted. (see README.md#token-file)",
        ]
    )


def test_an_empty_token_file_is_the_plugins_error(
    suite: tuple[pytest.Pytester, Path, list[str]],
) -> None:
    pytester, token, args = suite
    result = pytester.runpytest_subprocess(*args, "-k", "empty")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"The token file {token} (from --incluster-token-file) is empty. It was readable "
            "when the session started; check that it is still mounted. (see README.md#token-file)",
        ]
    )


def test_a_readable_token_file_gives_its_current_token(
    suite: tuple[pytest.Pytester, Path, list[str]],
) -> None:
    pytester, _, args = suite
    result = pytester.runpytest_subprocess(*args, "-k", "reads_the_file")
    result.assert_outcomes(passed=1)
