"""A TCP relay on loopback that counts connections, for measuring a client's concurrency.

It forwards bytes unchanged between the client and the real API server: TLS stays end to end
(the client verifies the real serving certificate, whose SANs include 127.0.0.1), nothing is
injected or decoded. What it adds is a count of the connections open at the same moment
(:attr:`TcpRelay.max_open`). Over HTTP/1.1 a connection carries one request at a time, so the
requests a client has in flight never exceed its open connections: a maximum of open connections
within the client's limit shows that the limit held. (The fault proxy could count requests
directly, but decrypting and re-encrypting ten thousand requests costs more time than the
scenario may take.)
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading


class TcpRelay:
    """Listens on ``127.0.0.1``; every accepted connection is paired with one to ``upstream``."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._lock = threading.Lock()
        self._open = 0
        self.max_open = 0
        self.accepted = 0
        self._closing = False
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self._listener.getsockname()[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._accept, daemon=True, name="tcp-relay")
        self._thread.start()

    def __enter__(self) -> TcpRelay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closing = True
        with contextlib.suppress(OSError):
            self._listener.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self._upstream, timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self.accepted += 1
                self._open += 1
                self.max_open = max(self.max_open, self._open)
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        """Copy bytes both ways until either side closes."""
        peer = {client: server, server: client}
        with selectors.DefaultSelector() as selector:
            selector.register(client, selectors.EVENT_READ)
            selector.register(server, selectors.EVENT_READ)
            try:
                while not self._closing:
                    for key, _ in selector.select(timeout=0.5):
                        source = client if key.fileobj is client else server
                        data = source.recv(65536)
                        if not data:
                            return
                        peer[source].sendall(data)
            except OSError:
                return
            finally:
                for sock in (client, server):
                    with contextlib.suppress(OSError):
                        sock.close()
                with self._lock:
                    self._open -= 1
