"""``pytest-incluster``: get the control-plane binaries and run a local cluster by hand.

::

    pytest-incluster assets [--dir DIR] [--kubernetes-version V]
    pytest-incluster cluster up [--dir DIR] [--apply PATH]...
    pytest-incluster cluster serviceaccount NAMESPACE/NAME --out DIR [--create] [--duration D]
                                            [--dir DIR]
    pytest-incluster cluster down [--dir DIR]

``assets`` prints only the directory on stdout (progress goes to stderr), so
``export KUBEBUILDER_ASSETS="$(pytest-incluster assets)"`` works. ``cluster up`` starts a detached
control plane that outlives the command, reuses the one already running in DIR, or restarts the
one whose processes died there (a crash, a reboot) with its certificates, keys, etcd data and, when
free, ports; it writes ``DIR/kubeconfig`` (admin) and ``DIR/env``
(``KUBERNETES_SERVICE_HOST``/``_PORT``, for ``source``) and prints the server URL. ``cluster down``
stops it and discards that state, so the next ``up`` starts afresh. User errors are one paragraph
on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_incluster.local.errors import LocalError
from pytest_incluster.local.versions import DEFAULT_KUBERNETES_VERSION

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

PROG = "pytest-incluster"


def default_cluster_dir() -> Path:
    """``${XDG_STATE_HOME:-~/.local/state}/pytest-incluster/cluster``."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "pytest-incluster" / "cluster"


def _progress(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Local Kubernetes control plane for pytest-incluster."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    assets = commands.add_parser(
        "assets",
        help="print a directory holding etcd, kube-apiserver and kubectl (building if needed)",
        description="Print a directory holding etcd, kube-apiserver and kubectl: --dir, else "
        "KUBEBUILDER_ASSETS if complete, else the per-version cache, building it with Go.",
    )
    assets.add_argument("--dir", type=Path, help="use this directory (must hold all three)")
    assets.add_argument(
        "--kubernetes-version",
        default=DEFAULT_KUBERNETES_VERSION,
        metavar="V",
        help=f"Kubernetes release to use or build (default: {DEFAULT_KUBERNETES_VERSION})",
    )

    cluster = commands.add_parser("cluster", help="run a detached local control plane")
    actions = cluster.add_subparsers(dest="action", required=True, metavar="ACTION")
    dir_help = f"state directory (default: {default_cluster_dir()})"

    up = actions.add_parser(
        "up",
        help="start, reuse or restart (after a crash) a control plane and print its URL",
        description="Start a control plane in --dir and print its URL. One that is running "
        "there is reused; one whose processes died (a crash, a reboot) is restarted with its "
        "certificates, keys and etcd data, on its old ports where they are free. `cluster "
        "down` discards that state.",
    )
    up.add_argument("--dir", type=Path, default=None, help=dir_help)
    up.add_argument(
        "--apply",
        type=Path,
        action="append",
        default=[],
        metavar="PATH",
        help="manifest file or directory to server-side apply (repeatable)",
    )

    sa = actions.add_parser(
        "serviceaccount", help="write a pod-style token/ca.crt/namespace directory"
    )
    sa.add_argument("service_account", metavar="NAMESPACE/NAME")
    sa.add_argument("--out", type=Path, required=True, help="directory to write")
    sa.add_argument(
        "--create", action="store_true", help="create the namespace and service account"
    )
    sa.add_argument(
        "--duration",
        default=None,
        metavar="D",
        help="token lifetime: seconds (3600, 3600s), minutes (10m), hours (2h) or 1h30m; at "
        "least 10m (default: 1h)",
    )
    sa.add_argument("--dir", type=Path, default=None, help=dir_help)

    down = actions.add_parser(
        "down", help="stop the control plane, free its ports and discard its state"
    )
    down.add_argument("--dir", type=Path, default=None, help=dir_help)
    return parser


def _assets(args: argparse.Namespace) -> int:
    from pytest_incluster.local.assets import resolve_assets

    directory = resolve_assets(
        args.dir, kubernetes_version=args.kubernetes_version, progress=_progress
    )
    print(directory)
    return 0


def _write_env(state_dir: Path, port: int) -> Path:
    env = state_dir / "env"
    env.write_text(
        "# Written by `pytest-incluster cluster up`; source it to look like a pod's environment.\n"
        "export KUBERNETES_SERVICE_HOST=127.0.0.1\n"
        f"export KUBERNETES_SERVICE_PORT={port}\n"
    )
    return env


def _up(state_dir: Path, apply: Sequence[Path]) -> int:
    from pytest_incluster.local.controlplane import ControlPlane, has_saved_state, state_dir_lock
    from pytest_incluster.local.provision import apply_manifests, manifest_files

    manifest_files(apply)  # check the paths before starting anything
    with state_dir_lock(state_dir):
        cp = ControlPlane.attach(state_dir)
        env = state_dir / "env"
        if cp is not None:
            reusing = f"reusing the control plane already running in {state_dir} ({cp.server})"
            if not cp.detached:
                reusing += (
                    "; it belongs to a running pytest session (--incluster-local-dir) and stops "
                    "when that session ends"
                )
            _progress(reusing)
        elif has_saved_state(state_dir):
            _progress(
                f"the control plane in {state_dir} is not running (it was not stopped with "
                "`cluster down`: a crash, a reboot or a kill); restarting it with its "
                "certificates, keys and etcd data"
            )
            cp = ControlPlane.restart(state_dir)
            if cp.moved_from is not None:
                _progress(
                    f"its old address {cp.moved_from} is taken by another program, so the API "
                    f"server now listens on {cp.server}; {cp.admin_kubeconfig} and {env} are "
                    "updated: source the env file again and point clients at the new address"
                )
        else:
            _progress(f"starting etcd and kube-apiserver in {state_dir}")
            cp = ControlPlane.start(state_dir, detached=True)
        apply_manifests(cp, apply)
        env = _write_env(cp.state_dir, cp.apiserver_port)
    _progress(f"admin kubeconfig: {cp.admin_kubeconfig}; pod environment: source {env}")
    print(cp.server)
    return 0


def _attached(state_dir: Path) -> ControlPlane:
    from pytest_incluster.local.controlplane import ControlPlane

    cp = ControlPlane.attach(state_dir)
    if cp is None:
        raise LocalError(
            f"No control plane is running in {state_dir}. Start one with "
            f"`{PROG} cluster up --dir {state_dir}` first (or pass the --dir you used)."
        )
    return cp


def _serviceaccount(
    state_dir: Path, spec: str, out: Path, create: bool, duration: str | None
) -> int:
    from pytest_incluster.local.provision import (
        DEFAULT_TOKEN_SECONDS,
        parse_duration,
        parse_service_account,
        write_pod_dir,
    )

    namespace, name = parse_service_account(spec)
    seconds = DEFAULT_TOKEN_SECONDS if duration is None else parse_duration(duration)
    cp = _attached(state_dir)
    written = write_pod_dir(
        cp, namespace, name, out.resolve(), create=create, expiration_seconds=seconds
    )
    _progress(
        f"the token in {written / 'token'} lasts {_spell(seconds)}; run this command again for "
        "a new one (--duration changes the lifetime)"
    )
    print(written)
    return 0


def _spell(seconds: int) -> str:
    """``3600`` -> ``1h``, ``5400`` -> ``1h30m``, ``610`` -> ``10m10s``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n]
    return "".join(parts) or "0s"


def _down(state_dir: Path) -> int:
    from pytest_incluster.local.controlplane import (
        ControlPlane,
        has_saved_state,
        kill_leftovers,
        state_dir_lock,
    )

    if not state_dir.is_dir():
        _progress(f"no control plane in {state_dir}; nothing to stop")
        return 0
    with state_dir_lock(state_dir):
        cp = ControlPlane.attach(state_dir)
        if cp is None:
            saved = has_saved_state(state_dir)
            kill_leftovers(state_dir)  # a half-dead one may still hold a port
            if saved:
                _progress(
                    f"the control plane in {state_dir} was not running; discarded its saved "
                    "state, so the next `cluster up` starts afresh (new certificates and keys, "
                    "empty etcd)"
                )
            else:
                _progress(f"no control plane running in {state_dir}; nothing to stop")
            return 0
        cp.stop()
    _progress(f"stopped the control plane in {state_dir} ({cp.server})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "assets":
            return _assets(args)
        from pytest_incluster.local.extra import require_local_extra

        require_local_extra()
        state_dir: Path = (args.dir or default_cluster_dir()).resolve()
        if args.action == "up":
            return _up(state_dir, args.apply)
        if args.action == "serviceaccount":
            return _serviceaccount(
                state_dir, args.service_account, args.out, args.create, args.duration
            )
        return _down(state_dir)
    except LocalError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
