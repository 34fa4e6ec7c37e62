"""An access file's questions are sent a bounded window ahead of the running item.

Sending every question of the file when the first item runs kept 10,000 pending answers alive
at once; sending each item's own question only when it runs left the server idle while pytest
reported. The window (four times ``--incluster-concurrency``) sits between the two, and this
test counts, after each item, how many questions had been sent: exactly the items up to the
window's end, never the whole file and never just the item itself.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.access.access_rbac import Shop
from tests.integration.access.test_access_matrix_e2e import plugin_args

pytestmark = pytest.mark.controlplane

pytest_plugins = ["pytester"]

ENTRIES = 40
CONCURRENCY = 2
WINDOW = 4 * CONCURRENCY

# After each item: how many questions the session's checker had sent by then.
COUNTER = """
import json

sent = []

def pytest_runtest_teardown(item):
    from pytest_incluster.pytest_plugin.access_files import get_checker
    sent.append(get_checker(item.config).round_trips)

def pytest_sessionfinish(session):
    with open("sent.json", "w") as out:
        json.dump(sent, out)
"""


def _document() -> str:
    # Forty distinct questions about the runner itself (no impersonation, so no ServiceAccount
    # existence check): one review each.
    lines = ["forbidden:"] + [f"  - get secrets -n window-{i}" for i in range(ENTRIES)]
    return "\n".join(lines) + "\n"


def test_questions_are_sent_a_window_ahead(
    pytester: pytest.Pytester, shop: Shop, control_plane: Any
) -> None:
    pytester.makeconftest(COUNTER)
    (pytester.path / "window.access.yaml").write_text(_document())

    result = pytester.runpytest_subprocess(
        *plugin_args(shop, control_plane.server), f"--incluster-concurrency={CONCURRENCY}"
    )

    result.assert_outcomes(passed=ENTRIES)
    sent = json.loads((pytester.path / "sent.json").read_text())
    assert sent == [min(i + WINDOW, ENTRIES) for i in range(ENTRIES)]
