"""`cluster up --node` when it cannot work: one paragraph naming the fix, nothing left running.

Real faults, made on demand: a non-root user id (an unmapped user namespace), a PATH without
the node's commands, the node's network-namespace name taken by ``ip netns add``, and a kubelet
that exits at once (a broken binary in a cache directory of its own, the way a bad build would
look).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_incluster.local.node.image import images_cache
from pytest_incluster.local.node.layout import netns_name
from pytest_incluster.local.versions import selected_kubernetes_version
from tests.node.machine import snapshot

CLI = (sys.executable, "-m", "pytest_incluster.cli")
VERSION = selected_kubernetes_version()  # the release under test (CI runs each)


def up(
    state: Path, *extra: str, env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, *CLI, "cluster", "up", "--dir", str(state), "--node", *extra],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def assert_one_paragraph(done: subprocess.CompletedProcess[str], start: str) -> str:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith(f"pytest-incluster: error: {start}"), done.stderr
    return message


def assert_nothing_started(state: Path) -> None:
    assert not (state / "controlplane.json").exists()
    assert not (state / "node" / "node.json").exists()
    assert snapshot().related_processes(state) == []


def test_not_root_is_refused_before_anything_starts(tmp_path: Path) -> None:
    """Run as user id 65534: the overflow id of a user namespace with no mapping.

    Not ``setpriv --reuid=65534``: that user cannot read a checkout or an interpreter under a
    0700 directory such as /root (a fresh CI clone there failed with "No module named
    pytest_incluster"). In an unmapped user namespace ``geteuid()`` is 65534 while files are
    still read as their owner, so only the user id the command sees differs.
    """
    state = tmp_path / "state"
    done = up(state, prefix=("unshare", "--user"))
    message = assert_one_paragraph(done, "`pytest-incluster cluster up --node` must run as root")
    assert "the current user id is 65534" in message
    assert "leave out --node" in message
    assert_nothing_started(state)


def test_root_passes_the_root_check(tmp_path: Path) -> None:
    """The same command as root gets past the root check (to the missing commands here)."""
    done = up(tmp_path / "state", env={**os.environ, "PATH": str(tmp_path / "empty")})
    assert "must run as root" not in done.stderr


def test_missing_packages_are_named_with_the_apt_command(tmp_path: Path) -> None:
    state = tmp_path / "state"
    (tmp_path / "bin").mkdir()
    done = up(state, env={**os.environ, "PATH": str(tmp_path / "bin")})
    message = assert_one_paragraph(done, "The real node needs Debian packages")
    assert "not installed: containerd util-linux." in message
    assert "`apt-get install --no-install-recommends containerd util-linux`" in message
    assert_nothing_started(state)


def test_a_taken_network_namespace_name_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    name = netns_name(state)
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        done = up(state)
        message = assert_one_paragraph(done, f"The network namespace {name}")
        assert f"`ip netns del {name}`" in message
        assert_nothing_started(state)
        assert name in snapshot().netns  # someone else's: left alone
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)


@pytest.fixture
def broken_kubelet_cache(tmp_path: Path, k8s_assets: Path) -> dict[str, str]:
    """A cache directory whose kubelet exits at once with a message; the rest is real."""
    from pytest_incluster.local.assets import resolve_node_assets

    real = resolve_node_assets()
    cache = tmp_path / "cache"
    version_dir = cache / "pytest-incluster" / "k8s" / VERSION
    version_dir.mkdir(parents=True)
    names = ("etcd", "etcd.version", "kube-apiserver", "kubectl", "kube-controller-manager")
    for name in (*names, "kube-scheduler"):
        (version_dir / name).symlink_to(real / name)
    kubelet = version_dir / "kubelet"
    kubelet.write_text("#!/bin/sh\necho 'E1201 failed to run Kubelet: a broken kubelet' >&2\n")
    kubelet.chmod(0o755)
    # The node image cache is shared (built once); on a fresh machine this test may be the
    # first to need it, so the directory is made here rather than left a dangling link.
    images = images_cache()
    images.mkdir(parents=True, exist_ok=True)
    (cache / "pytest-incluster" / "images").symlink_to(images)
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    env.pop("KUBEBUILDER_ASSETS", None)
    return env


def test_a_kubelet_that_exits_is_reported_with_its_log(
    tmp_path: Path, broken_kubelet_cache: dict[str, str]
) -> None:
    state = tmp_path / "state"
    before = snapshot()
    done = up(state, env=broken_kubelet_cache)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    log = state / "node" / "kubelet.log"
    # Depending on timing it exits before or while the node is awaited; either way:
    error = next(line for line in done.stderr.splitlines() if " error: " in line)
    assert error.startswith(
        ("pytest-incluster: error: kubelet exited ", "pytest-incluster: error: the kubelet")
    )
    assert error.endswith(f"Its log is {log}; the last lines are below."), error
    assert "    E1201 failed to run Kubelet: a broken kubelet" in done.stderr
    assert_nothing_started(state)
    after = snapshot()
    assert after.netns == before.netns
    assert after.mounts == before.mounts
    assert after.sysctls == before.sysctls
