"""Private temporary files for certificate and key data that a kubeconfig holds inline.

``ClusterConfig`` carries paths, because fixtures, ``kubectl`` subprocesses and ``ssl`` all want
files. A client key is a credential, so each file is created 0600 inside a 0700 directory with
``O_EXCL`` (no pre-existing file or symlink is reused) and the directory is removed at exit.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path


class PrivateFiles:
    """Writes files into one private directory, created on first use."""

    def __init__(self, directory: Path | None = None) -> None:
        # A given directory belongs to the caller (tests pass tmp_path); only a directory made
        # here is removed at exit.
        self._directory = directory
        self._count = 0

    def _dir(self) -> Path:
        if self._directory is None:
            self._directory = Path(tempfile.mkdtemp(prefix="pytest-incluster-"))
            atexit.register(shutil.rmtree, self._directory, ignore_errors=True)
        return self._directory

    def write(self, name: str, data: bytes) -> Path:
        """Write ``data`` to a new 0600 file whose name ends in ``name``; return its path."""
        self._count += 1
        path = self._dir() / f"{self._count}-{name}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return path
