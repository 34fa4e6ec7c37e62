"""The faults of a soak, injected at random moments chosen from the seed.

"Moments" are counted in requests the plugin has made (what the fault proxy has read), not in
seconds: a run's length depends on the machine, its request count does not, so every planned
fault lands inside the run whatever the speed. Each is drawn uniformly between 5% and 80% of the
requests the run is expected to make (one per check, a lower bound).

* **restart**: ``kube-apiserver`` is stopped (SIGTERM) and, after a random pause, started again
  on the same port with the same certificates and etcd; its start-up is the real one, RBAC
  informers and all. The plugin meets it through the fault proxy acting as a TCP hop
  (``per_connection_upstream``): connections to the old process are closed, new ones reach the
  new process. Repeated ``restarts`` times.
* **storm**: from the first request, ``storm`` percent of requests are answered by the proxy
  with a 429 (``Retry-After: 1``, as API Priority and Fairness sends it) or a 503, half each.
* **rotate**: the runner's token file is replaced atomically (write and rename, as kubelet
  swaps it) by a new TokenRequest token, and the Secret the old token was bound to is deleted,
  so the old token stops working (after the API server's ~10 s authentication cache): what a
  deleted pod does to its tokens. The ServiceAccount itself, and its uid, stay.
* **stall**: the next few requests get no answer for longer than the plugin's timeout.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from tests.reliability.faultproxy import Action, Fault, FaultProxy, Hang, throttle, unavailable

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane


@dataclass
class Planned:
    """One fault: what, when (in requests), and what happened when it fired."""

    kind: str
    at_request: int
    fired: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "planned_at_request": self.at_request,
            "fired": self.fired,
            **self.details,
        }


class Storm:
    """The proxy's chaos function: ``percent`` of requests get a 429 or a 503 (thread-safe)."""

    def __init__(self, rng: random.Random, percent: float) -> None:
        self._rng = random.Random(rng.random())
        self._percent = percent
        self._lock = threading.Lock()
        self.injected: dict[int, int] = {429: 0, 503: 0}
        self.active = True

    def __call__(self, method: str, target: str) -> Action | None:
        with self._lock:
            if not self.active or self._rng.random() * 100 >= self._percent:
                return None
            code = 429 if self._rng.random() < 0.5 else 503
            self.injected[code] += 1
        return throttle(retry_after=1) if code == 429 else unavailable()


class TokenRotator:
    """The runner's token: bound to a Secret, so invalidating one token leaves the account."""

    def __init__(self, cp: ControlPlane, namespace: str, name: str, token_file: Path) -> None:
        self.cp = cp
        self.namespace = namespace
        self.name = name
        self.token_file = token_file
        self.secret = ""
        self.rotations = 0

    def _bound_token(self) -> tuple[str, str]:
        secret = f"{self.name}-token-{uuid.uuid4().hex[:8]}"
        with self.cp.admin_client() as admin:
            created = admin.post(
                f"/api/v1/namespaces/{self.namespace}/secrets",
                json={"metadata": {"name": secret}, "type": "Opaque"},
            )
            created.raise_for_status()
            uid = created.json()["metadata"]["uid"]
            spec = {
                "expirationSeconds": 3600,
                "boundObjectRef": {
                    "kind": "Secret",
                    "apiVersion": "v1",
                    "name": secret,
                    "uid": uid,
                },
            }
            answer = admin.post(
                f"/api/v1/namespaces/{self.namespace}/serviceaccounts/{self.name}/token",
                json={
                    "apiVersion": "authentication.k8s.io/v1",
                    "kind": "TokenRequest",
                    "spec": spec,
                },
            )
            answer.raise_for_status()
        return secret, str(answer.json()["status"]["token"])

    def _write(self, token: str) -> None:
        tmp = self.token_file.with_name(f".{self.token_file.name}.{uuid.uuid4().hex[:6]}")
        tmp.write_text(token)
        tmp.chmod(0o600)
        tmp.replace(self.token_file)

    def issue(self) -> None:
        """The first token (before the run)."""
        self.secret, token = self._bound_token()
        self._write(token)

    def rotate(self) -> dict[str, Any]:
        """Write a new token, then make the old one invalid."""
        old = self.secret
        self.secret, token = self._bound_token()
        self._write(token)
        with self.cp.admin_client() as admin:
            admin.delete(f"/api/v1/namespaces/{self.namespace}/secrets/{old}").raise_for_status()
        self.rotations += 1
        return {"old_token_invalidated": True}


class Chaos:
    """Fires the planned faults while the plugin runs; :meth:`poll` is called from the main
    thread's wait loop. (Not from a thread of its own: kube-apiserver is started with a death
    signal bound to the spawning *thread*, so a restart must come from the long-lived one.)"""

    def __init__(
        self,
        rng: random.Random,
        cp: ControlPlane,
        proxy: FaultProxy,
        rotator: TokenRotator,
        *,
        expected_requests: int,
        restarts: int,
        storm: float,
        rotate: bool,
        stall_seconds: float,
        stall_requests: int = 6,
    ) -> None:
        self.rng = random.Random(rng.random())
        self.cp = cp
        self.proxy = proxy
        self.rotator = rotator
        self.stall_seconds = stall_seconds
        self.stall_requests = stall_requests
        self.started = time.monotonic()
        kinds = ["restart"] * restarts + (["rotate"] if rotate else []) + ["stall"]
        low, high = max(1, expected_requests // 20), max(2, expected_requests * 4 // 5)
        self.plan = sorted(
            (Planned(kind, self.rng.randint(low, high)) for kind in kinds),
            key=lambda p: p.at_request,
        )
        self.storm = Storm(self.rng, storm) if storm > 0 else None
        self.errors: list[str] = []

    def start(self) -> None:
        self.started = time.monotonic()
        if self.storm is not None:
            self.proxy.chaos = self.storm

    def stop(self) -> None:
        if self.storm is not None:
            self.storm.active = False

    def poll(self) -> None:
        """Fire every planned fault whose moment has come (blocks while a restart runs)."""
        seen = len(self.proxy.received)
        for planned in self.plan:
            if planned.fired or planned.at_request > seen:
                continue
            try:
                self._fire(planned)
            except (httpx.HTTPError, OSError, RuntimeError) as exc:
                planned.fired = True
                self.errors.append(f"{planned.kind}: {type(exc).__name__}: {exc}")

    def _fire(self, planned: Planned) -> None:
        planned.details["at_s"] = round(time.monotonic() - self.started, 2)
        planned.details["at_request"] = len(self.proxy.received)
        if planned.kind == "restart":
            down = time.monotonic()
            self.cp.stop_apiserver()
            pause = self.rng.uniform(0.2, 1.5)
            time.sleep(pause)
            self.cp.start_apiserver()
            planned.details.update(
                paused_s=round(pause, 2), down_s=round(time.monotonic() - down, 2)
            )
        elif planned.kind == "rotate":
            planned.details.update(self.rotator.rotate())
        elif planned.kind == "stall":
            self.proxy.script(Fault(Hang(self.stall_seconds), times=self.stall_requests))
            planned.details.update(seconds=self.stall_seconds, requests=self.stall_requests)
        planned.fired = True

    def report(self) -> list[dict[str, Any]]:
        faults = [p.as_json() for p in self.plan]
        if self.storm is not None:
            faults.append(
                {
                    "kind": "storm",
                    "fired": True,
                    "percent": self.storm._percent,
                    "injected_429": self.storm.injected[429],
                    "injected_503": self.storm.injected[503],
                }
            )
        return faults
