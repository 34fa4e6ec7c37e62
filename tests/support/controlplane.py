"""Start a real control plane for a test fixture, and stop it whatever happens."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane


@contextmanager
def running_control_plane(state_dir: Path, assets: Path) -> Iterator[ControlPlane]:
    """A started control plane in ``state_dir``; a failed start fails the fixture with its
    one-paragraph message (log tail included), not a traceback."""
    from pytest_incluster.local.controlplane import ControlPlane, ControlPlaneError

    try:
        cp = ControlPlane.start(state_dir, assets=assets)
    except ControlPlaneError as error:
        pytest.fail(str(error), pytrace=False)
    try:
        yield cp
    finally:
        cp.stop()
