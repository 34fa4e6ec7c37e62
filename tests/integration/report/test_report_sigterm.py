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


def wait_for(path: Path, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            pytest.fail(f"pytest exited early:\n{process.communicate()[0]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"{path.name} never appeared")
        time.sleep(0.05)


def test_sigterm_mid_test_cleans_up_and_writes_the_report(tmp_path: Path) -> None:
    (tmp_path / "test_suite.py").write_text(SUITE)
    marks = tmp_path / "marks"
    marks.mkdir()
    env = {
        **os.environ,
        "MARK_DIR": str(marks),
        "PYTEST_INCLUSTER_TERMINATION_LOG": str(tmp_path / "termination-log"),
    }
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "PYTEST_ADDOPTS"):
        env.pop(name, None)
    process = subprocess.Popen(
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
    )
    wait_for(marks / "started", process)
    process.send_signal(signal.SIGTERM)
    wait_for(marks / "teardown-started", process)
    process.send_signal(signal.SIGTERM)  # impatient: must be ignored while finishing
    output, _ = process.communicate(timeout=60)

    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    assert (marks / "cleaned").exists(), output
    assert "Terminated: SIGTERM received" in output

    page, data = read_report(tmp_path / "report.html")
    assert set(data["tests"]) == {"test_suite.py::test_first", "test_suite.py::test_second"}
    assert "second ran" in data["tests"]["test_suite.py::test_second"][0]["log"]
    assert (
        "Warning: the run was interrupted by SIGTERM while test_suite.py::test_hangs was "
        "running; the tests after it did not run"
    ) in page
    assert 'tests="2"' in (tmp_path / "junit.xml").read_text()
    assert (tmp_path / "termination-log").read_text() == (
        "pytest-incluster: 2 passed, 0 failed, 0 errors; access checks: 0, 0 unexpectedly "
        "allowed, 0 unexpectedly forbidden; interrupted by SIGTERM while "
        "test_suite.py::test_hangs was running\n"
    )
