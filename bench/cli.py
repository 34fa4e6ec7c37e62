"""``bench/run``: the whole benchmark, from an empty directory to RESULTS.md.

Order of work (everything after the set-up shares one control plane):

1. start the control plane, provision the runner and its RBAC, generate the checks;
2. the truth: the floor (D) answers every check once, untimed; the matrix files are written
   with those answers as expectations;
3. warm-ups, untimed: A on a small file, B on a few checks (fills kubectl's discovery cache and
   measures what one kubectl costs, to decide whether B can run in full), C on a few;
4. ``--repeat`` interleaved rounds of A B C D, each checked against the truth;
5. A at every ``--scale`` size, interleaved, also checked;
6. E: collect-only overhead and import times;
7. pyinstrument profiles when a target is missed (``--profile auto``) or always;
8. JSON, markdown (stdout and the ``--markdown`` file); exit 1 if any decision disagreed.
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

from bench import child, contenders, overhead, profiling, report
from bench.cluster import BenchCluster
from bench.contenders import Outcome
from bench.entries import Entry, generate

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
B_WARMUP = 20


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
        default=BENCH_DIR / "results.json",
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
        help="time B may take over all rounds when --b-sample is 0 (default 480)",
    )
    p.add_argument(
        "--scale",
        default="100,1000,5000",
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
        "--profile",
        choices=("auto", "always", "never"),
        default="auto",
        help="pyinstrument profiles of A and collect-only: when a target is "
        "missed (auto), always, or never; written next to --markdown",
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
    return args


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def _mib(kib: Sequence[int]) -> float:
    return _median([k / 1024 for k in kib])


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

    # ---- helpers ---------------------------------------------------------------------------

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

    def warm_up(self) -> tuple[int | None, str]:
        """Untimed first runs; returns B's sample size (None: all) and how B is run."""
        self._run_a(min(100, self.n), "warmup")  # also writes the assertion-rewrite cache
        self._run_a(min(100, self.n), "pod-image-build", pod=True, filling=True)
        self.rewritten = child.drop_rewrite_caches(self.pod_pycache)
        self._verify(contenders.run_c(self.cluster, self.entries[:B_WARMUP]), self.entries)
        first = contenders.run_b(self.cluster, self.entries, range(min(B_WARMUP, self.n)))
        self._verify(first, self.entries)
        per_check = first.wall_s / max(1, len(first.decisions))
        if self.args.b_sample:
            k = min(self.args.b_sample, self.n)
            why = "--b-sample"
        else:
            projected = per_check * self.n * self.args.repeat
            fits = int(self.args.b_budget / max(per_check * self.args.repeat, 1e-9))
            k = self.n if projected <= self.args.b_budget else max(B_WARMUP, min(fits, self.n))
            why = f"--b-budget {self.args.b_budget:g}s, projected {projected:.0f}s for all"
        _log(f"kubectl costs {per_check * 1000:.0f} ms per check; B runs {k} of {self.n} ({why})")
        if k >= self.n:
            return None, f"all {self.n} checks every round"
        return k, (
            f"{k} of {self.n} random checks per round ({why}), per-check cost extrapolated to "
            f"{self.n}"
        )

    def rounds(self, b_sample: int | None) -> dict[str, Any]:
        samples: dict[str, list[float]] = {"a": [], "a_pod": [], "b": [], "c": [], "d": []}
        rss: list[int] = []
        requests: list[float] = []
        for rnd in range(self.args.repeat):
            before = self.cluster.request_total()
            a = self._run_a(self.n, f"round{rnd}")
            after = self.cluster.request_total()
            assert a.run is not None
            samples["a"].append(a.wall_s)
            rss.append(a.run.max_rss_kib)
            requests.append(after - before - 1)  # minus the first scrape itself

            pod = self._run_a(self.n, f"pod{rnd}", pod=True)
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
            _log(
                f"round {rnd + 1}/{self.args.repeat}: A {a.wall_s:.2f}s  "
                f"A(pod env) {samples['a_pod'][-1]:.2f}s  B {samples['b'][-1]:.1f}s"
                f"  C {c.wall_s:.2f}s  D {d.wall_s:.2f}s"
            )
        a_s = _median(samples["a"])
        return {
            "samples": {k: [round(v, 4) for v in vs] for k, vs in samples.items()},
            **{f"{k}_s": round(_median(vs), 4) for k, vs in samples.items()},
            "a_peak_rss_mib": round(_mib(rss), 1),
            "a_peak_rss_mib_samples": [round(k / 1024, 1) for k in rss],
            "a_requests_per_run": _median(requests),
            "a_requests_per_s": round(_median(requests) / a_s, 1),
        }

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
        a_missed = missed & {"a_20x_faster_than_b", "a_3x_faster_than_c", "a_within_2x_of_d"}
        if mode == "always" or (mode == "auto" and a_missed):
            matrix = self._matrix(self.n)
            for pod, stem, name in (
                (False, "profile-a", f"A ({self.n} checks)"),
                (True, "profile-a-pod", f"A ({self.n} checks, runner-image environment)"),
            ):
                found[name] = profiling.profile_pytest(
                    contenders.pytest_argv(matrix, self.cluster, None, pod=pod),
                    cwd=matrix.parent,
                    out_stem=out_dir / stem,
                    log=self.workdir / f"{stem}.log",
                    env=child.pod_env(self.pod_pycache) if pod else child.clean_env(),
                )
        if mode == "always" or (mode == "auto" and "collect_overhead_under_150ms" in missed):
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
    workdir = Path(tempfile.mkdtemp(prefix="pytest-incluster-bench-"))
    try:
        with BenchCluster(workdir) as cluster:
            cluster.up()
            bench = Bench(args, workdir, cluster)
            bench.prepare()
            b_sample, b_mode = bench.warm_up()
            results: dict[str, Any] = bench.rounds(b_sample)
            results |= bench.scale()
            overhead_results, suite = bench.overhead()
            results |= overhead_results
            results["b_over_a"] = round(results["b_s"] / results["a_s"], 2)
            results["c_over_a"] = round(results["c_s"] / results["a_s"], 2)
            results["a_over_d"] = round(results["a_s"] / results["d_s"], 2)
            results["c_over_d"] = round(results["c_s"] / results["d_s"], 2)  # C/A's ceiling
            results["targets"] = report.targets(results)
            missed = {k for k, t in results["targets"].items() if not t["reached"]}
            results["profiles"] = bench.profiles(missed, suite)
            results["b_mode"] = b_mode
            results["a_pod_rewritten_modules"] = bench.rewritten
            allowed = sum(bench.truth[: args.checks])
            results["entries"] = {"allowed": allowed, "forbidden": args.checks - allowed}
            results["agreement"] = {
                "decisions_checked": bench.checked,
                "disagreements": bench.disagreements,
            }
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
    }
    results["bench_wall_s"] = round(time.perf_counter() - started, 1)
    ordered = {k: results[k] for k in ("b_over_a", "c_over_a", "a_over_d", "collect_overhead_ms")}
    ordered |= {k: v for k, v in results.items() if k not in ordered}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(ordered, indent=2) + "\n")
    text = report.markdown(results)
    args.markdown.parent.mkdir(parents=True, exist_ok=True)
    args.markdown.write_text(text)
    print(text)
    _log(f"wrote {args.json} and {args.markdown}")
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
