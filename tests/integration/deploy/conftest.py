"""The runner image's virtualenv, installed the way deploy/Dockerfile installs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.deploy import DEPLOY, ROOT, closed_to_others


def world_readable_python() -> Path:
    """A Python >= 3.11 that any user may run, like the image's /usr/local/bin/python3.

    The venv's interpreter is a link to it, so an arbitrary UID must be able to reach it.
    """
    candidates = [
        Path(sys._base_executable),
        Path("/usr/bin/python3"),
        Path("/usr/local/bin/python3"),
    ]
    for candidate in candidates:
        if not candidate.exists():
            continue
        real = candidate.resolve()
        if closed_to_others(real.parent, real.parent.parent / "lib"):
            continue
        version = subprocess.run(
            [str(real), "-c", "import sys, venv; print(sys.version_info >= (3, 11))"],
            capture_output=True,
            text=True,
            check=False,
        )
        if version.stdout.strip() == "True":
            return real
    pytest.fail(
        "no Python >= 3.11 with venv that every user can run (tried "
        f"{', '.join(map(str, candidates))}); the installed-image tests need one",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def image_venv() -> Iterator[Path]:
    """``sh deploy/install-venv.sh VENV`` from a copy of the build context, as the Dockerfile's
    build stage runs it: dependencies from the lock by hash, the project with --no-deps. Owned
    by root and readable by all, like /opt/venv in the image. pip's cache and index settings
    come from the environment (the hashes decide what is installed)."""
    top = Path(tempfile.mkdtemp(prefix="pytest-incluster-image-"))
    top.chmod(0o755)
    try:
        context = top / "src"
        context.mkdir()
        # Only what deploy/Dockerfile.dockerignore lets into the build context.
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(ROOT / name, context / name)
        shutil.copytree(
            ROOT / "pytest_incluster",
            context / "pytest_incluster",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        (context / "deploy").mkdir()
        for name in ("install-venv.sh", "requirements.lock", "build-requirements.lock"):
            shutil.copy2(DEPLOY / name, context / "deploy" / name)
        venv = top / "venv"
        env = {**os.environ, "PYTHON": str(world_readable_python())}
        env.pop("VIRTUAL_ENV", None)
        done = subprocess.run(
            ["sh", "deploy/install-venv.sh", str(venv), "."],
            cwd=context,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert done.returncode == 0, f"install-venv.sh failed:\n{done.stdout}\n{done.stderr}"
        yield venv
    finally:
        shutil.rmtree(top, ignore_errors=True)
