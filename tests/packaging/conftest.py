"""The distribution, built once per test session for every test in tests/packaging/."""

from __future__ import annotations

import pytest

from tests.packaging.venvs import Built, build, fresh_venv


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The sdist, the wheel, and a fresh virtualenv with only the wheel (no extra) installed."""
    sdist, wheel = build(tmp_path_factory.mktemp("dist"))
    venv = fresh_venv(tmp_path_factory.mktemp("venv"), wheel)
    return Built(sdist, wheel, venv)
