"""No secret reaches any output: terminal, live log, log file, JUnit XML, HTML report.

The suite below leaks on purpose, everywhere a test can: locals (``--showlocals``), the
assertion message, stdout, stderr, log records with arguments and tracebacks, a warning,
``record_property``, a skip reason, a collection error. One secret is "known" (registered the way
the client registers a token it read), one is only JWT-shaped, one matches a pattern a user
added through the ``pytest_incluster_redact`` hook.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

SECRET = "opaque-static-token-5f2c9a81e7"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6eDp5In0.c2lnbmF0dXJlLWJ5dGVz"
CUSTOM = "custom-123456"
LEAKS = (SECRET, JWT, CUSTOM, base64.b64encode(SECRET.encode()).decode())

CONFTEST = f"""
import pytest
from pytest_incluster.pytest_plugin.state import get_state

SECRET = {SECRET!r}
JWT = {JWT!r}
CUSTOM = {CUSTOM!r}


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    get_state(config).redactor.add_secret(SECRET)  # as the client does with a token it reads


def pytest_incluster_redact(config):
    return [r"custom-[0-9]{{6}}"]
"""

TESTS = r"""
import base64
import logging
import sys
import warnings

import pytest
from conftest import CUSTOM, JWT, SECRET

log = logging.getLogger("app.client")


def test_leaks_everywhere(record_property):
    token = SECRET
    headers = {"Authorization": f"Bearer {JWT}"}
    data = {"token": base64.b64encode(SECRET.encode()).decode()}
    print("stdout:", token, CUSTOM)
    print("stderr:", token, file=sys.stderr)
    log.debug("debug %s headers=%r", token, headers)
    log.info("secret data %s", data)
    try:
        raise ValueError(f"bad token {token}")
    except ValueError:
        log.exception("request failed")
    warnings.warn(f"token {token} expires soon", UserWarning)
    record_property("token", token)
    assert token == "expected", f"token {token} was rejected ({CUSTOM})"


def test_skipped():
    pytest.skip(f"no access with {SECRET}")


def test_passes_with_output():
    print(f"all good {JWT}")
"""


@pytest.mark.parametrize("xdist", [False, True], ids=["plain", "xdist"])
def test_no_secret_in_any_output(pytester: pytest.Pytester, xdist: bool) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_leaky=TESTS,
        test_broken=f"raise RuntimeError('cannot import with {SECRET}')\n",
    )
    args = [
        "-vv",
        "-rA",
        "--showlocals",
        "--tb=long",
        "--continue-on-collection-errors",
        "--log-level=DEBUG",
        "--log-cli-level=DEBUG",
        "--log-file=run.log",
        "--log-file-level=DEBUG",
        "--junitxml=junit.xml",
        "-o",
        "junit_logging=all",
        "-o",
        "junit_family=xunit1",
        "--html=report.html",
        "-p",
        "no:cacheprovider",
    ]
    if xdist:
        args += ["-n", "2"]
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    outputs = {
        "stdout": result.stdout.str(),
        "stderr": result.stderr.str(),
        **{
            str(p.relative_to(pytester.path)): p.read_text(errors="replace")
            for p in pytester.path.rglob("*")
            if p.is_file() and p.suffix in (".xml", ".html", ".log", ".txt", ".css", ".json")
        },
    }
    assert {"junit.xml", "report.html", "run.log"} <= set(outputs)
    for where, text in outputs.items():
        for leak in LEAKS:
            assert leak not in text, f"{leak[:12]}... leaked into {where}"
    # The outputs still say what happened, with the secrets masked.
    stdout = outputs["stdout"]
    assert "token *** was rejected (***)" in stdout
    assert re.search(r"^token +?= '\*\*\*'$", stdout, re.MULTILINE)  # --showlocals
    assert "ERROR test_broken.py" in stdout
    assert "cannot import with ***" in stdout
    assert "no access with ***" in stdout
    assert "token *** expires soon" in stdout  # warnings summary
    if not xdist:
        assert "debug *** headers={'Authorization': 'Bearer ***'}" in stdout  # live log
    assert "request failed" in outputs["run.log"]
    assert "ValueError: bad token ***" in outputs["run.log"]
    assert "stdout: *** ***" in outputs["junit.xml"]
    assert 'name="token" value="***"' in outputs["junit.xml"]
    assert "stderr: ***" in outputs["report.html"]


def test_longrepr_stays_structured_so_the_short_summary_has_one_line(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        "from conftest import SECRET\n"
        "def test_fails():\n"
        "    assert SECRET == 'x', 'wrong ' + SECRET\n"
    )
    result = pytester.runpytest("-rf", "--color=yes", "-p", "no:cacheprovider")
    out = result.stdout.str()
    assert SECRET not in out
    short = [line for line in out.splitlines() if "FAILED" in line and "test_fails" in line]
    assert len(short) == 1
    assert "AssertionError: wrong ***" in short[0]
    assert "\x1b[" in out  # colours survive: the traceback was not flattened to text


def test_sweep_masks_what_reached_a_file_without_passing_a_report(
    pytester: pytest.Pytester,
) -> None:
    # pytest-metadata values go straight into the HTML environment table.
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile("def test_ok():\n    pass\n")
    result = pytester.runpytest(
        "--html=report.html", "--metadata", "Build token", JWT, "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=1)
    page = Path(pytester.path / "report.html").read_text()
    assert JWT not in page
    assert "Build token" in page
