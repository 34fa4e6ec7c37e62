"""The pinned versions of the control-plane binaries; bump them here and nowhere else.

Kubernetes v1.37.2 is the newest release whose ``go`` directive (``go 1.26.0``) the project's Go
1.26 toolchain satisfies; the builder refuses a version whose ``go`` line is newer than the local
Go, because ``GOTOOLCHAIN=local`` forbids silently downloading another toolchain. etcd 3.6 is the
release line Kubernetes 1.37's client library (v3.6.x) is tested against.
"""

from __future__ import annotations

from typing import Final

DEFAULT_KUBERNETES_VERSION: Final = "v1.37.2"
ETCD_VERSION: Final = "v3.6.16"

#: The file names a ``KUBEBUILDER_ASSETS`` directory holds (controller-runtime's envtest layout).
BINARIES: Final = ("etcd", "kube-apiserver", "kubectl")

#: What ``pytest-incluster assets --node`` adds to the per-version cache directory.
NODE_BINARIES: Final = ("kubelet", "kube-controller-manager", "kube-scheduler")
