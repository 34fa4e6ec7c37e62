"""The plain-httpx way the bench asks the API server a SelfSubjectAccessReview.

D (the floor), the readiness probe of the bench's RBAC, the split probe's answer sources
(:mod:`bench.split_answers`, also in another process) and the client-CPU measurement's
``httpx`` stack all send reviews exactly like this: the runner's bearer token and CA from its
pod-style directory, no proxy or other settings from the environment, and the answer read from
``status.allowed``. It is deliberately not the plugin's client: D is the yardstick for it.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import httpx

SSAR = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"


def plain_client(server: str, sa_dir: Path, **options: Any) -> httpx.Client:
    """An httpx client acting as the ServiceAccount of ``sa_dir``; ``options`` override
    (``limits=`` for a pool of threads)."""
    token = (sa_dir / "token").read_text()
    settings: dict[str, Any] = {
        "base_url": server,
        # The context httpx would make from the path, without its deprecated str form.
        "verify": ssl.create_default_context(cafile=str(sa_dir / "ca.crt")),
        "headers": {"Authorization": f"Bearer {token}"},
        "trust_env": False,
        "timeout": 30.0,
    }
    settings.update(options)
    return httpx.Client(**settings)


def is_allowed(answer: dict[str, Any]) -> bool:
    """The decision in a SelfSubjectAccessReview the server returned."""
    return answer["status"].get("allowed") is True


def ask(client: httpx.Client, body: dict[str, Any]) -> bool:
    """Send one review body; an HTTP error raises."""
    response = client.post(SSAR, json=body)
    response.raise_for_status()
    return is_allowed(response.json())
