"""Telling a real "forbidden" from one said by an API server that is not ready yet.

A kube-apiserver opens its port before its RBAC informers have synced. In that window (tens of
milliseconds to, on large clusters, minutes) it answers exactly as a ready server answers a
forbidden request: ``403 ... User "x" cannot list resource ...`` for a real request, and
``allowed: false`` with an empty ``reason`` and ``evaluationError`` for a SelfSubjectAccessReview
(observed on v1.37 during restarts; the RBAC authorizer returns "no opinion" when its listers find
no binding, and nothing in the answer says the listers were empty). Counting such an answer turns
a restart into a false "forbidden": the worst failure an access test can have, because a
``forbidden:`` expectation then passes.

What does tell them apart is ``/readyz``: it answers 200 ``ok`` only once the ``informer-sync``
check and every post-start hook (``rbac/bootstrap-roles`` among them) have passed, and a process
never becomes unready again in that sense (its caches stay filled, also while it shuts down).
Every authenticated user may read it (ClusterRole ``system:public-info-viewer``). So a "no" is
trusted when it came from a process that had said "ready" *before the question was sent*.

Which process answered is known per connection: a TCP connection reaches one API-server process
for its whole life, and a restarted server is reached over new connections only. This module keeps
for each connection (httpcore's ``network_stream``, weakly referenced) the moment a ``/readyz``
answered ``ok``. A 200 ``ok`` vouches for every connection already seen, because on one API server
all of them lead to the same process (a new process cannot listen on the port before the old one
has released it, and starting takes seconds). A "no" that arrived over a connection vouched only
later, or never, is not counted: the transport confirms readiness and asks again.

Limits, stated where users read them (tests/soak/README.md): behind an HTTP proxy that pools its
own connections to the API server, a client connection no longer identifies a server process; and
behind a load balancer that spreads connections over several API servers, one server's ``ok``
vouches for the others too (the ``kubernetes`` Service only lists an API server once its
``/readyz`` is ``ok``, which covers the in-cluster case).
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable

import httpx

# Request extension: ``Callable[[bytes], bool]`` that says whether a 2xx body is a denial (a
# SelfSubjectAccessReview's ``allowed: false``), so the transport verifies it like a 403.
VERIFY_DENIAL = "pytest_incluster.verify_denial"
# Response extension: set (to the reason, one line) on a denial that could not be verified.
UNVERIFIED = "pytest_incluster.unverified"
READY_BODY = b"ok"

DenialCheck = Callable[[bytes], bool]


def stream_of(response: httpx.Response) -> object | None:
    """The connection a response came over (httpcore's network stream), if the transport says."""
    return response.extensions.get("network_stream")


def unverified_reason(response: httpx.Response) -> str:
    """Why ``response`` is a denial that does not count ("" when it counts or is no denial)."""
    reason = response.extensions.get(UNVERIFIED)
    return reason if isinstance(reason, str) else ""


class Vouches:
    """Connections and the moment each was vouched for by a ``/readyz`` ``ok`` (thread-safe).

    Keys are the connections' stream objects, held weakly: a closed connection is forgotten
    with its stream, so an address reused by a new stream object can never inherit a vouch.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: weakref.WeakKeyDictionary[object, float | None] = weakref.WeakKeyDictionary()

    def note(self, response: httpx.Response) -> None:
        """Remember the connection ``response`` came over (not vouched for yet if new)."""
        stream = stream_of(response)
        if stream is None:
            return
        # A stream that cannot be weakly referenced is never vouched for.
        with self._lock, contextlib.suppress(TypeError):
            self._streams.setdefault(stream, None)

    def verifiable(self, response: httpx.Response) -> bool:
        """Whether the transport says which connection ``response`` used.

        Only httpcore's connection pool does; a custom or test transport does not, and its
        answers are taken as they come (nothing to reason about).
        """
        return stream_of(response) is not None

    def vouched_before(self, response: httpx.Response, sent_at: float) -> bool:
        """True when ``response``'s connection had been vouched for when the request was sent."""
        stream = stream_of(response)
        if stream is None:
            return False
        with self._lock:
            try:
                vouched_at = self._streams.get(stream)
            except TypeError:
                return False
        return vouched_at is not None and vouched_at <= sent_at

    def vouch_all(self, at: float) -> None:
        """A ``/readyz`` answered ``ok`` at ``at``: vouch for every connection seen until then."""
        with self._lock:
            for stream, vouched_at in list(self._streams.items()):
                if vouched_at is None:
                    self._streams[stream] = at
