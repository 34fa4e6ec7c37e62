"""Reading a pytest-html 4 report back (the page text and its embedded JSON test data), and
writing report-sized HTML for the ConfigMap storage tests."""

from __future__ import annotations

import base64
import html
import json
import os
import re
from pathlib import Path
from typing import Any

_BLOB = re.compile(r'data-jsonblob="([^"]*)"')


def read_report(path: Path) -> tuple[str, dict[str, Any]]:
    """(page text, data) where data has ``environment``, ``tests`` (nodeid -> rows), ..."""
    page = path.read_text(encoding="utf-8")
    match = _BLOB.search(page)
    assert match, f"{path} has no pytest-html data blob"
    data: dict[str, Any] = json.loads(html.unescape(match.group(1)))
    return page, data


def test_log(data: dict[str, Any], nodeid: str) -> str:
    """The log (our block plus pytest's text) of a test's first row."""
    rows = data["tests"][nodeid]
    return str(rows[0]["log"])


test_log.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def incompressible_html(path: Path, size: int) -> Path:
    """An HTML file of ``size`` random bytes as base64 text: gzip cannot shrink it below ~75% of
    its size, so it needs as many report ConfigMap parts as its size says."""
    path.write_text("<html><pre>" + base64.b64encode(os.urandom(size)).decode() + "</pre></html>")
    return path
