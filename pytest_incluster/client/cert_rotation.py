"""New connections after an exec plugin returns a new client certificate.

A TLS client certificate is presented once, in the handshake; kept-alive connections go on
using the old one. client-go closes every connection when the plugin's certificate changes;
here the transport is replaced instead (as client-go does for a rotated CA): requests in flight
finish on the old connection pool, every later request opens connections with the new
certificate, and the old pools are closed with the client.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx

from pytest_incluster.credentials.exec_output import ExecCredential
from pytest_incluster.credentials.exec_source import ExecCredentialSource


class CertificateRotation(httpx.BaseTransport):
    """Uses a fresh transport from ``make`` after each change of the plugin's certificate."""

    def __init__(
        self, make: Callable[[], httpx.BaseTransport], source: ExecCredentialSource
    ) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._current = make()
        self._retired: list[httpx.BaseTransport] = []
        self._certificate = source.current().client_certificate
        self._stale = False
        source.add_listener(self._noticed)

    def _noticed(self, credential: ExecCredential) -> None:
        with self._lock:
            if credential.client_certificate != self._certificate:
                self._certificate = credential.client_certificate
                self._stale = True

    def _transport(self) -> httpx.BaseTransport:
        with self._lock:
            if self._stale:
                self._stale = False
                self._retired.append(self._current)
                self._current = self._make()
            return self._current

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._transport().handle_request(request)

    def close(self) -> None:
        with self._lock:
            transports = [*self._retired, self._current]
            self._retired = []
        for transport in transports:
            transport.close()
