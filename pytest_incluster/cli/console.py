"""What every command shares: the program name, progress on stderr, the default state directory."""

from __future__ import annotations

import os
import sys
from pathlib import Path

PROG = "pytest-incluster"


def default_cluster_dir() -> Path:
    """``${XDG_STATE_HOME:-~/.local/state}/pytest-incluster/cluster``."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "pytest-incluster" / "cluster"


def progress(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)
