"""``bench/run``: the whole benchmark, from an empty directory to RESULTS.md.

Order of work (everything after the set-up shares one control plane):

1. start the control plane, provision the runner and its RBAC, generate the checks;
2. the truth: the floor (D) answers every check once, untimed; the matrix files are written
   with those answers as expectations;
3. warm-ups, untimed: A on a small file (and the runner-image variant's bytecode);
4. for every round-trip time of ``--rtt-set`` (0: direct; otherwise through the latency relay
   of :mod:`bench.relay`): B and C warm-ups (B's fills kubectl's discovery cache for that URL and
   measures what one kubectl costs, to decide whether B can run in full), the relay's own
   round trip (a lower bound: at least the asked RTT), then ``--repeat`` interleaved rounds of
   A A' B C D E, each checked against the truth;
5. the relay alone: D direct and D through the relay at RTT 0, interleaved; D at several
   concurrency limits at the largest RTT (how the default was chosen);
6. A at every ``--scale`` size (direct), interleaved, also checked;
7. collect-only overhead and import times;
8. pyinstrument profiles when a target is missed (``--profile auto``) or always;
9. JSON, markdown (stdout and the ``--markdown`` file); exit 1 if any decision disagreed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import shlex
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import child, client_cpu, contenders, overhead, profiling, report, split
from bench.cluster import BenchCluster
from bench.contenders import Outcome
from bench.entries import Entry, generate
from bench.pinning import Pinning, pin_process, split_cpus
from bench.relay import RelayProcess

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
B_WARMUP = 20
SWEEP = (8, 16, 32, 64)  # concurrency limits D is timed at, at the largest RTT


def _log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench/run",
        description="Time pytest-incluster's access matrix against kubectl, the kubernetes "
        "client and a plain-httpx floor, on a local control plane.",
    )
    p.add_argument("--checks", type=int, default=1000, metavar="N", help="checks (default 1000)")
    p.add_argument("--repeat", type=int, default=3, metavar="R", help="rounds (default 3)")
    p.add_argument(
        "--json",
        type=Path,
        nargs="?",
        default=BENCH_DIR / "results.json",
        const=BENCH_DIR / "results.json",
        metavar="FILE",
        help="JSON results (default bench/results.json)",
    )
    p.add_argument(
        "--markdown",
        type=Path,
        default=BENCH_DIR / "RESULTS.md",
        metavar="FILE",
        help="markdown summary (default bench/RESULTS.md)",
    )
    p.add_argument("--seed", type=int, default=1, help="seed for the checks (default 1)")
    p.add_argument(
        "--rtt-set",
        default="0,1,20",
        metavar="MS,...",
        help="round-trip times to measure A-E at, in one run (default 0,1,20; 0 is direct, "
        "anything else goes through the latency relay)",
    )
    p.add_argument(
        "--rtt",
        type=float,
        default=None,
        metavar="MS",
        help="measure at this one round-trip time only (short for --rtt-set MS)",
    )
    p.add_argument(
        "--b-sample",
        type=int,
        default=0,
        metavar="K",
        help="time kubectl (B) on K random checks per round and extrapolate to N "
        "(default 0: all N if the --b-budget allows, else the largest K that fits)",
    )
    p.add_argument(
        "--b-budget",
        type=float,
        default=480.0,
        metavar="SECONDS",
        help="time B may take over all rounds and RTTs when --b-sample is 0 (default 480)",
    )
    p.add_argument(
        "--scale",
        default="100,1000,5000,10000",
        metavar="SIZES",
        help="matrix sizes for the scaling of A, comma-separated ('' skips)",
    )
    p.add_argument("--scale-repeat", type=int, default=3, metavar="R")
    p.add_argument(
        "--collect-repeat",
        type=int,
        default=9,
        metavar="R",
        help="collect-only runs per variant (default 9, at least 5)",
    )
    p.add_argument("--import-repeat", type=int, default=7, metavar="R")
    p.add_argument(
        "--split-repeat",
        type=int,
        default=3,
        metavar="R",
        help="rounds of the split probe at each RTT (bench/split.py; default 3, 0 skips)",
    )
    p.add_argument(
        "--client-cpu",
        type=int,
        default=300,
        metavar="K",
        help="reviews per HTTP stack in the client-CPU measurement (bench/client_cpu.py; "
        "default 300, 0 skips)",
    )
    p.add_argument(
        "--profile",
        choices=("auto", "always", "never"),
        default="auto",
        help="pyinstrument profiles of A and collect-only: when a target is "
        "missed (auto), always, or never; written next to --markdown",
    )
    p.add_argument(
        "--pin",
        action="store_true",
        help="run etcd, kube-apiserver and the relay on half of the CPUs and the contenders on "
        "the other half, as if the server ran elsewhere (bench/pinning.py)",
    )
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    args = p.parse_args(argv)
    if args.checks < 1 or args.repeat < 1 or args.b_sample < 0:
        p.error("--checks and --repeat must be positive, --b-sample zero or positive")
    if args.collect_repeat < 5:
        p.error("--collect-repeat must be at least 5")
    try:
        args.scale_sizes = sorted({int(s) for s in args.scale.split(",") if s.strip()})
    except ValueError:
        p.error(f"--scale {args.scale!r} is not a comma-separated list of sizes")
    if any(s < 1 for s in args.scale_sizes):
        p.error("--scale sizes must be positive")
    rtt_text = args.rtt_set if args.rtt is None else str(args.rtt)
    try:
        args.rtts = sorted({float(s) for s in rtt_text.split(",") if s.strip()})
    except ValueError:
        p.error(f"--rtt-set {rtt_text!r} is not a comma-separated list of milliseconds")
    if not args.rtts or any(r < 0 for r in args.rtts):
        p.error("round-trip times must be zero or positive, at least one")
    if args.pin:
        try:
            split_cpus()
        except ValueError as e:
            p.error(f"{e}: run without --pin, or give the bench more CPUs (taskset)")
    return args


def rtt_key(rtt: float) -> str:
    """``20`` for 20.0, ``0.5`` for 0.5: the RTT as it appears in keys and tables."""
    return f"{rtt:g}"


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def _mib(kib: Sequence[int]) -> float:
    return _median([k / 1024 for k in kib])


def _cpu_times() -> tuple[int, int]:
    """(steal, total) jiffies of all CPUs from /proc/stat; (0, 0) where there is none."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return 0, 0
    numbers = [int(f) for f in fields[:8]]  # user nice system idle iowait irq softirq steal
    return (numbers[7] if len(numbers) > 7 else 0), sum(numbers)


def _load() -> str:
    """The 1-, 5- and 15-minute load averages, recorded next to the numbers they disturb."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


class Bench:
    """One benchmark run; the attributes collect what the report needs."""

    def __init__(self, args: argparse.Namespace, workdir: Path, cluster: BenchCluster) -> None:
        self.args = args
        self.workdir = workdir
        self.cluster = cluster
        self.n = args.checks
        self.entries: list[Entry] = []
        self.truth: list[bool] = []
        self.disagreements: list[str] = []
        self.checked: dict[str, int] = {"A": 0, "B": 0, "C": 0, "D": 0}
        self.pod_pycache = workdir / "pod-pycache"
        self.rewritten = 0  # assertion-rewrite caches a runner image lacks
        self.pinning: Pinning | None = None

    def pin(self) -> None:
        """``--pin``: etcd and kube-apiserver on the upper half of the CPUs, this process (and
        so every contender it starts) on the lower half; see :mod:`bench.pinning`."""
        self.pinning = split_cpus()
        cp = self.cluster.control_plane
        for ref in (cp.etcd_ref, cp.apiserver_ref):
            if ref is None:
                raise RuntimeError("--pin: the control plane's processes are not known")
            pin_process(ref.pid, self.pinning.server)
        pin_process(os.getpid(), self.pinning.contenders)
        _log(self.pinning.describe())

    # ---- helpers ---------------------------------------------------------------------------

    def _relay(self, host: str, port: int, rtt: float) -> RelayProcess:
        """A relay, on the server's CPUs under ``--pin``."""
        server_cpus = self.pinning.server if self.pinning is not None else None
        return RelayProcess(host, port, rtt, cpus=server_cpus)

    def _verify(self, outcome: Outcome, entries: Sequence[Entry]) -> None:
        found = contenders.disagreements(outcome, entries, self.truth[: len(entries)])
        self.checked[outcome.contender] += len(outcome.decisions)
        if found:
            _log(f"{outcome.contender}: {len(found)} disagreement(s), first: {found[0]}")
        self.disagreements += found

    def _matrix(self, size: int) -> Path:
        directory = self.workdir / f"matrix-{size}"
        directory.mkdir(exist_ok=True)
        # An empty ini file makes this directory the rootdir: no surrounding config applies.
        (directory / "pytest.ini").write_text("[pytest]\n")
        path = directory / f"bench-{size}.access.yaml"
        if not path.exists():
            contenders.write_matrix(path, self.entries[:size], self.truth[:size])
        return path

    def _run_a(self, size: int, tag: str, *, pod: bool = False, filling: bool = False) -> Outcome:
        outcome = contenders.run_a(
            self.cluster,
            self._matrix(size),
            self.entries[:size],
            self.truth[:size],
            self.workdir,
            tag,
            pod_pycache=self.pod_pycache if pod else None,
            filling=filling,
        )
        self._verify(outcome, self.entries[:size])
        return outcome

    # ---- phases ----------------------------------------------------------------------------

    def prepare(self) -> None:
        biggest = max([self.n, *self.args.scale_sizes])
        self.entries = generate(biggest, self.args.seed)
        started = time.perf_counter()
        floor = contenders.run_d(self.cluster, self.entries)
        if floor.problems or any(v is None for v in floor.decisions.values()):
            raise RuntimeError(f"the floor could not answer every check: {floor.problems[:5]}")
        self.truth = [bool(floor.decisions[i]) for i in range(len(self.entries))]
        allowed = sum(self.truth[: self.n])
        _log(
            f"truth for {len(self.entries)} checks from D in {time.perf_counter() - started:.2f}s;"
            f" of the first {self.n}: {allowed} allowed, {self.n - allowed} forbidden"
        )

    def warm_up(self) -> None:
        """Untimed first runs of A: bytecode, assertion-rewrite caches, the image's pycache."""
        self._run_a(min(100, self.n), "warmup")  # also writes the assertion-rewrite cache
        self._run_a(min(100, self.n), "pod-image-build", pod=True, filling=True)
        self.rewritten = child.drop_rewrite_caches(self.pod_pycache)
        contenders.run_e(
            contenders.write_trivial_suite(self.workdir / "floor", self.n),
            self.workdir,
            "floor-warmup",
        )

    def warm_up_endpoint(self, tag: str) -> tuple[int | None, str]:
        """Untimed B and C at the current endpoint; returns B's sample size (None: all) and
        how B is run. B's budget is shared by every RTT of the run."""
        self._verify(contenders.run_c(self.cluster, self.entries[:B_WARMUP]), self.entries)
        first = contenders.run_b(self.cluster, self.entries, range(min(B_WARMUP, self.n)))
        self._verify(first, self.entries)
        per_check = first.wall_s / max(1, len(first.decisions))
        budget = self.args.b_budget / len(self.args.rtts)
        if self.args.b_sample:
            k = min(self.args.b_sample, self.n)
            why = "--b-sample"
        else:
            projected = per_check * self.n * self.args.repeat
            fits = int(budget / max(per_check * self.args.repeat, 1e-9))
            k = self.n if projected <= budget else max(B_WARMUP, min(fits, self.n))
            why = f"--b-budget share {budget:g}s, projected {projected:.0f}s for all"
        _log(
            f"{tag}: kubectl costs {per_check * 1000:.0f} ms per check; B runs {k} of {self.n} "
            f"({why})"
        )
        if k >= self.n:
            return None, f"all {self.n} checks every round"
        return k, (
            f"{k} of {self.n} random checks per round ({why}), per-check cost extrapolated to "
            f"{self.n}"
        )

    def rounds(self, b_sample: int | None, tag: str) -> dict[str, Any]:
        samples: dict[str, list[float]] = {"a": [], "a_pod": [], "b": [], "c": [], "d": [], "e": []}
        rss: list[int] = []
        e_rss: list[int] = []
        requests: list[float] = []
        floor_suite = contenders.write_trivial_suite(self.workdir / "floor", self.n)
        for rnd in range(self.args.repeat):
            before = self.cluster.request_total()
            a = self._run_a(self.n, f"{tag}-round{rnd}")
            after = self.cluster.request_total()
            assert a.run is not None
            samples["a"].append(a.wall_s)
            rss.append(a.run.max_rss_kib)
            requests.append(after - before - 1)  # minus the first scrape itself

            pod = self._run_a(self.n, f"{tag}-pod{rnd}", pod=True)
            samples["a_pod"].append(pod.wall_s)

            if b_sample is None:
                indices: Sequence[int] = range(self.n)
            else:
                indices = sorted(
                    random.Random(self.args.seed * 1000 + rnd).sample(range(self.n), b_sample)
                )
            b = contenders.run_b(self.cluster, self.entries, indices)
            self._verify(b, self.entries)
            samples["b"].append(b.wall_s * self.n / len(indices))

            c = contenders.run_c(self.cluster, self.entries[: self.n])
            self._verify(c, self.entries)
            samples["c"].append(c.wall_s)

            d = contenders.run_d(self.cluster, self.entries[: self.n])
            self._verify(d, self.entries)
            samples["d"].append(d.wall_s)

            e = contenders.run_e(floor_suite, self.workdir, f"{tag}-floor{rnd}")
            samples["e"].append(e.wall_s)
            e_rss.append(e.max_rss_kib)
            _log(
                f"{tag} round {rnd + 1}/{self.args.repeat}: A {a.wall_s:.2f}s  "
                f"A(pod env) {samples['a_pod'][-1]:.2f}s  B {samples['b'][-1]:.1f}s"
                f"  C {c.wall_s:.2f}s  D {d.wall_s:.2f}s  E {e.wall_s:.2f}s  "
                f"(load {_load()})"
            )
        a_s = _median(samples["a"])
        medians = {k: _median(vs) for k, vs in samples.items()}
        floor = max(medians["d"], medians["e"])
        return {
            "samples": {k: [round(v, 4) for v in vs] for k, vs in samples.items()},
            **{f"{k}_s": round(v, 4) for k, v in medians.items()},
            "b_over_a": round(medians["b"] / a_s, 2),
            "c_over_a": round(medians["c"] / a_s, 2),
            "a_over_d": round(a_s / medians["d"], 2),
            "c_over_d": round(medians["c"] / medians["d"], 2),
            "a_over_floor": round(a_s / floor, 2),
            "a_peak_rss_mib": round(_mib(rss), 1),
            "a_peak_rss_mib_samples": [round(k / 1024, 1) for k in rss],
            "e_peak_rss_mib": round(_mib(e_rss), 1),
            "a_requests_per_run": _median(requests),
            "a_requests_per_s": round(_median(requests) / a_s, 1),
            "load_average": _load(),
        }

    def at_rtt(self, rtt: float) -> dict[str, Any]:
        """Warm-ups and rounds at one RTT (through a relay unless 0), plus the relay's check."""
        tag = f"rtt{rtt_key(rtt)}"
        relay = None
        if rtt > 0:
            host, port = self.cluster.direct_address
            relay = self._relay(host, port, rtt)
        try:
            self.cluster.use_endpoint(f"https://127.0.0.1:{relay.port}" if relay else None)
            b_sample, b_mode = self.warm_up_endpoint(tag)
            measured_rtt = contenders.round_trip_ms(self.cluster, self.entries)
            out = self.rounds(b_sample, tag)
            if self.args.split_repeat > 0:
                out["split"] = self.split_probe(tag, out["d_s"])
        finally:
            self.cluster.use_endpoint(None)
            if relay is not None:
                relay.close()
        out["b_mode"] = b_mode
        out["review_round_trip_ms"] = round(measured_rtt, 2)
        out["relay_delay_ok"] = measured_rtt >= rtt  # a lower bound: the relay adds >= RTT
        if not out["relay_delay_ok"]:
            _log(f"{tag}: FAILED self-check: a review took {measured_rtt:.2f} ms < RTT {rtt} ms")
        return out

    def split_probe(self, tag: str, d_s: float) -> dict[str, Any]:
        """The split probe's three sources, interleaved, at the current endpoint."""
        suite = split.write_suite(self.workdir / "split", self.n)
        state = split.write_state(
            self.workdir / f"split-{tag}.json",
            self.cluster,
            self.entries[: self.n],
            self.truth[: self.n],
        )
        samples: dict[str, list[float]] = {mode: [] for mode in split.MODES}
        for rnd in range(self.args.split_repeat):
            for mode in split.MODES:
                ran = split.run(suite, state, mode, self.workdir, f"{tag}-split-{mode}{rnd}")
                samples[mode].append(ran.wall_s)
        medians = {mode: _median(vs) for mode, vs in samples.items()}
        _log(f"{tag} split probe: " + "  ".join(f"{m} {v:.2f}s" for m, v in medians.items()))
        return {
            "samples": {m: [round(v, 4) for v in vs] for m, vs in samples.items()},
            **{f"{m}_s": round(v, 4) for m, v in medians.items()},
            "threads_over_process": round(medians["threads"] / medians["process"], 2),
            "process_over_d": round(medians["process"] / d_s, 2),
            "threads_over_d": round(medians["threads"] / d_s, 2),
        }

    def relay_alone(self) -> dict[str, Any]:
        """D direct and D through the relay at RTT 0, interleaved: what the relay itself costs;
        and D at several concurrency limits at the largest RTT (the default's justification)."""
        host, port = self.cluster.direct_address
        direct: list[float] = []
        relayed: list[float] = []
        entries = self.entries[: self.n]
        with self._relay(host, port, 0) as relay:
            for _ in range(self.args.repeat):
                self.cluster.use_endpoint(None)
                direct.append(contenders.run_d(self.cluster, entries).wall_s)
                self.cluster.use_endpoint(f"https://127.0.0.1:{relay.port}")
                relayed.append(contenders.run_d(self.cluster, entries).wall_s)
            self.cluster.use_endpoint(None)
        out: dict[str, Any] = {
            "relay0_d_samples": [round(v, 4) for v in relayed],
            "direct_d_samples": [round(v, 4) for v in direct],
            "relay0_over_direct": round(_median(relayed) / _median(direct), 3),
            "load_average": _load(),
        }
        rtt = max(self.args.rtts)
        sweep: dict[str, list[float]] = {str(c): [] for c in SWEEP}
        with self._relay(host, port, rtt) as relay:
            self.cluster.use_endpoint(f"https://127.0.0.1:{relay.port}" if rtt > 0 else None)
            try:
                for _ in range(self.args.repeat):
                    for limit in SWEEP:
                        d = contenders.run_d(self.cluster, entries, concurrency=limit)
                        sweep[str(limit)].append(round(d.wall_s, 4))
            finally:
                self.cluster.use_endpoint(None)
        out["concurrency_sweep"] = {
            "rtt_ms": rtt,
            "samples": sweep,
            "median_s": {k: round(_median(v), 4) for k, v in sweep.items()},
        }
        _log(f"relay alone: {out['relay0_over_direct']}x direct at RTT 0; sweep {sweep}")
        return out

    def client_cpu(self) -> dict[str, Any]:
        """The calling thread's CPU per review with each HTTP stack, direct (RTT 0)."""
        k = min(self.args.client_cpu, self.n)
        if k <= 0:
            return {}
        cp = self.cluster.control_plane  # cp.server: always direct
        pid = cp.apiserver_ref.pid if cp.apiserver_ref is not None else None
        out, wrong = client_cpu.measure(
            cp.server,
            self.cluster.sa_dir,
            self.entries[:k],
            self.truth[:k],
            rounds=self.args.repeat,
            server_pid=pid,
        )
        self.checked["client_cpu"] = k * len(client_cpu.STACKS) * self.args.repeat
        self.disagreements += wrong
        out["load_average"] = _load()
        _log(f"client CPU per review (us): {out['client_cpu_us']}; server {out['server_cpu_us']}")
        return out

    def scale(self) -> dict[str, Any]:
        sizes = self.args.scale_sizes
        if not sizes:
            return {}
        walls: dict[int, list[float]] = {s: [] for s in sizes}
        rss: dict[int, list[int]] = {s: [] for s in sizes}
        for rnd in range(self.args.scale_repeat):
            for size in sizes:
                outcome = self._run_a(size, f"scale{size}-{rnd}")
                assert outcome.run is not None
                walls[size].append(outcome.wall_s)
                rss[size].append(outcome.run.max_rss_kib)
            _log(f"scale round {rnd + 1}: " + "  ".join(f"{s}: {walls[s][-1]:.2f}s" for s in sizes))
        medians = {s: _median(walls[s]) for s in sizes}
        out: dict[str, Any] = {
            "scale": {
                str(s): {
                    "median_s": round(medians[s], 4),
                    "samples": [round(v, 4) for v in walls[s]],
                    "peak_rss_mib": round(_mib(rss[s]), 1),
                }
                for s in sizes
            }
        }
        if len(sizes) >= 2:
            slope, intercept = statistics.linear_regression(sizes, [medians[s] for s in sizes])
            residuals = [
                abs(medians[s] - (intercept + slope * s)) / medians[s] * 100 for s in sizes
            ]
            out["scale_fit"] = {
                "fixed_s": round(intercept, 4),
                "per_check_ms": round(slope * 1000, 4),
                "max_residual_pct": round(max(residuals), 2),
            }
        return out

    def overhead(self) -> tuple[dict[str, Any], Path]:
        """E, and the suite it used (for the collect-only profile)."""
        suite = ROOT / "example_tests"
        if not (suite.is_dir() and any(suite.glob("test_*.py"))):
            suite = overhead.generated_suite(self.workdir / "generated_suite")
        collect = overhead.collect_overhead(suite, self.workdir, self.args.collect_repeat)
        imports = overhead.import_times(self.workdir, self.args.import_repeat)
        _log(f"collect-only overhead {collect.overhead_ms:.0f} ms; imports {imports}")
        shown = os.path.relpath(suite, ROOT) if suite.is_relative_to(ROOT) else "generated suite"
        return {
            "collect_overhead_ms": round(collect.overhead_ms, 1),
            "collect": {
                "suite": shown,
                "with_plugin_s": [round(v, 4) for v in collect.with_plugin_s],
                "without_plugin_s": [round(v, 4) for v in collect.without_plugin_s],
                "with_plugin_median_s": round(_median(collect.with_plugin_s), 4),
                "without_plugin_median_s": round(_median(collect.without_plugin_s), 4),
                "items_with": collect.items_with,
                "items_without": collect.items_without,
            },
            "import_ms": imports,
        }, suite

    def profiles(self, missed: set[str], suite: Path) -> dict[str, Any]:
        mode = self.args.profile
        out_dir = self.args.markdown.parent
        found: dict[str, Any] = {}
        a_missed = {k for k in missed if not k.startswith("collect")}
        if mode == "always" or (mode == "auto" and a_missed):
            matrix = self._matrix(self.n)
            runs = [
                (False, "profile-a", f"A ({self.n} checks, RTT 0)", 0.0),
                (True, "profile-a-pod", f"A ({self.n} checks, runner-image environment)", 0.0),
            ]
            rtt = max(self.args.rtts)
            if rtt > 0:
                runs.append(
                    (False, "profile-a-rtt", f"A ({self.n} checks, RTT {rtt_key(rtt)} ms)", rtt)
                )
            host, port = self.cluster.direct_address
            for pod, stem, name, delay in runs:
                relay = self._relay(host, port, delay) if delay > 0 else None
                try:
                    self.cluster.use_endpoint(
                        f"https://127.0.0.1:{relay.port}" if relay is not None else None
                    )
                    found[name] = profiling.profile_pytest(
                        contenders.pytest_argv(matrix, self.cluster, None, pod=pod),
                        cwd=matrix.parent,
                        out_stem=out_dir / stem,
                        log=self.workdir / f"{stem}.log",
                        env=child.pod_env(self.pod_pycache) if pod else child.clean_env(),
                    )
                finally:
                    self.cluster.use_endpoint(None)
                    if relay is not None:
                        relay.close()
        if mode == "always" or (mode == "auto" and "collect_overhead_under_100ms" in missed):
            found["collect-only with the plugin"] = profiling.profile_pytest(
                overhead.COLLECT_FLAGS,
                cwd=suite,
                out_stem=out_dir / "profile-collect",
                log=self.workdir / "prof-collect.log",
            )
        return {
            name: {
                "file": os.path.relpath(p.text_file, ROOT)
                if p.text_file.is_relative_to(ROOT)
                else str(p.text_file),
                "total_s": round(p.total_s, 3),
                "phases": [(g, round(s, 3)) for g, s in p.phases],
                "by_owner": [(g, round(s, 3)) for g, s in p.by_owner],
                "plugin_functions": [(f, round(s, 3)) for f, s in p.plugin_functions],
            }
            for name, p in found.items()
        }


def _kubernetes_version(cluster: BenchCluster) -> str:
    with cluster.control_plane.admin_client() as admin:
        return str(admin.get("/version").json().get("gitVersion", "?"))


def run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    started = time.perf_counter()
    # A virtual machine's hypervisor can take CPU time from it ("steal"); on a busy host every
    # contender slows down, so the share taken during the run is reported with the numbers.
    steal_before, total_before = _cpu_times()
    workdir = Path(tempfile.mkdtemp(prefix="pytest-incluster-bench-"))
    try:
        with BenchCluster(workdir) as cluster:
            cluster.up()
            bench = Bench(args, workdir, cluster)
            if args.pin:
                bench.pin()
            bench.prepare()
            bench.warm_up()
            by_rtt = {rtt_key(rtt): bench.at_rtt(rtt) for rtt in args.rtts}
            base_key = "0" if "0" in by_rtt else next(iter(by_rtt))
            base = by_rtt[base_key]
            # The keys of earlier runs, measured at RTT 0 (direct) when the set has it.
            results: dict[str, Any] = {
                k: v for k, v in base.items() if k not in ("b_mode", "load_average")
            }
            results["base_rtt_ms"] = float(base_key)
            results["rtt"] = by_rtt
            for key, ratio in (
                ("c_over_a_rtt20", "c_over_a"),
                ("b_over_a_rtt20", "b_over_a"),
                ("a_over_d_rtt20", "a_over_d"),
                ("a_over_floor_rtt1", "a_over_floor"),
                ("a_over_floor_rtt0", "a_over_floor"),
            ):
                at = key.rsplit("_rtt", 1)[1]
                results[key] = by_rtt[at][ratio] if at in by_rtt else None
            results["relay"] = bench.relay_alone()
            results["client_cpu"] = bench.client_cpu() or None
            results |= bench.scale()
            scale = results.get("scale", {})
            fit = results.get("scale_fit")
            results["scaling_residual_10k"] = (
                round(fit["max_residual_pct"] / 100, 4)
                if fit is not None and "10000" in scale
                else None
            )
            results["peak_rss_mib_10k"] = scale.get("10000", {}).get("peak_rss_mib")
            overhead_results, suite = bench.overhead()
            results |= overhead_results
            results["targets"] = report.targets(results)
            missed = {k for k, t in results["targets"].items() if t["reached"] is False}
            results["profiles"] = bench.profiles(missed, suite)
            b_mode = base["b_mode"]
            results["b_mode"] = b_mode
            results["a_pod_rewritten_modules"] = bench.rewritten
            allowed = sum(bench.truth[: args.checks])
            results["entries"] = {"allowed": allowed, "forbidden": args.checks - allowed}
            results["agreement"] = {
                "decisions_checked": bench.checked,
                "disagreements": bench.disagreements,
            }
            results["pinning"] = bench.pinning.as_json() if bench.pinning else None
            results["cpu_count"] = os.cpu_count()
            results["machine"] = {
                "cpu_count": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
                "kubernetes": _kubernetes_version(cluster),
                "date": datetime.date.today().isoformat(),
            }
    finally:
        if args.keep:
            _log(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results["settings"] = {
        "checks": args.checks,
        "repeat": args.repeat,
        "seed": args.seed,
        "argv": shlex.join(["bench/run", *argv]),
        "scale_repeat": args.scale_repeat,
        "collect_repeat": args.collect_repeat,
        "rtts_ms": args.rtts,
    }
    results["bench_wall_s"] = round(time.perf_counter() - started, 1)
    steal_after, total_after = _cpu_times()
    elapsed = total_after - total_before
    results["cpu_steal_share"] = (
        round((steal_after - steal_before) / elapsed, 3) if elapsed > 0 else None
    )
    first = (
        "b_over_a",
        "c_over_a",
        "a_over_d",
        "collect_overhead_ms",
        "c_over_a_rtt20",
        "b_over_a_rtt20",
        "a_over_d_rtt20",
        "a_over_floor_rtt1",
        "a_over_floor_rtt0",
        "scaling_residual_10k",
        "peak_rss_mib_10k",
    )
    ordered = {k: results[k] for k in first}
    ordered |= {k: v for k, v in results.items() if k not in ordered}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(ordered, indent=2) + "\n")
    text = report.markdown(results)
    args.markdown.parent.mkdir(parents=True, exist_ok=True)
    args.markdown.write_text(text)
    print(text)
    _log(f"wrote {args.json} and {args.markdown}")
    slow_relay = [k for k, v in results["rtt"].items() if not v["relay_delay_ok"]]
    if slow_relay:
        _log(f"FAILED self-check: the relay added less than the asked RTT at {slow_relay} ms")
        return 1
    if bench.disagreements:
        _log(f"FAILED: {len(bench.disagreements)} disagreement(s) between contenders:")
        for line in bench.disagreements:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds like Ctrl-C: the control plane is stopped


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _terminate)
    return run(parse_args(argv), argv)
