"""The pytest entry point (``-p incluster``): options, markers and hook registration only.

Heavy parts are imported lazily and registered as separate plugin objects in
``pytest_configure``: fixtures and marker semantics (:mod:`pytest_incluster.pytest_plugin`), the
access-matrix collector, the report (only its pytest-html part when pytest-html is active), and
the local control plane (only with ``--incluster-local``; never imported in a pod).
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

from pytest_incluster.pytest_plugin.settings import add_options

MARKERS = (
    "expect_forbidden(verb=None, resource=None, namespace=None): the test passes only if it "
    "raises pytest_incluster.Forbidden (a 403 from the API server) matching the given "
    "filters; resource is 'pods' or 'deployments.apps'.",
    "expect_unauthorized: the test passes only if it raises pytest_incluster.Unauthorized "
    "(a 401 from the API server).",
    "expect_allowed: the test states that its API calls must be allowed; a 403 fails it as "
    "'access denied: <server message>' and it counts in the access summary.",
    "expect_rejected(by=None, match=None): the test passes only if a write request in it was "
    "rejected by admission, quota or validation (a dry run with k8s.admission_check, or a real "
    "request), optionally by that plugin, policy, binding, webhook or quota (by=) and with a "
    "message matching the regex match=; a refusal by authorization (RBAC) fails it.",
    "expect_admitted: the test passes only if the cluster admitted every write request in it "
    "(and it sent at least one).",
    "expect_warning(match): the test passes only if the API server sent a Warning header "
    "matching the regex match (Pod Security warn mode, policy warnings, deprecated APIs).",
    "impersonate(user, groups=None): the test's own k8s argument acts as that user "
    "(Impersonate-* headers); fixtures and other tests stay the runner. The test errors if the "
    "runner may not impersonate, or if it takes no k8s argument.",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    import pytest_incluster.hooks as hooks

    pluginmanager.add_hookspecs(hooks)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    from pytest_incluster.pytest_plugin.session_hooks import configure

    configure(config)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    from pytest_incluster.pytest_plugin.settings import get_setting

    patterns = get_setting(parent.config, "access_files").value or ["*.access.yaml"]
    # A cheap name check first, so ordinary test files never import the access-matrix code.
    if not any(fnmatch.fnmatch(file_path.name, p.rsplit("/", 1)[-1]) for p in patterns):
        return None
    from pytest_incluster.pytest_plugin.access_files import collect_access_file

    return collect_access_file(file_path, parent, patterns)
