"""Start, find, restart and stop a real etcd + kube-apiserver on loopback ports.

Everything a control plane needs lives in its state directory::

    controlplane.json   ports, pids (with start times), assets, detached flag
    kubeconfig          admin kubeconfig (client certificate, CA), usable with any kubectl
    pki/                CA, serving and admin certificates, service-account keys
    etcd/               etcd's data directory
    etcd.log            etcd's output
    kube-apiserver.log  kube-apiserver's output

The directory is the rendezvous point: pytest-xdist workers and ``pytest-incluster cluster ...``
commands find a running control plane with :meth:`ControlPlane.attach`. Callers that may start
concurrently in one directory serialise with :func:`state_dir_lock`.

Two ways to start. :meth:`ControlPlane.start` is always fresh: new certificates and keys, empty
etcd. :meth:`ControlPlane.restart` brings back a control plane whose processes died (a crash, a
reboot, a ``kill``) from what it left behind: the same certificates and service-account keys, so
issued tokens and ``ca.crt`` files stay valid, the same etcd data, so applied RBAC and
ServiceAccounts are still there, and the same ports where they are free. ``controlplane.json`` is
the marker: :meth:`ControlPlane.stop` removes it, so a directory that still has it and no live
processes was not stopped on purpose (:func:`has_saved_state`). A restart never falls back to a
fresh start: if what was left behind cannot be used it raises :class:`StateGoneError`, and the
state is discarded only on request (``pytest-incluster cluster down``).

Readiness means more than "the port is open": ``/readyz`` answers ``ok`` to the admin only after
every post-start hook has run (RBAC bootstrap roles among them, before which even admin requests
can be refused), and the ``default`` namespace is created asynchronously after that, so both are
awaited. Polling stops at once if the process exits, and the error quotes its log.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from pytest_incluster.config.model import ClusterConfig
from pytest_incluster.local import pki as pki_module
from pytest_incluster.local.errors import LocalError
from pytest_incluster.local.processes import (
    ProcessRef,
    free_port,
    log_tail,
    port_free,
    port_in_use,
    spawn,
    terminate,
)

STATE_FILE = "controlplane.json"
LOCK_FILE = ".lock"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
API_AUDIENCES = (SERVICE_ACCOUNT_ISSUER, "https://kubernetes.default.svc")
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
_POLL = 0.25
_GRACE = 10.0
# A killed process's listening sockets close a moment after /proc shows it gone.
_PORT_GRACE = 2.0


class ControlPlaneError(LocalError):
    """The control plane could not be started or reached; the message quotes the relevant log."""


class StateGoneError(ControlPlaneError):
    """The state a dead control plane left behind cannot be used again; says how to start over."""


def _state_gone(state_dir: Path, reason: str, details: str = "") -> StateGoneError:
    """The one-paragraph message (``details``, such as a log tail, go on the lines after it)."""
    return StateGoneError(
        f"The control plane in {state_dir} stopped without `pytest-incluster cluster down` and "
        f"cannot be restarted from what it left behind: {reason}. Its old state is gone: "
        "a fresh start needs new certificates and service-account keys, so ServiceAccount "
        "directories issued from it stop working and applied manifests must be applied again, "
        "which is not done without asking. Run `pytest-incluster cluster down --dir "
        f"{state_dir}` to discard the old state, then `pytest-incluster cluster up --dir "
        f"{state_dir}` (with your --apply options), and issue ServiceAccount directories again."
        + (f"\n{details}" if details else "")
    )


def _complete(assets: Path) -> bool:
    return all((assets / name).is_file() for name in ("etcd", "kube-apiserver", "kubectl"))


def _stderr_progress(message: str) -> None:
    print(f"pytest-incluster: {message}", file=sys.stderr, flush=True)


@contextmanager
def state_dir_lock(state_dir: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``state_dir/.lock`` (attach-or-start without races)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class ControlPlane:
    """A running etcd + kube-apiserver, either started here or found in a state directory."""

    def __init__(
        self,
        state_dir: Path,
        *,
        assets: Path,
        etcd_port: int,
        etcd_peer_port: int,
        apiserver_port: int,
        detached: bool,
    ) -> None:
        self.state_dir = state_dir
        self.assets = assets
        self.etcd_port = etcd_port
        self.etcd_peer_port = etcd_peer_port
        self.apiserver_port = apiserver_port
        self.detached = detached
        self.server = f"https://127.0.0.1:{apiserver_port}"
        self.pki = pki_module.Pki.in_dir(state_dir / "pki")
        self.ca_file = self.pki.ca_cert
        self.admin_cert_file = self.pki.admin_cert
        self.admin_key_file = self.pki.admin_key
        self.admin_kubeconfig = state_dir / "kubeconfig"
        self.etcd_log = state_dir / "etcd.log"
        self.apiserver_log = state_dir / "kube-apiserver.log"
        self.etcd_ref: ProcessRef | None = None
        self.apiserver_ref: ProcessRef | None = None
        # After a restart that had to leave a taken port: the server URL clients used before.
        self.moved_from: str | None = None
        # Set only in the process that spawned the child, so it can be reaped.
        self._etcd_popen: subprocess.Popen[bytes] | None = None
        self._apiserver_popen: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"ControlPlane(server={self.server!r}, state_dir={str(self.state_dir)!r})"

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        state_dir: Path,
        *,
        assets: Path | None = None,
        timeout: float = 120.0,
        detached: bool = False,
        apiserver_port: int | None = None,
    ) -> ControlPlane:
        """Start etcd and kube-apiserver in ``state_dir`` and wait until the API is usable.

        ``assets`` defaults to :func:`~pytest_incluster.local.assets.resolve_assets` (which may
        build, printing progress to stderr). ``detached`` children outlive this process (see
        :mod:`.processes`); otherwise they die with it. ``apiserver_port`` pins the secure port
        (default: a free one). Raises :class:`ControlPlaneError` if a live control plane is
        already recorded in ``state_dir`` or if either process fails to come up.
        """
        state_dir = state_dir.resolve()
        state_dir.mkdir(parents=True, exist_ok=True)
        live = cls.attach(state_dir)
        if live is not None:
            raise ControlPlaneError(
                f"A control plane is already running in {state_dir} ({live.server}). Reuse it "
                f"(`pytest-incluster cluster up` does), or stop it first with "
                f"`pytest-incluster cluster down --dir {state_dir}`."
            )
        kill_leftovers(state_dir)
        if assets is None:
            from pytest_incluster.local.assets import resolve_assets

            assets = resolve_assets(progress=_stderr_progress)
        # Ports picked here may be grabbed by someone else before the child binds them (xdist
        # workers start side by side); then try again with new ones. A pinned port is final.
        attempts = 1 if apiserver_port is not None else 3
        for attempt in range(1, attempts + 1):
            cp = cls._prepare(state_dir, assets.resolve(), detached, apiserver_port)
            if cp._boot(timeout, start_etcd=cp._start_etcd, undo=cp.stop, last=attempt == attempts):
                return cp
        raise AssertionError("unreachable")  # pragma: no cover

    def _boot(
        self,
        timeout: float,
        *,
        start_etcd: Callable[[float], None],
        undo: Callable[[], None],
        last: bool,
    ) -> bool:
        """Start etcd (fresh or restarted) and kube-apiserver; True once both serve.

        A port another process took meanwhile ("address already in use") undoes the attempt and
        returns False so the caller can pick ports again, unless this was its ``last`` attempt;
        any other failure undoes and raises.
        """
        try:
            start_etcd(timeout)
            self._spawn_apiserver()
            self._wait_apiserver(timeout)
        except ControlPlaneError as error:
            undo()
            if last or "address already in use" not in str(error):
                raise
            return False
        except BaseException:
            undo()
            raise
        self.aggregate_cluster_roles()
        return True

    @classmethod
    def _prepare(
        cls, state_dir: Path, assets: Path, detached: bool, apiserver_port: int | None
    ) -> ControlPlane:
        """Fresh PKI, data directory, logs, ports and kubeconfig; nothing is running yet."""
        taken = {apiserver_port} if apiserver_port is not None else set()

        def pick() -> int:
            while (port := free_port()) in taken:
                pass
            taken.add(port)
            return port

        etcd_port, etcd_peer_port = pick(), pick()
        cp = cls(
            state_dir,
            assets=assets,
            etcd_port=etcd_port,
            etcd_peer_port=etcd_peer_port,
            apiserver_port=apiserver_port if apiserver_port is not None else pick(),
            detached=detached,
        )
        shutil.rmtree(state_dir / "etcd", ignore_errors=True)
        for log in (cp.etcd_log, cp.apiserver_log):
            log.write_bytes(b"")
        pki_module.generate(state_dir / "pki")
        cp._write_kubeconfig()
        cp._save()
        return cp

    @classmethod
    def attach(cls, state_dir: Path) -> ControlPlane | None:
        """The live control plane recorded in ``state_dir``, or ``None``.

        Live means both recorded processes still exist (pid *and* start time match) and the API
        server's port accepts connections.
        """
        cp = cls._load(state_dir.resolve())
        if cp is None:
            return None
        if cp.etcd_ref is None or not cp.etcd_ref.alive():
            return None
        if cp.apiserver_ref is None or not cp.apiserver_ref.alive():
            return None
        if not port_in_use(cp.apiserver_port):
            return None
        return cp

    @classmethod
    def _load(cls, state_dir: Path) -> ControlPlane | None:
        """The control plane recorded in ``state_dir``, alive or not; ``None`` if unreadable."""
        try:
            data = json.loads((state_dir / STATE_FILE).read_text())
            cp = cls(
                state_dir,
                assets=Path(data["assets"]),
                etcd_port=int(data["etcd_port"]),
                etcd_peer_port=int(data["etcd_peer_port"]),
                apiserver_port=int(data["apiserver_port"]),
                detached=bool(data["detached"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None
        cp.etcd_ref = ProcessRef.from_json(data.get("etcd"))
        cp.apiserver_ref = ProcessRef.from_json(data.get("apiserver"))
        return cp

    @classmethod
    def restart(
        cls,
        state_dir: Path,
        *,
        assets: Path | None = None,
        timeout: float = 120.0,
    ) -> ControlPlane:
        """Start again, detached, the control plane whose processes died in ``state_dir``.

        Reuses its certificates and keys (checked first, :func:`.pki.verify`), its etcd data and
        its ports where they are free; a taken port is replaced by a free one, the kubeconfig
        rewritten and :attr:`moved_from` set to the old URL. ``assets`` defaults to the recorded
        binaries while they exist (the ones that wrote the etcd data), else
        :func:`~pytest_incluster.local.assets.resolve_assets`. Raises :class:`StateGoneError`
        when the state cannot be used, :class:`ControlPlaneError` for anything else; either way
        ``controlplane.json`` stays, so the next attempt says the same thing until the state is
        discarded with :func:`kill_leftovers` (``cluster down``).
        """
        state_dir = state_dir.resolve()
        live = cls.attach(state_dir)
        if live is not None:
            raise ControlPlaneError(
                f"The control plane in {state_dir} is running ({live.server}); there is nothing "
                "to restart."
            )
        old = cls._load(state_dir)
        if old is None:
            raise _state_gone(state_dir, f"{state_dir / STATE_FILE} is missing or unreadable")
        for ref in (old.apiserver_ref, old.etcd_ref):  # a half-dead one: etcd alone, say
            terminate(ref, grace=_GRACE)
        try:
            pki_module.verify(state_dir / "pki")
        except pki_module.PkiError as error:
            raise _state_gone(state_dir, str(error)) from None
        if not (state_dir / "etcd" / "member").is_dir():
            raise _state_gone(state_dir, f"{state_dir / 'etcd'} holds no etcd data")
        if assets is None:
            assets = old.assets if _complete(old.assets) else None
        if assets is None:
            from pytest_incluster.local.assets import resolve_assets

            assets = resolve_assets(progress=_stderr_progress)
        ports = (old.etcd_port, old.etcd_peer_port, old.apiserver_port)
        deadline = time.monotonic() + _PORT_GRACE
        while not all(map(port_free, ports)) and time.monotonic() < deadline:
            time.sleep(0.1)
        for attempt in (1, 2):
            cp = cls._reuse(state_dir, assets.resolve(), ports, fresh_ports=attempt == 2)
            cp.moved_from = old.server if cp.server != old.server else None
            if cp._boot(
                timeout,
                start_etcd=cp._restart_etcd,
                undo=cp._stop_keeping_state,
                last=attempt == 2,
            ):
                return cp
        raise AssertionError("unreachable")  # pragma: no cover

    @classmethod
    def _reuse(
        cls, state_dir: Path, assets: Path, ports: tuple[int, int, int], *, fresh_ports: bool
    ) -> ControlPlane:
        """The recorded ports where free (all new ones if ``fresh_ports``); rewrites the
        kubeconfig and the state file and marks the restart in both logs."""
        taken: set[int] = set()
        chosen = []
        for port in ports:
            if fresh_ports or port in taken or not port_free(port):
                while (port := free_port()) in taken:
                    pass
            taken.add(port)
            chosen.append(port)
        etcd_port, etcd_peer_port, apiserver_port = chosen
        cp = cls(
            state_dir,
            assets=assets,
            etcd_port=etcd_port,
            etcd_peer_port=etcd_peer_port,
            apiserver_port=apiserver_port,
            detached=True,
        )
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        for log in (cp.etcd_log, cp.apiserver_log):
            with log.open("a") as handle:
                handle.write(f"--- pytest-incluster: restarted from the saved state at {stamp}\n")
        cp._write_kubeconfig()
        cp._save()
        return cp

    def _restart_etcd(self, timeout: float) -> None:
        """Start etcd on the kept data; if it exits, the data is what it could not use."""
        try:
            self._start_etcd(timeout)
        except ControlPlaneError as error:
            code = self._etcd_popen.poll() if self._etcd_popen is not None else None
            if code is None or "address already in use" in str(error):
                raise
            raise _state_gone(
                self.state_dir,
                f"etcd exited with status {code} while reading the data kept in "
                f"{self.state_dir / 'etcd'} (its log {self.etcd_log} ends with the lines below)",
                log_tail(self.etcd_log),
            ) from None

    def _stop_keeping_state(self) -> None:
        """Stop both processes of a failed restart but keep ``controlplane.json``."""
        terminate(self.apiserver_ref, self._apiserver_popen, grace=_GRACE)
        terminate(self.etcd_ref, self._etcd_popen, grace=_GRACE)
        self.etcd_ref = self.apiserver_ref = None
        self._etcd_popen = self._apiserver_popen = None
        self._save()

    def stop(self) -> None:
        """Stop kube-apiserver, then etcd (SIGTERM, SIGKILL after a grace period); idempotent.

        Works on an attached control plane too: that is how ``cluster down`` stops a detached
        one. Removes ``controlplane.json``, so the next start in this directory is fresh
        (:meth:`restart` no longer applies); logs, certificates and etcd data are left for
        post-mortems until then.
        """
        self.stop_apiserver()
        terminate(self.etcd_ref, self._etcd_popen, grace=_GRACE)
        self.etcd_ref, self._etcd_popen = None, None
        (self.state_dir / STATE_FILE).unlink(missing_ok=True)

    def stop_apiserver(self) -> None:
        """Stop only kube-apiserver; etcd, and so every object, stays (:meth:`start_apiserver`)."""
        terminate(self.apiserver_ref, self._apiserver_popen, grace=_GRACE)
        self.apiserver_ref, self._apiserver_popen = None, None
        if (self.state_dir / STATE_FILE).exists():
            self._save()

    def aggregate_cluster_roles(self) -> int:
        """Fill ``view``/``edit``/``admin`` as kube-controller-manager would (it does not run
        here); see :mod:`pytest_incluster.local.aggregation`. Returns the roles updated."""
        from pytest_incluster.local.aggregation import aggregate_cluster_roles

        with self.admin_client() as admin:
            return aggregate_cluster_roles(admin)

    def start_apiserver(self, timeout: float = 120.0) -> None:
        """(Re)start kube-apiserver on the same port and wait until it is ready again.

        A no-op while it is running. Clients keep working across the restart because the port,
        the serving certificate and the service-account keys stay the same.
        """
        if self.apiserver_ref is not None and self.apiserver_ref.alive():
            return
        if self.etcd_ref is None or not self.etcd_ref.alive():
            raise ControlPlaneError(
                f"Cannot restart kube-apiserver: etcd in {self.state_dir} is not running (see "
                f"{self.etcd_log}). Start a new control plane instead."
            )
        self._spawn_apiserver()
        try:
            self._wait_apiserver(timeout)
        except BaseException:
            self.stop_apiserver()
            raise

    @property
    def running(self) -> bool:
        """True while both processes are alive."""
        refs = (self.etcd_ref, self.apiserver_ref)
        return all(ref is not None and ref.alive() for ref in refs)

    # -- clients ---------------------------------------------------------------------------

    def admin_client(self, **kw: Any) -> httpx.Client:
        """An ``httpx.Client`` on :attr:`server` authenticated as the admin (mutual TLS).

        Proxy variables are ignored by default (``trust_env=False``): the server is on loopback.
        Keyword arguments override the defaults.
        """
        from pytest_incluster.client.connect import http_client

        return http_client(self.admin_config(), **kw)

    def admin_config(self) -> ClusterConfig:
        """The admin's configuration: this plane's CA and the admin client certificate."""
        return ClusterConfig(
            server=self.server,
            namespace="default",
            source=f"local control plane {self.state_dir}",
            ca_file=self.ca_file,
            client_cert_file=self.admin_cert_file,
            client_key_file=self.admin_key_file,
        )

    def kubectl(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run the matching kubectl with the admin kubeconfig; the caller checks ``returncode``."""
        return subprocess.run(
            [str(self.assets / "kubectl"), "--kubeconfig", str(self.admin_kubeconfig), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    # -- internals -------------------------------------------------------------------------

    def _save(self) -> None:
        data = {
            "server": self.server,
            "assets": str(self.assets),
            "etcd_port": self.etcd_port,
            "etcd_peer_port": self.etcd_peer_port,
            "apiserver_port": self.apiserver_port,
            "detached": self.detached,
            "etcd": self.etcd_ref.to_json() if self.etcd_ref else None,
            "apiserver": self.apiserver_ref.to_json() if self.apiserver_ref else None,
        }
        tmp = self.state_dir / f".{STATE_FILE}.tmp"
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        tmp.replace(self.state_dir / STATE_FILE)

    def _write_kubeconfig(self) -> None:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "pytest-incluster",
                    "cluster": {
                        "server": self.server,
                        "certificate-authority": str(self.ca_file),
                    },
                }
            ],
            "users": [
                {
                    "name": pki_module.ADMIN_USER,
                    "user": {
                        "client-certificate": str(self.admin_cert_file),
                        "client-key": str(self.admin_key_file),
                    },
                }
            ],
            "contexts": [
                {
                    "name": "pytest-incluster",
                    "context": {
                        "cluster": "pytest-incluster",
                        "user": pki_module.ADMIN_USER,
                        "namespace": "default",
                    },
                }
            ],
            "current-context": "pytest-incluster",
            "preferences": {},
        }
        self.admin_kubeconfig.write_text(yaml.safe_dump(config, sort_keys=False))
        self.admin_kubeconfig.chmod(0o600)

    def _etcd_argv(self) -> list[str]:
        client = f"http://127.0.0.1:{self.etcd_port}"
        peer = f"http://127.0.0.1:{self.etcd_peer_port}"
        return [
            str(self.assets / "etcd"),
            "--name=pytest-incluster",
            f"--data-dir={self.state_dir / 'etcd'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=pytest-incluster={peer}",
            "--initial-cluster-state=new",
            "--log-level=warn",
            # A throwaway control plane skips fsync (it dominates start time on CI disks); a
            # detached one is meant to survive a crash or a reboot, so its data is synced.
            *([] if self.detached else ["--unsafe-no-fsync"]),
        ]

    def _apiserver_argv(self) -> list[str]:
        p = self.pki
        return [
            str(self.assets / "kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
            "--bind-address=127.0.0.1",
            f"--secure-port={self.apiserver_port}",
            # Needed on hosts without a default route; loopback is what clients use anyway.
            "--advertise-address=127.0.0.1",
            # A loopback address cannot be written to the `kubernetes` Endpoints; skip it.
            "--endpoint-reconciler-type=none",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            f"--cert-dir={p.ca_cert.parent}",
            f"--tls-cert-file={p.serving_cert}",
            f"--tls-private-key-file={p.serving_key}",
            f"--client-ca-file={p.ca_cert}",
            "--authorization-mode=Node,RBAC",
            f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
            f"--service-account-signing-key-file={p.sa_key}",
            f"--service-account-key-file={p.sa_pub}",
            f"--api-audiences={','.join(API_AUDIENCES)}",
            # Without kube-controller-manager no namespace gets a `default` ServiceAccount, and
            # the ServiceAccount admission plugin would reject every Pod. PodSecurity stays on.
            "--disable-admission-plugins=ServiceAccount",
            "--allow-privileged=true",
        ]

    def _start_etcd(self, timeout: float) -> None:
        self._etcd_popen = spawn(self._etcd_argv(), self.etcd_log, detached=self.detached)
        self.etcd_ref = ProcessRef.of(self._etcd_popen.pid)
        self._save()
        url = f"http://127.0.0.1:{self.etcd_port}/health"
        with httpx.Client(trust_env=False, timeout=5.0) as client:

            def healthy() -> bool:
                try:
                    response = client.get(url)
                except httpx.TransportError:
                    return False
                return response.status_code == 200 and response.json().get("health") == "true"

            self._await("etcd", self._etcd_popen, self.etcd_log, healthy, timeout)

    def _spawn_apiserver(self) -> None:
        self._apiserver_popen = spawn(
            self._apiserver_argv(), self.apiserver_log, detached=self.detached
        )
        self.apiserver_ref = ProcessRef.of(self._apiserver_popen.pid)
        self._save()

    def _wait_apiserver(self, timeout: float) -> None:
        assert self._apiserver_popen is not None
        deadline = time.monotonic() + timeout
        with self.admin_client(timeout=5.0) as client:

            def ok(path: str) -> bool:
                try:
                    response = client.get(path)
                except httpx.TransportError:
                    return False
                return response.status_code == 200

            self._await(
                "kube-apiserver",
                self._apiserver_popen,
                self.apiserver_log,
                lambda: ok("/readyz"),
                timeout,
            )
            self._await(
                "kube-apiserver (namespace default)",
                self._apiserver_popen,
                self.apiserver_log,
                lambda: ok("/api/v1/namespaces/default"),
                max(deadline - time.monotonic(), 5.0),
            )

    @staticmethod
    def _await(
        what: str,
        popen: subprocess.Popen[bytes],
        log: Path,
        check: Callable[[], bool],
        timeout: float,
    ) -> None:
        """Poll ``check`` every 0.25 s until true; fail fast if ``popen`` exits."""
        started = time.monotonic()
        while True:
            code = popen.poll()
            if code is not None:
                raise ControlPlaneError(
                    f"{what} exited with status {code} while starting. Its log is {log}; the "
                    "last lines are below. Common causes: a port already in use, a broken or "
                    "mismatched binary in the assets directory, or a full disk."
                    f"\n{log_tail(log)}"
                )
            if check():
                return
            if time.monotonic() - started > timeout:
                raise ControlPlaneError(
                    f"{what} did not become ready within {timeout:g} s. Its log is {log}; the "
                    "last lines are below. On a loaded machine pass a longer timeout."
                    f"\n{log_tail(log)}"
                )
            time.sleep(_POLL)


def has_saved_state(state_dir: Path) -> bool:
    """True if ``state_dir`` records a control plane that was never stopped with :meth:`stop`
    (alive, or dead after a crash: then :meth:`ControlPlane.restart` applies)."""
    return (state_dir / STATE_FILE).exists()


def saved_detached(state_dir: Path) -> bool:
    """True if ``state_dir`` records a detached (``cluster up``) control plane that was never
    stopped: one that must be restarted or reused, never replaced by a fresh start."""
    cp = ControlPlane._load(state_dir.resolve())
    return cp is not None and cp.detached


def kill_leftovers(state_dir: Path) -> None:
    """Stop processes a crashed or half-stopped earlier run recorded in ``state_dir`` and
    discard its saved state (the next start is fresh), even if the record is unreadable."""
    try:
        data = json.loads((state_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        data = None
    if isinstance(data, dict):
        for key in ("apiserver", "etcd"):
            terminate(ProcessRef.from_json(data.get(key)), grace=_GRACE)
    (state_dir / STATE_FILE).unlink(missing_ok=True)


def process_rss_kib(ref: ProcessRef | None) -> int | None:
    """Resident set size (``VmRSS``) of a live process in KiB, for diagnostics and reports."""
    if ref is None or not ref.alive():
        return None
    try:
        for line in Path(f"/proc/{ref.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


__all__ = [
    "ControlPlane",
    "ControlPlaneError",
    "StateGoneError",
    "has_saved_state",
    "kill_leftovers",
    "process_rss_kib",
    "saved_detached",
    "state_dir_lock",
]
