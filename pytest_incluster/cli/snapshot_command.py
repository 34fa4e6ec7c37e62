"""``pytest-incluster snapshot``: everything a subject may do, as an exhaustive access document.

::

    pytest-incluster snapshot [--as SUBJECT [--groups G ...]] [-n NAMESPACE ...] [--cluster-scope]
                              [--incluster-kubeconfig PATH] [--incluster-context NAME] ...
                              [--incluster-local [--incluster-local-dir DIR] ...]
                              [--incluster-concurrency N]

The cluster is found exactly as the plugin finds it (:func:`~pytest_incluster.config.
cluster_discovery.resolve`, the same ``--incluster-*`` settings; ``--incluster-local`` starts
or reuses a local control plane). The document goes to stdout, how each scope was learned
(rules review, or a sweep of access reviews when the server said the rules are incomplete) to
stderr. The domain is :mod:`pytest_incluster.privilege`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import httpx

from pytest_incluster.access.bound_subject import SA_USER_PREFIX
from pytest_incluster.cli.console import PROG
from pytest_incluster.client.client import K8sClient
from pytest_incluster.client.errors import ApiError, NotFound
from pytest_incluster.config.cluster_discovery import resolve
from pytest_incluster.config.errors import ConfigError
from pytest_incluster.config.names import NAMESPACE_RULE, is_namespace_name
from pytest_incluster.config.options import DEFAULT_SA_DIR, Options, Sourced
from pytest_incluster.privilege.inventory import (
    Inventory,
    cluster_inventory,
    namespace_inventory,
)
from pytest_incluster.privilege.snapshot_document import snapshot_document

_TEXT_SETTINGS = (
    ("server", "URL", "API server URL (default: the pod's, else the kubeconfig's)"),
    ("token_file", "PATH", "bearer token file"),
    ("ca_file", "PATH", "CA bundle of the API server"),
    ("namespace", "NS", "the runner's namespace (default: the pod's or the context's)"),
    ("sa_dir", "DIR", f"service-account directory (default: {DEFAULT_SA_DIR})"),
    ("kubeconfig", "PATH", "kubeconfig (default: KUBECONFIG, then ~/.kube/config)"),
    ("context", "NAME", "kubeconfig context"),
    ("exec_timeout", "SECONDS", "how long an exec credential plugin may run"),
)


def _flag(name: str) -> str:
    return "--incluster-" + name.replace("_", "-")


def add_snapshot(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    snap = commands.add_parser(
        "snapshot",
        help="print an exhaustive access document of everything a subject may do",
        description="Ask the server what SUBJECT (default: the runner itself) may do in each "
        "NAMESPACE (and at the cluster scope) and print it as an access document with "
        "'exhaustive: true': review it, commit it, and run it with pytest on every deploy. "
        "The cluster is found as the plugin finds it (the same --incluster-* settings).",
    )
    snap.add_argument("--as", dest="user", metavar="SUBJECT", help="impersonate this user")
    snap.add_argument(
        "--groups", nargs="+", action="extend", default=[], metavar="G", help="with --as"
    )
    snap.add_argument(
        "-n",
        "--namespace",
        dest="namespaces",
        action="append",
        default=[],
        metavar="NAMESPACE",
        help="a namespace to snapshot (repeatable; default: the runner's namespace)",
    )
    snap.add_argument(
        "--cluster-scope",
        action="store_true",
        help="also snapshot cluster-scoped resources, all-namespaces (-A) access and URLs",
    )
    for name, metavar, text in _TEXT_SETTINGS:
        snap.add_argument(_flag(name), dest=name, metavar=metavar, default=None, help=text)
    snap.add_argument("--incluster-insecure-skip-tls-verify", dest="insecure", action="store_true")
    snap.add_argument(
        "--incluster-concurrency",
        dest="concurrency",
        type=int,
        default=16,
        metavar="N",
        help="access reviews in flight at once (default 16)",
    )
    snap.add_argument("--incluster-timeout", dest="timeout", type=float, default=30.0)
    snap.add_argument(
        "--incluster-local", dest="local", action="store_true", help="use a local control plane"
    )
    snap.add_argument("--incluster-local-dir", dest="local_dir", type=Path, default=None)
    snap.add_argument("--incluster-local-as", dest="local_as", default="default/default")
    snap.add_argument(
        "--incluster-local-apply", dest="local_apply", type=Path, action="append", default=[]
    )


def _options(args: argparse.Namespace) -> Options:
    def text(name: str) -> Sourced[str | None]:
        value = getattr(args, name)
        return Sourced(value, _flag(name)) if value else Sourced(None, "unset")

    sa_dir = text("sa_dir")
    return Options(
        server=text("server"),
        token_file=text("token_file"),
        ca_file=text("ca_file"),
        namespace=text("namespace"),
        sa_dir=Sourced(sa_dir.value, sa_dir.source)
        if sa_dir.value
        else Sourced(DEFAULT_SA_DIR, "default"),
        kubeconfig=text("kubeconfig"),
        context=text("context"),
        exec_timeout=text("exec_timeout"),
        insecure_skip_tls_verify=Sourced(
            bool(args.insecure), "--incluster-insecure-skip-tls-verify"
        ),
    )


def _check(args: argparse.Namespace) -> None:
    for namespace in args.namespaces:
        if not is_namespace_name(namespace):
            raise ConfigError(f"-n {namespace!r} is not a namespace: {NAMESPACE_RULE}.")
    if args.groups and not args.user:
        raise ConfigError(
            "--groups needs --as: the server only impersonates groups together with a user "
            "(example: --as alice --groups ops)."
        )
    if args.groups and str(args.user).startswith("system:serviceaccount:"):
        raise ConfigError(
            "--groups cannot be combined with a ServiceAccount in --as: its groups are fixed "
            "(system:serviceaccounts, system:serviceaccounts:NAMESPACE). Remove --groups."
        )
    if args.concurrency < 1:
        raise ConfigError(f"--incluster-concurrency must be at least 1, got {args.concurrency}.")


def _local(args: argparse.Namespace, options: Options, stack: ExitStack) -> Options:
    from pytest_incluster.local.extra import require_local_extra
    from pytest_incluster.local.shared_plane import start_local_session

    require_local_extra()
    # No --incluster-local-dir: a temporary state directory, removed when the session stops.
    session = start_local_session(args.local_dir, apply=args.local_apply, as_sa=args.local_as)
    stack.callback(session.stop)
    label = f"--incluster-local ({args.local_as})"
    return replace(
        options,
        server=Sourced(session.server, label),
        sa_dir=Sourced(str(session.sa_dir), label),
        local=f"local control plane as {args.local_as}",
    )


def _check_service_account(client: K8sClient, user: str) -> None:
    """Refuse a ServiceAccount that does not exist (kubectl would happily answer for it)."""
    if not user.startswith(SA_USER_PREFIX):
        return
    namespace, _, name = user[len(SA_USER_PREFIX) :].partition(":")
    try:
        client.get(f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}")
    except NotFound:
        raise ConfigError(
            f'--as {user}: ServiceAccount "{name}" does not exist in namespace "{namespace}": a '
            "snapshot of it would describe an identity no pod can have. Create the "
            "ServiceAccount or correct --as."
        ) from None
    except ApiError as exc:
        print(
            f"{PROG}: could not verify that ServiceAccount {namespace}/{name} exists ({exc})",
            file=sys.stderr,
        )


def inventories(
    client: K8sClient, namespaces: Sequence[str], cluster_scope: bool, concurrency: int
) -> list[Inventory]:
    """One inventory per namespace, then the cluster scope's if asked."""
    found = [namespace_inventory(client, ns, concurrency) for ns in namespaces]
    if cluster_scope:
        found.append(cluster_inventory(client, concurrency))
    return found


def snapshot(args: argparse.Namespace) -> int:
    """Print the document; raises ConfigError/LocalError/ApiError for the caller to report."""
    _check(args)
    with ExitStack() as stack:
        options = _options(args)
        if args.local:
            options = _local(args, options, stack)
        config = resolve(options, os.environ)
        timeout = httpx.Timeout(args.timeout, connect=min(args.timeout, 5.0))
        client = stack.enter_context(
            K8sClient(config, timeout=timeout, max_concurrency=args.concurrency)
        )
        if args.user:
            _check_service_account(client, args.user)
        subject = client.impersonate(args.user, args.groups) if args.user else client
        namespaces = list(dict.fromkeys(args.namespaces)) or (
            [] if args.cluster_scope else [config.namespace]
        )
        found = inventories(subject, namespaces, args.cluster_scope, args.concurrency)
        for inventory in found:
            print(f"{PROG}: {inventory.how}", file=sys.stderr)
        sys.stdout.write(
            snapshot_document(
                found,
                user=args.user,
                groups=args.groups,
                namespaces=namespaces,
                cluster_scope=args.cluster_scope,
            )
        )
    return 0
