"""A TCP listener on loopback that accepts connections, counts them, and never answers.

This is the "cluster is gone" case a real API server cannot be made to show on demand: a
host (or a load balancer, or a hung process) that completes the TCP handshake and then says
nothing, so every TLS handshake waits for its timeout. It is also how tests prove that a run
made no connection at all: it counts every connection it accepted.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class SilentListener:
    """``with SilentListener() as silent:`` -> ``silent.url``; ``silent.connections`` counts."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(64)
        self.port = int(self._socket.getsockname()[1])
        self._held: list[socket.socket] = []
        self._accepted = 0
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="silent-listener", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def connections(self) -> int:
        with self._lock:
            return self._accepted

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._socket.accept()
            except OSError:  # closed
                return
            with self._lock:
                if self._closed:
                    conn.close()
                    return
                self._accepted += 1
                self._held.append(conn)  # held open, never read from or written to

    def close(self) -> None:
        with self._lock:
            self._closed = True
            held, self._held = self._held, []
        # shutdown() wakes the accept() blocked in the thread; close() alone may not.
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()
        for conn in held:
            conn.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SilentListener:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
