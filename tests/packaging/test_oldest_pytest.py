"""The plugin with the oldest pytest that ``pyproject.toml`` accepts, so the lower bound is a
tested fact rather than a guess.

A fresh virtualenv gets the wheel (with the ``local`` extra, which the unit tests' certificates
need) and exactly that pytest; then the plugin's pytest-facing unit tests run there, and
example_tests runs from there against the real control plane.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from packaging.version import Version

from tests.packaging.venvs import ROOT, Built, clean_env, fresh_venv, run, run_example_tests

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane


def oldest_pytest() -> str:
    """X from the ``pytest>=X`` requirement of pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (floor,) = [
        m[1] for r in project["dependencies"] if (m := re.fullmatch(r"pytest>=([0-9.]+)", r))
    ]
    return floor


@pytest.fixture(scope="module")
def oldest(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fresh_venv(
        tmp_path_factory.mktemp("oldest-pytest"),
        f"{built.wheel}[local]",
        f"pytest=={oldest_pytest()}",
        "hypothesis",
    )


def test_that_pytest_is_the_one_installed(oldest: Path, tmp_path: Path) -> None:
    done = run(oldest / "bin" / "pytest", "--version", cwd=tmp_path, env=clean_env(tmp_path))
    name, version = done.stdout.split()
    assert name == "pytest"
    assert Version(version) == Version(oldest_pytest())


# The unit tests of what meets pytest most directly, chosen to stay quick (mostly in-process
# pytester runs): options and ini keys, --help, the expect_* markers, fixtures without a cluster.
PLUGIN_UNIT_TESTS = [
    "tests/unit/plugin/test_settings.py",
    "tests/unit/plugin/test_help.py",
    "tests/unit/plugin/test_expect_semantics.py",
    "tests/unit/plugin/test_no_cluster.py",
]


def test_the_plugins_unit_tests_pass(oldest: Path, tmp_path: Path) -> None:
    """Run from the checkout's tests/ with the virtualenv's installed plugin."""
    done = run(
        oldest / "bin" / "python",
        "-m",
        "pytest",
        *PLUGIN_UNIT_TESTS,
        "-q",
        "-p",
        "no:cacheprovider",
        cwd=ROOT,
        env=clean_env(tmp_path),
    )
    assert re.search(r"^\d+ passed in ", done.stdout.splitlines()[-1]), done.stdout


def test_example_tests_pass(
    oldest: Path,
    control_plane: ControlPlane,
    make_service_account: Callable[..., Path],
    tmp_path: Path,
) -> None:
    run_example_tests(oldest, control_plane, make_service_account, tmp_path)
