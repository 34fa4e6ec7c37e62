"""Who a client acts as: the ``Impersonate-*`` headers, built once from plain data.

The API server authorizes each impersonated attribute separately (verb ``impersonate`` on users,
groups, serviceaccounts, uids). When groups are given explicitly it does *not* add
``system:authenticated`` for us, so a user impersonated with only ``groups=["dev"]`` would lose
every default grant (discovery, SelfSubjectAccessReview) and the test would measure the wrong
thing; ``kubectl --as-group`` has exactly that pitfall. We add it, unless the caller chose
``system:authenticated`` or ``system:unauthenticated`` themselves or impersonates the anonymous
user.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"
HEADER_NAMES = ("Impersonate-User", "Impersonate-Group", "Impersonate-Uid")


@dataclass(frozen=True)
class Impersonation:
    """A user, optional groups and optional uid to act as."""

    user: str
    groups: tuple[str, ...] = ()
    uid: str | None = None

    @classmethod
    def of(cls, user: str, groups: Iterable[str] = (), uid: str | None = None) -> Impersonation:
        """Validate and normalise: explicit groups gain ``system:authenticated``."""
        if not user:
            raise ValueError("impersonate() needs a user name; the API server rejects groups alone")
        chosen = tuple(dict.fromkeys(groups))
        if (
            chosen
            and user != ANONYMOUS
            and AUTHENTICATED not in chosen
            and UNAUTHENTICATED not in chosen
        ):
            chosen = (*chosen, AUTHENTICATED)
        return cls(user=user, groups=chosen, uid=uid or None)

    def headers(self) -> list[tuple[str, str]]:
        """One ``Impersonate-User``, one ``Impersonate-Group`` per group, ``Impersonate-Uid``."""
        result = [("Impersonate-User", self.user)]
        result.extend(("Impersonate-Group", group) for group in self.groups)
        if self.uid:
            result.append(("Impersonate-Uid", self.uid))
        return result
