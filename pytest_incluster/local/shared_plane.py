"""The ``--incluster-local`` session: a real control plane plus a pod-style credential directory.

The plugin calls :func:`start_local_session` and then treats ``server`` and ``sa_dir`` exactly like
a pod's environment, so the code under test takes the in-cluster path (bound token, ``ca.crt``,
``namespace``) against a real API server with real authentication, RBAC and admission.

Reuse: with ``reuse=True`` a control plane already running in ``state_dir`` (for example from
``pytest-incluster cluster up --dir state_dir``) is attached to and left running afterwards
(``owned`` is False); so is one that ``cluster up`` started there and that has since died (a
crash, a reboot): it is restarted, detached, with its certificates, keys and etcd data, exactly
as ``cluster up`` would, never replaced by a fresh one. Otherwise a control plane is started and
:meth:`LocalSession.stop` stops it.

pytest-xdist: the *controller* process calls :func:`start_local_session` once (it owns the control
plane, whose processes die with it); each *worker* then calls it with the same ``state_dir``,
``reuse=True`` and ``apply=()``, and so attaches to the controller's control plane instead of
starting its own. Attach-or-start runs under a lock file in ``state_dir``, so concurrent callers
never start two. Every caller writes the same pod directory, each time with a fresh token; the
files are replaced atomically, so a reader never sees a partial token. A worker must not be the
first to start: its control plane would die when that worker exits, under the other workers.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_incluster.local.controlplane import ControlPlane, saved_detached, state_dir_lock
from pytest_incluster.local.provision import (
    apply_manifests,
    parse_service_account,
    write_pod_dir,
)


@dataclass
class LocalSession:
    """What the plugin needs from a local control plane."""

    control_plane: ControlPlane
    server: str
    sa_dir: Path
    namespace: str
    service_account: str
    owned: bool
    # The state directory when this session made it (no directory was asked for): it holds the
    # control plane's keys, tokens and logs, and goes when the session stops.
    temporary_dir: Path | None = None

    def stop(self) -> None:
        """Stop the control plane only if this session started it; remove a state directory
        this session created."""
        if self.owned:
            self.control_plane.stop()
        if self.temporary_dir is not None:
            shutil.rmtree(self.temporary_dir, ignore_errors=True)
            self.temporary_dir = None


def start_local_session(
    state_dir: Path | None,
    *,
    apply: Sequence[Path] = (),
    as_sa: str = "default/default",
    reuse: bool = True,
) -> LocalSession:
    """Attach to (``reuse``) or start a control plane in ``state_dir`` and provision ``as_sa``.

    ``apply`` manifests are server-side applied (idempotent) before the service account's pod
    directory ``state_dir/serviceaccounts/NAMESPACE/NAME`` is written; the namespace and the
    service account are created if missing. ``as_sa`` is ``"NAMESPACE/NAME"``; bad input raises
    :class:`~pytest_incluster.local.provision.ProvisionError` before anything is started.

    ``state_dir`` None: a new temporary directory, removed by :meth:`LocalSession.stop` (kept
    when starting fails, since the error names the logs in it).
    """
    namespace, name = parse_service_account(as_sa)
    temporary = state_dir is None
    if state_dir is None:
        state_dir = Path(tempfile.mkdtemp(prefix="pytest-incluster-local-"))
    state_dir = state_dir.resolve()
    with state_dir_lock(state_dir):
        cp = ControlPlane.attach(state_dir) if reuse else None
        if cp is None and reuse and saved_detached(state_dir):
            cp = ControlPlane.restart(state_dir)
        owned = cp is None
        if cp is None:
            cp = ControlPlane.start(state_dir)
        try:
            apply_manifests(cp, apply)
            sa_dir = write_pod_dir(
                cp, namespace, name, state_dir / "serviceaccounts" / namespace / name, create=True
            )
        except BaseException:
            if owned:
                cp.stop()
            raise
    return LocalSession(
        control_plane=cp,
        server=cp.server,
        sa_dir=sa_dir,
        namespace=namespace,
        service_account=name,
        owned=owned,
        temporary_dir=state_dir if temporary else None,
    )
