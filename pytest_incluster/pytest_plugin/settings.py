"""Command-line options and ini keys: their definitions, and reading them into :class:`Options`.

One table defines every ``--incluster-*`` flag with its ``incluster_*`` ini key, so the two can
never drift apart, and :func:`options_from_pytest` records for each value whether it came from
the command line, the ini file or the default; errors and the report quote that origin.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Literal

import pytest

from pytest_incluster.config.options import DEFAULT_SA_DIR, Options, Sourced

IniType = Literal["string", "bool", "linelist", "args"]


@dataclass(frozen=True)
class Setting:
    """One user-facing setting: ``--incluster-<name>`` and ini ``incluster_<name>``."""

    name: str  # e.g. "server"; flag --incluster-server, ini incluster_server, dest incluster_server
    help: str
    ini_type: IniType = "string"
    is_flag: bool = False  # a boolean switch (store_true)
    repeatable: bool = False  # may be given several times (append)
    metavar: str | None = None
    env: str | None = None  # an environment variable that sets it (below the flag)

    @property
    def flag(self) -> str:
        return "--incluster-" + self.name.replace("_", "-")

    @property
    def dest(self) -> str:
        return "incluster_" + self.name


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "server",
        "API server URL (default: from the pod's KUBERNETES_SERVICE_HOST/PORT, "
        "else the kubeconfig).",
        metavar="URL",
    ),
    Setting(
        "token_file",
        "bearer token file, re-read as it rotates (default: SA_DIR/token).",
        metavar="PATH",
    ),
    Setting(
        "ca_file",
        "CA bundle that signs the API server's certificate (default: SA_DIR/ca.crt).",
        metavar="PATH",
    ),
    Setting(
        "namespace",
        "namespace for namespaced requests, a DNS label (default: POD_NAMESPACE, then "
        "SA_DIR/namespace, then 'default').",
        metavar="NS",
    ),
    Setting("sa_dir", f"service-account directory (default: {DEFAULT_SA_DIR}).", metavar="DIR"),
    Setting(
        "kubeconfig",
        "kubeconfig for runs outside a pod (default: KUBECONFIG, then ~/.kube/config).",
        metavar="PATH",
    ),
    Setting("context", "kubeconfig context (default: current-context).", metavar="NAME"),
    Setting(
        "exec_timeout",
        "seconds a kubeconfig exec credential plugin may run before it is stopped (default 60).",
        metavar="SECONDS",
    ),
    Setting(
        "insecure_skip_tls_verify",
        "do NOT verify the API server's certificate; shown as a warning in the "
        "header (at the end of the run under -q or --no-header) and the report.",
        ini_type="bool",
        is_flag=True,
    ),
    Setting(
        "skip_unavailable",
        "skip (instead of error) tests that need a cluster when none is found.",
        ini_type="bool",
        is_flag=True,
    ),
    Setting(
        "timeout",
        "request timeout in seconds (connect timeout is the smaller of this and 5; default 30).",
        metavar="SECONDS",
    ),
    Setting(
        "retries",
        "retries for idempotent requests on 429/503 and refused or reset connections; "
        "timeouts are not retried (default 3).",
        metavar="N",
    ),
    Setting("concurrency", "access checks in flight at once (default 16).", metavar="N"),
    Setting(
        "unreachable_after",
        "after N requests in a row got no answer from the API server, fail further requests "
        "at once instead of waiting for each to time out; the server is tried again 5 s after "
        "the last attempt, and used again once it answers. 0 turns this off (default 2).",
        metavar="N",
    ),
    Setting(
        "trust_env",
        "honour HTTP(S)_PROXY, NO_PROXY and SSL_CERT_FILE from the environment.",
        ini_type="bool",
        is_flag=True,
    ),
    Setting(
        "cluster_name",
        "a name for the cluster this run tests (e.g. prod-eu), shown in the header and the report.",
        metavar="NAME",
        env="INCLUSTER_CLUSTER_NAME",
    ),
    Setting(
        "access_files",
        "glob patterns of access-matrix files to collect (default *.access.yaml).",
        ini_type="args",
        metavar="GLOB",
    ),
    Setting(
        "report_configmap",
        "after the session, store the HTML report (and JUnit XML) "
        "gzip-compressed in this ConfigMap in the runner's namespace.",
        metavar="NAME",
    ),
    Setting(
        "results",
        "write the run's access decisions as a versioned JSON document (cluster, identity, "
        "every decision, totals) to PATH; stored with the report by "
        "--incluster-report-configmap.",
        metavar="PATH",
    ),
    Setting(
        "local",
        "start a throwaway local control plane (etcd + kube-apiserver) and run "
        "as a service account in it, exactly as in a pod.",
        ini_type="bool",
        is_flag=True,
    ),
    Setting(
        "local_apply",
        "with --incluster-local: manifests (file or directory) to apply "
        "with the admin credential first; repeatable.",
        ini_type="linelist",
        repeatable=True,
        metavar="PATH",
    ),
    Setting(
        "local_as",
        "with --incluster-local: the service account to run as (default default/default).",
        metavar="NAMESPACE/NAME",
    ),
    Setting(
        "local_dir",
        "with --incluster-local: state directory of the control plane; a "
        "live one there is reused (default: a temporary directory, removed at the end).",
        metavar="DIR",
    ),
)

BY_NAME = {s.name: s for s in SETTINGS}

DEFAULTS: dict[str, Any] = {
    "timeout": "30",
    "retries": "3",
    "concurrency": "16",
    "unreachable_after": "2",
    "access_files": ["*.access.yaml"],
    "local_as": "default/default",
}


# The one `pytest --help` section that holds every option of the plugin.
GROUP = "incluster"
GROUP_TITLE = "pytest-incluster (each --incluster-NAME is also the ini key incluster_NAME)"


def add_options(parser: pytest.Parser) -> None:
    """Register every setting as a flag and an ini key (flags win over ini)."""
    group = parser.getgroup(GROUP, GROUP_TITLE)
    for s in SETTINGS:
        if s.is_flag:
            group.addoption(s.flag, action="store_true", default=None, dest=s.dest, help=s.help)
        elif s.repeatable:
            group.addoption(
                s.flag, action="append", default=None, dest=s.dest, metavar=s.metavar, help=s.help
            )
        else:
            group.addoption(s.flag, default=None, dest=s.dest, metavar=s.metavar, help=s.help)
        parser.addini(s.dest, help=s.help, type=s.ini_type, default=None)


def get_setting(config: pytest.Config, name: str) -> Sourced[Any]:
    """A setting's value and where it came from: the flag, then the ini key, then its
    environment variable if it has one (the README's order), then the default."""
    s = BY_NAME[name]
    cli = config.getoption(s.dest)
    if cli is not None:
        return Sourced(cli, s.flag)
    ini = config.getini(s.dest)
    if ini not in (None, [], ""):
        return Sourced(ini, f"ini {s.dest}")
    if s.env and os.environ.get(s.env, "").strip():
        return Sourced(os.environ[s.env].strip(), f"environment variable {s.env}")
    return Sourced(DEFAULTS.get(name), "default")


def options_from_pytest(config: pytest.Config) -> Options:
    """Build the discovery :class:`Options` from flags and ini keys."""

    def text(name: str) -> Sourced[str | None]:
        got = get_setting(config, name)
        return Sourced(None if got.value in (None, "") else str(got.value), got.source)

    sa_dir = text("sa_dir")
    insecure = get_setting(config, "insecure_skip_tls_verify")
    return Options(
        server=text("server"),
        token_file=text("token_file"),
        ca_file=text("ca_file"),
        namespace=text("namespace"),
        sa_dir=Sourced(sa_dir.value or DEFAULT_SA_DIR, sa_dir.source),
        kubeconfig=text("kubeconfig"),
        context=text("context"),
        exec_timeout=text("exec_timeout"),
        insecure_skip_tls_verify=Sourced(bool(insecure.value), insecure.source),
    )


NUMBERS: dict[str, tuple[type[int] | type[float], int]] = {
    "timeout": (float, 1),
    "retries": (int, 0),
    "concurrency": (int, 1),
    "unreachable_after": (int, 0),
}


def number(config: pytest.Config, name: str) -> int | float:
    """A numeric setting; a bad value is a usage error naming where it came from."""
    kind, minimum = NUMBERS[name]
    got = get_setting(config, name)
    try:
        value = kind(got.value)
    except (TypeError, ValueError):
        value = minimum - 1
    if not math.isfinite(value) or value < minimum or (minimum == 1 and value <= 0):
        wanted = "a positive" if minimum == 1 else "zero or a positive"
        raise pytest.UsageError(
            f"{BY_NAME[name].flag} (from {got.source}) must be {wanted} "
            f"{'whole ' if kind is int else ''}number, got {got.value!r}. Fix the value, or "
            f"remove it to use the default {DEFAULTS[name]}."
        )
    return value


def check_namespace(config: pytest.Config) -> None:
    """``--incluster-namespace`` must be a namespace name; a usage error names where it came
    from. The server would not say so: listing pods in ``Shop`` answers an empty list, and an
    access review answers "no" for it, so tests would pass about a namespace that cannot exist.
    """
    from pytest_incluster.config.names import NAMESPACE_RULE, is_namespace_name

    got = get_setting(config, "namespace")
    if got.value in (None, "") or is_namespace_name(str(got.value)):
        return
    raise pytest.UsageError(
        f"{BY_NAME['namespace'].flag} (from {got.source}) is {got.value!r}, which is not a "
        f"namespace name: {NAMESPACE_RULE}. Fix the value, or remove it to use the runner's own "
        "namespace (POD_NAMESPACE, the service account's namespace file or the kubeconfig "
        "context's, else 'default')."
    )


LOCAL_ONLY = ("local_apply", "local_as", "local_dir")


def check_local_only(config: pytest.Config) -> None:
    """``--incluster-local-*`` flags on a command line without ``--incluster-local`` are a
    usage error: the run would silently test another cluster than the one they describe.

    The ini keys are not: an ini file may hold the local settings for the runs that switch
    ``--incluster-local`` on, and be shared with runs (in a pod) that do not.
    """
    if get_setting(config, "local").value:
        return
    given = [
        BY_NAME[name].flag
        for name in LOCAL_ONLY
        if get_setting(config, name).source == BY_NAME[name].flag
    ]
    if not given:
        return
    them = given[0] if len(given) == 1 else ", ".join(given[:-1]) + " and " + given[-1]
    verb = "works" if len(given) == 1 else "work"
    raise pytest.UsageError(
        f"{them} only {verb} with --incluster-local, which is not set: without it the run uses "
        "the cluster it finds (a pod's service account or a kubeconfig) and would ignore "
        f"{'it' if len(given) == 1 else 'them'}. Add --incluster-local, or remove {them}."
    )


def validate(config: pytest.Config) -> None:
    """Check the settings at start-up, so a typo stops the run before any test."""
    for name in NUMBERS:
        number(config, name)
    check_namespace(config)
    check_local_only(config)


# pytest options that list what would run and run nothing (attribute on config.option -> flag).
_LISTING_OPTIONS = (
    ("collectonly", "--collect-only"),
    ("showfixtures", "--fixtures"),
    ("show_fixtures_per_test", "--fixtures-per-test"),
    ("setupplan", "--setup-plan"),
)


def listing_only(config: pytest.Config) -> str | None:
    """The pytest flag that makes this run list tests without running any, else None.

    Such a run must not contact the cluster (the header does not ask the server, no local
    control plane is started, no report is stored): listing a suite works on a machine
    without one, and costs no time when the cluster is slow or gone.
    """
    for attribute, flag in _LISTING_OPTIONS:
        if getattr(config.option, attribute, False):
            return flag
    return None
