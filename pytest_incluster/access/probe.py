"""``mode: request``: ask by doing, without changing anything.

A SelfSubjectAccessReview asks the authorizer a hypothetical question; a probe sends the real
request and reads the answer. Authorization runs before admission, validation and storage, so:

* ``403`` with the authorizer's wording (``User "..." cannot list resource ...``) is *forbidden*;
* any other answer (``200``, ``404`` for the probe object that does not exist, ``409``, ``422``,
  ``400``, a ``403`` written by an admission plugin such as PodSecurity or ResourceQuota) means
  authorization passed: *allowed*, with what happened next in the note;
* ``401``, ``429``, ``5xx`` and no answer decide nothing: the check fails as an error (a 500 may
  be the authorizer itself failing, so it is never read as "allowed"). So does a ``403`` from an
  API server not known to be ready (its RBAC caches may still be empty; the client confirms
  readiness with ``/readyz`` and asks again first, see :mod:`pytest_incluster.client.readiness`).
  The minimal bodies carry the fields whose absence makes v1.37 answer 500 after authorization
  (``roleRef`` of RBAC bindings, ``target`` of bindings);
* a 403 that refuses the *impersonation* (``User "runner" cannot impersonate...``, or
  ``impersonate-on:user-info:get`` with constrained impersonation) is the runner's problem and
  an error, never the subject's "forbidden".

Nothing is persisted: writes carry ``dryRun=All`` (authorized exactly like the real request);
unnamed checks use the object name ``pytest-incluster-probe``, which does not exist, so even a
server that ignored dryRun would find nothing to act on; ``deletecollection`` also carries a label
selector that matches nothing. Requests whose side effects dryRun does not cover (``exec``,
``attach``, ``portforward``, ``token`` on a named object; ``proxy`` subresources always, as
they reach the workload behind them) are answered by review instead, as are verbs with no
request form (``bind``, ``escalate``, ``impersonate``, ``use``,
``approve``, ``sign``, ``attest``, ``proxy``, ``*``) and non-resource verbs other than GET/HEAD;
the decision's ``note`` says so.

Requests are built as plain data (:func:`build_probe`) and sent separately (:func:`send_probe`),
so the mapping is unit-tested without a server.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from pytest_incluster.access.client_protocol import HttpSender
from pytest_incluster.access.decision import AccessDecision, AccessRequest
from pytest_incluster.access.markers import AUTHZ_DENIAL
from pytest_incluster.access.resolve import Resolved
from pytest_incluster.client.api_discovery import ApiResource
from pytest_incluster.client.errors import UnverifiedDenial, clean_text, parse_error_body
from pytest_incluster.client.paths import resource_path
from pytest_incluster.errors import InclusterError

PROBE_NAME = "pytest-incluster-probe"
NEVER_MATCHING_SELECTOR = "pytest-incluster.io/probe=never-matches"
NO_REQUEST_FORM = frozenset(
    {"use", "bind", "escalate", "impersonate", "approve", "sign", "attest", "proxy", "*"}
)
# Subresources a real request may name an existing object for: reads, or writes that go through
# the registry's dryRun handling. Anything else (exec, attach, portforward, proxy, token,
# binding, ...) is only probed against the non-existent probe object.
SAFE_NAMED_SUBRESOURCES = frozenset(
    {"status", "scale", "log", "eviction", "ephemeralcontainers", "resize", "approval"}
)
# A request through a proxy subresource reaches the workload or kubelet behind it; never sent.
UNSENT_SUBRESOURCES = frozenset({"proxy"})
# Fields without which the server fails *after* authorization with a 500 (seen on v1.37):
# bindings need a target, and RBAC bindings a roleRef for the escalation check.
_REQUIRED_FIELDS: dict[tuple[str, str], dict[str, Any]] = {
    ("", "bindings"): {"target": {"apiVersion": "v1", "kind": "Node", "name": PROBE_NAME}},
    ("rbac.authorization.k8s.io", "rolebindings"): {
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": PROBE_NAME,
        }
    },
    ("rbac.authorization.k8s.io", "clusterrolebindings"): {
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": PROBE_NAME,
        }
    },
}
# Legacy ("cannot impersonate resource ...") and constrained impersonation (Kubernetes 1.35+,
# "cannot impersonate-on:user-info:get resource ...") both name the runner, not the subject.
_IMPERSONATION_DENIAL = re.compile(r'User "[^"]*" cannot impersonate\S* ')


class ProbeFailed(InclusterError):
    """The real request decided nothing (401, 429, 5xx, no answer); ``str()`` says why."""

    anchor = "access-mismatch"


@dataclass(frozen=True)
class Probe:
    """One HTTP request, as data."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    body: dict[str, Any] | None = None
    content_type: str = "application/json"

    def describe(self) -> str:
        """``GET /api/v1/namespaces/shop/pods?limit=1``."""
        query = f"?{urlencode(self.params)}" if self.params else ""
        return f"{self.method} {self.path}{query}"


def _collection(resource: ApiResource, namespace: str | None) -> str:
    return resource_path(resource, namespace=namespace, all_namespaces=True)


def _object(resource: ApiResource, request: AccessRequest, name: str) -> str:
    return resource_path(
        resource,
        namespace=request.namespace,
        name=name,
        subresource=request.subresource,
        all_namespaces=True,
    )


def _minimal_object(resource: ApiResource, request: AccessRequest, name: str) -> dict[str, Any]:
    metadata: dict[str, str] = {"name": name}
    if resource.namespaced and request.namespace:
        metadata["namespace"] = request.namespace
    extra = _REQUIRED_FIELDS.get((resource.group, resource.name), {})
    return {
        "apiVersion": resource.group_version,
        "kind": resource.kind,
        "metadata": metadata,
        **extra,
    }


def build_probe(resolved: Resolved) -> Probe | str:
    """The request that asks ``resolved`` for real, or why there is none (a sentence)."""
    request = resolved.request
    verb = request.verb
    if request.path is not None:
        if "*" in request.path:
            return f"the path {request.path} is a wildcard, which cannot be requested"
        if verb in ("get", "head"):
            return Probe(verb.upper(), request.path)
        return (
            f"verb '{verb}' on a non-resource URL could change something and dryRun does not "
            "apply to it"
        )
    resource = resolved.resource
    if resource is None:
        return f"'{request.resource}' is not a resource type one request can address"
    if verb in NO_REQUEST_FORM:
        return f"verb '{verb}' has no request form"
    sub = request.subresource
    if sub in UNSENT_SUBRESOURCES:
        return f"a request through {resource.name}/{sub} would reach the workload behind it"
    if sub and verb in ("list", "watch", "deletecollection"):
        return f"'{verb}' of a subresource has no request form"
    if sub and request.name and sub not in SAFE_NAMED_SUBRESOURCES:
        return (
            f"a real request to {resource.name}/{request.name}/{sub} could act on that object "
            "(dryRun does not cover it)"
        )
    name = request.name or PROBE_NAME
    dry_run = (("dryRun", "All"),)
    by_name = (("fieldSelector", f"metadata.name={request.name}"),) if request.name else ()
    collection = _collection(resource, request.namespace)
    if verb == "get":
        return Probe("GET", _object(resource, request, name))
    if verb == "list":
        return Probe("GET", collection, (*by_name, ("limit", "1")))
    if verb == "watch":
        return Probe("GET", collection, (*by_name, ("watch", "1"), ("timeoutSeconds", "1")))
    if verb == "create":
        if sub:
            return Probe("POST", _object(resource, request, name), dry_run, body={})
        return Probe("POST", collection, dry_run, body=_minimal_object(resource, request, name))
    if verb == "update":
        body = {} if sub else _minimal_object(resource, request, name)
        return Probe("PUT", _object(resource, request, name), dry_run, body=body)
    if verb == "patch":
        return Probe(
            "PATCH",
            _object(resource, request, name),
            dry_run,
            body={},
            content_type="application/merge-patch+json",
        )
    if verb == "delete":
        return Probe("DELETE", _object(resource, request, name), dry_run)
    if verb == "deletecollection":
        return Probe("DELETE", collection, (*dry_run, ("labelSelector", NEVER_MATCHING_SELECTOR)))
    return f"verb '{verb}' has no request form"


def _send(client: HttpSender, probe: Probe) -> tuple[int, bytes]:
    """Status and (for errors) body; a success body is never read (watches, logs stream)."""
    content = headers = None
    if probe.body is not None:
        content = json.dumps(probe.body).encode()
        headers = {"Content-Type": probe.content_type}
    try:
        with client.stream(
            probe.method, probe.path, params=probe.params, content=content, headers=headers
        ) as response:
            if response.is_success:
                return response.status_code, b""
            return response.status_code, response.read()
    except UnverifiedDenial as exc:  # a 403 from a server not known to be ready
        raise ProbeFailed(
            f"{probe.describe()} -> {exc.code}: not counted, because {exc.why}"
        ) from None
    except httpx.HTTPStatusError as exc:  # the plugin's client raises ApiError for non-2xx
        response = exc.response
        try:
            content = response.read()
        except httpx.HTTPError:
            content = b""
        return response.status_code, content
    except httpx.HTTPError as exc:
        raise ProbeFailed(f"{probe.describe()} got no answer: {exc}") from None


def interpret(
    resolved: Resolved,
    probe: Probe,
    status: int,
    body: bytes,
    *,
    subject: str = "",
    impersonating: bool = False,
) -> AccessDecision:
    """The decision a real answer implies; raises :class:`ProbeFailed` when it implies none."""

    def decided(allowed: bool, reason: str, note: str = "") -> AccessDecision:
        return AccessDecision(
            request=resolved.request,
            allowed=allowed,
            reason=reason,
            method="request",
            subject=subject,
            note=note,
        )

    sent = probe.describe()
    if status < 400:
        return decided(True, f"{sent} -> {status}")
    _, reason, message = parse_error_body(status, body)
    message = clean_text(message)
    answered = f"{sent} -> {status} {reason}".rstrip()
    if status == 403:
        if impersonating and _IMPERSONATION_DENIAL.search(message):
            raise ProbeFailed(f"the runner may not impersonate this subject: {message}")
        if AUTHZ_DENIAL.search(message):
            return decided(False, message)
        return decided(
            True,
            f"{answered}: {message}",
            "authorization passed; a later stage (admission) refused the request",
        )
    if status == 401:
        raise ProbeFailed(f"{answered}: the server did not accept the runner's credentials")
    if status == 429 or status >= 500:
        raise ProbeFailed(f"{answered}: {message} (an answer that decides nothing)")
    return decided(
        True,
        f"{answered}: {message}" if message else answered,
        f"authorization passed; the server then answered {status} {reason}".rstrip(),
    )


def probe(
    client: HttpSender, resolved: Resolved, *, subject: str = "", impersonating: bool = False
) -> AccessDecision | str:
    """Send the real request for ``resolved`` as ``client``; a str when there is no request form.

    Raises :class:`ProbeFailed` when the answer decides nothing.
    """
    built = build_probe(resolved)
    if isinstance(built, str):
        return built
    status, body = _send(client, built)
    return interpret(resolved, built, status, body, subject=subject, impersonating=impersonating)
