"""The Kubernetes client: TLS to the cluster CA, rotating bearer auth, retries, typed errors.

``K8sClient`` is an ``httpx.Client``; everything a test author catches or inspects is importable
from here.
"""

from pytest_incluster.client.auth import StaticTokenAuth, TokenFileAuth
from pytest_incluster.client.client import DEFAULT_TIMEOUT, K8sClient
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
from pytest_incluster.client.impersonation import Impersonation
from pytest_incluster.client.tracking import CleanupResult, TrackedObject, Tracker
from pytest_incluster.client.transport import RetryPolicy, RetryTransport

__all__ = [
    "DEFAULT_TIMEOUT",
    "AccessWaitTimeout",
    "AlreadyExists",
    "ApiError",
    "ApiUnreachable",
    "BadRequest",
    "CleanupError",
    "CleanupResult",
    "Conflict",
    "Forbidden",
    "Identity",
    "IdentityUnavailable",
    "Impersonation",
    "Invalid",
    "K8sClient",
    "MalformedResponse",
    "NotFound",
    "RetryPolicy",
    "RetryTransport",
    "ServerError",
    "StaticTokenAuth",
    "TLSError",
    "TokenFileAuth",
    "TokenFileError",
    "TooManyRequests",
    "TrackedObject",
    "Tracker",
    "Unauthorized",
    "UnverifiedDenial",
]
