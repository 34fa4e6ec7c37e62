"""The configuration files of the node's containerd, CNI, kubelet and controllers.

Paths under ``/run`` are the node's own: every node process runs in a private mount namespace
with a fresh tmpfs on ``/run`` (see :mod:`.layout`), so containerd's socket and state, runc's
state, the shims' sockets and the pods' network-namespace files never appear on the host and
vanish with the last node process. Everything that must survive a restart of a process lives in
the node directory of the state directory.

The kubelet settings are the ones that start kubelet v1.37 on a cgroup-v1 host without systemd:
``failCgroupV1: false``, the ``cgroupfs`` driver, no QoS cgroups and no node-allocatable
enforcement (both would create cgroups outside the containers'), swap tolerated, and eviction
and image-GC thresholds relaxed so a nearly full CI disk neither evicts the test pod nor deletes
the images imported here (there is no registry to pull them again).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from pytest_incluster.local.node.image import PAUSE_IMAGE
from pytest_incluster.local.node.layout import (
    CONTAINERD_SOCKET,
    NODE_NAME,
    POD_SUBNET,
    SERVICE_HOST,
    SERVICE_PORT,
    NodeLayout,
)

RUNC = "/usr/sbin/runc"
CNI_BIN_DIR = "/usr/lib/cni"


def containerd_toml(layout: NodeLayout) -> str:
    """containerd 1.6 (config version 2): own root, CRI with runc, cgroupfs, local pause image."""
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""\
version = 2
root = "{layout.containerd_root}"
state = "/run/containerd"

[grpc]
  address = "{CONTAINERD_SOCKET}"

[plugins."io.containerd.internal.v1.opt"]
  path = "{layout.containerd_root / "opt"}"

[{cri}]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [{cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "{RUNC}"
  [{cri}.cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{layout.cni_conf_dir}"
"""


def cni_conflist(layout: NodeLayout) -> str:
    """One bridge inside the node's namespace; the pods' gateway is the bridge itself."""
    config = {
        "cniVersion": "0.4.0",
        "name": "pytest-incluster",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": False,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": POD_SUBNET}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(layout.cni_ipam_dir),
                },
            }
        ],
    }
    return json.dumps(config, indent=2) + "\n"


def kubelet_yaml(layout: NodeLayout, ca_file: Path) -> str:
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "port": 10250,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": False},
            "x509": {"clientCAFile": str(ca_file)},
        },
        "authorization": {"mode": "AlwaysAllow"},
        "containerRuntimeEndpoint": f"unix://{CONTAINERD_SOCKET}",
        "cgroupDriver": "cgroupfs",
        "cgroupsPerQOS": False,
        "enforceNodeAllocatable": [],
        "failCgroupV1": False,
        "failSwapOn": False,
        "oomScoreAdj": 0,
        "podLogsDir": str(layout.pod_logs_dir),
        "resolvConf": "",
        "registerNode": True,
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "protectKernelDefaults": False,
        "evictionHard": {
            "nodefs.available": "1%",
            "imagefs.available": "1%",
            "memory.available": "50Mi",
        },
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "syncFrequency": "5s",
    }
    return yaml.safe_dump(config, sort_keys=False)


def node_kubeconfig(ca_file: Path, cert_file: Path, key_file: Path) -> str:
    """The API server as the node's processes reach it: the ``kubernetes`` Service address."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "local",
                "cluster": {
                    "server": f"https://{SERVICE_HOST}:{SERVICE_PORT}",
                    "certificate-authority": str(ca_file),
                },
            }
        ],
        "users": [
            {
                "name": "node",
                "user": {"client-certificate": str(cert_file), "client-key": str(key_file)},
            }
        ],
        "contexts": [{"name": "node", "context": {"cluster": "local", "user": "node"}}],
        "current-context": "node",
    }
    return yaml.safe_dump(config, sort_keys=False)


def kubelet_argv(assets: Path, layout: NodeLayout) -> list[str]:
    return [
        str(assets / "kubelet"),
        f"--config={layout.kubelet_config}",
        f"--kubeconfig={layout.kubeconfig}",
        f"--root-dir={layout.kubelet_root}",
        f"--hostname-override={NODE_NAME}",
        f"--node-ip={layout.node_ip}",
    ]


def controller_manager_argv(assets: Path, layout: NodeLayout, ca_file: Path) -> list[str]:
    return [
        str(assets / "kube-controller-manager"),
        f"--kubeconfig={layout.kubeconfig}",
        "--controllers=*",
        f"--root-ca-file={ca_file}",
        "--leader-elect=false",
        "--secure-port=0",
        "--use-service-account-credentials=false",
    ]


def scheduler_argv(assets: Path, layout: NodeLayout) -> list[str]:
    return [
        str(assets / "kube-scheduler"),
        f"--kubeconfig={layout.kubeconfig}",
        "--leader-elect=false",
        "--secure-port=0",
    ]
