"""The evaluation engine: answer many access checks quickly, each question asked once.

An access file can hold hundreds of entries for several subjects. :class:`AccessChecker`
resolves all of a batch's types through one discovery, then sends the questions concurrently
(at most ``max_in_flight`` at a time, on the shared thread-safe ``httpx.Client``) and caches
every answer for the session: the same subject asking the same question again costs nothing.

Per subject it also verifies what ``kubectl auth can-i --as`` does not: that an impersonated
ServiceAccount exists. Impersonation headers are accepted for any name, so a typo in ``as:``
would otherwise produce confident answers about nobody. The check is a GET of the
ServiceAccount with the runner's own client; when the runner may not read ServiceAccounts the
answers are still given, with a note that existence could not be verified (least-privilege
runners should not need that grant just to be tested).

:func:`check_access` is the same machinery for one entry, behind ``K8sClient.check_access``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from typing import Any, Literal

import httpx

from pytest_incluster.access.client_protocol import AccessClient
from pytest_incluster.access.decision import AccessDecision, AccessRequest
from pytest_incluster.access.grammar import parse_entry
from pytest_incluster.access.matrix import Subject
from pytest_incluster.access.probe import ProbeFailed, build_probe, probe
from pytest_incluster.access.question import Check, CheckResult
from pytest_incluster.access.resolve import Resolved, UnknownSubresource, resolve
from pytest_incluster.access.review import review as ssar_review
from pytest_incluster.client.api_discovery import Discovery, DiscoveryError, UnknownResourceType
from pytest_incluster.client.errors import clean_text

Reviewer = Callable[..., AccessDecision]  # review(client, request, *, subject="")
# made_for(test_id): a context in which this thread's requests are recorded as test_id's
Attribution = Callable[[str | None], AbstractContextManager[object]]
MAX_IN_FLIGHT = 16

__all__ = ["AccessChecker", "Answer", "Check", "CheckResult", "PendingResult", "check_access"]


def _unattributed(test_id: str | None) -> AbstractContextManager[object]:
    return nullcontext()


class Answer:
    """A question's settled answer, kept in the session cache instead of its ``Future``.

    A finished ``Future`` still carries a condition variable and its lock (over 700 bytes); an
    access file of 10,000 entries kept 10,000 of them alive for the whole session.
    """

    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        self._value = value

    def result(self) -> Any:
        return self._value


Answered = Future[Any] | Answer


def _client_namespace(client: AccessClient, fallback: str | None) -> str:
    return client.namespace or fallback or "default"


def _error_text(exc: BaseException, subject: Subject) -> str:
    """One line for a failed question; a refused impersonation is named as the runner's problem."""
    text = clean_text(str(exc))
    if subject.user is not None and "cannot impersonate" in text:
        return (
            f"the runner may not impersonate {subject.user}: {text}. Grant the runner the "
            "'impersonate' verb on that user/serviceaccount (and its groups), or drop 'as:'"
        )
    return text


class AccessChecker:
    """Evaluates batches of checks concurrently, with a session-wide answer cache.

    ``client_factory`` returns the runner's authenticated client (an :class:`AccessClient`, in
    practice a ``K8sClient``); it is called once, on the first batch (so a missing cluster fails
    the items that need it, not collection). To ask as another subject the client's
    ``impersonate(user, groups)`` is used; the client's own ``discovery()`` resolves types.
    ``made_for(test_id)`` (the session's call log) makes each question's requests count as
    the first test that asked it, though a worker thread sends them ahead of that test.
    """

    def __init__(
        self,
        client_factory: Callable[[], AccessClient],
        *,
        max_in_flight: int = MAX_IN_FLIGHT,
        reviewer: Reviewer = ssar_review,
        default_namespace: str | None = None,
        made_for: Attribution = _unattributed,
    ) -> None:
        self._client_factory = client_factory
        self._made_for = made_for
        self._max_in_flight = max(1, max_in_flight)
        self._reviewer = reviewer
        self._default_namespace = default_namespace
        self._lock = threading.Lock()
        self._client: AccessClient | None = None
        self._discovery: Discovery | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._clients: dict[Subject, AccessClient] = {}
        self._answers: dict[Hashable, Answered] = {}
        self.round_trips = 0  # questions actually sent (cache misses), for tests and the report

    # ---- plumbing ------------------------------------------------------------------------

    def _runner(self) -> AccessClient:
        with self._lock:
            if self._client is None:
                self._client = self._client_factory()
            return self._client

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self._max_in_flight, thread_name_prefix="incluster-access"
                )
            return self._pool

    def discovery(self) -> Discovery:
        """The session's discovery (the runner's view of the server's types)."""
        client = self._runner()
        with self._lock:
            if self._discovery is None:
                self._discovery = client.discovery()
            return self._discovery

    def runner_namespace(self) -> str:
        """The namespace checks use when neither the entry nor the document names one."""
        return _client_namespace(self._runner(), self._default_namespace)

    def client_for(self, subject: Subject) -> AccessClient:
        """The runner's client, or one impersonating ``subject`` (made once per subject)."""
        runner = self._runner()
        if subject.user is None:
            return runner
        with self._lock:
            found = self._clients.get(subject)
            if found is None:
                found = self._clients[subject] = runner.impersonate(subject.user, subject.groups)
            return found

    def _ask(self, key: Hashable, question: Callable[[], Any], asked_by: str | None) -> Answered:
        """The (possibly shared) future answer for ``key``; asks at most once per session, for
        the test ``asked_by``."""
        with self._lock:
            found = self._answers.get(key)
            if found is not None:
                return found
        pool = self._executor()
        with self._lock:
            found = self._answers.get(key)
            if found is not None:
                return found
            future = pool.submit(self._attributed, question, asked_by)
            self._answers[key] = future
            self.round_trips += 1
        # Outside the lock: an already finished future runs the callback right here.
        future.add_done_callback(lambda done: self._settle(key, done))
        return future

    def _attributed(self, question: Callable[[], Any], asked_by: str | None) -> Any:
        with self._made_for(asked_by):
            return question()

    def _settle(self, key: Hashable, done: Future[Any]) -> None:
        """Keep an answer as a plain :class:`Answer`; forget a question that got none (503,
        timeout), so a later batch asks it again."""
        failed = done.cancelled() or done.exception() is not None
        with self._lock:
            if self._answers.get(key) is not done:
                return
            if failed:
                del self._answers[key]
            else:
                self._answers[key] = Answer(done.result())

    def close(self) -> None:
        """Stop the worker threads and close clients made for impersonation."""
        with self._lock:
            pool, self._pool = self._pool, None
            clients = list(self._clients.values())
            self._clients.clear()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        for client in clients:
            client.close()

    # ---- questions -----------------------------------------------------------------------

    def _subject_finding(self, subject: Subject, asked_by: str | None) -> Answered | None:
        """Future (error, note) about whether an impersonated ServiceAccount exists."""
        account = subject.service_account
        if account is None:
            return None
        namespace, name = account
        runner = self._runner()

        def ask() -> tuple[str, str]:
            path = f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}"
            try:
                status = runner.get(path).status_code
            except httpx.HTTPStatusError as exc:
                status = exc.response.status_code
            except httpx.HTTPError as exc:
                return "", f"could not verify that ServiceAccount {namespace}/{name} exists: {exc}"
            if status < 300:
                return "", ""
            if status == 404:
                return (
                    f'ServiceAccount "{name}" does not exist in namespace "{namespace}": answers '
                    f"for {subject.user} would describe an identity no pod can have. Create the "
                    "ServiceAccount or correct 'as:'",
                    "",
                )
            why = (
                f"the runner may not get serviceaccounts in {namespace}"
                if status == 403
                else f"GET {path} answered {status}"
            )
            return "", f"could not verify that ServiceAccount {namespace}/{name} exists ({why})"

        return self._ask(("serviceaccount", namespace, name), ask, asked_by)

    def _review(self, subject: Subject, request: AccessRequest, asked_by: str | None) -> Answered:
        client = self.client_for(subject)
        label = subject.user or ""
        return self._ask(
            (subject, "review", request),
            lambda: self._reviewer(client, request, subject=label),
            asked_by,
        )

    def _probe(self, subject: Subject, resolved: Resolved, asked_by: str | None) -> Answered:
        client = self.client_for(subject)
        label = subject.user or ""
        return self._ask(
            (subject, "request", resolved.request),
            lambda: probe(client, resolved, subject=label, impersonating=subject.user is not None),
            asked_by,
        )

    def evaluate(self, checks: Sequence[Check]) -> list[CheckResult]:
        """Answer ``checks`` (concurrently) in order. Raises only if the client cannot be made.

        Everything else that goes wrong (unknown type, failed discovery, no answer, a refused
        impersonation, a missing ServiceAccount) is the ``error`` of the affected results.
        """
        return [pending.result() for pending in self.submit(checks)]

    def submit(self, checks: Sequence[Check]) -> list[PendingResult]:
        """Send every question of ``checks`` now; each answer is read when it is needed.

        The questions leave in order (the worker pool is first in, first out), so a caller
        that reads the results in the same order waits only for the answer at hand while the
        later ones are still on the wire: pytest runs item *k* while the server answers item
        *k + 16*. Raises only if the client cannot be made, like :meth:`evaluate`.
        """
        discovery = self.discovery()
        default_namespace = self.runner_namespace()
        discovery_failed = ""  # once discovery fails, the rest of the batch need not retry it
        plans: list[tuple[Check, Resolved | str, dict[str, Any]]] = []
        for check in checks:
            namespace = check.namespace or default_namespace
            resolved: Resolved | str
            try:
                if discovery_failed and check.spec.is_resource:
                    raise DiscoveryError(discovery_failed)
                resolved = resolve(check.spec, discovery, namespace)
            except UnknownResourceType as exc:
                hint = exc.hint()
                resolved = f"{exc}; {hint}" if hint else str(exc)
            except DiscoveryError as exc:
                discovery_failed = resolved = str(exc)
            except UnknownSubresource as exc:
                resolved = str(exc)
            plans.append((check, resolved, self._submit(check, resolved)))
        return [PendingResult(self, check, resolved, asked) for check, resolved, asked in plans]

    def _submit(self, check: Check, resolved: Resolved | str) -> dict[str, Any]:
        asked: dict[str, Any] = {}
        subject_finding = self._subject_finding(check.subject, check.asked_by)
        if subject_finding is not None:
            asked["subject"] = subject_finding
        if isinstance(resolved, str):
            return asked
        wants_review = check.mode in ("review", "both")
        if check.mode in ("request", "both"):
            built = build_probe(resolved)
            if isinstance(built, str):
                asked["no_request"] = built
                wants_review = True
            else:
                asked["real"] = self._probe(check.subject, resolved, check.asked_by)
        if wants_review:
            asked["review"] = self._review(check.subject, resolved.request, check.asked_by)
        return asked

    def collect(self, check: Check, resolved: Resolved | str, asked: dict[str, Any]) -> CheckResult:
        """The :class:`CheckResult` of one submitted check; waits for its answers."""
        notes: list[str] = []
        error = ""
        if "subject" in asked:
            subject_error, subject_note = asked["subject"].result()
            error = subject_error
            if subject_note:
                notes.append(subject_note)
        if isinstance(resolved, str):
            return CheckResult(check, error=error or resolved, notes=tuple(notes))
        if resolved.note:
            notes.append(resolved.note)
        if "no_request" in asked:
            notes.append(f"{asked['no_request']}; answered by review (SelfSubjectAccessReview)")
        answers: dict[str, AccessDecision] = {}
        for kind in ("review", "real"):
            if kind not in asked:
                continue
            try:
                answer = asked[kind].result()
            except (httpx.HTTPError, ProbeFailed, DiscoveryError) as exc:
                error = error or _error_text(exc, check.subject)
                continue
            if isinstance(answer, AccessDecision):
                answers[kind] = answer
        note_text = "; ".join(notes)
        decorated = {
            kind: replace(d, note="; ".join(filter(None, (d.note, note_text))))
            for kind, d in answers.items()
        }
        return CheckResult(
            check,
            request=resolved.request,
            review=decorated.get("review"),
            real=decorated.get("real"),
            error=error,
            notes=tuple(notes),
            namespaced=resolved.namespaced,
        )


class PendingResult:
    """One submitted check whose answer is read (and waited for) on the first :meth:`result`."""

    def __init__(
        self,
        checker: AccessChecker,
        check: Check,
        resolved: Resolved | str,
        asked: dict[str, Any],
    ) -> None:
        self._checker = checker
        self._check = check
        self._resolved = resolved
        self._asked = asked
        self._result: CheckResult | None = None

    def result(self) -> CheckResult:
        """The answer; blocks until this check's questions are answered (or failed)."""
        if self._result is None:
            self._result = self._checker.collect(self._check, self._resolved, self._asked)
            self._asked = {}
        return self._result


def check_access(
    client: AccessClient,
    entry: str,
    *,
    namespace: str | None = None,
    mode: Literal["review", "request"] = "review",
) -> AccessDecision:
    """Answer one ``kubectl auth can-i``-style entry as ``client`` (e.g. ``"list pods -n x"``).

    The namespace defaults to the client's. Raises
    :class:`~pytest_incluster.access.grammar.GrammarError` for bad syntax,
    :class:`~pytest_incluster.client.api_discovery.UnknownResourceType` (or ``UnknownSubresource``)
    for a type the server does not serve, and the client's errors when the server cannot answer.
    ``mode="request"`` sends the real (dry-run) request; verbs without one fall back to review
    and say so in the decision's ``note``.
    """
    spec = parse_entry(entry)
    resolved = resolve(spec, client.discovery(), namespace or _client_namespace(client, None))
    subject = client.impersonated_user or ""
    if mode == "request":
        answer = probe(client, resolved, subject=subject, impersonating=bool(subject))
        if isinstance(answer, AccessDecision):
            return answer if not resolved.note else replace(answer, note=resolved.note)
        decision = ssar_review(client, resolved.request, subject=subject)
        note = "; ".join(filter(None, (resolved.note, f"{answer}; answered by review")))
        return replace(decision, note=note)
    decision = ssar_review(client, resolved.request, subject=subject)
    return replace(decision, note=resolved.note) if resolved.note else decision
