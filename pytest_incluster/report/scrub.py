"""Applying the redactor to what pytest lets out: reports, log records, warnings, the terminal.

Each function here plugs the one :class:`~pytest_incluster.report.redact.Redactor` into one
output channel. Test reports are redacted where they are made, so every consumer (terminal,
JUnit XML, pytest-html, xdist's controller) only ever sees the masked text.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from pytest_incluster.report.redact import Redactor


def redact_report(report: pytest.TestReport | pytest.CollectReport, redactor: Redactor) -> None:
    """Mask secrets in everything a report carries: failure text, captured output and logs,
    ``user_properties``, skip/xfail reasons and pytest-html extras."""
    report.longrepr = _redact_longrepr(report.longrepr, redactor)
    # Empty lists are left as they are: a run of 10,000 checks makes 30,000 reports.
    if report.sections:
        report.sections = [(title, redactor.redact(text)) for title, text in report.sections]
    if isinstance(report, pytest.TestReport):
        if report.user_properties:
            report.user_properties = [
                (name, _redact_value(value, redactor)) for name, value in report.user_properties
            ]
        wasxfail = getattr(report, "wasxfail", None)
        if isinstance(wasxfail, str):
            report.wasxfail = redactor.redact(wasxfail)
    for extra in getattr(report, "extras", None) or []:
        if isinstance(extra, dict) and isinstance(extra.get("content"), str):
            extra["content"] = redactor.redact(extra["content"])


def _redact_value(value: object, redactor: Redactor) -> object:
    if isinstance(value, str):
        return redactor.redact(value)
    text = str(value)
    masked = redactor.redact(text)
    return value if masked == text else masked


def _redact_longrepr(longrepr: Any, redactor: Redactor) -> Any:
    """Redact a report's ``longrepr`` in whatever shape pytest made it.

    Exception representations are redacted field by field, not flattened to text: flattening
    would lose the terminal colours, the crash line of ``-ra`` (pytest shows a whole string
    ``longrepr`` there) and xdist's structured transfer. If the rendered result still contains
    something to mask (a field this walk does not know), it falls back to the redacted text.
    """
    if longrepr is None:
        return None
    if isinstance(longrepr, str):
        return redactor.redact(longrepr)
    if isinstance(longrepr, tuple):  # skip: (path, lineno, reason)
        return tuple(redactor.redact(p) if isinstance(p, str) else p for p in longrepr)
    if redactor.spans_lines(str(longrepr)):
        # A PEM key split across the repr's line fields is only recognisable as whole text.
        return redactor.redact(str(longrepr))
    if _is_terminal_repr(longrepr):
        _redact_repr(longrepr, redactor, set())
    text = str(longrepr)
    masked = redactor.redact(text)
    return longrepr if masked == text else masked


def _is_terminal_repr(obj: object) -> bool:
    # pytest's TerminalRepr classes (ExceptionChainRepr, ReprEntry, ...) are not public API;
    # what they share is toterminal() and plain instance attributes.
    return hasattr(obj, "toterminal") and hasattr(obj, "__dict__")


def _redact_repr(obj: object, redactor: Redactor, seen: set[int]) -> None:
    if id(obj) in seen:
        return
    seen.add(id(obj))
    for name, value in list(vars(obj).items()):
        new = _redact_item(value, redactor, seen)
        if new is not value:
            object.__setattr__(obj, name, new)


def _redact_item(value: Any, redactor: Redactor, seen: set[int]) -> Any:
    if isinstance(value, str):
        masked = redactor.redact(value)
        return value if masked == value else masked
    if _is_terminal_repr(value):
        _redact_repr(value, redactor, seen)
        return value
    if isinstance(value, list):
        value[:] = [_redact_item(v, redactor, seen) for v in value]
        return value
    if isinstance(value, tuple):
        items = tuple(_redact_item(v, redactor, seen) for v in value)
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


class RedactingFilter(logging.Filter):
    """A handler filter that masks the formatted message, exception text and stack.

    It sits on handlers, not loggers, because a logger's filters do not see records propagated
    from child loggers such as ``httpx`` and ``httpcore``. A record with something to mask is
    rewritten in place (message pre-formatted, args dropped), so every handler after it sees
    the masked text too.
    """

    def __init__(self, redactor: Redactor) -> None:
        super().__init__("pytest-incluster-redact")
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        redact = self._redactor.redact
        try:
            message = record.getMessage()
        except Exception:  # a bad format string is the handler's to report
            return True
        # Records are only rewritten when something is masked, so caplog users still see the
        # original msg/args of ordinary records.
        masked = redact(message)
        if masked != message:
            record.msg = masked
            record.args = None
        exc_text = record.exc_text
        if record.exc_info and not exc_text:
            exc_text = logging.Formatter().formatException(record.exc_info)
        if exc_text:
            masked_exc = redact(exc_text)
            if masked_exc != exc_text:
                record.exc_text = masked_exc  # formatters use exc_text when it is set
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class LogFilterInstaller:
    """Puts one :class:`RedactingFilter` on the given handlers, and takes it off again.

    Removal matters: an in-process ``pytester`` run would otherwise leave its filter on the outer
    session's handlers.
    """

    def __init__(self, redactor: Redactor) -> None:
        self.filter = RedactingFilter(redactor)
        self._handlers: list[logging.Handler] = []

    def install(self, handlers: Iterable[logging.Handler | None]) -> None:
        for handler in handlers:
            if handler is not None and self.filter not in handler.filters:
                handler.addFilter(self.filter)
                self._handlers.append(handler)

    def uninstall(self) -> None:
        for handler in self._handlers:
            handler.removeFilter(self.filter)
        self._handlers.clear()


def pytest_log_handlers(config: pytest.Config) -> list[logging.Handler | None]:
    """pytest's own logging handlers (captured logs, ``--log-cli-level``, ``--log-file``), the
    root logger's handlers, and :data:`logging.lastResort`."""
    plugin = config.pluginmanager.get_plugin("logging-plugin")
    names = ("caplog_handler", "report_handler", "log_file_handler", "log_cli_handler")
    handlers: list[logging.Handler | None] = [getattr(plugin, n, None) for n in names]
    handlers.extend(logging.getLogger().handlers)
    handlers.append(logging.lastResort)
    return handlers


def redact_warning(message: warnings.WarningMessage, redactor: Redactor) -> None:
    """Mask secrets in a recorded warning before the terminal (or xdist) formats it."""
    if isinstance(message.line, str):
        message.line = redactor.redact(message.line)
    text = str(message.message)
    masked = redactor.redact(text)
    if masked == text:
        return
    original = message.message
    if isinstance(original, Warning):
        original.args = (masked,)
        if str(original) == masked:
            return
    message.message = UserWarning(masked)  # a class with its own __str__; keep only the text


class TerminalRedaction:
    """Routes everything the terminal reporter writes through the redactor.

    ``TerminalWriter.write``, ``line``, ``sep`` and the source highlighter all end in
    ``write_raw``, so masking there covers the header, progress, failures, the short summary,
    the warnings summary and every plugin's ``pytest_terminal_summary`` text. Output a test
    writes to the real stdout with ``-s`` never reaches pytest and is not covered.
    """

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._writer: Any = None

    def install(self, config: pytest.Config) -> None:
        if self._writer is not None or config.pluginmanager.get_plugin("terminalreporter") is None:
            return
        writer = config.get_terminal_writer()
        original: Callable[..., None] = writer.write_raw
        redact = self._redactor.redact

        def write_raw(msg: str, *, flush: bool = False) -> None:
            original(redact(msg), flush=flush)

        writer.write_raw = write_raw  # type: ignore[method-assign]
        self._writer = writer

    def uninstall(self) -> None:
        if self._writer is not None:
            del self._writer.write_raw  # the instance attribute; the class method shows again
            self._writer = None


class DebugLogRedaction:
    """Routes what ``pytest --debug`` writes to ``pytestdebug.log`` through the redactor.

    ``--debug`` traces every hook call with its arguments and result: fixture values (the
    ``k8s_token`` fixture returns the token), both sides of a failed ``assert`` comparison
    (``pytest_assertrepr_compare``), reports. pytest hands all of it to the writer of its
    tracer (pluggy's ``TagTracer``), set with the public ``setwriter``; pluggy has no getter, so
    the current writer is read from its attribute and wrapped.

    Not covered, because it is written before any plugin is configured: the file's first lines,
    which pytest writes directly (versions, directories and the command-line arguments), and
    the trace of the hook calls that configure pytest (``pytest_cmdline_main``,
    ``pytest_plugin_registered``, the first ``pytest_configure`` calls). They hold object
    representations and the command line, never a value read from the cluster or a token file.
    """

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor

    def install(self, config: pytest.Config) -> bool:
        """Wrap the trace writer if ``--debug`` set one; True if it did."""
        root = config.trace.root
        original: Callable[[str], object] | None = root._writer  # no public getter
        if original is None or getattr(original, "_incluster_redacting", False):
            return False
        redact = self._redactor.redact

        def write(text: str) -> None:
            original(redact(text))

        write._incluster_redacting = True  # type: ignore[attr-defined]
        root.setwriter(write)
        return True
