"""An HTTP forward proxy on loopback that tunnels ``CONNECT`` requests, as corporate proxies do.

It is a real proxy (sockets in, sockets out); what it adds for tests is a routing table: a
``CONNECT host:port`` whose target is in ``routes`` is tunnelled to the mapped address instead.
A test gives the client a server address nobody listens on (e.g. ``127.0.0.2:PORT``) and routes
it to the real server, so a request that arrives at all went through this proxy. Every tunnel
opened is counted in :attr:`ConnectProxy.tunnels` (the target as the client asked for it).
With ``refuse=True`` it answers every ``CONNECT`` with ``403 Forbidden``, as a corporate proxy
does for a host it does not allow; ``log`` (a file) gets ``CONNECT host:port`` for every request.
``python tests/support/connect_proxy.py`` runs it as a program of its own.
"""

from __future__ import annotations

import contextlib
import select
import socket
import socketserver
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

Address = tuple[str, int]


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        line = self.rfile.readline(65536).decode("latin-1")
        while self.rfile.readline(65536) not in (b"\r\n", b"\n", b""):
            pass  # the request's headers: nothing in them matters here
        parts = line.split()
        if len(parts) < 2 or parts[0] != "CONNECT":
            self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        host, _, port = parts[1].rpartition(":")
        target = (host.strip("[]"), int(port))
        proxy = self.server.proxy
        if proxy.log is not None:
            with proxy.lock, proxy.log.open("a") as handle:
                handle.write(f"CONNECT {parts[1]}\n")
        if proxy.refuse:
            self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        with proxy.lock:
            proxy.tunnels.append(f"{target[0]}:{target[1]}")
        try:
            upstream = socket.create_connection(proxy.routes.get(target, target), timeout=10)
        except OSError:
            self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        self.wfile.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        self.wfile.flush()
        with upstream:
            _pipe(self.connection, upstream)


def _pipe(one: socket.socket, other: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    sockets = [one, other]
    while True:
        readable, _, _ = select.select(sockets, [], [], 60)
        if not readable:
            return
        for source in readable:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                return
            (other if source is one else one).sendall(data)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, proxy: ConnectProxy) -> None:
        self.proxy = proxy
        super().__init__(("127.0.0.1", 0), _Handler)


class ConnectProxy:
    """``with ConnectProxy(routes) as proxy:`` -> ``proxy.url`` for ``HTTPS_PROXY``."""

    def __init__(
        self,
        routes: Mapping[Address, Address] | None = None,
        *,
        refuse: bool = False,
        log: Path | None = None,
    ) -> None:
        self.routes = dict(routes or {})
        self.refuse = refuse
        self.log = log
        self.tunnels: list[str] = []
        self.lock = threading.Lock()
        self._server = _Server(self)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()

    def __enter__(self) -> ConnectProxy:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=10)
        with contextlib.suppress(OSError):
            self._server.server_close()
