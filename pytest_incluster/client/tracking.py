"""Objects a test created, and deleting exactly those when it ends.

Every object made through ``create``/``apply`` (not dry-run) is recorded with its uid, the test
that was running and the identity that made it. Cleanup deletes in reverse order of creation
with a uid precondition, so an object that was deleted and re-created by someone else in the
meantime is left alone (409 on the precondition) rather than destroyed. It deletes as the
identity that created the object and falls back to the runner's own identity when that is
forbidden (a test that proves "may create, may not delete" must still be cleaned up).

Namespaces are deleted without waiting: their finalizers need kube-controller-manager, which a
local control plane does not run. Other objects are waited for, up to a bound; one still present
after that (a finalizer waiting for a controller) is reported as pending, not as a failure.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from pytest_incluster.client.errors import ApiError, ApiUnreachable, Conflict, Forbidden, NotFound
from pytest_incluster.client.impersonation import Impersonation

logger = logging.getLogger("pytest_incluster.client")

DEFAULT_WAIT_S = 10.0

# (method, path, impersonation or None for the runner itself, JSON body or None) -> response;
# raises ApiError/ApiUnreachable like the client does.
Sender = Callable[[str, str, Impersonation | None, Any], httpx.Response]


@dataclass(frozen=True)
class TrackedObject:
    """An object this client created, with what is needed to delete exactly it."""

    api_version: str
    kind: str
    name: str
    namespace: str | None
    uid: str | None
    path: str  # the object's own URL path
    impersonation: Impersonation | None = None
    test_id: str | None = None
    seq: int = 0

    @property
    def is_namespace(self) -> bool:
        return self.kind == "Namespace" and self.api_version == "v1"

    def describe(self) -> str:
        """``Pod ns/name`` or ``ClusterRole name``."""
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


@dataclass
class CleanupResult:
    """What a cleanup did; only ``failed`` means something was left behind by our fault."""

    deleted: list[TrackedObject] = field(default_factory=list)
    already_gone: list[TrackedObject] = field(default_factory=list)
    pending: list[tuple[TrackedObject, str]] = field(default_factory=list)
    failed: list[tuple[TrackedObject, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def describe(self) -> str:
        """One paragraph listing what could not be deleted (empty when nothing failed)."""
        parts = [f"{obj.describe()} ({why})" for obj, why in self.failed]
        if not parts:
            return ""
        return (
            "Objects created by the test could not be deleted: "
            + "; ".join(parts)
            + ". Delete them by hand, and grant the runner 'delete' on them so cleanup works."
        )


class TrackingState:
    """The shared record of created objects (one per client family, thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: list[TrackedObject] = []
        self._seq = 0

    def next_seq(self) -> int:
        """The sequence number the next tracked object will get (a scope's start)."""
        with self._lock:
            return self._seq + 1

    def add(self, **fields: Any) -> TrackedObject:
        with self._lock:
            self._seq += 1
            obj = TrackedObject(**fields, seq=self._seq)
            self._objects.append(obj)
            return obj

    def snapshot(self, *, since: int = 0, test_id: str | None = None) -> list[TrackedObject]:
        with self._lock:
            return [o for o in self._objects if self._matches(o, since, test_id)]

    def take(self, *, since: int = 0, test_id: str | None = None) -> list[TrackedObject]:
        """Remove and return matching objects (all when no filter), oldest first."""
        with self._lock:
            taken = [o for o in self._objects if self._matches(o, since, test_id)]
            self._objects = [o for o in self._objects if not self._matches(o, since, test_id)]
            return taken

    @staticmethod
    def _matches(obj: TrackedObject, since: int, test_id: str | None) -> bool:
        return obj.seq >= since and (test_id is None or obj.test_id == test_id)


class Tracker:
    """A tracking scope (``with k8s.tracking() as tracker``); ``result`` is set at the end."""

    def __init__(self, state: TrackingState) -> None:
        self._state = state
        self.start = state.next_seq()
        self.result: CleanupResult | None = None

    @property
    def objects(self) -> list[TrackedObject]:
        """Objects created in this scope and not yet cleaned up."""
        return self._state.snapshot(since=self.start)


def delete_options(*, uid: str | None = None, dry_run: bool = False) -> dict[str, Any]:
    """The DeleteOptions body of every DELETE the client sends: background propagation, and
    optionally a uid precondition (cleanup deletes only the object it created) and dryRun."""
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "propagationPolicy": "Background",
    }
    if uid:
        body["preconditions"] = {"uid": uid}
    if dry_run:
        body["dryRun"] = ["All"]
    return body


def _delete_one(send: Sender, obj: TrackedObject) -> str:
    """'deleted', 'gone', or raise the error that stopped the deletion."""
    identities: list[Impersonation | None] = [obj.impersonation]
    if obj.impersonation is not None:
        identities.append(None)
    for index, identity in enumerate(identities):
        try:
            send("DELETE", obj.path, identity, delete_options(uid=obj.uid))
        except NotFound:
            return "gone"
        except Conflict:
            return "gone"  # the uid precondition failed: the object there now is not ours
        except Forbidden:
            if index + 1 < len(identities):
                continue
            raise
        return "deleted"
    raise AssertionError("unreachable")


def _still_present(send: Sender, obj: TrackedObject) -> str | None:
    """None when ``obj`` is gone (or replaced); else a note such as its finalizers."""
    try:
        current = send("GET", obj.path, None, None).json()
    except NotFound:
        return None
    except (ApiError, ApiUnreachable):
        return None  # cannot look; the delete was accepted, so assume it proceeds
    metadata = current.get("metadata") or {}
    if obj.uid and metadata.get("uid") != obj.uid:
        return None
    finalizers = metadata.get("finalizers") or []
    return f"still terminating, finalizers {finalizers}" if finalizers else "still terminating"


def delete_objects(
    send: Sender,
    objects: Sequence[TrackedObject],
    *,
    wait: float = DEFAULT_WAIT_S,
    poll: float = 0.2,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> CleanupResult:
    """Delete ``objects`` newest first, then wait up to ``wait`` seconds for them to go."""
    result = CleanupResult()
    waiting: list[TrackedObject] = []
    for obj in sorted(objects, key=lambda o: o.seq, reverse=True):
        try:
            outcome = _delete_one(send, obj)
        except (ApiError, ApiUnreachable) as exc:
            result.failed.append((obj, str(exc)))
            continue
        if outcome == "gone":
            result.already_gone.append(obj)
        else:
            result.deleted.append(obj)
            if not obj.is_namespace:
                waiting.append(obj)
    deadline = clock() + wait
    notes: dict[int, str] = {o.seq: "deletion requested, not waited for" for o in waiting}
    if wait <= 0:
        result.pending.extend((o, notes[o.seq]) for o in waiting)
        waiting = []
    while waiting:
        notes = {}
        for obj in waiting:
            note = _still_present(send, obj)
            if note is not None:
                notes[obj.seq] = note
        waiting = [o for o in waiting if o.seq in notes]
        if not waiting or clock() + poll > deadline:
            break
        sleep(poll)
    result.pending.extend((o, notes[o.seq]) for o in waiting)
    for obj, why in result.failed:
        logger.warning("cleanup: could not delete %s: %s", obj.describe(), why)
    for obj, why in result.pending:
        logger.info("cleanup: %s: %s", obj.describe(), why)
    return result
