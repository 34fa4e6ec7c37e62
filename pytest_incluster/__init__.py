"""pytest-incluster: Kubernetes access and conformance tests that run inside the cluster.

This module is the public API: what a test author imports, annotates with or catches, listed in
``__all__`` and in README.md's "Public API" table (``tests/unit/docs/test_public_api.py`` keeps
the two equal). Everything else is an implementation detail grouped by what it is about
(``config``, ``client``, ``access``, ``report``, ``local``) and may change without notice.

The names are imported on first use (PEP 562 ``__getattr__``), so ``import pytest_incluster``, which
every submodule import runs, stays as light as pytest's start-up needs: the plugin imports httpx
and the client only when a test asks for the cluster. Type checkers read the ``TYPE_CHECKING``
imports below, so every name is fully typed.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from pytest_incluster.errors import InclusterError
from pytest_incluster.version import __version__

if TYPE_CHECKING:
    from pytest_incluster.access.decision import AccessDecision, AccessRequest
    from pytest_incluster.access.grammar import GrammarError
    from pytest_incluster.access.resolve import UnknownSubresource
    from pytest_incluster.admission.decision import AdmissionDecision
    from pytest_incluster.client.api_discovery import DiscoveryError, UnknownResourceType
    from pytest_incluster.client.client import K8sClient
    from pytest_incluster.client.errors import (
        AccessWaitTimeout,
        AlreadyExists,
        ApiError,
        ApiUnreachable,
        BadRequest,
        CleanupError,
        Conflict,
        Forbidden,
        IdentityUnavailable,
        Invalid,
        MalformedResponse,
        NotFound,
        ServerError,
        TLSError,
        TokenFileError,
        TooManyRequests,
        Unauthorized,
        UnverifiedDenial,
    )
    from pytest_incluster.client.identity import Identity
    from pytest_incluster.config.model import ClusterConfig
    from pytest_incluster.credentials.errors import ExecPluginError

# Public name -> the module that defines it (the same pairs as the TYPE_CHECKING imports above).
_LAZY: dict[str, str] = {
    "AccessDecision": "pytest_incluster.access.decision",
    "AdmissionDecision": "pytest_incluster.admission.decision",
    "AccessRequest": "pytest_incluster.access.decision",
    "GrammarError": "pytest_incluster.access.grammar",
    "UnknownSubresource": "pytest_incluster.access.resolve",
    "DiscoveryError": "pytest_incluster.client.api_discovery",
    "UnknownResourceType": "pytest_incluster.client.api_discovery",
    "K8sClient": "pytest_incluster.client.client",
    "Identity": "pytest_incluster.client.identity",
    "ClusterConfig": "pytest_incluster.config.model",
    "ExecPluginError": "pytest_incluster.credentials.errors",
    **dict.fromkeys(
        (
            "AccessWaitTimeout",
            "AlreadyExists",
            "ApiError",
            "ApiUnreachable",
            "BadRequest",
            "CleanupError",
            "Conflict",
            "Forbidden",
            "IdentityUnavailable",
            "Invalid",
            "MalformedResponse",
            "NotFound",
            "ServerError",
            "TLSError",
            "TokenFileError",
            "TooManyRequests",
            "Unauthorized",
            "UnverifiedDenial",
        ),
        "pytest_incluster.client.errors",
    ),
}

__all__ = [
    "AccessDecision",
    "AccessRequest",
    "AccessWaitTimeout",
    "AdmissionDecision",
    "AlreadyExists",
    "ApiError",
    "ApiUnreachable",
    "BadRequest",
    "CleanupError",
    "ClusterConfig",
    "Conflict",
    "DiscoveryError",
    "ExecPluginError",
    "Forbidden",
    "GrammarError",
    "Identity",
    "IdentityUnavailable",
    "InclusterError",
    "Invalid",
    "K8sClient",
    "MalformedResponse",
    "NotFound",
    "ServerError",
    "TLSError",
    "TokenFileError",
    "TooManyRequests",
    "Unauthorized",
    "UnknownResourceType",
    "UnknownSubresource",
    "UnverifiedDenial",
    "__version__",
]


def __getattr__(name: str) -> Any:
    """Import a public name on first use; anything else is not an attribute of the package."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
