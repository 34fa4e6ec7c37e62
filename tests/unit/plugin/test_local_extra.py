"""Without the ``local`` extra (``cryptography``), the local control plane's entry points say
which package to install, in one paragraph, instead of a traceback or an INTERNALERROR.

Each case runs in a subprocess whose import system refuses ``cryptography`` exactly as if it
were not installed (``ModuleNotFoundError: No module named 'cryptography'``); everything else
is the real installed plugin.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_incluster.local.extra import require_local_extra

WITHOUT_CRYPTOGRAPHY = """
import importlib.abc
import sys


class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "cryptography" or name.startswith("cryptography."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NotInstalled())
"""

RUN_CLI = "from pytest_incluster.cli.main import main\nsys.exit(main(sys.argv[1:]))\n"
RUN_PYTEST = "import pytest\nsys.exit(pytest.main(sys.argv[1:]))\n"

MESSAGE = (
    "The local control plane needs the 'local' extra of pytest-incluster, which is not "
    "installed here (No module named 'cryptography'). Install it into the same environment "
    'with: pip install "pytest-incluster[local]"'
)


def run(code: str, *args: str, cwd: Path, blocked: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "KUBE"))}
    env["HOME"] = str(cwd)
    prelude = WITHOUT_CRYPTOGRAPHY if blocked else "import sys\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + code, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args",
    [
        ("cluster", "up"),
        ("cluster", "down"),
        ("cluster", "serviceaccount", "default/default", "--out", "sa"),
    ],
)
def test_cluster_commands_name_the_extra(tmp_path: Path, args: tuple[str, ...]) -> None:
    done = run(RUN_CLI, *args, "--dir", str(tmp_path / "cluster"), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"pytest-incluster: error: {MESSAGE}\n"
    assert done.stdout == ""


def test_assets_needs_no_extra(tmp_path: Path) -> None:
    binaries = tmp_path / "bin"
    binaries.mkdir()
    for name in ("etcd", "kube-apiserver", "kubectl"):
        (binaries / name).write_text("#!/bin/sh\n")
        (binaries / name).chmod(0o755)
    done = run(RUN_CLI, "assets", "--dir", str(binaries), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{binaries}\n"


def test_with_the_extra_installed_the_cluster_command_runs(tmp_path: Path) -> None:
    require_local_extra()  # installed in this environment: no error
    done = run(
        RUN_CLI, "cluster", "down", "--dir", str(tmp_path / "c"), cwd=tmp_path, blocked=False
    )
    assert done.returncode == 0, done.stderr
    assert "nothing to stop" in done.stderr


def test_incluster_local_names_the_extra(tmp_path: Path) -> None:
    (tmp_path / "test_one.py").write_text("def test_one():\n    pass\n")
    done = run(RUN_PYTEST, "--incluster-local", "-p", "no:cacheprovider", cwd=tmp_path)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert done.stderr.strip() == f"ERROR: --incluster-local: {MESSAGE}"
    assert "INTERNALERROR" not in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
