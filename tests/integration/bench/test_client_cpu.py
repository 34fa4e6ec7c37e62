"""bench/client_cpu.py against a real kube-apiserver: every HTTP stack gets the server's answers,
and an answer that disagrees with the truth is reported, not averaged away.

The CPU figures themselves are measurements (no timing is asserted); what is asserted is that
each stack really asked (a refused or wrong answer would be counted as a disagreement) and
that the server's CPU was read from its own process.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bench import client_cpu
from bench.entries import NAMESPACED_TYPES, Entry

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

SECRETS = next(t for t in NAMESPACED_TYPES if t.resource == "secrets")
# system:public-info-viewer lets everyone read /version; a plain ServiceAccount has no RBAC on
# /metrics or on secrets.
ENTRIES = (
    Entry(verb="get", path="/version"),
    Entry(verb="get", path="/metrics"),
    Entry(verb="list", type=SECRETS, namespace="default"),
)
TRUTH = (True, False, False)


def _measure(
    control_plane: ControlPlane, sa_dir: Path, truth: tuple[bool, ...]
) -> tuple[dict[str, Any], list[str]]:
    pid = control_plane.apiserver_ref.pid if control_plane.apiserver_ref else None
    assert pid is not None
    return client_cpu.measure(
        control_plane.server, sa_dir, ENTRIES, truth, rounds=1, server_pid=pid
    )


def test_every_stack_agrees_with_the_server(
    control_plane: ControlPlane, make_service_account: Callable[..., Path]
) -> None:
    sa_dir = make_service_account("bench-cpu", "plain")
    out, wrong = _measure(control_plane, sa_dir, TRUTH)
    assert wrong == []
    assert set(out["client_cpu_us"]) == set(client_cpu.STACKS)
    assert out["reviews"] == len(ENTRIES)
    assert out["server_cpu_us"] is not None


def test_a_wrong_truth_is_reported_for_every_stack(
    control_plane: ControlPlane, make_service_account: Callable[..., Path]
) -> None:
    sa_dir = make_service_account("bench-cpu", "plain")
    flipped = tuple(not t for t in TRUTH)
    _, wrong = _measure(control_plane, sa_dir, flipped)
    assert len(wrong) == len(ENTRIES) * len(client_cpu.STACKS)
    for stack in client_cpu.STACKS:
        assert sum(line.startswith(f"{stack}: ") for line in wrong) == len(ENTRIES)
    assert "get /version answered True, expected False" in "\n".join(wrong)
