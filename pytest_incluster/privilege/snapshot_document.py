"""An access document from inventories: reviewed once, committed, run on every deploy.

The output is the access-document format (``*.access.yaml``) with ``exhaustive: true``, so
running it unchanged against the same cluster passes, and any permission added later fails
the exhaustive item naming it. Comments at the top say how each scope was learned (rules
review, or a sweep when the server said the rules are incomplete).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from pytest_incluster.privilege.inventory import Inventory
from pytest_incluster.privilege.permission import sorted_permissions


def snapshot_document(
    inventories: Sequence[Inventory],
    *,
    user: str | None,
    groups: Sequence[str] = (),
    namespaces: Sequence[str] = (),
    cluster_scope: bool = False,
) -> str:
    """The YAML text: comments, then ``as``/``groups``, ``exhaustive``, scopes, ``allowed``."""
    comments = [
        "# Written by `pytest-incluster snapshot`: everything the subject may do, as the "
        "server said.",
        "# Review it, commit it, and run it on every deploy: the exhaustive items fail on any "
        "permission not listed.",
        *(f"# {inventory.how}" for inventory in inventories),
    ]
    document: dict[str, Any] = {}
    if user is not None:
        document["as"] = user
    if groups:
        document["groups"] = list(groups)
    document["exhaustive"] = True
    if namespaces:
        document["namespaces"] = list(namespaces)
    if cluster_scope:
        document["cluster-scope"] = True
    every = [p for inventory in inventories for p in inventory.permissions]
    document["allowed"] = [p.text for p in sorted_permissions(every)]
    body = yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=10_000)
    return "\n".join(comments) + "\n" + body
