"""A fault-injecting TLS proxy on loopback, in front of the real kube-apiserver.

THIS IS THE ONLY NON-REAL PART OF THE RELIABILITY TESTS. Everything else they do talks to a real
kube-apiserver; this proxy exists for the faults a real server cannot be made to produce on
demand: answering the next K matching requests with ``429 Too Many Requests`` + ``Retry-After``
or ``503``, resetting the connection after reading a request, sending a body that is not JSON or
is cut short, sending a crafted ``Status`` with hostile text, never answering, and presenting a
serving certificate that is expired, for the wrong host or from an unknown CA.

How it works: it listens on ``127.0.0.1`` and terminates TLS with a certificate for the IP
``127.0.0.1`` signed by a CA generated for this proxy (:attr:`FaultProxy.ca_file` is what a
client must trust). Every request that no scripted :class:`Fault` matches (nor the optional
:attr:`FaultProxy.chaos` function, which picks faults at random for a storm) is forwarded,
headers (the bearer token, ``Impersonate-*``) and body unchanged, to the real API server over TLS
verified with the control plane's CA, and the real answer is sent back. Responses are buffered
(watches in tests use ``timeoutSeconds``), so this is no general-purpose proxy.

By default requests share a pool of upstream connections (an HTTP proxy). With
``per_connection_upstream=True`` it behaves like a TCP hop instead, as the ``kubernetes``
Service does: each client connection gets one upstream connection of its own, and when that one
is gone (kube-apiserver restarted) the client connection is closed, never silently re-routed to
a new server process. The chaos soak needs that: the plugin tells which server process answered
by the connection it used.

It also measures what the reliability tests need to see from outside the client: every request
it read (:attr:`FaultProxy.seen`), the statuses the real server gave (:attr:`upstream_statuses`),
the most requests it was handling at the same moment (:attr:`max_in_flight`), and TLS handshakes
that clients aborted (:attr:`handshake_failures`).
"""

from __future__ import annotations

import contextlib
import datetime
import http.client
import ipaddress
import select
import socket
import socketserver
import ssl
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pytest_incluster.local.pki import new_ca

# Hop-by-hop and framing headers: recomputed (or meaningless) on the other side of the proxy.
_DROP_REQUEST = {
    "host",
    "connection",
    "keep-alive",
    "content-length",
    "transfer-encoding",
    "accept-encoding",
    "proxy-connection",
    "te",
    "upgrade",
}
_DROP_RESPONSE = {
    "connection",
    "keep-alive",
    "content-length",
    "transfer-encoding",
    "content-encoding",
}


# -- certificates ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertAuthority:
    """A CA key and certificate, able to sign serving certificates."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def generate(cls, name: str = "reliability fault-proxy CA") -> CertAuthority:
        return cls(*new_ca(name))

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def write(self, path: Path) -> Path:
        path.write_bytes(self.pem())
        return path

    def issue(
        self,
        hosts: Sequence[str] = ("127.0.0.1",),
        *,
        not_before: datetime.datetime | None = None,
        not_after: datetime.datetime | None = None,
    ) -> tuple[bytes, bytes]:
        """(certificate PEM, key PEM) of a serving certificate for ``hosts`` (IPs or names)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - datetime.timedelta(hours=1))
            .not_valid_after(not_after or now + datetime.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
            .sign(self.key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return cert.public_bytes(serialization.Encoding.PEM), key_pem


def upstream_context(ca_file: Path) -> ssl.SSLContext:
    """Trust the real API server's CA as kubectl (and the plugin) do: without Python 3.13's
    strict X.509 profile checks, which the local control plane's serving certificate (no
    authorityKeyIdentifier, like many Go-made ones) does not pass."""
    context = ssl.create_default_context(cafile=str(ca_file))
    context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    return context


# -- scripted faults ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Respond:
    """Answer with this status, headers and body instead of forwarding.

    ``declared_length`` larger than ``len(body)`` sends that Content-Length and then closes the
    connection mid-body (a response cut short on the wire).
    """

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)
    declared_length: int | None = None


@dataclass(frozen=True)
class Reset:
    """Read the request, then reset the TCP connection (RST) without answering."""


@dataclass(frozen=True)
class Hang:
    """Read the request and answer nothing for ``seconds``, then close the connection."""

    seconds: float


Action = Respond | Reset | Hang


@dataclass
class Fault:
    """Apply ``action`` to the next ``times`` requests whose method and path match.

    ``path`` matches as a substring of the request target (path plus query); ``method`` None
    matches every method.
    """

    action: Action
    path: str = ""
    method: str | None = None
    times: int = 1
    used: int = 0

    def matches(self, method: str, target: str) -> bool:
        return (
            self.used < self.times
            and (self.method is None or self.method == method)
            and self.path in target
        )


def status_body(code: int, reason: str, message: str) -> bytes:
    """A ``metav1.Status`` failure body, as the API server writes it."""
    import json

    return json.dumps(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        }
    ).encode()


def throttle(retry_after: int | None = 1) -> Respond:
    """A 429 like API Priority and Fairness sends it (Retry-After in whole seconds)."""
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)
    if retry_after is not None:
        headers += (("Retry-After", str(retry_after)),)
    return Respond(
        429,
        status_body(429, "TooManyRequests", "Too many requests, please try again later."),
        headers,
    )


def unavailable() -> Respond:
    """A 503 with a Status body and no Retry-After."""
    return Respond(
        503,
        status_body(
            503, "ServiceUnavailable", "the server is currently unable to handle the request"
        ),
    )


# -- the proxy ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """One request the proxy read, and what it did with it."""

    method: str
    target: str
    outcome: str  # "forwarded <status>", "respond <status>", "reset", "hang", "upstream error",
    # and with per_connection_upstream "upstream down|gone|lost" (the client connection reset)
    authorization: bool  # whether it carried an Authorization header


@dataclass
class _Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    max_in_flight: int = 0
    seen: list[Seen] = field(default_factory=list)
    received: list[tuple[str, str]] = field(default_factory=list)
    upstream_statuses: Counter[int] = field(default_factory=Counter)
    handshake_failures: int = 0


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, proxy: FaultProxy, context: ssl.SSLContext) -> None:
        self.proxy = proxy
        self.context = context
        self.clients: set[socket.socket] = set()  # open client connections (drop_connections)
        super().__init__(("127.0.0.1", 0), _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(30)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            with self.proxy.stats.lock:
                self.proxy.stats.handshake_failures += 1
            return
        with self.proxy.stats.lock:
            self.clients.add(tls)
        try:
            tls.settimeout(None)
            _Handler(tls, client_address, self)
        except (OSError, ValueError):
            pass  # the client hung up, or a Reset closed the socket under the handler
        finally:
            with self.proxy.stats.lock:
                self.clients.discard(tls)
            with contextlib.suppress(OSError):
                tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that went away is not the proxy's problem to print


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    upstream: http.client.HTTPSConnection | None = None  # per_connection_upstream only

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def finish(self) -> None:
        if self.upstream is not None:
            self.upstream.close()
        super().finish()

    def _body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is not None:
            return self.rfile.read(int(length))
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return b""

    def _serve(self) -> None:
        proxy = self.server.proxy
        stats = proxy.stats
        body = self._body()
        method, target = self.command, self.path
        authorization = "Authorization" in self.headers
        with stats.lock:
            stats.received.append((method, target))
            stats.in_flight += 1
            stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
            fault = next((f for f in proxy.faults if f.matches(method, target)), None)
            if fault is not None:
                fault.used += 1
        action = fault.action if fault is not None else None
        if action is None and proxy.chaos is not None:
            action = proxy.chaos(method, target)
        try:
            if action is None:
                outcome = self._forward(method, target, body)
            else:
                outcome = self._inject(action)
        finally:
            with stats.lock:
                stats.in_flight -= 1
        with stats.lock:
            stats.seen.append(Seen(method, target, outcome, authorization))

    def _inject(self, action: Action) -> str:
        if isinstance(action, Reset):
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return "reset"
        if isinstance(action, Hang):
            self.close_connection = True
            time.sleep(action.seconds)
            return "hang"
        self.send_response(action.status)
        for name, value in action.headers:
            self.send_header(name, value)
        length = action.declared_length if action.declared_length is not None else len(action.body)
        self.send_header("Content-Length", str(length))
        if length != len(action.body):
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(action.body)
        self.wfile.flush()
        return f"respond {action.status}"

    def _forward(self, method: str, target: str, body: bytes) -> str:
        proxy = self.server.proxy
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _DROP_REQUEST]
        if proxy.per_connection_upstream:
            return self._forward_own(method, target, body, headers)
        try:
            response = proxy.upstream.request(method, target, headers=headers, content=body)
        except httpx.HTTPError as exc:
            message = status_body(502, "BadGateway", f"fault proxy: upstream failed: {exc}")
            self._inject(Respond(502, message))
            return "upstream error"
        with proxy.stats.lock:
            proxy.stats.upstream_statuses[response.status_code] += 1
        self.send_response(response.status_code)
        for name, value in response.headers.multi_items():
            if name.lower() not in _DROP_RESPONSE:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.content)))
        self.end_headers()
        self.wfile.write(response.content)
        self.wfile.flush()
        return f"forwarded {response.status_code}"

    def _forward_own(
        self, method: str, target: str, body: bytes, headers: list[tuple[str, str]]
    ) -> str:
        """Forward over this client connection's own upstream connection (a TCP hop): if it
        is gone, close the client connection as a reset would, instead of opening a new one."""
        proxy = self.server.proxy
        if self.upstream is None:
            self.upstream = proxy.open_upstream()
            try:
                self.upstream.connect()
            except OSError:
                self._inject(Reset())
                return "upstream down"
        elif self.upstream.sock is None or _peer_closed(self.upstream.sock):
            self._inject(Reset())
            return "upstream gone"
        try:
            self.upstream.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            self.upstream.putheader("Host", proxy.upstream_host)
            for name, value in headers:
                self.upstream.putheader(name, value)
            self.upstream.putheader("Content-Length", str(len(body)))
            self.upstream.endheaders(body)
            response = self.upstream.getresponse()
            content = response.read()
        except (OSError, http.client.HTTPException):
            self._inject(Reset())
            return "upstream lost"
        with proxy.stats.lock:
            proxy.stats.upstream_statuses[response.status] += 1
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in _DROP_RESPONSE:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        if response.will_close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(content)
        self.wfile.flush()
        return f"forwarded {response.status}"

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve


def _peer_closed(sock: socket.socket) -> bool:
    """An idle connection that is readable has been closed (or reset) by the other side."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class FaultProxy:
    """The proxy; use as a context manager (or call :meth:`close`).

    ``upstream``/``upstream_ca``: the real API server and the CA that signs its certificate.
    ``directory`` receives ``proxy-ca.crt`` (what clients trust), and the serving pair.
    ``hosts``, ``not_before``/``not_after`` shape the serving certificate (the TLS tests use
    a wrong host or an expired validity); ``ca`` signs it (default: a new CA of its own).
    """

    def __init__(
        self,
        upstream: str,
        upstream_ca: Path,
        directory: Path,
        *,
        hosts: Sequence[str] = ("127.0.0.1",),
        not_before: datetime.datetime | None = None,
        not_after: datetime.datetime | None = None,
        ca: CertAuthority | None = None,
        per_connection_upstream: bool = False,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.per_connection_upstream = per_connection_upstream
        # Called for each request no scripted fault matched: an Action to apply, or None to
        # forward. Runs on the proxy's handler threads, so it must be thread-safe.
        self.chaos: Callable[[str, str], Action | None] | None = None
        upstream_url = httpx.URL(upstream)
        self.upstream_host = upstream_url.netloc.decode("ascii")
        self._upstream_address = (upstream_url.host, upstream_url.port or 443)
        self._upstream_context = upstream_context(upstream_ca)
        self.authority = ca or CertAuthority.generate()
        self.ca_file = self.authority.write(directory / "proxy-ca.crt")
        cert_pem, key_pem = self.authority.issue(hosts, not_before=not_before, not_after=not_after)
        cert_file, key_file = directory / "proxy.crt", directory / "proxy.key"
        cert_file.write_bytes(cert_pem)
        key_file.write_bytes(key_pem)
        key_file.chmod(0o600)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert_file), str(key_file))
        self.faults: list[Fault] = []
        self.stats = _Stats()
        self.upstream = httpx.Client(
            base_url=upstream,
            verify=upstream_context(upstream_ca),
            trust_env=False,
            timeout=httpx.Timeout(120.0, connect=10.0),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=200),
            follow_redirects=False,
        )
        self._server = _Server(self, context)
        self.port = self._server.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            daemon=True,
            name=f"faultproxy-{self.port}",
        )
        self._thread.start()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop listening, close the upstream client; idempotent."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()
        self.upstream.close()

    def open_upstream(self) -> http.client.HTTPSConnection:
        """A new (not yet connected) upstream connection that never reconnects by itself."""
        host, port = self._upstream_address
        connection = http.client.HTTPSConnection(
            host, port, timeout=120, context=self._upstream_context
        )
        connection.auto_open = 0  # type: ignore[attr-defined]
        return connection

    def drop_connections(self) -> int:
        """Close every open client connection, as a restarted server's would be; returns how
        many. Clients must reconnect (and so meet whatever answers next)."""
        with self.stats.lock:
            clients = list(self._server.clients)
        for client in clients:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
        return len(clients)

    # -- scripting and measurements ------------------------------------------------------------

    def script(self, *faults: Fault) -> None:
        """Add faults; the first matching fault with uses left applies to a request."""
        with self.stats.lock:
            self.faults.extend(faults)

    @property
    def seen(self) -> list[Seen]:
        with self.stats.lock:
            return list(self.stats.seen)

    @property
    def received(self) -> list[tuple[str, str]]:
        """(method, target) of every request read so far, including unanswered ones."""
        with self.stats.lock:
            return list(self.stats.received)

    def seen_for(self, path: str, method: str | None = None) -> list[Seen]:
        """Requests whose target contains ``path`` (and with ``method``), in arrival order."""
        return [s for s in self.seen if path in s.target and method in (None, s.method)]

    @property
    def max_in_flight(self) -> int:
        with self.stats.lock:
            return self.stats.max_in_flight

    @property
    def upstream_statuses(self) -> Counter[int]:
        with self.stats.lock:
            return Counter(self.stats.upstream_statuses)

    @property
    def handshake_failures(self) -> int:
        with self.stats.lock:
            return self.stats.handshake_failures
