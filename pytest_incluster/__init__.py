"""pytest-incluster: Kubernetes access and conformance tests that run inside the cluster.

The public names a test author imports live here; everything else is an implementation detail
grouped by what it is about (``config``, ``client``, ``access``, ``report``, ``local``).
"""

from importlib.metadata import PackageNotFoundError, version

from pytest_incluster.errors import InclusterError

try:
    __version__ = version("pytest-incluster")
except PackageNotFoundError:  # pragma: no cover - only when run from a bare checkout
    __version__ = "0.0.0"

__all__ = ["InclusterError", "__version__"]
