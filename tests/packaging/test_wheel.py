"""The distribution as pip users get it: built, checked, installed from the WHEEL into a fresh
virtualenv (no checkout on the path, no editable install, no ``local`` extra), and used.

One module-scoped build and install serves every test here:

* ``python -m build`` makes the sdist, then the wheel from the sdist (so a file missing from
  the sdist breaks the wheel too); ``twine check --strict`` checks both's metadata;
* their contents: LICENSE (the Apache-2.0 text of the repository), ``py.typed``, every module of
  the package, and nothing else (no tests, no deploy/, no caches);
* ``example_tests/`` runs from that virtualenv, as the ServiceAccount of a renamed copy of
  ``deploy/local`` on the real control plane, stores its report in ConfigMaps, and the virtualenv's
  ``pytest-incluster fetch-report`` reads it back;
* without the ``local`` extra, ``--incluster-local`` and ``pytest-incluster cluster up`` stop
  with one paragraph naming the extra (``cryptography`` really is absent there).

Dependencies are installed by pip as a user's would be, with the machine's pip configuration
(its index and cache).
"""

from __future__ import annotations

import email.parser
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.packaging.venvs import ROOT, Built, clean_env, run, run_example_tests

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

VERSION_DIR = "pytest_incluster-0.1.0"


def test_twine_accepts_the_metadata_of_both(built: Built) -> None:
    run(sys.executable, "-m", "twine", "check", "--strict", built.sdist, built.wheel)


def test_the_metadata_names_the_license_and_the_extra(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as wheel:
        text = wheel.read(f"{VERSION_DIR}.dist-info/METADATA").decode()
    metadata = email.parser.Parser().parsestr(text)
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert metadata["Requires-Python"] == ">=3.11"
    assert "local" in metadata.get_all("Provides-Extra")
    assert 'cryptography>=42; extra == "local"' in metadata.get_all("Requires-Dist")


def package_modules() -> set[str]:
    return {
        str(p.relative_to(ROOT))
        for p in (ROOT / "pytest_incluster").rglob("*")
        if p.suffix == ".py" or p.name == "py.typed"
    }


def test_the_wheel_holds_the_package_the_license_and_nothing_else(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as wheel:
        names = set(wheel.namelist())
        license_text = wheel.read(f"{VERSION_DIR}.dist-info/licenses/LICENSE")
    info = {n for n in names if n.startswith(f"{VERSION_DIR}.dist-info/")}
    assert names - info == package_modules()
    assert info == {
        f"{VERSION_DIR}.dist-info/{n}"
        for n in ("METADATA", "WHEEL", "entry_points.txt", "top_level.txt", "RECORD")
    } | {f"{VERSION_DIR}.dist-info/licenses/LICENSE"}
    assert license_text == (ROOT / "LICENSE").read_bytes()
    assert b"Apache License\n                           Version 2.0, January 2004" in license_text


def test_the_sdist_holds_the_package_the_license_and_nothing_else(built: Built) -> None:
    with tarfile.open(built.sdist) as sdist:
        files = {m.name.removeprefix(f"{VERSION_DIR}/") for m in sdist.getmembers() if m.isfile()}
        license_file = sdist.extractfile(f"{VERSION_DIR}/LICENSE")
        assert license_file is not None
        assert license_file.read() == (ROOT / "LICENSE").read_bytes()
    metadata = {f for f in files if f.startswith("pytest_incluster.egg-info/")}
    assert files - metadata == package_modules() | {
        "LICENSE",
        "README.md",
        "pyproject.toml",
        "setup.cfg",
        "PKG-INFO",
    }


def test_the_installed_package_is_the_wheel_not_the_checkout(built: Built, tmp_path: Path) -> None:
    done = run(
        built.bin("python"),
        "-c",
        "import pytest_incluster; print(pytest_incluster.__file__)",
        cwd=tmp_path,
        env=clean_env(tmp_path),
    )
    assert Path(done.stdout.strip()).is_relative_to(built.venv)
    listed = run(built.bin("python"), "-m", "pip", "list", cwd=tmp_path).stdout
    assert "cryptography" not in listed  # the local extra was not asked for


def test_example_tests_pass_from_the_wheel_and_the_report_is_fetched(
    built: Built,
    control_plane: ControlPlane,
    make_service_account: Callable[..., Path],
    tmp_path: Path,
) -> None:
    suite, namespace = run_example_tests(
        built.venv,
        control_plane,
        make_service_account,
        tmp_path,
        "--incluster-report-configmap=pytest-incluster-report",
        "--junitxml=junit.xml",
    )
    fetched = run(
        built.bin("pytest-incluster"),
        "fetch-report",
        "pytest-incluster-report",
        "-n",
        namespace,
        "-o",
        "fetched",
        "--kubeconfig",
        control_plane.admin_kubeconfig,
        cwd=tmp_path,
        env=clean_env(tmp_path),
    )
    assert fetched.stdout.splitlines()[:2] == [
        "wrote fetched/report.html",
        "wrote fetched/junit.xml",
    ]
    assert (tmp_path / "fetched" / "junit.xml").read_bytes() == (suite / "junit.xml").read_bytes()
    html = (tmp_path / "fetched" / "report.html").read_text()
    assert "test_may_create_configmaps_dry_run" in html


MESSAGE = (
    "The local control plane needs the 'local' extra of pytest-incluster, which is not "
    "installed here (No module named 'cryptography'). Install it into the same environment "
    'with: pip install "pytest-incluster[local]"'
)


def test_without_the_local_extra_the_local_control_plane_names_it(
    built: Built, tmp_path: Path
) -> None:
    (tmp_path / "test_one.py").write_text("def test_one():\n    pass\n")
    env = clean_env(tmp_path)
    local = subprocess.run(
        [str(built.bin("pytest")), "--incluster-local", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert local.returncode == pytest.ExitCode.USAGE_ERROR, local.stdout + local.stderr
    assert local.stderr.strip() == f"ERROR: --incluster-local: {MESSAGE}"
    assert "Traceback" not in local.stdout + local.stderr

    up = subprocess.run(
        [str(built.bin("pytest-incluster")), "cluster", "up", "--dir", str(tmp_path / "c")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert up.returncode == 2
    assert up.stderr == f"pytest-incluster: error: {MESSAGE}\n"
    assert not (tmp_path / "c").exists()
