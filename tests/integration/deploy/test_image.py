"""The runner image's supply chain: deploy/Dockerfile, its locks and deploy/install-venv.sh.

No container runtime is available here, so the image itself is not built. What its build stage
runs is: deploy/install-venv.sh into a fresh virtualenv (the ``image_venv`` fixture), whose
result must be exactly the lock. The Job's command then runs from that virtualenv as an
arbitrary UID (test_deploy.py, OpenShift variant).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.deploy import DEPLOY, ROOT

LOCK = DEPLOY / "requirements.lock"
BUILD_LOCK = DEPLOY / "build-requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\$")
HASH = re.compile(r"^    --hash=sha256:[0-9a-f]{64}( \\)?$")


def locked(text: str) -> dict[str, int]:
    """``{canonical name: number of hashes}`` for every requirement in a pip-compile lock."""
    entries: dict[str, int] = {}
    current = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pin = PIN.match(line)
        if pin:
            current = canonicalize_name(pin[1])
            entries[current] = 0
        elif HASH.match(line) and current is not None:
            entries[current] += 1
        else:
            raise AssertionError(f"unexpected line in the lock: {line!r}")
    return entries


def lock_problems(text: str, required: list[str]) -> list[str]:
    entries = locked(text)
    problems = [f"{name} is not in the lock" for name in required if name not in entries]
    problems += [f"{name} has no hash" for name, count in entries.items() if count == 0]
    return problems


def pyproject() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def names(requirements: object) -> list[str]:
    assert isinstance(requirements, list)
    return [canonicalize_name(Requirement(r).name) for r in requirements]


def test_lock_pins_every_runtime_dependency_with_hashes() -> None:
    project = pyproject()["project"]
    assert isinstance(project, dict)
    assert lock_problems(LOCK.read_text(), names(project["dependencies"])) == []


def test_build_lock_pins_the_build_backend_with_hashes() -> None:
    build = pyproject()["build-system"]
    assert isinstance(build, dict)
    assert lock_problems(BUILD_LOCK.read_text(), names(build["requires"])) == []


def test_lock_check_finds_a_missing_dependency_and_a_missing_hash() -> None:
    """The control for the two tests above."""
    text = LOCK.read_text()
    without_httpx = re.sub(r"^httpx==.*?(?=^\S)", "", text, flags=re.M | re.S)
    unhashed = re.sub(r"^(idna==\S+) \\\n(    --hash=\S+( \\)?\n)+", r"\1 \\\n", text, flags=re.M)
    required = names(["httpx", "idna"])
    assert lock_problems(without_httpx, required) == ["httpx is not in the lock"]
    assert lock_problems(unhashed, required) == ["idna has no hash"]


def test_dockerfile_pins_the_base_by_digest_and_installs_through_the_recipe() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert base, "the base image is the build argument PYTHON_IMAGE"
    assert re.fullmatch(r"python:3\.12-slim@sha256:[0-9a-f]{64}", base[1]), base[1]
    assert "python:3.12-slim as\n# published on" in text  # the tag and date, as a comment
    assert re.findall(r"^FROM (\S+)", text, re.M) == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]
    assert "RUN sh deploy/install-venv.sh /opt/venv /src" in text


def test_build_context_admits_everything_the_dockerfile_copies() -> None:
    """deploy/Dockerfile.dockerignore excludes everything else; a COPY of an excluded file
    fails the build."""
    admitted = {
        line[1:].rstrip("/")
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    copied = set()
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            copied |= set(line.split()[1:-1])
    assert copied == admitted


def test_installed_virtualenv_holds_exactly_the_lock(image_venv: Path) -> None:
    listed = subprocess.run(
        [str(image_venv / "bin" / "python"), "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    )
    installed = {canonicalize_name(p["name"]): p["version"] for p in json.loads(listed.stdout)}
    expected = {
        canonicalize_name(m[1]): m[2]
        for m in (PIN.match(line) for line in LOCK.read_text().splitlines())
        if m
    }
    assert installed.pop("pip")
    assert installed.pop("pytest-incluster") == "0.1.0"
    assert installed == expected  # nothing more (no setuptools), nothing less, same versions
    plugins = subprocess.run(
        [str(image_venv / "bin" / "pytest"), "-VV", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
    )
    assert plugins.returncode == 0, plugins.stderr
    assert "pytest-incluster-0.1.0" in plugins.stdout + plugins.stderr


def test_a_file_that_does_not_match_its_hash_is_refused(tmp_path: Path) -> None:
    """--require-hashes at work: the lock's idna entry with one wrong digit."""
    text = LOCK.read_text()
    entry = re.search(r"^idna==.*?(?=^\S)", text, flags=re.M | re.S)
    assert entry
    bad = re.sub(
        r"(--hash=sha256:)([0-9a-f])",
        lambda m: m[1] + "0123456789abcdef"[(int(m[2], 16) + 1) % 16],
        entry[0],
    )
    (tmp_path / "bad.lock").write_text(bad)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--require-hashes",
            "-r",
            str(tmp_path / "bad.lock"),
            "-d",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PIP_NO_CACHE_DIR": "1"},
    )
    assert done.returncode != 0
    assert "THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE" in done.stderr
