"""The split probe: would answering from another process (its own GIL) close A's gap?

A runs pytest's per-item work and the client's HTTP work in one interpreter; D is only the
HTTP work, E only pytest's. The probe times the same N items (each takes a fixture, ``answer``,
and asserts the server's answer equals the expected one) three ways, interleaved, at the same
RTT as A and D (:mod:`bench.split_answers` says how each works):

``none``     the items alone, no request (their floor)
``threads``  the reviews on worker threads in pytest's process, as the plugin sends them
``process``  the same reviews sent by another Python process

``threads``/``process`` is what the split would buy the plugin at best (the probe has none of
the plugin's bookkeeping); ``process``/D is what would remain. A failed item (a wrong answer)
fails the run, so a fast but wrong source cannot be reported.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from bench import child, contenders
from bench.cluster import BenchCluster
from bench.entries import Entry

MODES = ("none", "threads", "process")
ROOT = Path(__file__).resolve().parent.parent


def write_suite(directory: Path, count: int) -> Path:
    """``count`` items, ``test_<index>``, each comparing its answer with the expected one."""
    return contenders.write_items_suite(
        directory,
        f"test_split_{count}.py",
        f"the split probe, {count} items",
        "\n\ndef test_{:05d}(answer):\n    got, expected = answer\n    assert got is expected\n",
        count,
    )


def write_state(
    path: Path, cluster: BenchCluster, entries: Sequence[Entry], truth: Sequence[bool]
) -> Path:
    """What the items need: where to ask, as whom, the reviews and the expected answers."""
    state = {
        "server": cluster.server,
        "sa_dir": str(cluster.sa_dir),
        "bodies": [e.review_body() for e in entries],
        "truth": list(truth),
    }
    path.write_text(json.dumps(state))
    return path


def run(suite: Path, state: Path, mode: str, workdir: Path, tag: str) -> child.ChildRun:
    """pytest on ``suite`` with the answers from ``mode``; raises if any item failed."""
    env = child.clean_env() | {
        "PYTHONPATH": str(ROOT),
        "BENCH_SPLIT_STATE": str(state),
        "BENCH_SPLIT_MODE": mode,
    }
    return contenders.run_pytest_without_plugin(
        suite,
        workdir,
        tag,
        what=f"the split probe ({mode})",
        plugins=["bench.split_answers"],
        env=env,
    )
