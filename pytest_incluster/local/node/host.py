"""What the machine must offer a real node: root, and the Debian packages' commands.

Checked before anything starts, so a missing piece is one paragraph naming the package to
install rather than a failure halfway through (with things to clean up).
"""

from __future__ import annotations

import os
import shutil

from pytest_incluster.local.node.errors import NodeError

#: command -> the Debian package that installs it
REQUIRED_COMMANDS = {
    "containerd": "containerd",
    "containerd-shim-runc-v2": "containerd",
    "ctr": "containerd",
    "runc": "runc",
    "ip": "iproute2",
    "nsenter": "util-linux",
    "unshare": "util-linux",
}
CNI_PLUGINS = {"bridge": "containernetworking-plugins", "host-local": "containernetworking-plugins"}
IMAGE_COMMANDS = {"mmdebstrap": "mmdebstrap", "buildah": "buildah"}


class NotRootError(NodeError):
    """The node needs root: network namespaces, mounts, cgroups, containers."""


class MissingPackageError(NodeError):
    """A command the node needs is not installed; the message names the Debian packages."""


def require_root(what: str = "`pytest-incluster cluster up --node`") -> None:
    if os.geteuid() != 0:
        raise NotRootError(
            f"{what} must run as root (it creates a network namespace, mounts, cgroups and "
            f"containers; the current user id is {os.geteuid()}). Run it with sudo, or leave "
            "out --node to start only the control plane, which needs no privileges."
        )


def missing_packages(
    commands: dict[str, str], plugins: dict[str, str] | None = None, cni_dir: str = "/usr/lib/cni"
) -> list[str]:
    """The Debian packages whose commands (or CNI plugins) are not found, in a stable order."""
    path = os.environ.get("PATH", os.defpath) + ":/usr/sbin:/sbin"
    missing = [
        package for command, package in commands.items() if not shutil.which(command, path=path)
    ]
    for plugin, package in (plugins or {}).items():
        if not os.access(os.path.join(cni_dir, plugin), os.X_OK):
            missing.append(package)
    return sorted(set(missing))


def require_packages(commands: dict[str, str], plugins: dict[str, str] | None = None) -> None:
    missing = missing_packages(commands, plugins)
    if missing:
        names = " ".join(missing)
        raise MissingPackageError(
            f"The real node needs Debian packages that are not installed: {names}. Install "
            f"them with `apt-get install --no-install-recommends {names}` (scripts/bootstrap.sh "
            "does this when run as root) and run the command again."
        )
