"""The least-privilege items of an access document: ``exhaustive`` and ``who-can``.

``exhaustive: true`` adds ``SUBJECT::exhaustive::namespace NS`` items (one per namespace) and,
with ``cluster-scope: true``, ``SUBJECT::exhaustive::cluster scope``; each fails when the
subject may do anything the document's ``allowed:`` list does not cover, naming every extra
permission in can-i grammar and the binding that grants it. ``who-can:`` adds
``SUBJECT::who-can::ENTRY`` items that fail when a bound subject not listed may do ENTRY.
The domain is :mod:`pytest_incluster.privilege`; what they find goes into the session state
for the access summary's tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_incluster.access.client_protocol import AccessClient
from pytest_incluster.access.matrix import Exhaustive, SubjectDoc, WhoCanEntry
from pytest_incluster.config.errors import ConfigError
from pytest_incluster.errors import InclusterError
from pytest_incluster.privilege.findings import ExtraPermissionRow, WhoCanRow

CLUSTER_SCOPE = "cluster scope"


class PrivilegeMismatch(AssertionError, InclusterError):
    """More is allowed than the document says; ``str()`` lists what and why."""

    anchor = "least-privilege"


def _concurrency(config: pytest.Config) -> int:
    from pytest_incluster.pytest_plugin.settings import number

    return int(number(config, "concurrency"))


def _runner(config: pytest.Config) -> AccessClient:
    from pytest_incluster.pytest_plugin.cluster_access import fail_without_cluster, session_client

    try:
        return session_client(config)
    except ConfigError as exc:
        error = exc
    fail_without_cluster(config, error)


class PrivilegeItem(pytest.Item):
    """Shared by both items: the document, its line, and a message-only failure."""

    def __init__(self, *, doc: SubjectDoc, line: int, display: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.doc = doc
        self.line = line
        self.display = display

    @property
    def where(self) -> str:
        """``FILE:LINE`` of the document key this item checks."""
        return f"{self.display}:{self.line}"

    def subject_client(self) -> AccessClient:
        runner = _runner(self.config)
        user = self.doc.subject.user
        return runner.impersonate(user, self.doc.subject.groups) if user else runner

    def subject_text(self) -> str:
        if self.doc.subject.user is not None:
            return self.doc.subject.label
        from pytest_incluster.pytest_plugin.cluster_access import runner_label

        return runner_label(self.config)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, PrivilegeMismatch | InclusterError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.line - 1, f"{self.doc.subject.label} {self.name}"


class ExhaustiveItem(PrivilegeItem):
    """Nothing beyond ``allowed:`` in one namespace (``namespace`` None: the cluster scope)."""

    def __init__(self, *, namespace: str | None, exhaustive: Exhaustive, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.namespace = namespace
        self.exhaustive = exhaustive

    def runtest(self) -> None:
        from pytest_incluster.client.api_discovery import UnknownResourceType
        from pytest_incluster.privilege.exhaustive import Grant, extras, grant
        from pytest_incluster.privilege.inventory import cluster_inventory, namespace_inventory
        from pytest_incluster.pytest_plugin.state import get_state

        client = self.subject_client()
        concurrency = _concurrency(self.config)
        if self.namespace is None:
            inventory = cluster_inventory(client, concurrency)
        else:
            inventory = namespace_inventory(client, self.namespace, concurrency)
        default_namespace = self.doc.namespace or client.namespace
        grants: list[Grant] = []
        for entry in self.doc.entries:
            if entry.expected == "allowed":
                try:
                    grants.append(grant(entry.spec, client, default_namespace))
                except UnknownResourceType:
                    continue  # the entry's own item fails and says so
        found = extras(client, inventory, grants, self.exhaustive.ignore, concurrency)
        subject = self.subject_text()
        get_state(self.config).extra_permissions.extend(
            ExtraPermissionRow(self.nodeid, subject, inventory.scope, e.permission.text, e.reason)
            for e in found
        )
        if found:
            lines = [
                f"{subject} may do {len(found)} thing{'s' if len(found) > 1 else ''} in "
                f"{inventory.scope} that {self.where} does not allow:",
                *(f"  - {e.line}" for e in found),
                "List them under 'allowed:' after review, accept them with an 'ignore:' "
                "pattern, or remove the binding that grants them.",
                f"(how: {inventory.how})",
            ]
            raise PrivilegeMismatch("\n".join(lines))


class WhoCanItem(PrivilegeItem):
    """Only the listed bound subjects may do ``entry``."""

    def __init__(self, *, entry: WhoCanEntry, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entry = entry

    def runtest(self) -> None:
        from pytest_incluster.privilege.who_can import unexpected, who_can_spec
        from pytest_incluster.pytest_plugin.state import get_state

        runner = _runner(self.config)
        found = who_can_spec(
            runner,
            self.entry.spec,
            self.doc.namespace or runner.namespace,
            concurrency=_concurrency(self.config),
        )
        extra = unexpected(found, self.entry.subjects)
        get_state(self.config).who_can.extend(
            WhoCanRow(
                self.nodeid,
                self.entry.text,
                a.subject.text,
                a not in extra,
                ", ".join(b.text for b in a.bindings),
                a.reason,
            )
            for a in found
        )
        if extra:
            lines = [
                f"who-can '{self.entry.text}' ({self.where}): {len(extra)} bound subject"
                f"{'s' if len(extra) > 1 else ''} not listed may do it:",
                *(
                    f"  - {a.subject.text}  (bound by "
                    f"{', '.join(b.text for b in a.bindings) or 'no binding'}"
                    f"{'; ' + a.reason if a.reason else ''})"
                    for a in extra
                ),
                "Allowed and listed: " + ", ".join(a.subject.text for a in found if a not in extra),
            ]
            raise PrivilegeMismatch("\n".join(lines))


class ExhaustiveGroup(pytest.Collector):
    """``exhaustive``: one item per namespace, and the cluster scope when asked."""

    def __init__(
        self, *, doc: SubjectDoc, exhaustive: Exhaustive, display: str, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.doc = doc
        self.exhaustive = exhaustive
        self.display = display

    def collect(self) -> Iterator[pytest.Item]:
        namespaces: list[str | None] = list(self.exhaustive.namespaces)
        if not namespaces and (self.doc.namespace or not self.exhaustive.cluster_scope):
            namespaces = [self.doc.namespace or self._runner_namespace()]
        if self.exhaustive.cluster_scope:
            namespaces.append(None)
        for namespace in namespaces:
            name = f"namespace {namespace}" if namespace else CLUSTER_SCOPE
            yield ExhaustiveItem.from_parent(
                self,
                name=name,
                doc=self.doc,
                line=self.exhaustive.line,
                namespace=namespace,
                exhaustive=self.exhaustive,
                display=self.display,
            )

    def _runner_namespace(self) -> str:
        from pytest_incluster.pytest_plugin.cluster_access import cluster_config

        try:
            return cluster_config(self.config).namespace
        except ConfigError:
            return "default"


class WhoCanGroup(pytest.Collector):
    """``who-can``: one item per entry."""

    def __init__(self, *, doc: SubjectDoc, display: str, names: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.doc = doc
        self.display = display
        self.names = names

    def collect(self) -> Iterator[pytest.Item]:
        for entry, name in zip(self.doc.who_can, self.names, strict=True):
            yield WhoCanItem.from_parent(
                self, name=name, doc=self.doc, line=entry.line, entry=entry, display=self.display
            )


def privilege_groups(
    parent: pytest.Collector, doc: SubjectDoc, display: str, who_can_names: list[str]
) -> Iterator[pytest.Collector]:
    """The ``exhaustive`` and ``who-can`` collectors of ``doc``, if it asks for them;
    ``who_can_names`` are the item names of its ``who-can:`` entries."""
    if doc.exhaustive is not None:
        yield ExhaustiveGroup.from_parent(
            parent, name="exhaustive", doc=doc, exhaustive=doc.exhaustive, display=display
        )
    if doc.who_can:
        yield WhoCanGroup.from_parent(
            parent, name="who-can", doc=doc, display=display, names=who_can_names
        )
