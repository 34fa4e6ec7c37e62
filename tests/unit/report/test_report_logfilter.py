"""The logging filter: on handlers, so records from child loggers (httpx, httpcore) are masked."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from pytest_incluster.report.redact import Redactor
from pytest_incluster.report.scrub import LogFilterInstaller

SECRET = "opaque-static-token-5f2c9a81e7"


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, LogFilterInstaller, logging.Handler]]:
    redactor = Redactor()
    redactor.add_secret(SECRET)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    parent = logging.getLogger("report-filter-test")
    parent.addHandler(handler)
    parent.setLevel(logging.DEBUG)
    installer = LogFilterInstaller(redactor)
    installer.install([handler, None])
    try:
        yield stream, installer, handler
    finally:
        installer.uninstall()
        parent.removeHandler(handler)


def test_child_logger_records_with_args_and_tracebacks_are_masked(
    captured: tuple[io.StringIO, LogFilterInstaller, logging.Handler],
) -> None:
    stream, _, _ = captured
    child = logging.getLogger("report-filter-test.httpcore.http11")
    child.debug("send_request_headers headers=%r", [(b"Authorization", f"Bearer {SECRET}")])
    try:
        raise RuntimeError(f"token {SECRET} rejected")
    except RuntimeError:
        child.exception("failed")
    child.warning("stack", stack_info=True, extra={"unused": SECRET})
    text = stream.getvalue()
    assert SECRET not in text
    assert "report-filter-test.httpcore.http11 DEBUG send_request_headers headers=" in text
    assert "RuntimeError: token *** rejected" in text


def test_ordinary_records_keep_their_msg_and_args(
    captured: tuple[io.StringIO, LogFilterInstaller, logging.Handler],
) -> None:
    records: list[logging.LogRecord] = []
    _, _, handler = captured

    class Keep(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            records.append(record)
            return True

    handler.addFilter(Keep())
    logging.getLogger("report-filter-test.x").info("hello %s", "world")
    logging.getLogger("report-filter-test.x").info("token %s", SECRET)
    assert (records[0].msg, records[0].args) == ("hello %s", ("world",))
    assert (records[1].msg, records[1].args) == ("token ***", None)


def test_uninstall_takes_the_filter_off_again(
    captured: tuple[io.StringIO, LogFilterInstaller, logging.Handler],
) -> None:
    stream, installer, handler = captured
    installer.install([handler])  # twice: still one filter
    assert handler.filters.count(installer.filter) == 1
    installer.uninstall()
    logging.getLogger("report-filter-test").info("plain %s", SECRET)
    assert SECRET in stream.getvalue()
