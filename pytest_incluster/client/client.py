"""``K8sClient``: an ``httpx.Client`` for one API server that speaks Kubernetes errors.

It is a plain httpx client (``k8s.get("/api/v1/namespaces")`` works) with the server as base
URL, TLS verified against the cluster CA, bearer auth that follows token rotation, bounded
retries, and every attempt recorded in the call log. Any non-2xx answer raises a typed
:class:`~pytest_incluster.client.errors.ApiError` (``Forbidden``, ``NotFound``, ...) from
``send``, so every verb method raises; a connection failure raises ``ApiUnreachable`` and a
certificate problem ``TLSError``, each a one-line message.

The helpers on top (``whoami``, ``can_i``, ``impersonate``, ``create``/``apply``/
``delete_object`` with tracking, ``wait_for_access``) are what access tests need and are thin:
requests are built by small pure functions (``paths``, ``access.review``) and sent through the
same client.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from copy import deepcopy
from typing import TYPE_CHECKING, Any, Literal

import httpx

from pytest_incluster.access import review as review_module
from pytest_incluster.access.decision import AccessDecision, AccessRequest
from pytest_incluster.calls import CallLog
from pytest_incluster.client.breaker import Breaker, Refusal
from pytest_incluster.client.connect import auth_for, transport_for
from pytest_incluster.client.errors import (
    AccessWaitTimeout,
    ApiError,
    ApiUnreachable,
    CleanupError,
    ProxyRefused,
    TLSError,
    UnverifiedDenial,
    error_from_response,
    json_body,
)
from pytest_incluster.client.identity import Identity
from pytest_incluster.client.identity import whoami as fetch_identity
from pytest_incluster.client.impersonation import Impersonation, impersonated_headers
from pytest_incluster.client.paths import ResourceLike, resource_path
from pytest_incluster.client.readiness import unverified_reason
from pytest_incluster.client.tracking import (
    DEFAULT_WAIT_S,
    CleanupResult,
    TrackedObject,
    Tracker,
    TrackingState,
    delete_objects,
    delete_options,
)
from pytest_incluster.client.transport import (
    TARGET_EXTENSION,
    RetryPolicy,
    RetryTransport,
    is_tls_failure,
)
from pytest_incluster.config.model import ClusterConfig, shown_proxy
from pytest_incluster.version import __version__

if TYPE_CHECKING:
    from pytest_incluster.admission.decision import AdmissionDecision
    from pytest_incluster.client.api_discovery import Discovery
    from pytest_incluster.privilege.who_can import Allowed

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
APPLY_PATCH = "application/apply-patch+yaml"


def _budget(timeout: httpx.Timeout | float) -> float:
    """Seconds the retries of one request may take: the read timeout (30 s if unbounded)."""
    if isinstance(timeout, int | float):
        return float(timeout)
    return float(timeout.read) if timeout.read is not None else 30.0


def _proxy_for(server: str) -> str | None:
    """The environment's proxy for ``server`` (only with ``trust_env=True``), honouring NO_PROXY."""
    url = httpx.URL(server)
    if urllib.request.proxy_bypass(url.host):
        return None
    return urllib.request.getproxies().get(url.scheme)


class _Shared:
    """What a client and the clients made by ``impersonate()`` have in common."""

    def __init__(
        self,
        config: ClusterConfig,
        transport: RetryTransport,
        auth: httpx.Auth | None,
        timeout: httpx.Timeout | float,
        call_log: CallLog | None,
        breaker: Breaker,
    ) -> None:
        self.config = config
        self.transport = transport
        self.auth = auth
        self.timeout = timeout
        self.call_log = call_log
        self.breaker = breaker
        self.tracking = TrackingState()
        self.discovery: Discovery | None = None
        self.root: K8sClient | None = None  # the client that created this family
        self.urls: dict[str, httpx.URL] = {}  # path -> the absolute URL httpx made of it


# Distinct request paths whose absolute URL is remembered (review, discovery and probe paths
# repeat; object paths with generated names would only fill the table).
_URL_CACHE_SIZE = 512


class _ServerCookies(httpx.Cookies):
    """httpx's cookie jar, consulted only for answers that set a cookie.

    httpx hands every response to ``http.cookiejar``, about a tenth of a review's CPU time in
    the client; API servers set no cookies, so that work only competes for the GIL with the
    pytest loop. An answer with ``Set-Cookie`` (a load balancer's affinity cookie) is still
    stored and sent back as before.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            super().extract_cookies(response)


class _Borrowed(httpx.BaseTransport):
    """The family's transport, lent to an impersonating client; closing the child keeps it."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.inner.handle_request(request)

    def close(self) -> None:
        pass


def _target(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The request extension that names the object in its call-log entry (``Pod/web``)."""
    meta = obj.get("metadata") or {}
    name = meta.get("name") or meta.get("generateName") or "(unnamed)"
    return {TARGET_EXTENSION: f"{obj.get('kind')}/{name}"}


def _owner(call_log: CallLog | None) -> str | None:
    """Who owns an object created now: a running wider-scoped fixture, else the running test."""
    if call_log is None:
        return None
    return call_log.current_owner or call_log.current_test


class K8sClient(httpx.Client):
    """An httpx client for the configured API server; see the module docstring."""

    def __init__(
        self,
        config: ClusterConfig,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retries: int = 3,
        call_log: CallLog | None = None,
        on_secret: Callable[[str], None] | None = None,
        impersonate: Impersonation | None = None,
        trust_env: bool = False,
        max_concurrency: int = 16,
        unreachable_after: int = 0,
        _shared: _Shared | None = None,
    ) -> None:
        if _shared is None:
            inner = transport_for(
                config,
                max_connections=max_concurrency,
                proxy=_proxy_for(config.server) if trust_env else None,
            )
            transport = RetryTransport(
                inner,
                policy=RetryPolicy(retries=max(0, retries), budget=_budget(timeout)),
                call_log=call_log,
                readyz_url=config.server.rstrip("/") + "/readyz",
            )
            _shared = _Shared(
                config,
                transport,
                auth_for(config, on_secret),
                timeout,
                call_log,
                Breaker(max(0, unreachable_after)),
            )
            own_transport: httpx.BaseTransport = transport
        else:
            own_transport = _Borrowed(_shared.transport)
        if _shared.root is None:
            _shared.root = self
        self._shared = _shared
        self._impersonation: Impersonation | None = None
        # Proxies come only from _proxy_for above; httpx's own environment handling would add
        # transports that bypass retries and the call log, and SSL_CERT_FILE could swap trust.
        super().__init__(
            base_url=config.server,
            auth=_shared.auth,
            timeout=_shared.timeout,
            transport=own_transport,
            trust_env=False,
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": f"pytest-incluster/{__version__}"},
        )
        self.cookies = httpx.Cookies()  # through the property below: a _ServerCookies
        if impersonate is not None:
            self._apply_impersonation(impersonate)

    @property
    def cookies(self) -> httpx.Cookies:
        """The client's cookies (httpx's property; see :class:`_ServerCookies`)."""
        return self._server_cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        self._server_cookies = _ServerCookies(cookies)

    def build_request(
        self,
        method: str,
        url: httpx.URL | str,
        *,
        content: Any = None,
        data: Any = None,
        files: Any = None,
        json: Any = None,
        params: Any = None,
        headers: Any = None,
        cookies: Any = None,
        timeout: Any = httpx.USE_CLIENT_DEFAULT,
        extensions: Any = None,
    ) -> httpx.Request:
        """httpx's ``build_request``, with the absolute URL of a repeated path remembered.

        Joining a path to the base URL parses both (about a sixth of a review's client CPU);
        the result for a path string is always the same, so it is made once by httpx itself
        and reused (up to :data:`_URL_CACHE_SIZE` paths).
        """
        if isinstance(url, str):
            urls = self._shared.urls
            found = urls.get(url)
            if found is None:
                found = super().build_request("GET", url).url
                if len(urls) < _URL_CACHE_SIZE:
                    urls[url] = found
            url = found
        return super().build_request(
            method,
            url,
            content=content,
            data=data,
            files=files,
            json=json,
            params=params,
            headers=headers,
            cookies=cookies,
            timeout=timeout,
            extensions=extensions,
        )

    # -- identity of this client ---------------------------------------------------------------

    @property
    def config(self) -> ClusterConfig:
        return self._shared.config

    @property
    def namespace(self) -> str:
        """The default namespace (pod namespace or kubeconfig context namespace)."""
        return self._shared.config.namespace

    @property
    def impersonation(self) -> Impersonation | None:
        return self._impersonation

    @property
    def impersonated_user(self) -> str | None:
        return self._impersonation.user if self._impersonation else None

    def __repr__(self) -> str:
        who = f", impersonating={self._impersonation.user!r}" if self._impersonation else ""
        return f"K8sClient(server={self.config.server!r}, namespace={self.namespace!r}{who})"

    def _apply_impersonation(self, impersonation: Impersonation | None) -> None:
        self._impersonation = impersonation
        self.headers = impersonated_headers(self.headers.multi_items(), impersonation)

    def impersonate(
        self, user: str, groups: Iterable[str] = (), uid: str | None = None
    ) -> K8sClient:
        """A client acting as ``user``; same server, credentials, call log and object tracking.

        ``groups`` are sent as given; the server adds ``system:authenticated`` itself (see
        ``impersonation``), so the runner needs ``impersonate`` only on ``user`` and ``groups``.
        The new client shares this one's connection pool; closing it is optional and leaves
        this one open.
        """
        return K8sClient(
            self.config, impersonate=Impersonation.of(user, groups, uid), _shared=self._shared
        )

    # -- sending -------------------------------------------------------------------------------

    def send(
        self,
        request: httpx.Request,
        *,
        stream: bool = False,
        auth: Any = httpx.USE_CLIENT_DEFAULT,
        follow_redirects: Any = httpx.USE_CLIENT_DEFAULT,
    ) -> httpx.Response:
        """Send, then raise ``ApiError`` subclasses for non-2xx, ``UnverifiedDenial`` for a denial
        from a server not known to be ready, and ``ApiUnreachable``/``TLSError`` for connection
        failures (``from None``: httpx's chained errors can carry headers).

        With ``unreachable_after`` N, after N requests in a row got no answer the request is not
        sent and ``ApiUnreachable`` is raised at once (see :mod:`.breaker`)."""
        breaker = self._shared.breaker
        ticket = breaker.admit()
        if isinstance(ticket, Refusal):
            raise ApiUnreachable(
                self.config.server, ticket.reason, request=request, note=ticket.note
            )
        try:
            response = super().send(
                request, stream=stream, auth=auth, follow_redirects=follow_redirects
            )
        except httpx.TransportError as exc:
            error = exc if isinstance(exc, ApiUnreachable) else self._unreachable(request, exc)
            if isinstance(error, TLSError):
                breaker.answered(ticket)  # it presented a certificate: the server is there
            else:
                breaker.unreachable(ticket, error.reason)
            raise error from None
        except BaseException:
            breaker.abandoned(ticket)
            raise
        breaker.answered(ticket)
        why = unverified_reason(response)
        if response.status_code >= 400 or why:
            try:
                response.read()
            finally:
                response.close()
            if why:
                raise UnverifiedDenial(response, why)
            raise error_from_response(response)
        return response

    def _unreachable(self, request: httpx.Request, exc: httpx.TransportError) -> ApiUnreachable:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if is_tls_failure(exc):
            ca = str(self.config.ca_file) if self.config.ca_file else "(system trust store)"
            return TLSError(
                self.config.server,
                str(exc),
                ca_file=ca,
                host=self.config.tls_server_name or request.url.host,
                request=request,
            )
        proxy = self.config.proxy_url
        if proxy is not None and isinstance(exc, httpx.ProxyError | httpx.ConnectError):
            return ProxyRefused(
                self.config.server,
                reason,
                proxy=shown_proxy(proxy),
                source=self.config.sources.get("proxy", self.config.source),
                request=request,
            )
        return ApiUnreachable(self.config.server, reason, request=request)

    def _send_as(
        self, method: str, path: str, impersonation: Impersonation | None, body: Any
    ) -> httpx.Response:
        """Send as a given identity regardless of this client's current impersonation."""
        request = self.build_request(method, path, json=body)
        request.headers = httpx.Headers(
            impersonated_headers(request.headers.multi_items(), impersonation)
        )
        return self.send(request)

    # -- questions about identity and access ---------------------------------------------------

    def server_version(self) -> str:
        """``gitVersion`` from ``/version``, e.g. ``v1.37.2``."""
        return str(json_body(self.get("/version")).get("gitVersion", "unknown"))

    def whoami(self) -> Identity:
        """Who the server says this client is (SelfSubjectReview; honours impersonation)."""
        return fetch_identity(self)

    def can_i(
        self,
        verb: str,
        resource: str,
        *,
        group: str = "",
        namespace: str | None = None,
        name: str | None = None,
        subresource: str | None = None,
        version: str = "",
    ) -> AccessDecision:
        """May this client ``verb`` ``resource``? Asked with SelfSubjectAccessReview.

        ``namespace=None`` means this client's namespace (like ``kubectl auth can-i``), except
        for resource types discovery says are cluster-scoped (``nodes``): asking about those "in
        a namespace" would let a RoleBinding there answer yes where the real request, which has
        no namespace, is denied. Pass ``""`` for all namespaces. ``"pods/exec"`` and
        ``"deployments.apps"`` are split into resource, subresource and group.
        """
        if "/" in resource and subresource is None:
            resource, subresource = resource.split("/", 1)
        if "." in resource and not group:
            resource, group = resource.split(".", 1)
        if namespace is None:
            namespace = "" if self._cluster_scoped(resource, group) else self.namespace
        request = AccessRequest(
            verb=verb,
            resource=resource,
            group=group,
            version=version,
            namespace=namespace or None,
            name=name or None,
            subresource=subresource or None,
        )
        return self.review(request)

    def _cluster_scoped(self, resource: str, group: str) -> bool:
        """True only when discovery knows ``resource`` and says it is cluster-scoped."""
        from pytest_incluster.client.api_discovery import DiscoveryError, UnknownResourceType

        try:
            found = self.discovery().resolve_type(f"{resource}.{group}" if group else resource)
        except (DiscoveryError, UnknownResourceType, ApiError, ApiUnreachable):
            return False
        return not found.namespaced

    def can_i_path(self, verb: str, path: str) -> AccessDecision:
        """May this client ``verb`` the non-resource URL ``path`` (e.g. ``get /metrics``)?"""
        return self.review(AccessRequest(verb=verb, path=path))

    def review(self, request: AccessRequest) -> AccessDecision:
        """The server's SelfSubjectAccessReview answer for ``request``, as this client."""
        return review_module.review(self, request, subject=self.impersonated_user or "")

    def check_access(
        self,
        entry: str,
        *,
        namespace: str | None = None,
        mode: Literal["review", "request"] = "review",
    ) -> AccessDecision:
        """Check one access-matrix entry such as ``"list pods -n default"``.

        Delegates to :func:`pytest_incluster.access.check.check_access`: the resource type is
        resolved with discovery (an unknown type is an error, not a "yes"), and
        ``mode="request"`` sends the real request with ``dryRun=All`` instead of a review.
        """
        from pytest_incluster.access.check import check_access

        return check_access(self, entry, namespace=namespace, mode=mode)

    def who_can(
        self,
        verb: str,
        resource: str,
        namespace: str | None = None,
        *,
        name: str | None = None,
        subresource: str | None = None,
    ) -> list[Allowed]:
        """The subjects bound by any RoleBinding or ClusterRoleBinding whom the server allows
        ``verb`` on ``resource`` (a type as kubectl reads it, or a ``/url``) in ``namespace``
        (None: the cluster scope), each decided by a SubjectAccessReview; ``group:system:masters``
        is always among them. Needs ``list`` on the bindings and ``create`` on
        subjectaccessreviews (:class:`~pytest_incluster.privilege.who_can.WhoCanForbidden`
        otherwise). Subjects only a webhook authorizer allows cannot be seen."""
        from pytest_incluster.privilege.who_can import who_can_ask

        return who_can_ask(self, verb, resource, namespace, name=name, subresource=subresource)

    def admission_check(
        self,
        obj: Mapping[str, Any],
        *,
        namespace: str | None = None,
        operation: Literal["create", "update", "apply"] = "create",
    ) -> AdmissionDecision:
        """Would the cluster admit ``obj``? Sent as a server-side dry run (``dryRun=All``):
        ``create`` (POST), or ``update`` (PUT) / ``apply`` (server-side apply) of an existing
        object. Nothing is stored.

        Returns an ``AdmissionDecision`` (truthy when admitted) with ``stage`` (authorization,
        admission, quota or validation), ``by`` (``PodSecurity``, the policy and binding, the
        webhook, the quota), the server's message and its ``Warning`` headers. A refusal is
        returned, not raised; a 404 (no such namespace), a 409 or a server error still raise.
        """
        from pytest_incluster.admission.check import admission_check

        return admission_check(self, obj, namespace=namespace, operation=operation)

    def wait_for_access(
        self,
        check: str | AccessRequest,
        *,
        allowed: bool = True,
        timeout: float = 30.0,
        interval: float = 0.5,
    ) -> AccessDecision:
        """Poll until the decision is ``allowed`` (or forbidden with ``allowed=False``).

        RBAC changes reach the authorizer's cache within moments, not instantly; this is the
        bounded wait a test needs after granting or revoking. Raises ``AccessWaitTimeout`` (an
        ``AssertionError``) with the last decision and reason.
        """
        deadline = time.monotonic() + timeout
        while True:
            decision = self.check_access(check) if isinstance(check, str) else self.review(check)
            if decision.allowed == allowed:
                return decision
            if time.monotonic() + interval > deadline:
                wanted = "allowed" if allowed else "forbidden"
                who = decision.subject or "the runner"
                reason = decision.reason or decision.evaluation_error or "no reason given"
                raise AccessWaitTimeout(
                    f"After {timeout:g}s, {decision.request.describe()!r} is still "
                    f"{decision.verdict} for {who} (waited for {wanted}); last reason: {reason}",
                    decision,
                )
            time.sleep(interval)

    # -- objects -------------------------------------------------------------------------------

    def discovery(self) -> Discovery:
        """The API discovery shared by this client and its impersonating copies (fetched once,
        with the runner's credentials); access checks and create/apply/delete use it."""
        if self._shared.discovery is None:
            from pytest_incluster.client.api_discovery import Discovery

            self._shared.discovery = Discovery(self._shared.root or self)
        return self._shared.discovery

    def _resource(self, api_version: str, kind: str) -> ResourceLike:
        resource: ResourceLike = self.discovery().for_kind(api_version, kind)
        return resource

    def _object_namespace(
        self, resource: ResourceLike, obj: Mapping[str, Any], namespace: str | None
    ) -> str | None:
        if not resource.namespaced:
            return None
        meta = obj.get("metadata") or {}
        return namespace or meta.get("namespace") or self.namespace

    @staticmethod
    def _identify(obj: Mapping[str, Any], *, need_name: bool) -> tuple[str, str, str]:
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        name = (obj.get("metadata") or {}).get("name") or ""
        if not isinstance(api_version, str) or not isinstance(kind, str) or not api_version:
            raise ValueError("the object needs 'apiVersion' and 'kind' strings")
        if need_name and not name:
            raise ValueError(f"the {kind} needs metadata.name for server-side apply")
        return api_version, kind, str(name)

    @staticmethod
    def _query(dry_run: bool, **extra: str) -> dict[str, str]:
        params = dict(extra)
        if dry_run:
            params["dryRun"] = "All"
        return params

    def _track(self, created: Mapping[str, Any], path: str, api_version: str, kind: str) -> None:
        meta = created.get("metadata") or {}
        self._shared.tracking.add(
            api_version=api_version,
            kind=kind,
            name=str(meta.get("name", "")),
            namespace=meta.get("namespace"),
            uid=meta.get("uid"),
            path=path,
            impersonation=self._impersonation,
            test_id=_owner(self._shared.call_log),
        )

    def create(
        self, obj: Mapping[str, Any], *, namespace: str | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        """POST ``obj``; the server's object is returned and (unless dry-run) tracked.

        The namespace is ``namespace``, else the object's, else this client's. ``dry_run``
        sends ``dryRun=All``: authorized and admitted exactly like the real request, stored
        nowhere.
        """
        api_version, kind, _ = self._identify(obj, need_name=False)
        resource = self._resource(api_version, kind)
        ns = self._object_namespace(resource, obj, namespace)
        body = dict(obj)
        if ns is not None:
            body["metadata"] = {**(obj.get("metadata") or {}), "namespace": ns}
        response = self.post(
            resource_path(resource, namespace=ns),
            json=body,
            params=self._query(dry_run),
            extensions=_target(obj),
        )
        created: dict[str, Any] = json_body(response)
        if not dry_run:
            name = str((created.get("metadata") or {}).get("name", ""))
            self._track(
                created, resource_path(resource, namespace=ns, name=name), api_version, kind
            )
        return created

    def apply(
        self,
        obj: Mapping[str, Any],
        *,
        namespace: str | None = None,
        dry_run: bool = False,
        field_manager: str = "pytest-incluster",
        force: bool = True,
    ) -> dict[str, Any]:
        """Server-side apply ``obj``; tracked only when this call created it (201 Created)."""
        api_version, kind, name = self._identify(obj, need_name=True)
        resource = self._resource(api_version, kind)
        ns = self._object_namespace(resource, obj, namespace)
        body = deepcopy(dict(obj))
        if ns is not None:
            body["metadata"] = {**(obj.get("metadata") or {}), "namespace": ns}
        path = resource_path(resource, namespace=ns, name=name)
        params = self._query(dry_run, fieldManager=field_manager)
        if force:
            params["force"] = "true"
        response = self.patch(
            path,
            content=json.dumps(body).encode(),
            headers={"Content-Type": APPLY_PATCH},
            params=params,
            extensions=_target(obj),
        )
        applied: dict[str, Any] = json_body(response)
        if response.status_code == 201 and not dry_run:
            self._track(applied, path, api_version, kind)
        return applied

    def get_object(
        self, api_version: str, kind: str, name: str, *, namespace: str | None = None
    ) -> dict[str, Any]:
        """GET one object; ``namespace`` defaults to this client's for namespaced kinds."""
        resource = self._resource(api_version, kind)
        ns = (namespace or self.namespace) if resource.namespaced else None
        result: dict[str, Any] = json_body(
            self.get(resource_path(resource, namespace=ns, name=name))
        )
        return result

    def delete_object(
        self,
        api_version: str,
        kind: str,
        name: str,
        *,
        namespace: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """DELETE one object (background propagation); returns the server's answer.

        Named ``delete_object`` (like ``get_object``), not ``delete``: ``K8sClient`` is an
        ``httpx.Client``, and ``k8s.delete(url, ...)`` is httpx's own method, which raises the
        same typed errors as every other request of this client.
        """
        resource = self._resource(api_version, kind)
        ns = (namespace or self.namespace) if resource.namespaced else None
        # With a body the server reads DeleteOptions from it and ignores the query, so dryRun
        # must be in the body; the query copy only makes logs and errors show it.
        response = self.request(
            "DELETE",
            resource_path(resource, namespace=ns, name=name),
            params=self._query(dry_run),
            json=delete_options(dry_run=dry_run),
        )
        result: dict[str, Any] = json_body(response)
        return result

    # -- cleanup of what tests created ---------------------------------------------------------

    def tracked_objects(self, test_id: str | None = None) -> list[TrackedObject]:
        """Objects created and not yet cleaned up (of one test, or all)."""
        return self._shared.tracking.snapshot(test_id=test_id)

    def begin_tracking(self) -> Tracker:
        """Start a scope; ``end_tracking(tracker)`` deletes what was created after this call."""
        return Tracker(self._shared.tracking)

    def end_tracking(self, tracker: Tracker, *, wait: float = DEFAULT_WAIT_S) -> CleanupResult:
        """Delete the scope's objects (never raises; see ``CleanupResult.failed``)."""
        tracker.result = self._cleanup(self._shared.tracking.take(since=tracker.start), wait)
        return tracker.result

    @contextmanager
    def tracking(self, *, wait: float = DEFAULT_WAIT_S) -> Iterator[Tracker]:
        """``with k8s.tracking() as t:`` deletes objects created inside, even on failure.

        Raises ``CleanupError`` when something could not be deleted, unless the block is
        already raising (the original error matters more; the failure is logged).
        """
        tracker = self.begin_tracking()
        try:
            yield tracker
        finally:
            result = self.end_tracking(tracker, wait=wait)
        if not result.ok:
            raise CleanupError(result.describe())

    def delete_tracked(
        self, test_id: str | None = None, *, wait: float = DEFAULT_WAIT_S
    ) -> CleanupResult:
        """Delete tracked objects of ``test_id`` (all when None), e.g. at teardown or interrupt."""
        return self._cleanup(self._shared.tracking.take(test_id=test_id), wait)

    def _cleanup(self, objects: list[TrackedObject], wait: float) -> CleanupResult:
        if not objects:
            return CleanupResult()
        return delete_objects(self._send_as, objects, wait=wait)


__all__ = ["DEFAULT_TIMEOUT", "ApiError", "K8sClient"]
