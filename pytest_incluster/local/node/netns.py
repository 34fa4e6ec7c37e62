"""The node's network namespace: the node address, the pods' bridge, the Service address.

``ip netns add NAME`` makes it; inside, a veth pair carries the node address (the kubelet refuses
a loopback one) and ``lo`` carries the ``kubernetes`` Service address. The CNI bridge is made by
the bridge plugin when the first pod starts, inside this namespace too, because containerd runs
there. ``ip netns del NAME`` at ``cluster down`` removes it with every interface in it. Nothing
is routed out of it: there is no default route and no interface to the host's namespace.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from pytest_incluster.local.node.errors import NodeError
from pytest_incluster.local.node.layout import NODE_PEER_IP, NODE_PREFIX, SERVICE_HOST

NETNS_DIR = Path("/run/netns")


class NetnsInUseError(NodeError):
    """The namespace name is taken by something this state directory did not create."""


def netns_path(name: str) -> Path:
    return NETNS_DIR / name


def exists(name: str) -> bool:
    return netns_path(name).exists()


def _ip(*args: str) -> None:
    done = subprocess.run(
        ["ip", *args], capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
    )
    if done.returncode != 0:
        raise NodeError(
            f"`ip {' '.join(args)}` failed with status {done.returncode}: "
            f"{done.stderr.strip()}. The node's network namespace could not be set up."
        )


def in_use_message(name: str) -> str:
    return (
        f"The network namespace {name} ({netns_path(name)}) already exists and this state "
        "directory did not record it, so it belongs to something else (another node with "
        f"the same state directory, or a leftover). Remove it with `ip netns del {name}` "
        "if nothing uses it, or start the node with another --dir."
    )


def create(name: str, node_ip: str) -> None:
    """Make the namespace and its addresses; fails if the name is taken."""
    if exists(name):
        raise NetnsInUseError(in_use_message(name))
    _ip("netns", "add", name)
    try:
        _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", name, "addr", "add", f"{SERVICE_HOST}/32", "dev", "lo")
        _ip("-n", name, "link", "add", "node0", "type", "veth", "peer", "name", "node1")
        _ip("-n", name, "addr", "add", f"{node_ip}/{NODE_PREFIX}", "dev", "node0")
        _ip("-n", name, "addr", "add", f"{NODE_PEER_IP}/{NODE_PREFIX}", "dev", "node1")
        _ip("-n", name, "link", "set", "node0", "up")
        _ip("-n", name, "link", "set", "node1", "up")
    except NodeError:
        delete(name)
        raise


def delete(name: str) -> None:
    if exists(name):
        _ip("netns", "del", name)
