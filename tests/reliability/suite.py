"""Running a user's test suite with the plugin, the way users do: ``python -m pytest`` in a
subprocess, with ``--incluster-*`` options and a clean environment.

The environment is scrubbed of everything that could point the inner run somewhere else
(``KUBE*``, ``KUBERNETES_*``, ``POD_*``, ``PYTEST_*`` of the outer run) and ``HOME`` is an
empty directory, so no ``~/.kube/config`` is found by accident. ``PY_COLORS=0``: any escape
sequence in the output then came from data, not from pytest's colours.

Every suite gets a ``conftest.py`` that, at the end of the session, writes the plugin's call
log (``SessionState.calls``: one entry per HTTP attempt, with its attempt number) to
``calls-<worker>.json``, so the outer test can read what the client did.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DUMP_CONFTEST = """
import dataclasses
import json
import os
from pathlib import Path

from pytest_incluster.pytest_plugin.state import get_state


def pytest_sessionfinish(session):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    calls = [dataclasses.asdict(call) for call in get_state(session.config).calls]
    Path(session.config.rootpath, f"calls-{worker}.json").write_text(json.dumps(calls))
"""

PYTEST_INI = """[pytest]
addopts = -p no:cacheprovider
"""

_COUNTS = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)")


def clean_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for an inner run: nothing from the outer run that could steer it."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "POD_", "PYTEST_", "COV_"))
    }
    home.mkdir(parents=True, exist_ok=True)
    # The inner run's temporary files (a report it kept because the upload failed, as designed)
    # stay in the test's own directory instead of the machine's /tmp.
    temp = home.parent / ".tmp"
    temp.mkdir(parents=True, exist_ok=True)
    env.update(
        {
            "HOME": str(home),
            "TMPDIR": str(temp),
            "PY_COLORS": "0",
            "COLUMNS": "200",
            "NO_COLOR": "1",
        }
    )
    env.update(extra or {})
    return env


def write_suite(directory: Path, files: Mapping[str, str], *, dump_calls: bool = True) -> Path:
    """Write ``files`` (name -> text) plus the call-log conftest and a pytest.ini."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pytest.ini").write_text(PYTEST_INI)
    conftest = files.get("conftest.py", "")
    if dump_calls:
        conftest = DUMP_CONFTEST + "\n" + conftest
    if conftest:
        (directory / "conftest.py").write_text(conftest)
    for name, text in files.items():
        if name != "conftest.py":
            (directory / name).write_text(text)
    return directory


@dataclass
class Run:
    """A finished inner run."""

    ret: int
    stdout: str
    stderr: str
    duration: float
    directory: Path

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def outcomes(self) -> dict[str, int]:
        """Counts from pytest's final summary line, e.g. ``{"passed": 3, "failed": 1}``."""
        lines = [line for line in self.stdout.splitlines() if re.search(r" in [\d.]+s\b", line)]
        last = lines[-1] if lines else ""
        counts: dict[str, int] = {}
        for number, word in _COUNTS.findall(last):
            counts["errors" if word == "error" else word] = int(number)
        return counts

    def calls(self) -> list[dict[str, Any]]:
        """Every request the run made, once. Under xdist each worker dumps its own log and the
        controller's log also holds the workers' calls (the report merges them there), so the
        workers' files are read and the controller's only for its own (test-less) calls."""
        paths = sorted(self.directory.glob("calls-*.json"))
        workers = [p for p in paths if p.name != "calls-main.json"]
        found: list[dict[str, Any]] = []
        for path in workers or paths:
            found.extend(json.loads(path.read_text()))
        if workers and (self.directory / "calls-main.json").exists():
            main = json.loads((self.directory / "calls-main.json").read_text())
            found.extend(c for c in main if c.get("test_id") is None)
        return found

    def section(self, title_part: str) -> str:
        """The failure section of the test whose ``____ title ____`` header contains
        ``title_part``, up to the next section header."""
        lines = self.stdout.splitlines()
        out: list[str] = []
        inside = False
        for line in lines:
            is_header = line.startswith("____") or line.startswith("====")
            if is_header and title_part in line:
                inside = True
                out = [line]
                continue
            if inside and is_header:
                break
            if inside:
                out.append(line)
        return "\n".join(out)

    def describe(self) -> str:
        return (
            f"exit {self.ret} after {self.duration:.1f}s\n"
            f"--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"
        )


def pytest_command(args: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "pytest", *args]


def run_pytest(
    directory: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 240.0,
) -> Run:
    """Run pytest in ``directory`` with ``args``; wait at most ``timeout`` seconds."""
    started = time.monotonic()
    done = subprocess.run(
        pytest_command(args),
        cwd=directory,
        env=clean_env(directory / ".home", env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return Run(done.returncode, done.stdout, done.stderr, time.monotonic() - started, directory)


class Running:
    """An inner run in the background (for signals sent mid-test)."""

    def __init__(self, directory: Path, *args: str, env: Mapping[str, str] | None = None) -> None:
        self.directory = directory
        self.started = time.monotonic()
        self._out = (directory / ".stdout").open("w+")
        self._err = (directory / ".stderr").open("w+")
        self.process = subprocess.Popen(
            pytest_command(args),
            cwd=directory,
            env=clean_env(directory / ".home", env),
            stdout=self._out,
            stderr=self._err,
            stdin=subprocess.DEVNULL,
            text=True,
        )

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> Run:
        """Wait for the end; on timeout the process is killed and ``ret`` is -9."""
        try:
            ret = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            ret = -9
        duration = time.monotonic() - self.started
        self._out.seek(0)
        self._err.seek(0)
        stdout, stderr = self._out.read(), self._err.read()
        self._out.close()
        self._err.close()
        return Run(ret, stdout, stderr, duration, self.directory)

    def stop(self) -> None:
        """Kill the run if it is still going (fixture teardown safety net)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for handle in (self._out, self._err):
            if not handle.closed:
                handle.close()


def wait_for_file(path: Path, timeout: float, running: Running | None = None) -> None:
    """Poll until ``path`` exists; fail early if ``running`` ended."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if running is not None and running.process.poll() is not None:
            raise AssertionError(f"the inner run ended before writing {path.name}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{path.name} did not appear within {timeout:g}s")
        time.sleep(0.05)
