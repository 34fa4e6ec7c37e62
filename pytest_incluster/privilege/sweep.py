"""SelfSubjectAccessReviews for many permissions at once, bounded by a concurrency limit.

Used where the rules cannot be trusted to be complete (the server said ``incomplete``), to
confirm cluster-scope candidates, and to learn which binding grants an extra permission (the
review's ``reason``). Each answer is the server's; nothing is inferred.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pytest_incluster.access.client_protocol import HttpSender
from pytest_incluster.access.review import review
from pytest_incluster.privilege.permission import Permission


@dataclass(frozen=True)
class Answer:
    """The server's decision on one permission, with its reason (for RBAC: the binding)."""

    permission: Permission
    allowed: bool
    reason: str = ""


def ask_all(
    client: HttpSender, permissions: Iterable[Permission], concurrency: int
) -> list[Answer]:
    """One SelfSubjectAccessReview per permission, at most ``concurrency`` in flight."""
    wanted = list(permissions)

    def one(permission: Permission) -> Answer:
        decision = review(client, permission.request())
        return Answer(permission, decision.allowed, decision.reason)

    if not wanted:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(wanted)))) as pool:
        return list(pool.map(one, wanted))


def allowed(answers: Iterable[Answer]) -> set[Permission]:
    return {a.permission for a in answers if a.allowed}
