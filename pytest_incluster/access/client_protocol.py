"""The client as the access engine sees it: a small typed protocol instead of ``getattr``.

``access/`` sits above ``client/`` and needs only a few things of a client: send a request,
know its namespace and who it impersonates, share the API discovery, and make a copy acting as
someone else. Naming exactly those here keeps the engine honest about what it uses (mypy checks
that ``K8sClient`` provides them) and lets anything with the same shape be evaluated.

:class:`HttpSender` is the sending half alone; a plain ``httpx.Client`` satisfies it, which is
all a SelfSubjectAccessReview or a probe needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import httpx

    from pytest_incluster.client.api_discovery import Discovery


class HttpSender(Protocol):
    """The requests the access engine sends (``httpx.Client`` signatures, narrowed)."""

    def get(self, url: str) -> httpx.Response: ...

    def post(
        self, url: str, *, json: Any = None, extensions: dict[str, Any] | None = None
    ) -> httpx.Response: ...

    def stream(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        params: tuple[tuple[str, str], ...] | None = None,
        headers: dict[str, str] | None = None,
    ) -> AbstractContextManager[httpx.Response]: ...


class AccessClient(HttpSender, Protocol):
    """What ``access/`` needs of the runner's client; ``K8sClient`` is the one it is built for."""

    @property
    def namespace(self) -> str:
        """The default namespace for checks that name none."""
        ...

    @property
    def impersonated_user(self) -> str | None:
        """Who this client acts as (None: itself); the subject named in decisions."""
        ...

    def discovery(self) -> Discovery:
        """The API discovery shared by this client and its impersonating copies."""
        ...

    def impersonate(self, user: str, groups: Iterable[str] = ()) -> AccessClient:
        """A client acting as ``user`` (and ``groups``), sharing this one's connections."""
        ...

    def close(self) -> None: ...
