"""Credentials that come from a program: kubeconfig exec credential plugins.

Managed clusters (EKS, GKE, AKS) hand out short-lived tokens or client certificates through a
plugin the kubeconfig names (``aws eks get-token``, ``gke-gcloud-auth-plugin``, ``kubelogin``).
This package runs such a plugin the way client-go does (semantics, not code) and keeps what it
returns until it expires:

* :mod:`~pytest_incluster.credentials.exec_info` -- the ``KUBERNETES_EXEC_INFO`` the plugin reads;
* :mod:`~pytest_incluster.credentials.exec_output` -- reading its ``ExecCredential`` answer;
* :mod:`~pytest_incluster.credentials.exec_runner` -- running it (stdin, timeout, errors);
* :mod:`~pytest_incluster.credentials.exec_source` -- the cached credential, refreshed on expiry
  and on a 401.

The plugin's stdout holds the secret: it is never shown, logged or quoted; only its stderr is,
in the one-paragraph :class:`~pytest_incluster.credentials.errors.ExecPluginError`. The client
(``client/exec_auth.py``, ``client/tls.py``) turns the credential into a bearer header or a TLS
client certificate. No pytest here.
"""
