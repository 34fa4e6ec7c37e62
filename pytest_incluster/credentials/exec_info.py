"""``KUBERNETES_EXEC_INFO``: what the plugin is told about the call, as client-go encodes it.

An ``ExecCredential`` with ``spec.interactive`` and, only with ``provideClusterInfo: true``,
``spec.cluster`` (server, CA data in base64, TLS server name, insecure flag, proxy URL,
compression flag, and the cluster's ``client.authentication.k8s.io/exec`` extension as
``config``). Fields without a value are left out, as Go's ``omitempty`` does.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from pytest_incluster.config.exec_spec import ClusterInfo, ExecPlugin

EXEC_INFO_ENV = "KUBERNETES_EXEC_INFO"


def _cluster(info: ClusterInfo) -> dict[str, Any]:
    cluster: dict[str, Any] = {"server": info.server}
    if info.tls_server_name:
        cluster["tls-server-name"] = info.tls_server_name
    if info.insecure_skip_tls_verify:
        cluster["insecure-skip-tls-verify"] = True
    if info.ca_data:
        cluster["certificate-authority-data"] = base64.b64encode(info.ca_data).decode("ascii")
    if info.proxy_url:
        cluster["proxy-url"] = info.proxy_url
    if info.disable_compression:
        cluster["disable-compression"] = True
    if info.extension_json is not None:
        cluster["config"] = json.loads(info.extension_json)
    return cluster


def exec_info(plugin: ExecPlugin, *, interactive: bool) -> str:
    """The JSON for ``KUBERNETES_EXEC_INFO``."""
    spec: dict[str, Any] = {"interactive": interactive}
    if plugin.cluster is not None:
        spec["cluster"] = _cluster(plugin.cluster)
    document = {"kind": "ExecCredential", "apiVersion": plugin.api_version, "spec": spec}
    return json.dumps(document, separators=(",", ":"))
