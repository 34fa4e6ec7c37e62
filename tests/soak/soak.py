"""The chaos soak: does any verdict go wrong while the API server restarts, throttles, stalls and
the runner's token rotates? See tests/soak/README.md for what it measures and the figures.

:func:`run_soak` does, in order, with one seeded random generator:

1. start a control plane of its own (etcd + kube-apiserver) in the work directory;
2. create namespaces, ServiceAccounts, ConfigMaps and mixed RBAC grants
   (:func:`tests.soak.matrix.rbac_objects`), and a bound token for the runner;
3. ask the oracle (:mod:`tests.soak.oracle`) about a pool of candidate checks on the quiet
   server, sample the matrix from it (about 40% allowed), plant wrong expectations in ~5%;
4. write the access files (:mod:`tests.soak.files`) and run the plugin on them, as users do
   (``python -m pytest``, optionally ``-n 2``), through the fault proxy, while
   :class:`tests.soak.chaos.Chaos` injects the faults;
5. compare every item's outcome with the oracle, ask the oracle again on the quiet server (it
   must not have changed), and return the figures.

``python -m tests.soak`` (or ``tests/soak/run``) is the command line; the short CI soak is
tests/soak/test_soak_short.py.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.reliability.faultproxy import FaultProxy
from tests.reliability.suite import Running
from tests.soak.chaos import Chaos, TokenRotator
from tests.soak.files import read_results, write_suite
from tests.soak.matrix import (
    HOME,
    RUNNER_SA,
    candidate_checks,
    filler_objects,
    namespaces_for,
    plant,
    rbac_objects,
    sample_checks,
)
from tests.soak.oracle import classify, truth

RUNNER = f"system:serviceaccount:{HOME}:{RUNNER_SA}"


@dataclass(frozen=True)
class SoakConfig:
    checks: int = 1000
    restarts: int = 1
    storm: float = 10.0
    rotate: bool = True
    seed: int | None = None
    workers: int = 0  # pytest-xdist workers for the plugin's run; 0 = none
    filler: int = 10000  # RoleBindings that only slow the restarted server's RBAC informers
    timeout: float = 10.0  # the plugin's --incluster-timeout
    retries: int = 6  # the plugin's --incluster-retries
    directory: Path | None = None  # work directory (kept); None = a temporary one, removed


def _progress(message: str) -> None:
    print(f"soak: {message}", file=sys.stderr, flush=True)


def _apply(
    admin: httpx.Client, objects: list[tuple[str, dict[str, Any]]], *, workers: int = 1
) -> None:
    """POST each object as the admin (in order, or ``workers`` at a time); 409 is fine."""

    def one(item: tuple[str, dict[str, Any]]) -> None:
        path, body = item
        response = admin.post(path, json=body)
        if response.status_code not in (200, 201, 409):
            raise RuntimeError(f"POST {path} -> {response.status_code}: {response.text[:300]}")

    if workers == 1:
        for item in objects:
            one(item)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, objects))


def run_soak(config: SoakConfig, *, assets: Path | None = None) -> dict[str, Any]:
    """Run one soak; the returned dict is what ``--json`` writes."""
    seed = config.seed if config.seed is not None else random.randrange(2**31)
    work = config.directory or Path(tempfile.mkdtemp(prefix="incluster-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return _soak(config, seed, work, assets)
    finally:
        if config.directory is None:
            shutil.rmtree(work, ignore_errors=True)


def _soak(config: SoakConfig, seed: int, work: Path, assets: Path | None) -> dict[str, Any]:
    from pytest_incluster.local.controlplane import ControlPlane

    rng = random.Random(seed)
    started = time.monotonic()
    _progress(f"seed {seed}; starting a control plane in {work / 'cp'}")
    cp = ControlPlane.start(work / "cp", assets=assets)
    try:
        namespaces = [f"soak-{i:02d}" for i in range(namespaces_for(config.checks))]
        with cp.admin_client() as admin:
            _apply(admin, rbac_objects(rng, namespaces))
            filler = filler_objects(config.filler)
            _apply(admin, filler[:1])
            _apply(admin, filler[1:], workers=8)
            rotator = TokenRotator(cp, HOME, RUNNER_SA, work / "sa" / "token")
            rotator.token_file.parent.mkdir(parents=True, exist_ok=True)
            rotator.issue()
            time.sleep(1.0)  # RBAC changes reach the authorizer's informers within moments
            account = f"/api/v1/namespaces/{HOME}/serviceaccounts/{RUNNER_SA}"
            runner_uid = str(admin.get(account).json()["metadata"]["uid"])
            candidates = candidate_checks(namespaces)
            pool = rng.sample(candidates, min(len(candidates), config.checks * 3))
            _progress(f"asking the oracle about {len(pool)} candidate checks")
            known = truth(admin, pool, RUNNER, runner_uid=runner_uid)
        checks = sample_checks(rng, pool, known, config.checks)
        planted = plant(rng, checks)
        suite = work / "suite"
        expectations = write_suite(suite, rng, checks, known, planted)
        setup_s = time.monotonic() - started
        run, chaos, proxy_requests = _run_plugin(config, rng, cp, rotator, suite, work, len(checks))
        tally = classify(expectations, read_results(suite))
        with cp.admin_client() as admin:
            again = truth(admin, checks, RUNNER, runner_uid=runner_uid)
        unstable = [c.entry() for c in checks if again.get(c) != known[c]]
    finally:
        cp.stop()
    faults = chaos.report()
    missed = [f["kind"] for f in faults if not f["fired"]]
    decided_percent = round(100.0 * tally.decided / len(expectations), 2) if expectations else 0.0
    result: dict[str, Any] = {
        "seed": seed,
        "checks": len(expectations),
        "planted": len(planted),
        "planted_caught": tally.planted_caught,
        "decided": tally.decided,
        "undecided": tally.undecided,
        "wrong_verdicts": len(tally.wrong),
        "unclear": len(tally.unclear),
        "missing": len(tally.missing),
        "decided_percent": decided_percent,
        "ok": tally.ok and not unstable and not missed and not chaos.errors,
        "faults": faults,
        "faults_not_injected": missed,
        "fault_errors": chaos.errors,
        "oracle": {
            "allowed": sum(1 for c in checks if known[c]),
            "forbidden": sum(1 for c in checks if not known[c]),
            "stable": not unstable,
            "changed": unstable[:20],
        },
        "filler_rolebindings": config.filler,
        "plugin": {
            "exit_status": run.ret,
            "duration_s": round(run.duration, 1),
            "workers": config.workers,
            "timeout_s": config.timeout,
            "retries": config.retries,
            "requests_through_proxy": proxy_requests,
        },
        "setup_s": round(setup_s, 1),
        "undecided_reasons": dict(tally.undecided_reasons.most_common()),
        "wrong": tally.wrong[:50],
        "unclear_items": tally.unclear[:50],
        "missing_items": tally.missing[:20],
    }
    if run.ret not in (0, 1):  # 1: items failed (planted ones always do); anything else broke
        result["ok"] = False
        result["plugin"]["output_tail"] = run.output[-3000:]
    return result


def _run_plugin(
    config: SoakConfig,
    rng: random.Random,
    cp: Any,
    rotator: TokenRotator,
    suite: Path,
    work: Path,
    expected_requests: int,
) -> tuple[Any, Chaos, int]:
    with FaultProxy(cp.server, cp.ca_file, work / "proxy", per_connection_upstream=True) as proxy:
        chaos = Chaos(
            rng,
            cp,
            proxy,
            rotator,
            expected_requests=expected_requests,
            restarts=config.restarts,
            storm=config.storm,
            rotate=config.rotate,
            stall_seconds=config.timeout + 3,
        )
        args = [
            f"--incluster-server={proxy.url}",
            f"--incluster-token-file={rotator.token_file}",
            f"--incluster-ca-file={proxy.ca_file}",
            f"--incluster-namespace={HOME}",
            f"--incluster-timeout={config.timeout:g}",
            f"--incluster-retries={config.retries}",
            "-q",
            "--tb=no",
            "-rN",
        ]
        if config.workers:
            args += ["-n", str(config.workers)]
        _progress(
            f"running the plugin on {expected_requests} checks ({config.restarts} restart(s), "
            f"{config.storm:g}% storm, rotation {'on' if config.rotate else 'off'}, "
            f"workers {config.workers})"
        )
        chaos.start()
        running = Running(suite, *args)
        deadline = time.monotonic() + 3600
        try:
            while running.process.poll() is None and time.monotonic() < deadline:
                chaos.poll()
                time.sleep(0.05)
            run = running.wait(timeout=max(1.0, deadline - time.monotonic()))
        finally:
            running.stop()
            chaos.stop()
        return run, chaos, len(proxy.received)


def parse_args(argv: list[str] | None = None) -> tuple[SoakConfig, Path | None]:
    parser = argparse.ArgumentParser(
        prog="tests/soak/run",
        description="Run the plugin on a generated access matrix against a real control plane "
        "while kube-apiserver restarts, a 429/503 storm rages, the runner's token rotates and "
        "requests stall; compare every verdict with the oracle (see tests/soak/README.md).",
    )
    parser.add_argument("--checks", type=int, default=1000, help="items in the matrix (1000)")
    parser.add_argument("--restarts", type=int, default=1, help="kube-apiserver restarts (1)")
    parser.add_argument(
        "--storm", type=float, default=10.0, help="percent of requests answered 429/503 (10)"
    )
    parser.add_argument(
        "--rotate",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="rotate and invalidate the runner's token once (on)",
    )
    parser.add_argument("--seed", type=int, help="random seed (default: a new one, reported)")
    parser.add_argument("-n", "--workers", type=int, default=0, help="pytest-xdist workers (0)")
    parser.add_argument(
        "--filler",
        type=int,
        default=10000,
        help="RoleBindings nobody asks about, which widen the restart window (10000)",
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="--incluster-timeout (10)")
    parser.add_argument("--retries", type=int, default=6, help="--incluster-retries (6)")
    parser.add_argument("--dir", type=Path, help="work directory to keep (default: temporary)")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    options = parser.parse_args(argv)
    config = SoakConfig(
        checks=options.checks,
        restarts=options.restarts,
        storm=options.storm,
        rotate=options.rotate,
        seed=options.seed,
        workers=options.workers,
        filler=options.filler,
        timeout=options.timeout,
        retries=options.retries,
        directory=options.dir,
    )
    return config, options.json


def main(argv: list[str] | None = None) -> int:
    config, json_file = parse_args(argv)
    result = run_soak(config)
    text = json.dumps(result, indent=2)
    if json_file is not None:
        json_file.write_text(text + "\n")
    print(
        f"soak seed {result['seed']}: {result['checks']} checks, decided {result['decided']} "
        f"({result['decided_percent']}%), undecided {result['undecided']}, wrong verdicts "
        f"{result['wrong_verdicts']}, unclear {result['unclear']}, missing {result['missing']}"
        f" -> {'OK' if result['ok'] else 'FAILED'}"
    )
    if not result["ok"]:
        print(text, file=sys.stderr)
    return 0 if result["ok"] else 1
