"""What the least-privilege items found, as plain rows for the access summary's tables.

Plain data (strings and booleans only) so they travel from pytest-xdist workers to the
controller as report properties and are rendered by ``report/`` without any client.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExtraPermissionRow:
    """One permission beyond an exhaustive document's ``allowed:`` list."""

    test_id: str
    subject: str
    scope: str  # "namespace shop" or "the cluster scope"
    permission: str  # can-i grammar
    granted_by: str = ""  # the server's reason (RBAC: the binding and role)


@dataclass(frozen=True)
class WhoCanRow:
    """One subject the server allows for a ``who-can:`` check, and whether it was listed."""

    test_id: str
    check: str
    subject: str
    listed: bool
    bindings: str = ""
    reason: str = ""
