"""The answer to "would the cluster admit this object?", as plain data.

A request that passed authorization still meets admission (Pod Security, ValidatingAdmissionPolicy,
webhooks), quota and the API's own validation. An :class:`AdmissionDecision` names which of these
stages refused it and who (``by``), so "privileged pods are rejected" cannot pass because the runner
simply may not create pods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Stage = Literal["authorization", "admission", "quota", "validation"]
Operation = Literal["create", "update", "apply"]
OPERATIONS: tuple[Operation, ...] = ("create", "update", "apply")


@dataclass(frozen=True)
class Refusal:
    """Which stage refused a request, and who in it.

    ``by`` is what reports show (``PodSecurity``, ``ValidatingAdmissionPolicy p (binding b)``,
    the webhook's name, ``ResourceQuota q``); ``names`` are the words ``expect_rejected(by=...)``
    and ``by:`` in access documents accept for it (the mechanism, policy, binding, webhook or
    quota name).
    """

    stage: Stage
    by: str = ""
    names: tuple[str, ...] = ()
    dry_run_unsupported: bool = False  # a webhook whose sideEffects forbid dry runs
    note: str = ""  # what to do about it, when the refusal is not a verdict on the object

    def matches_by(self, wanted: str) -> bool:
        return wanted == self.by or wanted in self.names


@dataclass(frozen=True)
class AdmissionDecision:
    """One dry-run request and the server's verdict on it; truthy when admitted.

    ``warnings`` are the server's ``Warning`` headers (Pod Security ``warn`` mode, policies with
    ``validationActions: [Warn]``, deprecated APIs), whether or not the object was admitted.
    """

    admitted: bool
    target: str  # "Pod/name" (the kind and metadata.name or generateName)
    namespace: str  # "" for cluster-scoped objects
    operation: str  # create, update, apply (server-side apply), patch, delete
    status: int
    message: str = ""  # the server's Status.message when refused; untrusted text
    warnings: tuple[str, ...] = ()
    refusal: Refusal | None = None  # None exactly when admitted
    subject: str = ""  # the impersonated user, "" for the client's own identity

    def __bool__(self) -> bool:
        return self.admitted

    @property
    def stage(self) -> Stage | None:
        return self.refusal.stage if self.refusal else None

    @property
    def by(self) -> str:
        return self.refusal.by if self.refusal else ""

    def describe(self) -> str:
        """One line: ``create Pod/web -n prod: rejected by admission (PodSecurity): ...``."""
        where = f" -n {self.namespace}" if self.namespace else ""
        head = f"{self.operation} {self.target}{where}"
        if self.refusal is None:
            text = f"{head}: admitted"
        else:
            by = f" ({self.refusal.by})" if self.refusal.by else ""
            text = f"{head}: rejected by {self.refusal.stage}{by}: {self.message}"
            if self.refusal.note:
                text += f" ({self.refusal.note})"
        if self.warnings:
            text += "; warnings: " + " | ".join(self.warnings)
        return text


@dataclass(frozen=True)
class AdmissionRecord:
    """One admission decision of a test, as the report and the results file show it.

    ``expected`` is what the test or access document demanded ("rejected", "admitted", or ""
    when it demanded nothing of this request); ``stage`` is "" when admitted.
    """

    test_id: str
    subject: str
    namespace: str
    target: str  # "Pod/name", or the resource path's "pods[/name]" for requests not named
    operation: str
    expected: str
    admitted: bool
    stage: str
    by: str
    message: str
    warnings: tuple[str, ...] = ()
    passed: bool | None = None  # None: nothing was expected of it
