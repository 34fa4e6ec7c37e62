"""The results document: what one run decided, in a versioned JSON form machines read.

Schema ``pytest-incluster/results`` version :data:`SCHEMA_VERSION` (README, "Machine-readable
results"). A reader refuses a document of a newer major version rather than misread it; fields
are only ever added within a version. Every string has been redacted by the writer: the document
is shared like the HTML report and holds no token, key or exec-plugin output.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Final, TypeVar

from pytest_incluster.access.decision import NOT_ASKED, AccessOutcome
from pytest_incluster.admission.decision import AdmissionRecord
from pytest_incluster.results.errors import ResultsError

SCHEMA: Final = "pytest-incluster/results"
SCHEMA_VERSION: Final = 1
MISMATCH_KINDS: Final = ("unexpectedly allowed", "unexpectedly forbidden", "not asked", "other")


def stage_of(actual: str) -> str:
    """Which step of the API server's request handling decided: ``authentication`` (401),
    ``authorization`` (RBAC allowed or forbade), ``none`` (not asked: no request of that kind
    reached the server) or ``undecided`` (an error, or review and request disagreed). Admission
    decisions are listed apart, in ``admission``."""
    if actual in ("allowed", "forbidden"):
        return "authorization"
    if actual == "unauthorized":
        return "authentication"
    if actual == NOT_ASKED:
        return "none"
    return "undecided"


def mismatch_of(expected: str, actual: str) -> str | None:
    """Like :func:`pytest_incluster.report.summary.mismatch`, on plain strings."""
    if expected == actual:
        return None
    if actual == "allowed":
        return "unexpectedly allowed"
    if expected == "allowed" and actual in ("forbidden", "unauthorized"):
        return "unexpectedly forbidden"
    if actual == NOT_ASKED:
        return "not asked"
    return "other"


@dataclass(frozen=True)
class Decision:
    """One access check: who, what, where, what was expected and what the server decided."""

    subject: str
    verb: str
    resource: str  # resource[.group][/name][ --subresource=S] or a non-resource URL
    namespace: str  # "" cluster scope or non-resource, "*" all namespaces
    expected: str
    actual: str
    stage: str
    reason: str
    test_id: str
    outcome: str  # the test's pytest outcome: passed, failed, error, skipped or unknown

    @property
    def passed(self) -> bool:
        return self.expected == self.actual

    @property
    def mismatch(self) -> str | None:
        return mismatch_of(self.expected, self.actual)

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What the check is about, whichever test asked: the identity across runs."""
        return (self.subject, self.verb, self.resource, self.namespace)

    def describe(self) -> str:
        """``alice: get secrets in namespace team-a``."""
        where = {"": "at cluster scope", "*": "in all namespaces"}.get(
            self.namespace, f"in namespace {self.namespace}"
        )
        if self.resource.startswith("/"):
            where = "(non-resource URL)"
        return f"{self.subject}: {self.verb} {self.resource} {where}"

    @classmethod
    def of(cls, outcome: AccessOutcome, test_outcome: str) -> Decision:
        return cls(
            subject=outcome.subject,
            verb=outcome.verb,
            resource=outcome.resource,
            namespace=outcome.namespace,
            expected=outcome.expected,
            actual=outcome.actual,
            stage=stage_of(outcome.actual),
            reason=outcome.reason,
            test_id=outcome.test_id,
            outcome=test_outcome,
        )


@dataclass(frozen=True)
class AdmissionDecision:
    """One admission check (a server-side dry run or a write a test made): what the cluster
    answered after authorization, and what the test or access document expected."""

    subject: str
    operation: str  # create, update, apply, or the HTTP method of a test's own write
    target: str  # "Pod/name"
    namespace: str
    expected: str  # "admitted", "rejected", or "" when nothing was expected
    actual: str  # "admitted" or "rejected"
    stage: str  # "" when admitted; authorization, admission, quota or validation
    by: str  # PodSecurity, the policy and binding, the webhook, the quota...
    message: str
    test_id: str
    outcome: str  # this decision against its expectation, else the test's; see of()

    @classmethod
    def of(cls, record: AdmissionRecord, test_outcome: str) -> AdmissionDecision:
        """The document's form of the admission checks' record of one decision.

        ``outcome`` is "passed"/"failed" for a decision something expected (a rejection by
        authorization fails an expected rejection), else the outcome of the test it was in."""
        if record.passed is not None:
            test_outcome = "passed" if record.passed else "failed"
        return cls(
            subject=record.subject,
            operation=record.operation,
            target=record.target,
            namespace=record.namespace,
            expected=record.expected,
            actual="admitted" if record.admitted else "rejected",
            stage=record.stage,
            by=record.by,
            message=record.message,
            test_id=record.test_id,
            outcome=test_outcome,
        )


@dataclass(frozen=True)
class Cluster:
    """The cluster a run tested: its name (``--incluster-cluster-name``), URL and version."""

    name: str = ""
    server: str = ""
    version: str = ""

    @property
    def label(self) -> str:
        return self.name or self.server or "unnamed cluster"


@dataclass(frozen=True)
class Identity:
    """Who the runner was, as the server saw it."""

    username: str = ""
    groups: tuple[str, ...] = ()


def totals_of(
    decisions: Iterable[Decision], admission: Iterable[AdmissionDecision] = ()
) -> dict[str, int]:
    """Counts of the decisions by how they ended, and of the admission decisions."""
    listed = list(decisions)
    kinds = Counter(d.mismatch for d in listed)
    admitted = list(admission)
    totals = {"decisions": len(listed), "passed": kinds[None], "failed": len(listed) - kinds[None]}
    totals |= {kind.replace(" ", "_"): kinds[kind] for kind in MISMATCH_KINDS}
    totals["admission"] = len(admitted)
    totals["admission_failed"] = sum(1 for a in admitted if a.outcome in ("failed", "error"))
    return totals


@dataclass(frozen=True)
class ResultsDocument:
    """One run's results; :meth:`to_json` and :func:`load` are the file form."""

    cluster: Cluster
    identity: Identity | None
    decisions: tuple[Decision, ...]
    admission: tuple[AdmissionDecision, ...] = ()
    run: Mapping[str, str] = field(default_factory=dict)  # suite version, Job, pod, plugin
    tests: Mapping[str, int] = field(default_factory=dict)  # pytest's result counts

    @property
    def totals(self) -> dict[str, int]:
        return totals_of(self.decisions, self.admission)

    def redacted(self, redact: Callable[[str], str]) -> ResultsDocument:
        """The same document with ``redact`` applied to every string in it."""

        def clean(item: _Record) -> _Record:
            return replace(item, **{k: redact(v) for k, v in vars(item).items()})

        identity = None
        if self.identity is not None:
            identity = Identity(
                redact(self.identity.username), tuple(map(redact, self.identity.groups))
            )
        return ResultsDocument(
            cluster=clean(self.cluster),
            identity=identity,
            decisions=tuple(map(clean, self.decisions)),
            admission=tuple(map(clean, self.admission)),
            run={k: redact(v) for k, v in self.run.items()},
            tests=dict(self.tests),
        )

    def to_dict(self) -> dict[str, Any]:
        identity = None
        if self.identity is not None:
            identity = {"username": self.identity.username, "groups": list(self.identity.groups)}
        return {
            "schema": SCHEMA,
            "version": SCHEMA_VERSION,
            "cluster": asdict(self.cluster),
            "run": dict(self.run),
            "identity": identity,
            "tests": dict(self.tests),
            "totals": self.totals,
            "decisions": [asdict(d) for d in self.decisions],
            "admission": [asdict(a) for a in self.admission],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n"


_Record = TypeVar("_Record", Decision, AdmissionDecision, Cluster)


def _strings(raw: Mapping[str, Any], names: Iterable[str], where: str) -> dict[str, str]:
    values = {}
    for name in names:
        value = raw.get(name, "")
        if not isinstance(value, str):
            raise ValueError(f"{where}: {name!r} must be a string, not {value!r}")
        values[name] = value
    return values


def _list(raw: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    value = raw.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ValueError(f"{name!r} must be a list of objects")
    return value


def from_dict(raw: Mapping[str, Any]) -> ResultsDocument:
    """The document from its JSON form; ``ValueError`` says what is wrong with it."""
    if raw.get("schema") != SCHEMA:
        raise ValueError(f"it is not a pytest-incluster results document (schema {SCHEMA!r})")
    version = raw.get("version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise ValueError(
            f"it has schema version {version!r}; this pytest-incluster reads version "
            f"{SCHEMA_VERSION} and older: upgrade pytest-incluster"
        )
    cluster = Cluster(
        **_strings(raw.get("cluster") or {}, ("name", "server", "version"), "cluster")
    )
    ident = raw.get("identity")
    identity = None
    if isinstance(ident, dict):
        identity = Identity(
            str(ident.get("username", "")), tuple(map(str, ident.get("groups", [])))
        )
    decision_fields = list(Decision.__dataclass_fields__)
    decisions = tuple(
        Decision(**_strings(d, decision_fields, f"decision {n}"))
        for n, d in enumerate(_list(raw, "decisions"), start=1)
    )
    admission_fields = list(AdmissionDecision.__dataclass_fields__)
    admission = tuple(
        AdmissionDecision(**_strings(a, admission_fields, f"admission decision {n}"))
        for n, a in enumerate(_list(raw, "admission"), start=1)
    )
    run = {str(k): str(v) for k, v in (raw.get("run") or {}).items()}
    tests = {str(k): int(v) for k, v in (raw.get("tests") or {}).items()}
    return ResultsDocument(cluster, identity, decisions, admission, run, tests)


def load(path: Path) -> ResultsDocument:
    """Read a results file; :class:`ResultsError` names the file and what to do."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ResultsError(
            f"cannot read the results file {path}: {exc.strerror or exc}. Give the path of a "
            "file written by pytest --incluster-results."
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(
            f"the results file {path} is not JSON ({exc}). Give the file that pytest "
            "--incluster-results wrote, not the HTML report."
        ) from None
    try:
        if not isinstance(raw, dict):
            raise ValueError("it is not a JSON object")
        return from_dict(raw)
    except (ValueError, TypeError) as exc:
        raise ResultsError(
            f"the results file {path} cannot be used: {exc}. Give a file that pytest "
            "--incluster-results wrote."
        ) from None
