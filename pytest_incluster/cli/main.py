"""``pytest-incluster``: get the control-plane binaries and run a local cluster by hand.

::

    pytest-incluster assets [--dir DIR] [--kubernetes-version V] [--node]
    pytest-incluster image [--context DIR]
    pytest-incluster cluster up [--dir DIR] [--apply PATH]... [--node [--image OCI_ARCHIVE]...]
    pytest-incluster cluster serviceaccount NAMESPACE/NAME --out DIR [--create] [--duration D]
                                            [--dir DIR]
    pytest-incluster cluster down [--dir DIR]
    pytest-incluster fetch-report NAME [-n NAMESPACE] [-o DIR] [--kubeconfig PATH] [--context C]
    pytest-incluster snapshot [--as SUBJECT [--groups G ...]] [-n NAMESPACE ...] [--cluster-scope]
                              [--incluster-* settings as for pytest]
    pytest-incluster report merge RESULTS.json... --html FLEET.html [--json MERGED.json]
                                  [--report-url CLUSTER=URL]...
    pytest-incluster report diff OLD.json NEW.json

``assets`` prints only the directory on stdout (progress goes to stderr), so
``export KUBEBUILDER_ASSETS="$(pytest-incluster assets)"`` works. ``cluster up`` starts a detached
control plane that outlives the command, reuses the one already running in DIR, or restarts the
one whose processes died there (a crash, a reboot) with its certificates, keys, etcd data and, when
free, ports; it writes ``DIR/kubeconfig`` (admin) and ``DIR/env``
(``KUBERNETES_SERVICE_HOST``/``_PORT``, for ``source``) and prints the server URL. ``cluster down``
stops it and discards that state, so the next ``up`` starts afresh. ``fetch-report`` reads a
report stored with ``--incluster-report-configmap`` back into files, from the cluster the tests
would find. ``snapshot`` prints an exhaustive access document of everything a subject may do
(see :mod:`.snapshot_command`). ``report merge`` and ``report diff`` read ``--incluster-results``
files: the fleet page of many clusters, and every decision that changed between two runs (exit
status 1 when one did). User errors are one paragraph on stderr and exit status 2; a report that
cannot be fetched (missing, not a report, being replaced, corrupt), or an API error during a
snapshot, exits with 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_incluster.cli.assets_command import run_assets
from pytest_incluster.cli.cluster_command import down, serviceaccount, up
from pytest_incluster.cli.console import PROG, default_cluster_dir
from pytest_incluster.cli.image_command import run_image
from pytest_incluster.client.errors import ApiError, ApiUnreachable
from pytest_incluster.config.errors import ConfigError
from pytest_incluster.kube_versions import DEFAULT_KUBERNETES_VERSION, SUPPORTED_KUBERNETES_VERSIONS
from pytest_incluster.local.errors import LocalError
from pytest_incluster.report.fetch import FetchError
from pytest_incluster.results.errors import ResultsError


def _add_assets(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    assets = commands.add_parser(
        "assets",
        help="print a directory holding etcd, kube-apiserver and kubectl (building if needed)",
        description="Print a directory holding etcd, kube-apiserver and kubectl: --dir, else "
        "KUBEBUILDER_ASSETS if complete, else the per-version cache, building it with Go.",
    )
    assets.add_argument("--dir", type=Path, help="use this directory (must hold all three)")
    assets.add_argument(
        "--kubernetes-version",
        default=None,
        metavar="V",
        help="Kubernetes release to use or build (default: $INCLUSTER_KUBERNETES_VERSION, else "
        f"{DEFAULT_KUBERNETES_VERSION}; tested: {', '.join(SUPPORTED_KUBERNETES_VERSIONS)})",
    )
    assets.add_argument(
        "--node",
        action="store_true",
        help="also build kubelet, kube-controller-manager and kube-scheduler into the cache "
        "(for `cluster up --node`)",
    )


def _add_image(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    image = commands.add_parser(
        "image",
        help="build the runner image (deploy/Dockerfile) without a registry; print its archive",
        description="Build deploy/Dockerfile on a local Debian base (mmdebstrap + buildah; "
        "root only) and print the path of the OCI archive, for `cluster up --node --image`.",
    )
    image.add_argument(
        "--context", type=Path, default=Path("."), help="the repository root (default: .)"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Local Kubernetes control plane for pytest-incluster."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _add_assets(commands)
    _add_image(commands)

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
    up.add_argument(
        "--node",
        action="store_true",
        help="also start a real node (containerd, kubelet, kube-controller-manager, "
        "kube-scheduler) in a network namespace of its own; root only",
    )
    up.add_argument(
        "--image",
        type=Path,
        action="append",
        default=[],
        metavar="OCI_ARCHIVE",
        help="with --node: an OCI archive to import into the node (repeatable; see "
        "`pytest-incluster image`)",
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
    _add_fetch_report(commands)
    from pytest_incluster.cli.snapshot_command import add_snapshot

    add_snapshot(commands)
    _add_report(commands)
    return parser


def _add_report(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = commands.add_parser(
        "report", help="merge results files of many clusters, or diff two runs"
    )
    actions = report.add_subparsers(dest="action", required=True, metavar="ACTION")
    merge = actions.add_parser(
        "merge",
        help="one page over many clusters: clusters x checks, differences from the majority",
        description="Combine the files written by pytest --incluster-results (one per cluster) "
        "into one self-contained HTML page: per-cluster totals, then every check with each "
        "cluster's answer, where an answer that differs from the majority is highlighted.",
    )
    merge.add_argument("results", nargs="+", type=Path, metavar="RESULTS.json")
    merge.add_argument("--html", type=Path, required=True, metavar="PATH", help="page to write")
    merge.add_argument(
        "--json", type=Path, default=None, metavar="PATH", help="also write the merged data"
    )
    merge.add_argument(
        "--report-url",
        action="append",
        default=[],
        metavar="CLUSTER=URL",
        help="link the cluster's name to its HTML report (repeatable)",
    )
    diff = actions.add_parser(
        "diff",
        help="print every decision that changed between two runs; exit 1 if any did",
        description="Compare two files written by pytest --incluster-results: print every "
        "check whose answer or expectation changed, and those only one run made. Exit status "
        "0 when nothing changed, 1 when something did, 2 when a file cannot be used.",
    )
    diff.add_argument("old", type=Path, metavar="OLD.json")
    diff.add_argument("new", type=Path, metavar="NEW.json")


def _add_fetch_report(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fetch = commands.add_parser(
        "fetch-report",
        help="read a report stored with --incluster-report-configmap back into files",
        description="Read the report that `pytest --incluster-report-configmap NAME` stored "
        "(ConfigMaps NAME, NAME-1, ...) and write its files (report.html, and junit.xml and "
        "results.json when they were stored) into DIR; then print the run's one-line summary. "
        "The cluster is found "
        "as the tests find it: --kubeconfig/--context, else the pod's service account, else "
        "KUBECONFIG or ~/.kube/config. Needs 'get' on configmaps in the namespace.",
    )
    fetch.add_argument(
        "name", metavar="NAME", help="the name given to --incluster-report-configmap"
    )
    fetch.add_argument(
        "-n",
        "--namespace",
        default=None,
        help="the runner's namespace (default: the kubeconfig context's, or the pod's)",
    )
    fetch.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path(),
        metavar="DIR",
        help="where to write the files, created if needed (default: the current directory)",
    )
    fetch.add_argument("--kubeconfig", default=None, metavar="PATH", help="kubeconfig to use")
    fetch.add_argument("--context", default=None, metavar="NAME", help="kubeconfig context")


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "assets":
            return run_assets(args.dir, args.kubernetes_version, args.node)
        if args.command == "fetch-report":
            from pytest_incluster.cli.fetch_command import fetch

            return fetch(args.name, args.namespace, args.output, args.kubeconfig, args.context)
        if args.command == "image":
            return run_image(args.context)
        if args.command == "snapshot":
            from pytest_incluster.cli.snapshot_command import snapshot

            return snapshot(args)
        if args.command == "report":
            from pytest_incluster.cli import report_command

            if args.action == "merge":
                return report_command.run_merge(args.results, args.html, args.json, args.report_url)
            return report_command.run_diff(args.old, args.new)
        from pytest_incluster.local.extra import require_local_extra

        require_local_extra()
        state_dir: Path = (args.dir or default_cluster_dir()).resolve()
        if args.action == "up":
            return up(state_dir, args.apply, node=args.node, images=args.image)
        if args.action == "serviceaccount":
            return serviceaccount(
                state_dir, args.service_account, args.out, args.create, args.duration
            )
        return down(state_dir)
    except (LocalError, ConfigError, ResultsError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except (ApiError, ApiUnreachable) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    except FetchError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
