"""The one check for "this process is a pytest-xdist worker", and what the controller sent it."""

from __future__ import annotations

from typing import Any

import pytest


def worker_input(config: pytest.Config) -> dict[str, Any] | None:
    """The controller's ``workerinput`` in an xdist worker process; None elsewhere."""
    value: dict[str, Any] | None = getattr(config, "workerinput", None)
    return value


def is_xdist_worker(config: pytest.Config) -> bool:
    """True in an xdist worker process (xdist sets ``config.workerinput`` there)."""
    return worker_input(config) is not None
