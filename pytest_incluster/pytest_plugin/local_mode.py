"""``--incluster-local``: run the suite against a throwaway control plane, as a pod would.

The session starts etcd + kube-apiserver (or reuses a live one in ``--incluster-local-dir``),
applies ``--incluster-local-apply`` manifests, provisions the ``--incluster-local-as`` service
account and writes a pod-style service-account directory. Discovery then receives that server
and directory exactly like a pod's, so nothing downstream knows it is not in a cluster.

Under pytest-xdist the controller process starts the control plane once and hands the server and
directory to each worker through ``workerinput``; workers never start or stop it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from pytest_incluster.config.options import Sourced
from pytest_incluster.pytest_plugin.settings import get_setting
from pytest_incluster.pytest_plugin.state import get_state
from pytest_incluster.pytest_plugin.xdist import worker_input

_WORKER_KEY = "incluster_local"


def configure(config: pytest.Config) -> None:
    """Start (or, on an xdist worker, adopt) the local control plane and point discovery at it."""
    state = get_state(config)
    workerinput = worker_input(config)
    as_sa = str(get_setting(config, "local_as").value)
    if workerinput is not None and _WORKER_KEY in workerinput:
        server, sa_dir = workerinput[_WORKER_KEY]
    else:
        from pytest_incluster.local.errors import LocalError
        from pytest_incluster.local.extra import require_local_extra

        try:
            require_local_extra()
        except LocalError as exc:
            raise pytest.UsageError(f"--incluster-local: {exc}") from None
        from pytest_incluster.local.shared_plane import start_local_session

        dir_setting = get_setting(config, "local_dir").value
        state_dir = Path(dir_setting) if dir_setting else None  # None: a temporary one
        apply = [Path(p) for p in (get_setting(config, "local_apply").value or [])]
        try:
            session = start_local_session(state_dir, apply=apply, as_sa=as_sa)
        except LocalError as exc:
            raise pytest.UsageError(f"--incluster-local: {exc}") from None
        state.local_session = session
        server, sa_dir = session.server, str(session.sa_dir)
        if config.pluginmanager.hasplugin("xdist"):
            config.pluginmanager.register(_XdistHandOver((server, sa_dir)), "incluster-local-xdist")
    label = f"--incluster-local ({as_sa})"
    state.options = dataclasses.replace(
        state.options,
        server=Sourced(server, label),
        sa_dir=Sourced(sa_dir, label),
        local=f"local control plane as {as_sa}",
    )


class _XdistHandOver:
    """Registered only when pytest-xdist is active: passes the control plane to workers."""

    def __init__(self, payload: tuple[str, str]) -> None:
        self.payload = payload

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[_WORKER_KEY] = self.payload
