"""The public API: ``from pytest_incluster import ...`` for every name a test author uses.

``pytest_incluster.__all__`` and README.md's "Public API" table list the same names; each one
imports from the package root, is the object its defining module has, and is typed (mypy sees
the real class, not ``Any``). Nothing else is an attribute of the package, and importing it
stays light: the names load on first use.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import pytest_incluster

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "README.md"
START = "<!-- public-api-table: every name in pytest_incluster.__all__ -->"
END = "<!-- public-api-table: end -->"


def readme_names() -> list[str]:
    text = README.read_text()
    table = text[text.index(START) + len(START) : text.index(END)]
    return re.findall(r"^\| `([A-Za-z0-9_]+)` \|", table, flags=re.MULTILINE)


def test_the_readme_table_lists_exactly_all() -> None:
    names = readme_names()
    assert len(names) == len(set(names)), "a name appears twice in the README table"
    assert sorted(names) == sorted(pytest_incluster.__all__)


def test_the_names_the_readme_and_examples_use_are_public() -> None:
    wanted = {
        "K8sClient",
        "Forbidden",
        "Unauthorized",
        "NotFound",
        "AlreadyExists",
        "Conflict",
        "Invalid",
        "TooManyRequests",
        "ServerError",
        "ApiError",
        "ApiUnreachable",
        "TLSError",
        "UnverifiedDenial",
        "AccessDecision",
        "AccessRequest",
        "Identity",
        "ClusterConfig",
        "InclusterError",
        "AccessWaitTimeout",
        "CleanupError",
    }
    assert wanted <= set(pytest_incluster.__all__)


def test_every_public_name_imports_from_the_package() -> None:
    names = sorted(pytest_incluster.__all__)
    # A fresh interpreter: nothing imported before, as in a test author's conftest.py.
    code = f"from pytest_incluster import {', '.join(names)}\n" + "".join(
        f"print({name!r}, getattr({name}, '__module__', 'str'))\n" for name in names
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    modules = dict(line.split() for line in done.stdout.splitlines())
    assert sorted(modules) == names
    for name in names:
        value = getattr(pytest_incluster, name)
        if name == "__version__":
            assert isinstance(value, str)
            continue
        assert modules[name] == value.__module__
        assert getattr(sys.modules[value.__module__], name) is value


def test_the_errors_a_test_catches_share_the_root() -> None:
    for name in pytest_incluster.__all__:
        value = getattr(pytest_incluster, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, pytest_incluster.InclusterError), name


def test_internal_names_are_not_attributes_of_the_package() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'StaticTokenAuth'"):
        pytest_incluster.StaticTokenAuth  # noqa: B018
    done = subprocess.run(
        [sys.executable, "-c", "from pytest_incluster import RetryTransport"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 1
    assert "cannot import name 'RetryTransport' from 'pytest_incluster'" in done.stderr


def test_importing_the_package_loads_no_client_until_a_name_is_used() -> None:
    code = (
        "import sys, pytest_incluster\n"
        "print('httpx' in sys.modules)\n"
        "pytest_incluster.K8sClient\n"
        "print('httpx' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.split() == ["False", "True"]


TYPED_USE = """
from pytest_incluster import AccessDecision, Forbidden, K8sClient


def allowed(k8s: K8sClient) -> bool:
    decision: AccessDecision = k8s.can_i("get", "pods")
    return decision.allowed


def code(error: Forbidden) -> int:
    return error.code


def wrong(k8s: K8sClient) -> str:
    return k8s.can_i(1, "pods")
"""


def test_the_public_names_are_typed_for_mypy(tmp_path: Path) -> None:
    """The right uses pass ``mypy --strict``; the wrong ones (last function) are caught, which
    they would not be if the names were ``Any``."""
    (tmp_path / "use.py").write_text(TYPED_USE)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            f"--cache-dir={ROOT / '.mypy_cache' / 'public-api'}",
            "use.py",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        # The checkout, as a site-packages install would have it (mypy cannot follow the
        # editable install's import hook).
        env={**os.environ, "MYPYPATH": str(ROOT)},
    )
    errors = [line for line in done.stdout.splitlines() if ": error: " in line]
    assert errors == [
        'use.py:15: error: Incompatible return value type (got "AccessDecision", expected "str")'
        "  [return-value]",
        'use.py:15: error: Argument 1 to "can_i" of "K8sClient" has incompatible type "int"; '
        'expected "str"  [arg-type]',
    ], done.stdout + done.stderr
