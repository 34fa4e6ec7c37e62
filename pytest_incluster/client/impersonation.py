"""Who a client acts as: the ``Impersonate-*`` headers, built once from plain data.

The API server authorizes each impersonated attribute it receives separately (verb
``impersonate`` on ``users`` or ``serviceaccounts``, on every ``groups`` value sent, on
``uids``), so the headers carry exactly what the caller chose and nothing more: every extra
group would be one more grant the runner needs. The server completes the identity itself:
v1.37 (legacy and constrained impersonation alike, ``k8s.io/apiserver``
``endpoints/filters/impersonation``) adds ``system:authenticated`` to every impersonated user
except ``system:anonymous`` (which gets ``system:unauthenticated``) unless the request names
``system:unauthenticated``. ``kubectl --as-group`` gets the same treatment, so neither loses
the default grants (discovery, SelfSubjectAccessReview) of a signed-in user.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

HEADER_NAMES = ("Impersonate-User", "Impersonate-Group", "Impersonate-Uid")
_LOWER_NAMES = frozenset(name.lower() for name in HEADER_NAMES)


@dataclass(frozen=True)
class Impersonation:
    """A user, optional groups and optional uid to act as."""

    user: str
    groups: tuple[str, ...] = ()
    uid: str | None = None

    @classmethod
    def of(cls, user: str, groups: Iterable[str] = (), uid: str | None = None) -> Impersonation:
        """Validate and normalise (groups de-duplicated, in the caller's order)."""
        if not user:
            raise ValueError("impersonate() needs a user name; the API server rejects groups alone")
        return cls(user=user, groups=tuple(dict.fromkeys(groups)), uid=uid or None)

    def headers(self) -> list[tuple[str, str]]:
        """One ``Impersonate-User``, one ``Impersonate-Group`` per group, ``Impersonate-Uid``."""
        result = [("Impersonate-User", self.user)]
        result.extend(("Impersonate-Group", group) for group in self.groups)
        if self.uid:
            result.append(("Impersonate-Uid", self.uid))
        return result


def impersonated_headers(
    headers: Iterable[tuple[str, str]], impersonation: Impersonation | None
) -> list[tuple[str, str]]:
    """``headers`` without any ``Impersonate-*`` header, plus ``impersonation``'s (if any).

    The one place headers change identity: a client switching who it acts as, and a cleanup
    request sent as the identity that created an object, both go through here.
    """
    kept = [(k, v) for k, v in headers if k.lower() not in _LOWER_NAMES]
    return kept + (impersonation.headers() if impersonation else [])
