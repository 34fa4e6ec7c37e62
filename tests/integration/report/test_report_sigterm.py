"""SIGTERM mid-test (a Job hitting activeDeadlineSeconds): clean up, write and keep the report.

A real pytest process gets a real signal; nothing here needs a cluster.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.support.htmlreport import read_report

SUITE = r"""
import os
import pathlib
import time

import pytest

MARKS = pathlib.Path(os.environ["MARK_DIR"])


@pytest.fixture
def namespace():
    yield "ns"
    (MARKS / "teardown-started").write_text("")
    time.sleep(1.5)  # a second SIGTERM arrives here and must not cut the cleanup short
    (MARKS / "cleaned").write_text("")


def test_first():
    pass


def test_second():
    print("second ran")


def test_hangs(namespace):
    (MARKS / "started").write_text("")
    time.sleep(120)


def test_never_runs():
    pass
"""

SIGTERM_ERROR = (
    "pytest_incluster.report.interrupt.TerminatedTest: SIGTERM received (e.g. the Job's "
    "activeDeadlineSeconds or the pod was deleted): stopping the run, cleaning up and writing "
    "the report"
)


def wait_for(path: Path, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            pytest.fail(f"pytest exited early:\n{process.communicate()[0]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"{path.name} never appeared")
        time.sleep(0.05)


def start_suite(tmp_path: Path, suite: str) -> subprocess.Popen[str]:
    """``suite`` as test_suite.py, run by a real pytest process with HTML and JUnit reports."""
    (tmp_path / "test_suite.py").write_text(suite)
    marks = tmp_path / "marks"
    marks.mkdir()
    env = {
        **os.environ,
        "MARK_DIR": str(marks),
        "PYTEST_INCLUSTER_TERMINATION_LOG": str(tmp_path / "termination-log"),
    }
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "PYTEST_ADDOPTS"):
        env.pop(name, None)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-v",
            "--html=report.html",
            "--junitxml=junit.xml",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    """Ctrl-C as in a terminal: a run started in the background by a non-interactive shell
    inherits SIGINT ignored, and Python then installs no KeyboardInterrupt handler at all."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def junit_cases(path: Path) -> list[ElementTree.Element]:
    suite = ElementTree.parse(path).getroot().find("testsuite")
    assert suite is not None
    return suite.findall("testcase")


def test_sigterm_mid_test_cleans_up_and_writes_the_report(tmp_path: Path) -> None:
    process = start_suite(tmp_path, SUITE)
    marks = tmp_path / "marks"
    wait_for(marks / "started", process)
    process.send_signal(signal.SIGTERM)
    wait_for(marks / "teardown-started", process)
    process.send_signal(signal.SIGTERM)  # impatient: must be ignored while finishing
    output, _ = process.communicate(timeout=60)

    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    assert (marks / "cleaned").exists(), output
    # The interrupted test fails where the signal caught it, and is torn down before the end.
    assert "\n>       time.sleep(120)\nE       " + SIGTERM_ERROR + "\n" in output
    assert "test_suite.py::test_hangs FAILED" in output
    assert "test_never_runs" not in output

    page, data = read_report(tmp_path / "report.html")
    assert set(data["tests"]) == {
        "test_suite.py::test_first",
        "test_suite.py::test_second",
        "test_suite.py::test_hangs",
    }
    assert "second ran" in data["tests"]["test_suite.py::test_second"][0]["log"]
    [hung] = data["tests"]["test_suite.py::test_hangs"]
    assert hung["result"] == "Failed"
    assert "SIGTERM received (e.g. the Job&#x27;s activeDeadlineSeconds" in hung["log"]
    assert (
        "Warning: the run was interrupted by SIGTERM while test_suite.py::test_hangs was "
        "running; the tests after it did not run"
    ) in page

    # JUnit: every <testcase> has a name, and the interrupted test is one of them.
    junit = (tmp_path / "junit.xml").read_text()
    assert 'tests="3"' in junit
    assert 'failures="1"' in junit
    cases = junit_cases(tmp_path / "junit.xml")
    assert [case.get("name") for case in cases] == ["test_first", "test_second", "test_hangs"]
    failure = cases[2].find("failure")
    assert failure is not None
    assert failure.get("message") == SIGTERM_ERROR
    assert (tmp_path / "termination-log").read_text() == (
        "pytest-incluster: 2 passed, 1 failed, 0 errors; access checks: 0, 0 unexpectedly "
        "allowed, 0 unexpectedly forbidden; interrupted by SIGTERM while "
        "test_suite.py::test_hangs was running\n"
    )


SETUP_HANGS = r"""
import os
import pathlib
import time

import pytest

MARKS = pathlib.Path(os.environ["MARK_DIR"])


@pytest.fixture
def slow_cluster():
    (MARKS / "started").write_text("")
    time.sleep(120)


def test_first():
    pass


def test_waits_for_the_cluster(slow_cluster):
    pass


def test_never_runs():
    pass
"""


def test_sigterm_during_setup_is_that_tests_error(tmp_path: Path) -> None:
    process = start_suite(tmp_path, SETUP_HANGS)
    wait_for(tmp_path / "marks" / "started", process)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)

    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    assert "test_suite.py::test_waits_for_the_cluster ERROR" in output
    cases = junit_cases(tmp_path / "junit.xml")
    assert [case.get("name") for case in cases] == ["test_first", "test_waits_for_the_cluster"]
    error = cases[1].find("error")
    assert error is not None
    assert error.get("message") == f'failed on setup with "{SIGTERM_ERROR}"'
    assert (tmp_path / "termination-log").read_text() == (
        "pytest-incluster: 1 passed, 0 failed, 1 error; access checks: 0, 0 unexpectedly "
        "allowed, 0 unexpectedly forbidden; interrupted by SIGTERM while "
        "test_suite.py::test_waits_for_the_cluster was running\n"
    )


def test_ctrl_c_mid_test_names_the_interrupted_test_in_junit(tmp_path: Path) -> None:
    """Ctrl-C keeps pytest's own behaviour (stop at once, no teardown report), but the
    interrupted test still gets a named result instead of a nameless JUnit entry."""
    process = start_suite(tmp_path, SUITE)
    wait_for(tmp_path / "marks" / "started", process)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)

    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    interrupted = (
        "interrupted by KeyboardInterrupt during call: the test did not finish, and the tests "
        "after it did not run"
    )
    cases = junit_cases(tmp_path / "junit.xml")
    assert [case.get("name") for case in cases] == ["test_first", "test_second", "test_hangs"]
    failure = cases[2].find("failure")
    assert failure is not None
    assert failure.get("message") == interrupted
    assert (tmp_path / "termination-log").read_text() == (
        "pytest-incluster: 2 passed, 1 failed, 0 errors; access checks: 0, 0 unexpectedly "
        "allowed, 0 unexpectedly forbidden; interrupted by KeyboardInterrupt while "
        "test_suite.py::test_hangs was running\n"
    )
