"""The ``local`` extra: what the local control plane needs beyond the plugin itself.

In a pod the plugin needs only httpx, PyYAML and pytest-html. The local control plane also makes
certificates, with ``cryptography``, which ``pip install "pytest-incluster[local]"`` installs.
Without it, ``pytest-incluster cluster ...`` and ``--incluster-local`` stop with one paragraph
that names the install command, instead of a ``ModuleNotFoundError`` from deep inside.
"""

from __future__ import annotations

from pytest_incluster.local.errors import LocalError

INSTALL = 'pip install "pytest-incluster[local]"'


class MissingExtra(LocalError):
    """A package of the ``local`` extra cannot be imported."""


def require_local_extra() -> None:
    """Raise :class:`MissingExtra` unless the local control plane's packages can be imported."""
    try:
        import cryptography.x509  # noqa: F401
    except ImportError as exc:
        raise MissingExtra(
            "The local control plane needs the 'local' extra of pytest-incluster, which is not "
            f"installed here ({exc}). Install it into the same environment with: {INSTALL}"
        ) from None
