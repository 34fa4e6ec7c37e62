"""The credential of one plugin: reused until it expires, renewed after a rejection.

Like client-go's exec authenticator (semantics, not code): one source per plugin and cluster
description in this process (:func:`source_for`), so the tests' client, impersonating clients,
the report upload and probes run the plugin once between them; the lock also guarantees one run
at a time (an interactive plugin must not prompt twice). :meth:`ExecCredentialSource.current`
runs the plugin when there is no credential or it has expired; :meth:`renew_after_rejection`
runs it again after a 401, unless another request already did.

Every new credential's secret values go to the registered sinks (the report's redactor) before
anything could print them, and to the listeners (the TLS context that loads a client
certificate).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from pytest_incluster.config.exec_spec import ExecPlugin
from pytest_incluster.credentials.exec_output import ExecCredential
from pytest_incluster.credentials.exec_runner import run_plugin

Runner = Callable[[ExecPlugin], ExecCredential]
SecretSink = Callable[[str], None]
Listener = Callable[[ExecCredential], None]


class ExecCredentialSource:
    """The cached credential of ``plugin``; thread-safe."""

    def __init__(
        self,
        plugin: ExecPlugin,
        *,
        runner: Runner = run_plugin,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.plugin = plugin
        self._runner = runner
        self._now = now
        self._lock = threading.RLock()
        self._credential: ExecCredential | None = None
        self._sinks: list[SecretSink] = []
        self._listeners: list[Listener] = []
        self.runs = 0  # how often the plugin ran (for the header and tests)

    def __repr__(self) -> str:
        return f"ExecCredentialSource(command={self.plugin.command!r})"

    def add_secret_sink(self, sink: SecretSink) -> None:
        """Tell ``sink`` every secret value, including those already received."""
        with self._lock:
            self._sinks.append(sink)
            if self._credential is not None:
                for value in self._credential.secrets():
                    sink(value)

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener`` with every new credential from now on."""
        with self._lock:
            self._listeners.append(listener)

    def _run(self) -> ExecCredential:
        credential = self._runner(self.plugin)
        self.runs += 1
        for value in credential.secrets():
            for sink in self._sinks:
                sink(value)
        self._credential = credential
        for listener in self._listeners:
            listener(credential)
        return credential

    def current(self) -> ExecCredential:
        """The credential to use now, running the plugin if there is none or it expired."""
        with self._lock:
            credential = self._credential
            if credential is None or credential.expired(self._now()):
                credential = self._run()
            return credential

    def renew_after_rejection(self, rejected: ExecCredential) -> ExecCredential:
        """Run the plugin again after ``rejected`` got a 401, unless that already happened."""
        with self._lock:
            if self._credential is not rejected and self._credential is not None:
                return self._credential
            return self._run()


_SOURCES: dict[ExecPlugin, ExecCredentialSource] = {}
_SOURCES_LOCK = threading.Lock()


def source_for(plugin: ExecPlugin) -> ExecCredentialSource:
    """The one source of ``plugin`` in this process."""
    with _SOURCES_LOCK:
        source = _SOURCES.get(plugin)
        if source is None:
            source = _SOURCES[plugin] = ExecCredentialSource(plugin)
        return source
