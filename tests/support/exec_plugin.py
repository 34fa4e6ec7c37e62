"""A real exec credential plugin for the tests, run as a program by the code under test.

It behaves like ``aws eks get-token`` and friends: it reads ``KUBERNETES_EXEC_INFO`` and prints
an ``ExecCredential`` on stdout. Its behaviour comes from the kubeconfig's ``env`` entries:

``PLUGIN_MODE``
    ``token`` (default): a fresh ServiceAccount token from the control plane's TokenRequest API
    (``kubectl create token`` with the admin kubeconfig ``PLUGIN_KUBECONFIG``, kubectl at
    ``PLUGIN_KUBECTL``, ServiceAccount ``PLUGIN_SA`` as ``NAMESPACE/NAME``);
    ``file``: the same as ``token``. With ``PLUGIN_TOKEN_FILE`` set, every mode that prints a
    token prints the one in that file instead of asking the control plane;
    ``cert``: the client certificate and key in ``PLUGIN_CERT`` and ``PLUGIN_KEY``;
    ``fail``: writes ``PLUGIN_STDERR`` to stderr and exits 3;
    ``hang``: writes ``PLUGIN_STDERR`` to stderr and sleeps;
    ``no-api-version``, ``expired``, ``garbage``: prints a token without ``apiVersion``, an
    expired credential, or text that is not JSON.
``PLUGIN_TTL``
    seconds until ``expirationTimestamp`` (none when unset).
``PLUGIN_API_VERSION``
    the apiVersion to print (default: the one in ``KUBERNETES_EXEC_INFO``).
``PLUGIN_LOG``
    a file that gets one JSON line per run: the exec info, what stdin was, the expiry.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import time
from typing import Any


def _token() -> str:
    if os.environ.get("PLUGIN_TOKEN_FILE"):
        with open(os.environ["PLUGIN_TOKEN_FILE"]) as handle:
            return handle.read().strip()
    namespace, name = os.environ["PLUGIN_SA"].split("/")
    command = [os.environ["PLUGIN_KUBECTL"], "--kubeconfig", os.environ["PLUGIN_KUBECONFIG"]]
    command += ["create", "token", name, "-n", namespace]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def _status(mode: str) -> dict[str, Any]:
    if mode == "cert":
        with open(os.environ["PLUGIN_CERT"]) as cert, open(os.environ["PLUGIN_KEY"]) as key:
            return {"clientCertificateData": cert.read(), "clientKeyData": key.read()}
    return {"token": _token()}


def _stdin() -> str:
    try:
        return os.readlink("/proc/self/fd/0")
    except OSError:
        return "closed"


def main() -> int:
    mode = os.environ.get("PLUGIN_MODE", "token")
    info = json.loads(os.environ.get("KUBERNETES_EXEC_INFO", "{}"))
    now = datetime.datetime.now(datetime.UTC)
    ttl = os.environ.get("PLUGIN_TTL")
    expires = now + datetime.timedelta(seconds=float(ttl)) if ttl else None
    if mode == "expired":
        expires = now - datetime.timedelta(hours=1)
    if os.environ.get("PLUGIN_LOG"):
        entry = {"info": info, "stdin": _stdin(), "expires": expires and expires.isoformat()}
        with open(os.environ["PLUGIN_LOG"], "a") as log:
            log.write(json.dumps(entry) + "\n")
    if mode in ("fail", "hang"):
        sys.stderr.write(os.environ.get("PLUGIN_STDERR", ""))
        sys.stderr.flush()
        if mode == "hang":
            time.sleep(3600)
        return 3
    if mode == "garbage":
        print("token: not-json-at-all")
        return 0
    status = _status(mode)
    if os.environ.get("PLUGIN_LOG") and "token" in status:
        # Test-only: the signature part, so a test can check that no output shows it.
        with open(os.environ["PLUGIN_LOG"] + ".signatures", "a") as log:
            log.write(status["token"].rsplit(".", 1)[-1] + "\n")
    if expires is not None:
        status["expirationTimestamp"] = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    credential: dict[str, Any] = {"kind": "ExecCredential", "status": status}
    if mode != "no-api-version":
        credential["apiVersion"] = os.environ.get("PLUGIN_API_VERSION") or info.get("apiVersion")
    print(json.dumps(credential))
    return 0


if __name__ == "__main__":
    sys.exit(main())
