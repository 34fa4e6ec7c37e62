"""The access summary's least-privilege tables: extra permissions, and who can.

Extra permissions are what ``exhaustive: true`` items found beyond a document's ``allowed:``
list (one row per permission, with the binding the server named); who-can rows are every
bound subject the server allowed for a ``who-can:`` check, unlisted ones marked as failures.
"""

from __future__ import annotations

from collections.abc import Sequence

from pytest_incluster.privilege.findings import ExtraPermissionRow, WhoCanRow
from pytest_incluster.report.htmlparts import Html


def _table(h: Html, table_id: str, caption: str, head: tuple[str, ...], rows: list[str]) -> str:
    return (
        f'<table class="incluster-table incluster-sortable" id="{table_id}">'
        f"<caption>{h.text(caption)}</caption><thead>{h.row(head, tag='th')}</thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def extra_permissions_table(h: Html, extras: Sequence[ExtraPermissionRow]) -> str:
    """One row per permission beyond an exhaustive document, or "" when none was found."""
    if not extras:
        return ""
    rows = [
        h.row(
            (e.subject, e.scope, e.permission, e.granted_by, e.test_id), ' class="incluster-fail"'
        )
        for e in sorted(extras, key=lambda e: (e.subject, e.scope, e.permission))
    ]
    head = ("Subject", "Scope", "Permission", "Granted by", "Test")
    caption = f"Extra permissions: {len(extras)} allowed beyond exhaustive access documents"
    return "<h3>Extra permissions</h3>" + _table(
        h, "incluster-extra-permissions", caption, head, rows
    )


def who_can_table(h: Html, rows: Sequence[WhoCanRow]) -> str:
    """One row per allowed subject of each who-can check, or "" when there was none."""
    if not rows:
        return ""
    body = [
        h.row(
            (r.check, r.subject, "yes" if r.listed else "NO", r.bindings, r.reason, r.test_id),
            "" if r.listed else ' class="incluster-fail"',
        )
        for r in sorted(rows, key=lambda r: (r.check, r.listed, r.subject))
    ]
    unlisted = sum(1 for r in rows if not r.listed)
    checks = len({r.test_id for r in rows})
    caption = f"Who can: {checks} checks, {unlisted} allowed subjects not listed"
    head = ("Check", "Subject", "Listed", "Bound by", "Server's reason", "Test")
    return "<h3>Who can</h3>" + _table(h, "incluster-who-can", caption, head, body)


def least_privilege_tables(
    h: Html, extras: Sequence[ExtraPermissionRow], who_can: Sequence[WhoCanRow]
) -> str:
    """Both tables in a section of the access summary, or "" when neither has rows."""
    parts = extra_permissions_table(h, extras) + who_can_table(h, who_can)
    if not parts:
        return ""
    return f'<section class="incluster-access" id="incluster-least-privilege">{parts}</section>'
