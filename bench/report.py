"""Turn the measurements into the JSON document and the markdown summary.

The JSON keeps every raw sample next to the medians, so a reader can judge the spread; the
markdown is what a person reads first (stdout and ``bench/RESULTS.md``).
"""

from __future__ import annotations

from typing import Any

from bench.pinning import cpu_list

TARGETS = (
    ("c_over_a_rtt20", "RTT 20 ms: A at least 10x faster than C (C/A >= 10)"),
    ("b_over_a_rtt20", "RTT 20 ms: A at least 100x faster than B (B/A >= 100)"),
    ("a_over_d_rtt20", "RTT 20 ms: A within 1.3x of D (A/D <= 1.3)"),
    ("a_over_floor_rtt1", "RTT 1 ms: A within 1.3x of max(D, E)"),
    ("a_over_floor_rtt0", "RTT 0: A within 1.5x of max(D, E)"),
    ("collect_overhead_under_100ms", "plugin adds < 100 ms to --collect-only"),
    ("scaling_residual_10k", "A linear up to 10,000 checks (largest residual <= 10%)"),
    ("peak_rss_mib_10k", "peak RSS at 10,000 checks < 150 MiB"),
)
_LIMITS: dict[str, tuple[str, float]] = {
    "c_over_a_rtt20": (">=", 10),
    "b_over_a_rtt20": (">=", 100),
    "a_over_d_rtt20": ("<=", 1.3),
    "a_over_floor_rtt1": ("<=", 1.3),
    "a_over_floor_rtt0": ("<=", 1.5),
    "collect_overhead_under_100ms": ("<", 100),
    "scaling_residual_10k": ("<=", 0.10),
    "peak_rss_mib_10k": ("<", 150),
}


def targets(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target with its measured value and whether it was reached (None: not measured)."""
    out = {}
    for key, _ in TARGETS:
        value = results.get("collect_overhead_ms" if key.startswith("collect") else key)
        op, limit = _LIMITS[key]
        reached = None
        if value is not None:
            reached = {">=": value >= limit, "<=": value <= limit, "<": value < limit}[op]
        out[key] = {"value": value, "reached": reached}
    return out


def _value(key: str, value: float | None) -> str:
    if value is None:
        return "not measured"
    if key.startswith("collect"):
        return f"{value:.0f} ms"
    if key == "scaling_residual_10k":
        return f"{value * 100:.1f}%"
    if key == "peak_rss_mib_10k":
        return f"{value:.1f} MiB"
    return f"{value:.2f}x"


def _s(seconds: float) -> str:
    return f"{seconds:.3f} s" if seconds < 10 else f"{seconds:.1f} s"


def _samples(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def _steal(share: float | None) -> str:
    if share is None:
        return ""
    return (
        f" CPU time taken by the hypervisor (steal) during the run: {share:.0%} of the "
        "machine's (a high share slows every contender)."
    )


def _pinned(pinning: dict[str, list[int]] | None) -> str:
    if not pinning:
        return ", sharing the CPUs with the contenders"
    return (
        f" (`--pin`: etcd, kube-apiserver and the relay on CPU {cpu_list(pinning['server_cpus'])}"
        f", every contender on CPU {cpu_list(pinning['contender_cpus'])})"
    )


def _split(sp: dict[str, Any], n: int) -> list[str]:
    """The split probe's table (bench/split.py) for one RTT."""
    what = {
        "none": "the items alone, no request",
        "threads": "answers from 16 threads in pytest's process (the plugin's way)",
        "process": "answers from another Python process (its own GIL)",
    }
    lines = [
        "",
        f"Split probe ({n} items taking an `answer` fixture; bench/split.py):",
        "",
        "| source | median | samples (s) |",
        "| --- | ---: | --- |",
    ]
    for mode, text in what.items():
        lines.append(f"| {text} | {_s(sp[f'{mode}_s'])} | {_samples(sp['samples'][mode])} |")
    lines += [
        "",
        f"threads/process {sp['threads_over_process']:.2f}x, process/D "
        f"{sp['process_over_d']:.2f}x, threads/D {sp['threads_over_d']:.2f}x.",
    ]
    return lines


def _client_cpu(cc: dict[str, Any]) -> list[str]:
    """The client-CPU table (bench/client_cpu.py)."""
    what = {
        "http.client": "the standard library alone (the least a Python client spends)",
        "httpcore": "httpx's transport layer (h11), no client on top",
        "httpx": "a plain `httpx.Client`, as D",
        "plugin": "the plugin's `K8sClient` and `review()`, as A's worker threads",
    }
    lines = [
        "",
        "## Client CPU per review, by HTTP stack",
        "",
        f"{cc['reviews']} reviews one after another over one kept-alive connection, direct; CPU "
        f"of the sending thread (user + system), medians of {cc['rounds']} interleaved rounds; "
        f"load average {cc['load_average']}.",
        "",
        "| stack | what | CPU per review | / http.client | samples (us) |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    for stack, us in cc["client_cpu_us"].items():
        ratio = cc["over_http_client"][stack]
        samples = ", ".join(f"{x:.0f}" for x in cc["samples_us"][stack])
        lines.append(
            f"| {stack} | {what.get(stack, '')} | {us:.0f} us | {ratio:.2f}x | {samples} |"
        )
    if cc.get("server_cpu_us") is not None:
        lines += [
            "",
            f"The API server spent {cc['server_cpu_us']:.0f} us of CPU per review over the same "
            "batches (median, kube-apiserver's `/proc/PID/stat`).",
        ]
    return lines


def markdown(r: dict[str, Any]) -> str:
    """The summary table(s) as GitHub markdown."""
    n = r["settings"]["checks"]
    lines = [
        "# pytest-incluster benchmark results",
        "",
        f"Generated by `{r['settings']['argv']}` on {r['machine']['date']}: "
        f"{r['machine']['cpu_count']} cores (os.cpu_count()), Python {r['machine']['python']}, "
        f"Kubernetes {r['machine']['kubernetes']}, local etcd + kube-apiserver on loopback"
        f"{_pinned(r.get('pinning'))}. "
        f"{n} checks ({r['entries']['allowed']} allowed, {r['entries']['forbidden']} forbidden), "
        f"seed {r['settings']['seed']}, medians of {r['settings']['repeat']} interleaved "
        f"repetitions (A A' B C D E, A A' B C D E, ...) at each round-trip time. "
        f"Whole run: {r['bench_wall_s']:.0f} s.{_steal(r.get('cpu_steal_share'))}",
    ]
    rows = (
        ("A", f"pytest + plugin on a {n}-entry access matrix (subprocess, end to end)", "a"),
        (
            "A'",
            "A as in the runner image: PYTHONDONTWRITEBYTECODE=1, no assertion-rewrite cache "
            f"({r['a_pod_rewritten_modules']} modules rewritten every run; not a target)",
            "a_pod",
        ),
        ("B", "`kubectl auth can-i` per check, sequential", "b"),
        ("C", "official `kubernetes` client, SelfSubjectAccessReviews one after another", "c"),
        ("D", "network floor: same reviews with plain httpx, 16 threads, in-process", "d"),
        ("E", f"pytest floor: {n} trivial items, same options and JUnit XML, no cluster", "e"),
    )
    for key, at in r["rtt"].items():
        where = "direct to the API server" if key == "0" else f"through the relay (+{key} ms)"
        lines += [
            "",
            f"## RTT {key} ms ({where}), load average {at['load_average']}",
            "",
            f"B: {at['b_mode']}. One review on a kept-alive connection: "
            f"{at['review_round_trip_ms']:.2f} ms (median of 20).",
            "",
            "| | what | median | per check | samples (s) |",
            "| --- | --- | ---: | ---: | --- |",
        ]
        for label, what, k in rows:
            median = at[f"{k}_s"]
            lines.append(
                f"| {label} | {what} | {_s(median)} | {median / n * 1000:.2f} ms | "
                f"{_samples(at['samples'][k])} |"
            )
        lines += [
            "",
            f"B/A {at['b_over_a']:.1f}x, C/A {at['c_over_a']:.2f}x, A/D {at['a_over_d']:.2f}x, "
            f"A/max(D, E) {at['a_over_floor']:.2f}x.",
        ]
        if "split" in at:
            lines += _split(at["split"], n)
    lines += [
        "",
        "## Targets",
        "",
        "| target | measured | reached |",
        "| --- | ---: | :---: |",
    ]
    for key, text in TARGETS:
        t = r["targets"][key]
        reached = {True: "yes", False: "**no**", None: "not measured"}[t["reached"]]
        lines.append(f"| {text} | {_value(key, t['value'])} | {reached} |")
    relay = r["relay"]
    sweep = relay["concurrency_sweep"]
    lines += [
        "",
        "## The relay alone",
        "",
        f"D through the relay at RTT 0 / D direct: **{relay['relay0_over_direct']:.3f}x** "
        f"(relay {_samples(relay['relay0_d_samples'])} s; direct "
        f"{_samples(relay['direct_d_samples'])} s; load average {relay['load_average']}).",
        "",
        f"D at RTT {sweep['rtt_ms']:g} ms by concurrency limit (medians, s): "
        + ", ".join(f"{c}: {v:.3f}" for c, v in sweep["median_s"].items())
        + ".",
    ]
    if r.get("client_cpu"):
        lines += _client_cpu(r["client_cpu"])
    lines += [
        "",
        "## A in detail",
        "",
        f"- Peak RSS of the pytest process, {n} checks: {r['a_peak_rss_mib']:.1f} MiB "
        f"(median over repetitions; `os.wait4` rusage of that child only).",
        f"- Requests the control plane served during A: {r['a_requests_per_run']:.0f} per run, "
        f"{r['a_requests_per_s']:.0f} requests/s over A's wall time (`apiserver_request_total` "
        "scraped before and after).",
    ]
    if r.get("scale"):
        lines += [
            "",
            "### Scaling of A",
            "",
            "| checks | median | per check | peak RSS | samples (s) |",
            "| ---: | ---: | ---: | ---: | --- |",
        ]
        for size, s in r["scale"].items():
            lines.append(
                f"| {size} | {_s(s['median_s'])} | {s['median_s'] / int(size) * 1000:.2f} ms | "
                f"{s['peak_rss_mib']:.1f} MiB | {_samples(s['samples'])} |"
            )
        fit = r["scale_fit"]
        lines += [
            "",
            f"Least-squares fit: {fit['fixed_s']:.2f} s fixed + {fit['per_check_ms']:.2f} ms "
            f"per check; largest relative residual {fit['max_residual_pct']:.1f}% "
            f"({'close to linear' if fit['max_residual_pct'] < 15 else 'NOT linear'}).",
        ]
    c = r["collect"]
    lines += [
        "",
        "## Plugin overhead (collect-only)",
        "",
        f"`pytest --collect-only -q` on `{c['suite']}`, medians of {len(c['with_plugin_s'])} "
        "alternating runs each:",
        "",
        "| | median | samples (s) | collected |",
        "| --- | ---: | --- | --- |",
        f"| with the plugin | {c['with_plugin_median_s'] * 1000:.0f} ms | "
        f"{_samples(c['with_plugin_s'])} | {c['items_with']} |",
        f"| `-p no:incluster` | {c['without_plugin_median_s'] * 1000:.0f} ms | "
        f"{_samples(c['without_plugin_s'])} | {c['items_without']} |",
        f"| **overhead** | **{r['collect_overhead_ms']:.0f} ms** | | |",
        "",
        "Import time (`python -c 'import X'` minus `python -c pass` "
        f"= {r['import_ms']['python -c pass']:.0f} ms), medians:",
        "",
        "| module | ms |",
        "| --- | ---: |",
    ]
    for name, ms in r["import_ms"].items():
        if name != "python -c pass":
            lines.append(f"| `{name}` | {ms:.0f} |")
    lines += ["", "## Agreement", ""]
    agree = r["agreement"]
    checked = ", ".join(f"{k} {v}" for k, v in agree["decisions_checked"].items())
    if agree["disagreements"]:
        lines.append(f"**FAILED**: {len(agree['disagreements'])} disagreement(s):")
        lines.append("")
        lines += [f"- {d}" for d in agree["disagreements"][:50]]
    else:
        lines.append(
            f"Every decision agreed with the floor's (D's untimed first pass) in every run "
            f"(decisions compared: {checked})."
        )
    if r.get("profiles"):
        lines += ["", "## Profiles (pyinstrument)", ""]
        for name, p in r["profiles"].items():
            lines.append(f"### {name}: {p['total_s']:.2f} s sampled, text tree in `{p['file']}`")
            total = p["total_s"] or 1.0
            lines += ["", "| phase (inclusive) | s | share |", "| --- | ---: | ---: |"]
            for phase, seconds in p["phases"]:
                lines.append(f"| {phase} | {seconds:.3f} | {seconds / total * 100:.0f}% |")
            lines += ["", "| self time by owner | s | share |", "| --- | ---: | ---: |"]
            for owner, seconds in p["by_owner"][:12]:
                lines.append(f"| {owner} | {seconds:.3f} | {seconds / total * 100:.0f}% |")
            lines += ["", "| plugin function (inclusive) | s |", "| --- | ---: |"]
            for function, seconds in p["plugin_functions"][:10]:
                lines.append(f"| `{function}` | {seconds:.3f} |")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
