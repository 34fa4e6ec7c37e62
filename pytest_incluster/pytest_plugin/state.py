"""Per-session state, kept in ``config.stash`` (never as attributes on pytest objects).

One :class:`SessionState` holds what several parts share: the resolved configuration (or the
reason it could not be resolved), the session client, the call log, the access outcomes and
admission decisions for the report, the redactor every output passes through, and warnings for
the header and report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

from pytest_incluster.access.decision import AccessOutcome
from pytest_incluster.admission.decision import AdmissionRecord
from pytest_incluster.calls import CallLog
from pytest_incluster.config.options import Options
from pytest_incluster.privilege.findings import ExtraPermissionRow, WhoCanRow

if TYPE_CHECKING:
    from pytest_incluster.client import K8sClient
    from pytest_incluster.client.identity import Identity
    from pytest_incluster.config.errors import ConfigError
    from pytest_incluster.config.model import ClusterConfig
    from pytest_incluster.local.shared_plane import LocalSession
    from pytest_incluster.report.redact import Redactor
    from pytest_incluster.report.run_context import SuiteVersion


@dataclass
class SessionState:
    """Shared, mutable session state; created in ``pytest_configure``."""

    options: Options
    redactor: Redactor
    calls: CallLog = field(default_factory=CallLog)
    outcomes: list[AccessOutcome] = field(default_factory=list)
    extra_permissions: list[ExtraPermissionRow] = field(default_factory=list)
    who_can: list[WhoCanRow] = field(default_factory=list)
    # Every admission decision of the run (admission_check, expect_rejected/admitted/warning
    # tests, access documents' admitted:/rejected: items), in the order the tests reported
    admission: list[AdmissionRecord] = field(default_factory=list)
    cluster_config: ClusterConfig | None = None
    cluster_error: ConfigError | None = None
    client: K8sClient | None = None  # created on first use (the client is imported lazily)
    # Why the client could not be built (e.g. the exec credential plugin failed): kept so the
    # plugin is not run again, with its timeout, for every test.
    client_error: ConfigError | None = None
    identity: Identity | None = None  # who the server says the runner is, once asked
    server_version: str | None = None
    server_version_asked: bool = False  # once asked, never again (an unreachable server)
    warnings: list[str] = field(default_factory=list)
    shown_warnings: set[str] = field(default_factory=set)  # already printed by the header
    local_session: LocalSession | None = None  # with --incluster-local
    suite: SuiteVersion | None = None  # the collected test files' hash, once collected


STATE_KEY = pytest.StashKey[SessionState]()


def get_state(config: pytest.Config) -> SessionState:
    """The session's state; raises if the plugin's ``pytest_configure`` has not run."""
    return config.stash[STATE_KEY]
