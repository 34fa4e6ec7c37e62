"""The server version is remembered for the report, and an old server is warned about once."""

from __future__ import annotations

from pytest_incluster.config.options import Options
from pytest_incluster.pytest_plugin.header import record_server_version
from pytest_incluster.pytest_plugin.state import SessionState
from pytest_incluster.report.redact import Redactor


class AnsweringServer:
    """Stands in for ``K8sClient.server_version()``: a v1.33 server would need a fourth
    Kubernetes build (about 12 minutes) only to print its version; the wording it returns is
    not under test here, the release string is."""

    def __init__(self, git_version: str) -> None:
        self.git_version = git_version

    def server_version(self) -> str:
        return self.git_version


def _state() -> SessionState:
    return SessionState(options=Options(), redactor=Redactor())


def test_an_old_server_is_remembered_and_warned_about_once() -> None:
    state = _state()
    old = AnsweringServer("v1.33.2-eks-113cf36")
    assert record_server_version(state, old) == "v1.33.2-eks-113cf36"  # type: ignore[arg-type]
    record_server_version(state, old)  # type: ignore[arg-type]
    assert state.server_version == "v1.33.2-eks-113cf36"
    assert len(state.warnings) == 1
    assert state.warnings[0].startswith("the server runs Kubernetes v1.33.2-eks-113cf36, older ")


def test_a_supported_server_gets_no_warning() -> None:
    state = _state()
    record_server_version(state, AnsweringServer("v1.35.4"))  # type: ignore[arg-type]
    assert (state.server_version, state.warnings) == ("v1.35.4", [])
