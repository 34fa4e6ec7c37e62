"""``--collect-only`` does not import the HTTP client; running the same items does.

The plugin's share of a ``--collect-only`` is a budget (under 100 ms, bench/README.md) and the
client (httpx, TLS, the exec-credential machinery) was most of it. Collecting access files and
Python tests needs only the parsers; the engine and the client are imported when an item first
asks the server something.
"""

from __future__ import annotations

import pytest

PROBE = """
import sys

def pytest_collection_finish(session):
    print("after collection: httpx", "httpx" in sys.modules)

def pytest_sessionfinish(session):
    print("at the end: httpx", "httpx" in sys.modules)
"""

ACCESS_FILE = """
allowed:
  - list pods
forbidden:
  - delete secrets
"""

PYTHON_TESTS = """
def test_uses_the_client(k8s):
    pass

def test_plain():
    pass
"""


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(pytester.path / "home"))
    pytester.makeconftest(PROBE)
    pytester.makefile(".access.yaml", team=ACCESS_FILE)
    pytester.makepyfile(test_suite=PYTHON_TESTS)
    return pytester


def test_collect_only_does_not_import_the_client(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("--collect-only", "-q", "-s")
    result.stdout.fnmatch_lines(["*4 tests collected*"])
    assert "after collection: httpx False" in result.stdout.str()
    assert "at the end: httpx False" in result.stdout.str()


def test_running_the_same_items_imports_it(suite: pytest.Pytester) -> None:
    # No cluster: the items that need one error, but they got as far as the client.
    result = suite.runpytest_subprocess("-q", "-s")
    result.assert_outcomes(passed=1, errors=1, failed=2)
    assert "after collection: httpx False" in result.stdout.str()
    assert "at the end: httpx True" in result.stdout.str()
