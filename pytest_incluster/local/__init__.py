"""A throwaway, real Kubernetes control plane (etcd + kube-apiserver) for tests and local runs.

Nothing here is imported by the pytest plugin unless ``--incluster-local`` is used, and nothing
here is needed inside a pod: a pod talks to its cluster's API server. The package is split by job:

* ``versions``     the pinned Kubernetes and etcd versions (the one place to bump them)
* ``assets``       finding the three binaries (``KUBEBUILDER_ASSETS`` layout) or having them built
* ``build``        building them from the Go module proxy with the local Go toolchain
* ``pki``          the CA, serving and admin certificates and the service-account signing keys
* ``processes``    spawning children that cannot outlive their owner, and stopping them
* ``controlplane`` starting, attaching to, restarting and stopping etcd + kube-apiserver
* ``provision``    namespaces, service accounts, tokens and pod-style credential directories
* ``session``      the ``--incluster-local`` session the plugin uses
* ``cli``          the ``pytest-incluster`` console script
"""
