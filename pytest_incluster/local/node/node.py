"""Start and stop a real node beside a local control plane: containerd, kubelet, controllers.

Layout of the processes::

    host namespace        kube-apiserver on 127.0.0.1:PORT, the forwarder (below)
    node netns NAME       node0 172.30.0.2 (the node IP), lo 10.0.0.1 (the `kubernetes` Service),
                          cni0 10.244.0.1 and the pods' veths (made by the bridge plugin)
    private mount ns      a tmpfs on /run (containerd's socket and state, runc's state, shim
                          sockets, pod netns files) and on /var/lib/cni (libcni's cache)

A *holder* process (``sleep infinity``) owns the private mount namespace inside the node's network
namespace; containerd, the kubelet, kube-controller-manager and kube-scheduler are started in both
with ``nsenter --target HOLDER``. The forwarder listens on 10.0.0.1:443 inside the network
namespace and connects to the API server's loopback port in the host's. Mounts the kubelet and
containerd make (the kubelet's bind mount of its root directory, volume tmpfs, overlay root file
systems) exist only in the private mount namespace and vanish with its last process, so even a
node whose owner crashed leaves no mount on the host once its processes are killed.

``node.json`` in the node directory records the processes (pid and start time), the namespace
and the kernel settings found before the kubelet changed them; :func:`stop_node` works from it
alone, so ``cluster down`` cleans up after a crash too.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from pytest_incluster.local.controlplane import ControlPlane
from pytest_incluster.local.node import configs, netns
from pytest_incluster.local.node.cgroups import new_cgroup_parents, remove_cgroup_parents
from pytest_incluster.local.node.errors import NodeError
from pytest_incluster.local.node.host import (
    CNI_PLUGINS,
    REQUIRED_COMMANDS,
    require_packages,
    require_root,
)
from pytest_incluster.local.node.image import PAUSE_IMAGE, RUNNER_IMAGE
from pytest_incluster.local.node.layout import (
    CONTAINERD_SOCKET,
    NODE_NAME,
    SERVICE_HOST,
    SERVICE_PORT,
    NodeLayout,
    netns_name,
)
from pytest_incluster.local.node.sysctls import read_sysctls, restore_sysctls
from pytest_incluster.local.processes import ProcessRef, log_tail, spawn, terminate

Progress = Callable[[str], None]
# Stop order: the kubelet first (it would restart what is stopped under it), the holder last.
PROCESSES = ("kubelet", "kube-scheduler", "kube-controller-manager", "containerd", "forwarder")
_GRACE = 10.0
_HOLDER_SCRIPT = """\
set -e
mount -t tmpfs -o mode=0755 pytest-incluster-run /run
if [ ! -d /var/lib/cni ]; then mkdir -p /var/lib/cni && : > "$1"; fi
mount -t tmpfs -o mode=0755 pytest-incluster-cni /var/lib/cni
exec sleep infinity
"""


class NodeStartError(NodeError):
    """A node process did not come up; the message names its log and quotes the last lines."""


def _quiet(_: str) -> None:
    """Default progress sink."""


def node_dir(state_dir: Path) -> Path:
    return state_dir / "node"


def _load(layout: NodeLayout) -> dict[str, Any]:
    try:
        data = json.loads(layout.state_file.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save(layout: NodeLayout, data: dict[str, Any]) -> None:
    tmp = layout.state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(layout.state_file)


def has_node(state_dir: Path) -> bool:
    """True if ``state_dir`` records a node that was not stopped with :func:`stop_node`."""
    return NodeLayout(node_dir(state_dir)).state_file.exists()


def node_running(state_dir: Path) -> bool:
    data = _load(NodeLayout(node_dir(state_dir)))
    refs = [ProcessRef.from_json(data.get(name)) for name in (*PROCESSES, "holder")]
    return bool(data) and all(ref is not None and ref.alive() for ref in refs)


def _ref(data: dict[str, Any], name: str) -> ProcessRef | None:
    return ProcessRef.from_json(data.get(name))


def _in_node(data: dict[str, Any], argv: Sequence[str]) -> list[str]:
    holder = _ref(data, "holder")
    assert holder is not None
    return ["nsenter", f"--target={holder.pid}", "--mount", "--net", "--", *argv]


def _wait(what: str, check: Callable[[], bool], ref: ProcessRef, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if not ref.alive():
            raise NodeStartError(
                f"{what} exited while starting. Its log is {log}; the last lines are below."
                f"\n{log_tail(log)}"
            )
        if time.monotonic() > deadline:
            raise NodeStartError(
                f"{what} did not become ready within {timeout:g} s. Its log is {log}; the last "
                f"lines are below.\n{log_tail(log)}"
            )
        time.sleep(0.25)


def _spawn(layout: NodeLayout, data: dict[str, Any], name: str, argv: Sequence[str]) -> ProcessRef:
    log = layout.log(name)
    popen = spawn(argv, log, detached=True)
    ref = ProcessRef.of(popen.pid)
    if ref is None:
        raise NodeStartError(
            f"{name} exited as soon as it started. Its log is {log}; the last lines are below."
            f"\n{log_tail(log)}"
        )
    data[name] = ref.to_json()
    _save(layout, data)
    return ref


def _prepare(cp: ControlPlane, layout: NodeLayout) -> None:
    for directory in (layout.cni_conf_dir, layout.cni_ipam_dir, layout.pod_logs_dir):
        directory.mkdir(parents=True, exist_ok=True)
    layout.containerd_root.mkdir(parents=True, exist_ok=True)
    layout.kubelet_root.mkdir(parents=True, exist_ok=True)
    layout.containerd_config.write_text(configs.containerd_toml(layout))
    (layout.cni_conf_dir / "10-pytest-incluster.conflist").write_text(configs.cni_conflist(layout))
    layout.kubelet_config.write_text(configs.kubelet_yaml(layout, cp.ca_file))
    layout.kubeconfig.write_text(
        configs.node_kubeconfig(cp.ca_file, cp.admin_cert_file, cp.admin_key_file)
    )
    layout.kubeconfig.chmod(0o600)
    for name in (*PROCESSES, "holder", "ctr"):
        layout.log(name).write_bytes(b"")


def _start_network(
    cp: ControlPlane, layout: NodeLayout, data: dict[str, Any], state_dir: Path
) -> None:
    """The namespace, the holder of the private mounts, and the forwarder to the API server."""
    name = netns_name(state_dir)
    netns.create(name, layout.node_ip)
    data["netns"] = name
    _save(layout, data)
    created = layout.root / "created-var-lib-cni"
    holder = _spawn(
        layout,
        data,
        "holder",
        [
            "nsenter",
            f"--net={netns.netns_path(name)}",
            "--",
            "unshare",
            "--mount",
            "--propagation",
            "slave",
            "--",
            "sh",
            "-c",
            _HOLDER_SCRIPT,
            "holder",
            str(created),
        ],
    )

    def mounted() -> bool:
        try:
            return " /var/lib/cni tmpfs " in Path(f"/proc/{holder.pid}/mounts").read_text()
        except OSError:
            return False

    _wait("the node's mount-namespace holder", mounted, holder, layout.log("holder"), 30)
    forwarder = _spawn(
        layout,
        data,
        "forwarder",
        [
            sys.executable,
            "-m",
            "pytest_incluster.local.node.forwarder",
            str(netns.netns_path(name)),
            SERVICE_HOST,
            str(SERVICE_PORT),
            str(cp.apiserver_port),
        ],
    )
    log = layout.log("forwarder")
    _wait("the API server forwarder", lambda: "ready" in log.read_text(), forwarder, log, 30)


def _import_images(layout: NodeLayout, data: dict[str, Any], images: Sequence[Path]) -> None:
    ctr = ["ctr", f"--address={CONTAINERD_SOCKET}", "--namespace=k8s.io"]
    log = layout.log("ctr")
    for archive in images:
        for argv in ([*ctr, "images", "import", str(archive)],):
            with log.open("a") as out:
                out.write(f"$ {' '.join(argv)}\n")
                out.flush()
                code = subprocess.run(
                    _in_node(data, argv),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    check=False,
                ).returncode
            if code != 0:
                raise NodeStartError(
                    f"Importing the image {archive} into the node's containerd failed (status "
                    f"{code}). The log is {log}; the last lines are below.\n{log_tail(log)}"
                )


def _containerd_ready(data: dict[str, Any]) -> Callable[[], bool]:
    holder = _ref(data, "holder")
    assert holder is not None
    socket = Path(f"/proc/{holder.pid}/root{CONTAINERD_SOCKET}")
    return socket.exists


def _node_ready(cp: ControlPlane) -> Callable[[], bool]:
    def ready() -> bool:
        try:
            with cp.admin_client(timeout=5.0) as client:
                response = client.get(f"/api/v1/nodes/{NODE_NAME}")
        except httpx.TransportError:
            return False
        if response.status_code != 200:
            return False
        conditions = response.json().get("status", {}).get("conditions", [])
        return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)

    return ready


def start_node(
    cp: ControlPlane,
    images: Sequence[Path],
    *,
    assets: Path,
    progress: Progress = _quiet,
    timeout: float = 180.0,
) -> None:
    """Start the node of ``cp`` (in ``cp.state_dir/node``), import ``images``, wait for Ready.

    On any failure everything started so far is stopped again (:func:`stop_node`).
    """
    require_root()
    require_packages(REQUIRED_COMMANDS, CNI_PLUGINS)
    layout = NodeLayout(node_dir(cp.state_dir))
    if has_node(cp.state_dir):
        stop_node(cp.state_dir)  # a crashed node's leftovers; its saved sysctls are restored
    layout.root.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {"sysctls": read_sysctls(), "cgroups": new_cgroup_parents()}
    _save(layout, data)
    try:
        _prepare(cp, layout)
        progress(f"starting the node's network namespace and containerd (logs in {layout.root})")
        _start_network(cp, layout, data, cp.state_dir)
        containerd = _spawn(
            layout,
            data,
            "containerd",
            _in_node(data, ["containerd", f"--config={layout.containerd_config}"]),
        )
        _wait("containerd", _containerd_ready(data), containerd, layout.log("containerd"), 60)
        progress(f"importing {len(images)} image(s) into the node's containerd")
        _import_images(layout, data, images)
        progress("starting kubelet, kube-controller-manager and kube-scheduler")
        kubelet = _spawn(
            layout, data, "kubelet", _in_node(data, configs.kubelet_argv(assets, layout))
        )
        _spawn(
            layout,
            data,
            "kube-controller-manager",
            _in_node(data, configs.controller_manager_argv(assets, layout, cp.ca_file)),
        )
        _spawn(
            layout, data, "kube-scheduler", _in_node(data, configs.scheduler_argv(assets, layout))
        )
        _wait(
            f"the kubelet (node {NODE_NAME} Ready)",
            _node_ready(cp),
            kubelet,
            layout.log("kubelet"),
            timeout,
        )
    except BaseException:
        stop_node(cp.state_dir)
        raise


def _runc_containers(data: dict[str, Any]) -> None:
    """Kill and delete every container runc knows in the node (their cgroups go with them)."""
    if _ref(data, "holder") is None or not _ref(data, "holder").alive():  # type: ignore[union-attr]
        return
    runc = ["runc", "--root=/run/containerd/runc/k8s.io"]
    listed = subprocess.run(
        _in_node(data, [*runc, "list", "-q"]),
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    for container in listed.stdout.split():
        subprocess.run(
            _in_node(data, [*runc, "delete", "--force", container]),
            capture_output=True,
            check=False,
            stdin=subprocess.DEVNULL,
        )


def _processes_in_mount_ns(holder: ProcessRef) -> list[ProcessRef]:
    """Every process sharing the holder's mount namespace (shims included), holder last."""
    try:
        target = os.readlink(f"/proc/{holder.pid}/ns/mnt")
    except OSError:
        return []
    found: list[ProcessRef] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in (holder.pid, os.getpid()):
            continue
        try:
            if os.readlink(entry / "ns" / "mnt") == target:
                ref = ProcessRef.of(int(entry.name))
                if ref is not None:
                    found.append(ref)
        except OSError:
            continue
    return found


def stop_node(state_dir: Path) -> list[str]:
    """Stop everything ``state_dir``'s node record names and undo what it changed; idempotent.

    Returns the kernel settings that were restored (``name: now -> before``).
    """
    layout = NodeLayout(node_dir(state_dir))
    data = _load(layout)
    if not data:
        return []
    terminate(_ref(data, "kubelet"), grace=_GRACE)
    _runc_containers(data)
    for name in PROCESSES[1:]:
        terminate(_ref(data, name), grace=_GRACE)
    holder = _ref(data, "holder")
    if holder is not None and holder.alive():
        for ref in _processes_in_mount_ns(holder):
            terminate(ref, grace=_GRACE)
        terminate(holder, grace=_GRACE)
    if data.get("netns"):
        netns.delete(str(data["netns"]))
    created = layout.root / "created-var-lib-cni"
    if created.exists():
        with contextlib.suppress(OSError):
            Path("/var/lib/cni").rmdir()
        created.unlink()
    remove_cgroup_parents(data.get("cgroups") or [])
    restored = restore_sysctls(data.get("sysctls") or {})
    for directory in (layout.containerd_root, layout.kubelet_root, layout.cni_ipam_dir.parent):
        shutil.rmtree(directory, ignore_errors=True)
    layout.state_file.unlink(missing_ok=True)
    return restored


__all__ = ["PAUSE_IMAGE", "RUNNER_IMAGE", "has_node", "node_running", "start_node", "stop_node"]
