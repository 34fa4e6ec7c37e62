"""Scenario 3: the token file is rotated, invalidated or made unreadable during a run.

The inner suite runs with ``--incluster-token-file`` pointing at a copy of ServiceAccount
``first``'s token; the outer test leaves a token of ServiceAccount ``second`` next to it.

* Within the period: ``TokenFileAuth`` re-reads the file at most once a minute (client-go's
  cached file token source). Instead of sleeping a minute, the inner test installs a
  ``TokenFileAuth`` with its documented injectable ``clock`` on the session client and moves the
  clock: 59 s after the first read the old identity is still used, at 60 s the new one.
* After a 401: the real session client (real clock, token read seconds ago) keeps the cached
  token after the file changed; once ``first`` is deleted the API server answers its token with
  401 (``--service-account-lookup``; after its authentication cache of about 10 s), and the
  client re-reads the file at once and repeats that request with ``second``'s token, so the
  test sees ``second`` without waiting for the minute. The call log shows the 401 followed by
  the successful repeat.
* Unreadable: with the file replaced by a directory, requests keep using the last good token,
  one warning naming the file is logged however often the re-read fails, and a new warning
  comes only after a read has succeeded again.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.reliability.suite import run_pytest, write_suite

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

SUITE = """
import logging
import os
import time
from pathlib import Path

import httpx

from pytest_incluster.client import TokenFileAuth

HERE = Path(__file__).parent
FIRST = os.environ["FIRST_USER"]
SECOND = os.environ["SECOND_USER"]
SECOND_TOKEN = (HERE / "second.token").read_text()


def test_rotation_is_picked_up_within_the_period(k8s, k8s_config):
    session_auth = k8s.auth
    assert isinstance(session_auth, TokenFileAuth)
    assert session_auth.path == k8s_config.token_file
    now = [1000.0]
    k8s.auth = TokenFileAuth(k8s_config.token_file, clock=lambda: now[0])
    try:
        assert k8s.whoami().username == FIRST
        k8s_config.token_file.write_text(SECOND_TOKEN)
        now[0] += 59.0
        assert k8s.whoami().username == FIRST, "re-read before the minute was over"
        now[0] += 1.0
        assert k8s.whoami().username == SECOND, "not re-read after a minute"
    finally:
        k8s.auth = session_auth


def test_a_401_rereads_the_token_file_at_once(k8s):
    # The file holds SECOND's token since the test above, but the session client read FIRST's
    # moments ago and keeps it for up to a minute.
    assert k8s.whoami().username == FIRST
    ca = os.environ["ADMIN_CA"]
    context = httpx.create_ssl_context(verify=ca)
    context.load_cert_chain(os.environ["ADMIN_CERT"], os.environ["ADMIN_KEY"])
    with httpx.Client(base_url=os.environ["SERVER"], verify=context, trust_env=False) as admin:
        namespace = os.environ["NAMESPACE"]
        admin.delete(f"/api/v1/namespaces/{namespace}/serviceaccounts/first").raise_for_status()
    deadline = time.monotonic() + 40
    while (who := k8s.whoami().username) == FIRST:
        # The API server caches a successful token authentication for about 10 s.
        assert time.monotonic() < deadline, "the deleted account's token kept working"
        time.sleep(0.5)
    assert who == SECOND


def test_an_unreadable_token_file_keeps_the_last_good_token(k8s, k8s_config, caplog):
    caplog.set_level(logging.WARNING, logger="pytest_incluster.client")
    path = k8s_config.token_file
    now = [0.0]
    session_auth = k8s.auth
    k8s.auth = TokenFileAuth(path, clock=lambda: now[0])
    try:
        path.unlink()
        path.mkdir()  # reading a directory fails even for root
        for _ in range(3):
            now[0] += 61.0
            assert k8s.whoami().username == SECOND
        warned = [r for r in caplog.records if r.name == "pytest_incluster.client"
                  and r.levelno == logging.WARNING]
        assert len(warned) == 1, [r.getMessage() for r in warned]
        message = warned[0].getMessage()
        assert str(path) in message
        assert "Keeping the previously read token" in message
        assert SECOND_TOKEN not in message
        # A good read resets the warning; the next failure warns again.
        path.rmdir()
        path.write_text(SECOND_TOKEN)
        now[0] += 61.0
        assert k8s.whoami().username == SECOND
        path.unlink()
        path.mkdir()
        now[0] += 61.0
        assert k8s.whoami().username == SECOND
        warned = [r for r in caplog.records if r.name == "pytest_incluster.client"
                  and r.levelno == logging.WARNING]
        assert len(warned) == 2
    finally:
        k8s.auth = session_auth
        if path.is_dir():
            path.rmdir()
            path.write_text(SECOND_TOKEN)
"""


def test_token_rotation_401_and_unreadable_file(
    control_plane: ControlPlane,
    unique_namespace: str,
    make_service_account: Callable[..., Path],
    suite_dir: Path,
) -> None:
    ns = unique_namespace
    first = make_service_account(ns, "first")
    second = make_service_account(ns, "second")
    write_suite(suite_dir, {"test_rotation.py": SUITE})
    token_file = suite_dir / "token"
    shutil.copyfile(first / "token", token_file)
    shutil.copyfile(second / "token", suite_dir / "second.token")
    args = [
        f"--incluster-server={control_plane.server}",
        f"--incluster-token-file={token_file}",
        f"--incluster-ca-file={control_plane.ca_file}",
        f"--incluster-namespace={ns}",
    ]
    env = {
        "FIRST_USER": f"system:serviceaccount:{ns}:first",
        "SECOND_USER": f"system:serviceaccount:{ns}:second",
        "SERVER": control_plane.server,
        "ADMIN_CA": str(control_plane.ca_file),
        "ADMIN_CERT": str(control_plane.admin_cert_file),
        "ADMIN_KEY": str(control_plane.admin_key_file),
        "NAMESPACE": ns,
    }
    run = run_pytest(suite_dir, *args, env=env)
    assert run.ret == 0, run.describe()
    assert run.outcomes() == {"passed": 3}, run.describe()
    # The 401 was answered by re-reading the file and repeating that very request.
    calls = [
        c
        for c in run.calls()
        if (c["test_id"] or "").endswith("::test_a_401_rereads_the_token_file_at_once")
    ]
    statuses = [(c["method"], c["path"], c["status"]) for c in calls]
    rejected = [i for i, c in enumerate(calls) if c["status"] == 401]
    assert len(rejected) == 1, statuses
    repeat = calls[rejected[0] + 1]
    assert (repeat["method"], repeat["path"], repeat["status"]) == (
        calls[rejected[0]]["method"],
        calls[rejected[0]]["path"],
        201,
    ), statuses
    # Neither token was printed anywhere.
    for sa in (first, second):
        assert (sa / "token").read_text() not in run.output
