"""A disabled TLS verification is said once, at every verbosity, against the real kube-apiserver.

The warning used to live only in the terminal header, which pytest does not print under ``-q``
or ``--no-header``; a quiet CI log then never said that the API server was not verified.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

WARNING = (
    "incluster WARNING: TLS verification of the API server is DISABLED "
    "(--incluster-insecure-skip-tls-verify): anyone on the network path could impersonate the "
    "API server."
)

TEST = """
def test_reads_the_api(k8s):
    assert k8s.get("/api").status_code == 200
"""


@pytest.fixture
def run(
    pytester: pytest.Pytester,
    control_plane: ControlPlane,
    make_service_account: Callable[..., Path],
    unique_namespace: str,
) -> Callable[..., pytest.RunResult]:
    sa_dir = make_service_account(unique_namespace, "runner")
    pytester.makepyfile(TEST)

    def go(*args: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess(
            f"--incluster-server={control_plane.server}",
            f"--incluster-token-file={sa_dir / 'token'}",
            f"--incluster-namespace={unique_namespace}",
            "-p",
            "no:cacheprovider",
            *args,
        )

    return go


@pytest.mark.parametrize("verbosity", [[], ["-q"], ["-qq"], ["--no-header"], ["-v"]])
def test_insecure_run_warns_exactly_once(
    run: Callable[..., pytest.RunResult], verbosity: list[str]
) -> None:
    result = run("--incluster-insecure-skip-tls-verify", *verbosity)
    assert result.ret == pytest.ExitCode.OK  # -qq prints no outcome line to parse
    assert result.outlines.count(WARNING) == 1, result.stdout.str()


@pytest.mark.parametrize("verbosity", [[], ["-q"]])
def test_verified_run_does_not_warn(
    run: Callable[..., pytest.RunResult], control_plane: ControlPlane, verbosity: list[str]
) -> None:
    result = run(f"--incluster-ca-file={control_plane.ca_file}", *verbosity)
    result.assert_outcomes(passed=1)
    assert "DISABLED" not in result.stdout.str()
