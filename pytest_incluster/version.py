"""The installed distribution's version, at the bottom of the layers so every part may name it.

It lives apart from ``__init__.py`` because the package root is the public facade, which sits
above everything else (see docs/architecture.md); the client's User-Agent and the report's
environment table read the version from here.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pytest-incluster")
except PackageNotFoundError:  # pragma: no cover - only when run from a bare checkout
    __version__ = "0.0.0"
