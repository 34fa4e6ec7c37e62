"""The release the local control plane builds and runs; the supported range is elsewhere.

:mod:`pytest_incluster.kube_versions` states the supported releases once. Here: which of them a
local control plane uses, chosen by ``INCLUSTER_KUBERNETES_VERSION`` (the CI matrix sets it for
each supported release) and defaulting to the newest. The builder refuses a release whose ``go``
directive is newer than the local Go, because ``GOTOOLCHAIN=local`` forbids silently downloading
another toolchain. Each release is built with the etcd its own ``build/dependencies.yaml`` names
(:func:`pytest_incluster.local.build.release_etcd_version`), so no etcd version is pinned here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final

from pytest_incluster.kube_versions import DEFAULT_KUBERNETES_VERSION

#: Set it to a release (``v1.35.4``) to build and run that one locally instead of the default.
VERSION_VARIABLE: Final = "INCLUSTER_KUBERNETES_VERSION"

#: The file names a ``KUBEBUILDER_ASSETS`` directory holds (controller-runtime's envtest layout).
BINARIES: Final = ("etcd", "kube-apiserver", "kubectl")

#: Written beside the binaries by the build: which etcd release the cache holds.
ETCD_VERSION_FILE: Final = "etcd.version"

#: What ``pytest-incluster assets --node`` adds to the per-version cache directory.
NODE_BINARIES: Final = ("kubelet", "kube-controller-manager", "kube-scheduler")


def selected_kubernetes_version(env: Mapping[str, str] | None = None) -> str:
    """``INCLUSTER_KUBERNETES_VERSION`` if set (checked by the caller), else the default."""
    env = os.environ if env is None else env
    return env.get(VERSION_VARIABLE, "").strip() or DEFAULT_KUBERNETES_VERSION
