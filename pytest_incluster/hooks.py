"""Hooks pytest-incluster adds to pytest; implement them in a ``conftest.py`` or a plugin.

Registered by ``plugin.py`` with ``pluginmanager.add_hookspecs``.
"""

from __future__ import annotations

import re

import pytest


@pytest.hookspec
def pytest_incluster_redact(config: pytest.Config) -> list[str | re.Pattern[str]]:
    """Return extra regular expressions whose matches are masked in every output.

    Everything the plugin lets out of the process -- test reports (terminal, JUnit XML,
    pytest-html), live and file logging, warnings, the terminal summary and the files stored with
    ``--incluster-report-configmap`` -- passes through one redactor. It already masks the
    tokens the plugin read, JWT-looking strings, ``Bearer``/``Basic`` credentials and
    ``token``/``password`` fields; use this hook for your own secrets, e.g. an API key format::

        def pytest_incluster_redact(config):
            return [r"sk-[A-Za-z0-9]{32}", re.compile(r"x-api-key: (?P<secret>\\S+)", re.I)]

    A ``str`` is compiled as a regular expression (not a literal). If a pattern has a group
    named ``secret``, only that group is replaced by ``***``; otherwise the whole match is.

    Called at start-up and again once collection has finished (so ``conftest.py`` files below
    the root directory count too); returning the same pattern again is harmless.

    :param config: the pytest config object.
    """
    raise NotImplementedError  # a hookspec's body is never run
