"""Where the node keeps its files, and the addresses inside its network namespace.

All addresses below exist only inside the node's own network namespace (see :mod:`.netns`):
the node's address on a veth pair, the pods' bridge and subnet, and the ``kubernetes`` Service
address, which a forwarder serves (see :mod:`.forwarder`). The host's namespace gets none.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

NODE_NAME = "pytest-incluster-node"
NODE_IP = "172.30.0.2"
NODE_PEER_IP = "172.30.0.1"
NODE_PREFIX = 24
POD_SUBNET = "10.244.0.0/24"
# The first address of the control plane's --service-cluster-ip-range: the `kubernetes` Service.
SERVICE_HOST = "10.0.0.1"
SERVICE_PORT = 443
CONTAINERD_SOCKET = "/run/containerd/containerd.sock"
NETNS_PREFIX = "pytest-incluster-"


def netns_name(state_dir: Path) -> str:
    """A network-namespace name of its own for each state directory."""
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:8]
    return f"{NETNS_PREFIX}{digest}"


@dataclass(frozen=True)
class NodeLayout:
    """The node directory ``STATE_DIR/node`` and the files in it."""

    root: Path
    node_ip: str = NODE_IP

    @property
    def state_file(self) -> Path:
        return self.root / "node.json"

    @property
    def containerd_root(self) -> Path:
        return self.root / "containerd"

    @property
    def containerd_config(self) -> Path:
        return self.root / "containerd.toml"

    @property
    def cni_conf_dir(self) -> Path:
        return self.root / "cni" / "net.d"

    @property
    def cni_ipam_dir(self) -> Path:
        return self.root / "cni" / "ipam"

    @property
    def kubelet_root(self) -> Path:
        return self.root / "kubelet"

    @property
    def kubelet_config(self) -> Path:
        return self.root / "kubelet.yaml"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def pod_logs_dir(self) -> Path:
        return self.root / "pod-logs"

    def log(self, name: str) -> Path:
        return self.root / f"{name}.log"
