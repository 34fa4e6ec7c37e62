"""``pytest-incluster fetch-report NAME [-n NS] [-o DIR]``: a stored report, back as files.

The cluster is found exactly as the tests find it (:func:`~pytest_incluster.config.
cluster_discovery.resolve`): ``--kubeconfig``/``--context`` if given, else a pod's service
account, else ``KUBECONFIG`` or ``~/.kube/config``; the client is built by
:func:`~pytest_incluster.client.connect.http_client` (the same TLS, credentials, exec plugin
and proxy as every client; a single read needs no retries). The namespace defaults
to that configuration's (the kubeconfig context's, or the pod's). The reading and decoding is
:func:`pytest_incluster.report.fetch.fetch_report`.
"""

from __future__ import annotations

import os
from pathlib import Path

from pytest_incluster.client.connect import http_client
from pytest_incluster.config.cluster_discovery import resolve
from pytest_incluster.config.errors import NoClusterFound
from pytest_incluster.config.model import ClusterConfig
from pytest_incluster.config.names import NAMESPACE_RULE, is_namespace_name
from pytest_incluster.config.options import Options, Sourced
from pytest_incluster.report.fetch import FetchError, fetch_report

READ_TIMEOUT_S = 60.0
_TESTS_FIX = "Run the tests in a pod"
_COMMAND_FIX = (
    "Pass --kubeconfig PATH (and --context NAME), set KUBECONFIG, or run the command in a pod "
    "whose service account may read the report."
)


def options(kubeconfig: str | None, context: str | None) -> Options:
    """The explicit settings of the command line, each naming its flag as its source."""
    unset: Sourced[str | None] = Sourced(None, "unset")
    return Options(
        kubeconfig=Sourced(kubeconfig, "--kubeconfig") if kubeconfig else unset,
        context=Sourced(context, "--context") if context else unset,
    )


def fetch(
    name: str, namespace: str | None, out: Path, kubeconfig: str | None, context: str | None
) -> int:
    """Write the report's files into ``out`` and print their paths, then the run's summary."""
    if namespace is not None and not is_namespace_name(namespace):
        raise FetchError(f"-n {namespace!r} is not a namespace: {NAMESPACE_RULE}.")
    try:
        config = resolve(options(kubeconfig, context), os.environ)
    except NoClusterFound as exc:
        error = exc
    else:
        return _fetch(config, name, namespace, out)
    # Where it looked is the same as for the tests; the fix is this command's own flags.
    looked = str(error).split(_TESTS_FIX, 1)[0]
    raise NoClusterFound(f"{looked}{_COMMAND_FIX}", anchor="no-cluster-found") from None


def _fetch(config: ClusterConfig, name: str, namespace: str | None, out: Path) -> int:
    with http_client(config, timeout=READ_TIMEOUT_S) as client:
        fetched = fetch_report(client, namespace or config.namespace, name, out)
    for path in fetched.files:
        print(f"wrote {path}")
    if fetched.summary:
        print(fetched.summary)
    return 0
