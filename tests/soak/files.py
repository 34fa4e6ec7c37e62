"""Writing the checks as access files, and reading back what pytest said about each item.

One file per subject (``<key>.access.yaml``), one YAML document per mode. Each document sets
``namespace:`` to the namespace most of its checks use, whose entries then leave out ``-n``;
the rest name theirs. The file's ``allowed:``/``forbidden:`` lists state the oracle's truth,
except for the planted checks, which are written in the opposite list so their items must fail.

The node id of every item is computed here as the plugin documents it
(``file::subject::allowed|forbidden::entry``, a repeated subject label numbered ``#2``...), so
results are matched by id. A ``conftest.py`` in the suite records each item's outcome and first
failure line on the controller (also under pytest-xdist, where workers' reports arrive there)
into ``results.json``.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import yaml

from tests.soak.matrix import SUBJECTS, Check
from tests.soak.oracle import Expectation, Outcome, word

RESULTS = "results.json"
CONFTEST = '''
"""Records every item's outcome for the soak (controller side only)."""
import json
import os
from pathlib import Path

RESULTS = {}


def pytest_runtest_logreport(report):
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    if report.when == "call" or report.outcome != "passed":
        text = report.longreprtext if report.failed else ""
        # pytest-xdist puts a "[gw0] linux -- Python ..." line before a worker's failure.
        lines = [line for line in text.splitlines() if line.strip() and not line.startswith("[gw")]
        RESULTS[report.nodeid] = {
            "outcome": "failed" if report.failed else report.outcome,
            "message": lines[0] if lines else "",
        }


def pytest_sessionfinish(session):
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    Path(session.config.rootpath, "results.json").write_text(json.dumps(RESULTS))
'''
PYTEST_INI = """[pytest]
addopts = -p no:cacheprovider
"""


def _label(key: str) -> str:
    subject = next(s for s in SUBJECTS if s.key == key)
    if subject.user is None:
        return "self"
    return "+".join((subject.user, *subject.groups))


def write_suite(
    directory: Path,
    rng: random.Random,
    checks: list[Check],
    truth: dict[Check, bool],
    planted: set[int],
) -> list[Expectation]:
    """Write the access files, ``conftest.py`` and ``pytest.ini``; returns one expectation per
    item (its node id, check, truth and whether it is planted)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pytest.ini").write_text(PYTEST_INI)
    (directory / "conftest.py").write_text(CONFTEST)
    expectations: list[Expectation] = []
    by_subject: dict[str, list[int]] = {}
    for index, check in enumerate(checks):
        by_subject.setdefault(check.subject, []).append(index)
    for key, indexes in sorted(by_subject.items()):
        name = f"{key}.access.yaml"
        documents: list[dict[str, object]] = []
        labels: Counter[str] = Counter()
        for mode in ("review", "request", "both"):
            in_mode = [i for i in indexes if checks[i].mode == mode]
            if not in_mode:
                continue
            namespaces = Counter(checks[i].namespace for i in in_mode if checks[i].namespace)
            home = namespaces.most_common(1)[0][0] if namespaces else None
            if rng.random() < 0.3:
                home = None  # some documents name every namespace
            subject = next(s for s in SUBJECTS if s.key == key)
            label = _label(key)
            labels[label] += 1
            node_label = label if labels[label] == 1 else f"{label}#{labels[label]}"
            document: dict[str, object] = {}
            if subject.user is not None:
                document["as"] = subject.user
                if subject.groups:
                    document["groups"] = list(subject.groups)
            if home is not None:
                document["namespace"] = home
            document["mode"] = mode
            lists: dict[str, list[str]] = {"allowed": [], "forbidden": []}
            for i in in_mode:
                check = checks[i]
                exp = Expectation("", check, truth[check], i in planted)
                entry = check.entry(home)
                lists[exp.written].append(entry)
                expectations.append(
                    Expectation(
                        f"{name}::{node_label}::{exp.written}::{entry}",
                        check,
                        exp.allowed,
                        exp.planted,
                    )
                )
            document.update({k: v for k, v in lists.items() if v})
            documents.append(document)
        text = yaml.safe_dump_all(documents, sort_keys=False, width=200)
        (directory / name).write_text(text)
    return expectations


def read_results(directory: Path) -> dict[str, Outcome]:
    """What the recording conftest wrote: node id -> outcome and first failure line."""
    path = directory / RESULTS
    if not path.exists():
        return {}
    raw = json.loads(path.read_text())
    return {nodeid: Outcome(r["outcome"], r["message"]) for nodeid, r in raw.items()}


__all__ = ["Expectation", "read_results", "word", "write_suite"]
