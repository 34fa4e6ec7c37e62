"""The ``admitted:``/``rejected:`` objects of access documents, as pytest items.

Ids read ``prod.access.yaml::self::rejected::Pod/root``. Each item sends its object as a
server-side dry run as the document's subject (impersonated when ``as:`` names one) in the
object's namespace, else the document's, else the runner's; the judgement and its words are the
markers' (:mod:`pytest_incluster.admission.expectation`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_incluster.access.admission_entries import ADMISSION_LISTS, AdmissionEntry
from pytest_incluster.access.matrix import SubjectDoc
from pytest_incluster.admission.expectation import AdmissionExpectation, problems
from pytest_incluster.errors import InclusterError
from pytest_incluster.pytest_plugin.admission_markers import ADMISSION_KEY


def admission_lists(parent: pytest.Collector, doc: SubjectDoc) -> Iterator[pytest.Collector]:
    """The document's ``admitted`` and ``rejected`` nodes (those it has)."""
    for expected in ADMISSION_LISTS:
        entries = [e for e in doc.admission if e.expected == expected]
        if entries:
            node: AdmissionList = AdmissionList.from_parent(
                parent, name=expected, doc=doc, entries=entries
            )
            yield node


class AdmissionList(pytest.Collector):
    """The ``admitted`` or ``rejected`` list of one document."""

    def __init__(self, *, doc: SubjectDoc, entries: list[AdmissionEntry], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.doc = doc
        self.entries = entries

    def collect(self) -> Iterator[pytest.Item]:
        # Kinds and object names never hold "[", "]" or "::", so the name is an id as it is.
        for entry in self.entries:
            item: AdmissionItem = AdmissionItem.from_parent(
                self, name=entry.name, doc=self.doc, entry=entry
            )
            yield item


class AdmissionMismatch(AssertionError, InclusterError):
    """The cluster decided otherwise than the access document says; ``str()`` says how."""

    anchor = "admission"


class AdmissionItem(pytest.Item):
    """One object: would the cluster admit it, for ``doc.subject``?"""

    def __init__(self, *, doc: SubjectDoc, entry: AdmissionEntry, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.doc = doc
        self.entry = entry
        # Judged and recorded like a test marked expect_rejected/expect_admitted.
        self.expectation = AdmissionExpectation(entry.expected, entry.by, entry.match)
        self.stash[ADMISSION_KEY] = self.expectation

    def runtest(self) -> None:
        from pytest_incluster.config.errors import ConfigError
        from pytest_incluster.pytest_plugin.cluster_access import (
            fail_without_cluster,
            session_client,
        )

        try:
            runner = session_client(self.config)
        except ConfigError as exc:
            fail_without_cluster(self.config, exc)
        subject = self.doc.subject
        client = (
            runner if subject.user is None else runner.impersonate(subject.user, subject.groups)
        )
        try:
            decision = client.admission_check(self.entry.manifest, namespace=self._namespace())
        finally:
            if client is not runner:
                client.close()
        found = problems(self.expectation, [decision])
        if found:
            where = f"{self._display()}:{self.entry.line}"
            raise AdmissionMismatch(
                f"{where}: {subject.label} {self.entry.expected} {self.entry.name}: "
                + "\n".join(found)
            )

    def _display(self) -> str:
        """The access file as its other items name it: relative to the rootdir."""
        try:
            return os.path.relpath(self.path, self.config.rootpath)
        except ValueError:  # another drive on Windows
            return str(self.path)

    def _namespace(self) -> str | None:
        meta = self.entry.manifest.get("metadata") or {}
        return meta.get("namespace") or self.doc.namespace

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        """The message alone: no traceback into the plugin."""
        if isinstance(excinfo.value, AdmissionMismatch):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return (
            self.path,
            self.entry.line - 1,
            f"{self.doc.subject.label} {self.entry.expected}: {self.entry.name}",
        )
