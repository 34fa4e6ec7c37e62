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
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_incluster.cli.assets_command import run_assets
from pytest_incluster.cli.cluster_command import down, serviceaccount, up
from pytest_incluster.cli.console import PROG, default_cluster_dir
from pytest_incluster.local.errors import LocalError
from pytest_incluster.local.versions import DEFAULT_KUBERNETES_VERSION


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


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "assets":
            return run_assets(args.dir, args.kubernetes_version)
        from pytest_incluster.local.extra import require_local_extra

        require_local_extra()
        state_dir: Path = (args.dir or default_cluster_dir()).resolve()
        if args.action == "up":
            return up(state_dir, args.apply)
        if args.action == "serviceaccount":
            return serviceaccount(
                state_dir, args.service_account, args.out, args.create, args.duration
            )
        return down(state_dir)
    except LocalError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
