"""``pytest-incluster cluster up|serviceaccount|down``: a detached local control plane."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_incluster.cli.console import PROG, progress
from pytest_incluster.local.errors import LocalError

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane


def _write_env(state_dir: Path, port: int) -> Path:
    env = state_dir / "env"
    env.write_text(
        "# Written by `pytest-incluster cluster up`; source it to look like a pod's environment.\n"
        "export KUBERNETES_SERVICE_HOST=127.0.0.1\n"
        f"export KUBERNETES_SERVICE_PORT={port}\n"
    )
    return env


def _check_node(state_dir: Path, images: Sequence[Path]) -> Path:
    """Everything a node needs that can be checked before anything starts; the node assets."""
    from pytest_incluster.local.assets import resolve_node_assets
    from pytest_incluster.local.node.host import (
        CNI_PLUGINS,
        REQUIRED_COMMANDS,
        require_packages,
        require_root,
    )

    require_root()
    require_packages(REQUIRED_COMMANDS, CNI_PLUGINS)
    for image in images:
        if not image.is_file():
            raise LocalError(
                f"--image {image} is not a file. Pass the OCI archive `pytest-incluster image` "
                "printed."
            )
    _check_netns(state_dir)
    return resolve_node_assets(progress=progress)


def _check_netns(state_dir: Path) -> None:
    """Refuse a taken network-namespace name before anything starts."""
    from pytest_incluster.local.node.layout import netns_name
    from pytest_incluster.local.node.netns import NetnsInUseError, exists, in_use_message
    from pytest_incluster.local.node.node import has_node

    name = netns_name(state_dir)
    if exists(name) and not has_node(state_dir):
        raise NetnsInUseError(in_use_message(name))


def _up_node(cp: ControlPlane, images: Sequence[Path], assets: Path) -> None:
    from pytest_incluster.local.node.image import build_pause_image
    from pytest_incluster.local.node.node import node_running, start_node

    if node_running(cp.state_dir):
        progress(f"reusing the node already running in {cp.state_dir / 'node'}")
        return
    pause = build_pause_image(progress)
    start_node(cp, [pause, *images], assets=assets, progress=progress)
    progress("the node is Ready")


def up(
    state_dir: Path, apply: Sequence[Path], *, node: bool = False, images: Sequence[Path] = ()
) -> int:
    from pytest_incluster.local.controlplane import ControlPlane, has_saved_state, state_dir_lock
    from pytest_incluster.local.provision import apply_manifests, manifest_files

    manifest_files(apply)  # check the paths before starting anything
    if images and not node:
        raise LocalError("--image is for the node: pass --node as well.")
    node_assets = _check_node(state_dir, images) if node else None
    with state_dir_lock(state_dir):
        cp = ControlPlane.attach(state_dir)
        started = False
        env = state_dir / "env"
        if cp is not None:
            reusing = f"reusing the control plane already running in {state_dir} ({cp.server})"
            if not cp.detached:
                reusing += (
                    "; it belongs to a running pytest session (--incluster-local-dir) and stops "
                    "when that session ends"
                )
            progress(reusing)
        elif has_saved_state(state_dir):
            progress(
                f"the control plane in {state_dir} is not running (it was not stopped with "
                "`cluster down`: a crash, a reboot or a kill); restarting it with its "
                "certificates, keys and etcd data"
            )
            cp = ControlPlane.restart(state_dir)
            if cp.moved_from is not None:
                progress(
                    f"its old address {cp.moved_from} is taken by another program, so the API "
                    f"server now listens on {cp.server}; {cp.admin_kubeconfig} and {env} are "
                    "updated: source the env file again and point clients at the new address"
                )
        else:
            progress(f"starting etcd and kube-apiserver in {state_dir}")
            cp = ControlPlane.start(state_dir, detached=True)
            started = True
        if node_assets is not None:
            try:
                _up_node(cp, images, node_assets)
            except BaseException:
                if started:  # leave nothing running that this command started
                    cp.stop()
                raise
        apply_manifests(cp, apply)
        env = _write_env(cp.state_dir, cp.apiserver_port)
    progress(f"admin kubeconfig: {cp.admin_kubeconfig}; pod environment: source {env}")
    print(cp.server)
    return 0


def _attached(state_dir: Path) -> ControlPlane:
    from pytest_incluster.local.controlplane import ControlPlane

    cp = ControlPlane.attach(state_dir)
    if cp is None:
        raise LocalError(
            f"No control plane is running in {state_dir}. Start one with "
            f"`{PROG} cluster up --dir {state_dir}` first (or pass the --dir you used)."
        )
    return cp


def serviceaccount(
    state_dir: Path, spec: str, out: Path, create: bool, duration: str | None
) -> int:
    from pytest_incluster.local.provision import (
        DEFAULT_TOKEN_SECONDS,
        parse_duration,
        parse_service_account,
        write_pod_dir,
    )

    namespace, name = parse_service_account(spec)
    seconds = DEFAULT_TOKEN_SECONDS if duration is None else parse_duration(duration)
    cp = _attached(state_dir)
    written = write_pod_dir(
        cp, namespace, name, out.resolve(), create=create, expiration_seconds=seconds
    )
    progress(
        f"the token in {written / 'token'} lasts {_spell(seconds)}; run this command again for "
        "a new one (--duration changes the lifetime)"
    )
    print(written)
    return 0


def _spell(seconds: int) -> str:
    """``3600`` -> ``1h``, ``5400`` -> ``1h30m``, ``610`` -> ``10m10s``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n]
    return "".join(parts) or "0s"


def _down_node(state_dir: Path) -> None:
    from pytest_incluster.local.node.node import has_node, stop_node

    if not has_node(state_dir):
        return
    restored = stop_node(state_dir)
    progress(f"stopped the node in {state_dir / 'node'} and removed its network namespace")
    if restored:
        progress("restored the kernel settings the kubelet changed: " + "; ".join(restored))


def down(state_dir: Path) -> int:
    from pytest_incluster.local.controlplane import (
        ControlPlane,
        has_saved_state,
        kill_leftovers,
        state_dir_lock,
    )

    if not state_dir.is_dir():
        progress(f"no control plane in {state_dir}; nothing to stop")
        return 0
    with state_dir_lock(state_dir):
        _down_node(state_dir)
        cp = ControlPlane.attach(state_dir)
        if cp is None:
            saved = has_saved_state(state_dir)
            kill_leftovers(state_dir)  # a half-dead one may still hold a port
            if saved:
                progress(
                    f"the control plane in {state_dir} was not running; discarded its saved "
                    "state, so the next `cluster up` starts afresh (new certificates and keys, "
                    "empty etcd)"
                )
            else:
                progress(f"no control plane running in {state_dir}; nothing to stop")
            return 0
        cp.stop()
    progress(f"stopped the control plane in {state_dir} ({cp.server})")
    return 0
