"""What the API server decided about a marked test's own requests.

The access summary reports, for each ``expect_*``-marked test, what the server decided, not
what the test made of the answer. A test may catch its own ``Forbidden`` (the server still
denied), or only ask ``k8s.can_i`` (a review sends no real request, so nothing was decided
about the test's access), or be refused something other than what its marker names. So the
verdict is read from the requests the test made while it ran (its call log, from the start of
its call phase) plus the error it raised, never from whether it raised.

Each request is read as the authorizer saw it, with the API server's RequestInfo rules
(``k8s.io/apiserver``, ``endpoints/request/requestinfo.go``): ``/api/v1/namespaces/NS/pods`` is
``list pods`` in ``NS``, ``GET`` with a name is ``get``, ``DELETE`` without one is
``deletecollection``, ``?watch=1`` is ``watch``, and anything outside ``/api/VERSION/...`` and
``/apis/GROUP/VERSION/...`` is a non-resource path whose verb is the method. What the answer means
follows :mod:`pytest_incluster.access.probe`: a 403 in the authorizer's words is *forbidden*, a
401 *unauthorized*, a 429, a 5xx or no answer decides nothing, and every other answer (2xx,
404, 409, 422, or a 403 from admission) means authorization *allowed* the request.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

from pytest_incluster.access.decision import NOT_ASKED
from pytest_incluster.access.markers import AUTHZ_DENIAL, Denial, ExpectSpec, denial_mismatch
from pytest_incluster.calls import ApiCall

Decision = Literal["allowed", "forbidden", "unauthorized"]
NO_ANSWER = "error"

_METHOD_VERBS = {
    "POST": "create",
    "GET": "get",
    "HEAD": "get",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}
_NAMESPACE_SUBRESOURCES = ("status", "finalize")
# Questions, not actions: creating one of these asks the authorizer (or the authenticator)
# something and changes nothing, so it says nothing about the test's own access.
_REVIEWS = frozenset(
    {
        "selfsubjectaccessreviews.authorization.k8s.io",
        "selfsubjectrulesreviews.authorization.k8s.io",
        "subjectaccessreviews.authorization.k8s.io",
        "localsubjectaccessreviews.authorization.k8s.io",
        "selfsubjectreviews.authentication.k8s.io",
        "tokenreviews.authentication.k8s.io",
    }
)


@dataclass(frozen=True)
class RequestInfo:
    """The attributes the authorizer sees; ``resource`` is written like a :class:`Denial`'s
    (``pods``, ``deployments.apps``, ``pods/log``), or is the path of a non-resource URL."""

    verb: str
    resource: str
    namespace: str  # "" at the cluster scope and for non-resource URLs


def request_info(method: str, target: str) -> RequestInfo:
    """What the API server's RequestInfo makes of ``METHOD path?query``."""
    split = urlsplit(target)
    path = split.path or "/"
    verb = method.lower()
    parts = [unquote(p) for p in path.strip("/").split("/") if p]
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return RequestInfo(verb, path, "")
    group = ""
    rest = parts[1:]
    if parts[0] == "apis":
        if len(rest) < 3:
            return RequestInfo(verb, path, "")
        group, rest = rest[0], rest[1:]
    rest = rest[1:]  # the version
    special = rest[0] in ("watch", "proxy") and len(rest) > 1
    verb = rest[0] if special else _METHOD_VERBS.get(method.upper(), "")
    if special:
        rest = rest[1:]
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 and verb != "proxy" else ""
    if not name and verb == "get":
        watch = parse_qs(split.query).get("watch", [""])[0].lower()
        verb = "watch" if watch not in ("", "false", "0") else "list"
    if not name and verb == "delete":
        verb = "deletecollection"
    text = resource + (f".{group}" if group else "") + (f"/{subresource}" if subresource else "")
    return RequestInfo(verb, text, namespace)


def server_decision(status: int | None, message: str) -> Decision | None:
    """What the authorizer decided, judging by the answer; None when it does not say."""
    if status is None or status == 429 or status >= 500:
        return None
    if status == 401:
        return "unauthorized"
    if status == 403 and AUTHZ_DENIAL.search(message):
        return "forbidden"
    return "allowed"


@dataclass(frozen=True)
class Observed:
    """One request of the test, and what the server decided about it."""

    method: str
    path: str  # with the query, as in the call log
    status: int | None
    reason: str
    message: str
    user: str | None  # the impersonated user, None for the client's own identity
    info: RequestInfo
    decision: Decision | None
    raised: bool = False  # the test ended with this request's error

    @property
    def is_non_resource(self) -> bool:
        """A non-resource URL (``/api``, ``/healthz``): its ``resource`` is the path."""
        return self.info.resource.startswith("/")

    @property
    def is_review(self) -> bool:
        return self.info.verb == "create" and self.info.resource in _REVIEWS

    def describe(self) -> str:
        answer = "no response" if self.status is None else f"{self.status} {self.reason}".strip()
        return f"{self.method} {self.path.split('?')[0]} -> {answer}"


def observe_call(call: ApiCall) -> Observed:
    """A call-log entry as an observation; a 403's own message names what was refused."""
    info = request_info(call.method, call.path)
    # A "no" the client did not count (a server not yet confirmed ready) decided nothing.
    decision = server_decision(call.status, call.message) if call.counted else None
    denial = Denial.parse(call.message) if decision == "forbidden" else None
    if denial is not None:
        info = RequestInfo(denial.verb, denial.resource, denial.namespace)
    return Observed(
        method=call.method,
        path=call.path,
        status=call.status,
        reason=call.reason,
        message=call.message,
        user=call.impersonated_user,
        info=info,
        decision=decision,
    )


def observe_error(exc: BaseException) -> Observed | None:
    """The request behind an API error the test raised (None for any other exception)."""
    from pytest_incluster.client.errors import ApiError, clean_text

    if not isinstance(exc, ApiError):
        return None
    call = ApiCall(
        method=exc.method,
        path=exc.path,
        status=exc.code,
        reason=exc.reason,
        message=clean_text(exc.server_message or ""),
        impersonated_user=exc.request.headers.get("Impersonate-User"),
    )
    return replace(observe_call(call), raised=True)


def observations(calls: Iterable[ApiCall], raised: BaseException | None) -> list[Observed]:
    """The test's requests in order; the one whose error the test raised is marked so."""
    seen = [observe_call(call) for call in calls]
    error = observe_error(raised) if raised is not None else None
    if error is None:
        return seen
    key = (error.method, error.path, error.status, error.message)
    for index in range(len(seen) - 1, -1, -1):
        o = seen[index]
        if (o.method, o.path, o.status, o.message) == key:
            seen[index] = replace(o, raised=True)
            return seen
    return [*seen, error]  # an error the call log never saw (built by hand)


def _matches(spec: ExpectSpec, o: Observed) -> bool:
    """Whether ``o`` is a request the marker's filters speak about."""
    if o.is_review and spec.resource != o.info.resource.split("/")[0]:
        return False
    as_denial = Denial("", o.info.verb, o.info.resource, o.info.namespace)
    return not denial_mismatch(spec, as_denial)


@dataclass(frozen=True)
class ServerVerdict:
    """``actual`` for the access summary, the request that decided it, and why."""

    actual: str  # "allowed", "forbidden", "unauthorized", "not asked" or "error"
    decisive: Observed | None
    reason: str


def _listing(found: Sequence[Observed], limit: int = 3) -> str:
    shown = list(dict.fromkeys(o.describe() for o in found))
    more = f"; and {len(shown) - limit} more" if len(shown) > limit else ""
    return "; ".join(shown[:limit]) + more


_PRECEDENCE: dict[str, tuple[Decision, ...]] = {
    # The expected kind of denial first: a test passes on it, so it decides the row; a request
    # the server allowed counts only when nothing matching was denied.
    "forbidden": ("forbidden", "unauthorized", "allowed"),
    "unauthorized": ("unauthorized", "forbidden", "allowed"),
    "allowed": ("forbidden", "unauthorized", "allowed"),
}


def server_verdict(spec: ExpectSpec, seen: Sequence[Observed]) -> ServerVerdict:
    """What the server decided about the requests ``spec`` speaks about."""
    relevant = [o for o in seen if _matches(spec, o)]
    for decision in _PRECEDENCE[spec.kind]:
        # Resource requests first: the client's own discovery (GET /api, /apis/GROUP/VERSION)
        # comes before the request a test makes with create/apply/get_object, and would
        # otherwise name the row "get /api" at the cluster scope.
        found = sorted(
            (o for o in relevant if o.decision == decision), key=lambda o: o.is_non_resource
        )
        if not found:
            continue
        decisive = next((o for o in found if o.raised), found[0])
        if decision == "allowed":
            return ServerVerdict(decision, decisive, _listing(found))
        reason = decisive.message or decisive.describe()
        if not decisive.raised:
            reason += " (the test caught this error itself)"
        return ServerVerdict(decision, decisive, reason)
    undecided = [o for o in relevant if o.decision is None]
    if undecided:
        return ServerVerdict(NO_ANSWER, None, f"no decision: {_listing(undecided)}")
    return ServerVerdict(NOT_ASKED, None, _not_asked_reason(spec, seen))


def _not_asked_reason(spec: ExpectSpec, seen: Sequence[Observed]) -> str:
    if not seen:
        return "the test made no API requests"
    if all(o.is_review for o in seen):
        return f"only access reviews, which make no real request: {_listing(seen)}"
    other_denial = next((o for o in seen if o.decision == "forbidden"), None)
    if other_denial is not None:
        return f"the server refused something else: {other_denial.message}"
    return f"no request matched the marker; the test's requests: {_listing(seen)}"
