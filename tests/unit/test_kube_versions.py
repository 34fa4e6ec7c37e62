"""The supported range, stated once, and the one warning line for an older server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_incluster.kube_versions import (
    DEFAULT_KUBERNETES_VERSION,
    SUPPORTED_KUBERNETES_VERSIONS,
    minor_of,
    support_warning,
    supported_range,
)
from pytest_incluster.local.build import BuildError, release_etcd_version

ROOT = Path(__file__).resolve().parents[2]


def test_the_range_is_the_newest_three_minors_oldest_first() -> None:
    minors = [minor_of(v) for v in SUPPORTED_KUBERNETES_VERSIONS]
    assert minors == [(1, 35), (1, 36), (1, 37)]
    assert SUPPORTED_KUBERNETES_VERSIONS[-1] == DEFAULT_KUBERNETES_VERSION
    assert supported_range() == "v1.35 to v1.37"


def test_readme_and_ci_state_the_same_range() -> None:
    readme = (ROOT / "README.md").read_text()
    assert f"Supported Kubernetes releases: {supported_range()}" in readme
    ci = (ROOT / "scripts" / "test.sh").read_text()
    listed = re.search(r"^KUBERNETES_VERSIONS=\"([^\"]*)\"", ci, re.M)
    assert listed is not None
    assert tuple(listed[1].split()) == SUPPORTED_KUBERNETES_VERSIONS


@pytest.mark.parametrize(
    ("git_version", "minor"),
    [
        ("v1.35.4", (1, 35)),
        ("v1.33.5-eks-3025e55", (1, 33)),
        ("v1.34.1+k3s1", (1, 34)),
        ("1.37.0", (1, 37)),
        ("unknown", None),
    ],
)
def test_minor_of_reads_provider_versions(git_version: str, minor: tuple[int, int] | None) -> None:
    assert minor_of(git_version) == minor


def test_an_older_server_gets_one_warning_line() -> None:
    warning = support_warning("v1.34.2-gke.1000")
    assert warning is not None
    assert "\n" not in warning
    assert warning.startswith(
        "the server runs Kubernetes v1.34.2-gke.1000, older than the releases pytest-incluster "
        "is tested against (v1.35 to v1.37)"
    )


@pytest.mark.parametrize("git_version", ["v1.35.0", "v1.36.3", "v1.37.2", "v1.40.0", "unknown"])
def test_supported_newer_and_unknown_servers_get_no_warning(git_version: str) -> None:
    assert support_warning(git_version) is None


def test_the_etcd_of_a_release_comes_from_its_dependencies_file() -> None:
    text = (
        'dependencies:\n  - name: "golang"\n    version: 1.25.5\n'
        '  - name: "etcd"\n    version: 3.6.8\n'
    )
    assert release_etcd_version(text, "v1.36.3") == "v3.6.8"


@pytest.mark.parametrize("text", ["", "dependencies: []\n", 'dependencies:\n  - name: "etcd"\n'])
def test_a_release_without_an_etcd_pin_is_a_clear_build_error(text: str) -> None:
    with pytest.raises(BuildError, match=r"v1\.99\.0's build/dependencies\.yaml names no etcd"):
        release_etcd_version(text, "v1.99.0")
