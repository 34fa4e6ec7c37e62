"""Which run a report belongs to: the cluster's name, the suite's version, the Job and the pod.

A gate's report is read later and elsewhere (fetched from a ConfigMap, attached to a ticket);
it must say which cluster ran which version of the suite, and which Job and pod to look at.
The cluster's name is what the operator calls it (``--incluster-cluster-name``, or the
``INCLUSTER_CLUSTER_NAME`` variable the Job sets); the API server URL alone is often the same
``https://10.96.0.1`` everywhere. The Job and pod names come from ``INCLUSTER_JOB_NAME`` and
``INCLUSTER_POD_NAME`` (the deploy manifests set them from the downward API).

The suite version is a content hash: sha256 over the collected test files, sorted by path
relative to the rootdir, each path and content length-prefixed, shortened to
:data:`SUITE_HASH_CHARS` hex digits. Two runs show the same version exactly when they collected
the same files with the same bytes, whichever machine or ConfigMap they came from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

SUITE_HASH_CHARS: Final = 12
ENV_CLUSTER: Final = "INCLUSTER_CLUSTER_NAME"
ENV_JOB: Final = "INCLUSTER_JOB_NAME"
ENV_POD: Final = "INCLUSTER_POD_NAME"


@dataclass(frozen=True)
class SuiteVersion:
    """The hash of the collected test files and how many there were."""

    digest: str
    files: int

    def describe(self) -> str:
        """``1a2b3c4d5e6f (sha256 of 3 collected test files)``."""
        noun = "file" if self.files == 1 else "files"
        return f"{self.digest} (sha256 of {self.files} collected test {noun})"


def _relative(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:  # outside the rootdir (a path given on the command line)
        return path.resolve().as_posix()


def suite_version(root: Path, files: Iterable[Path]) -> SuiteVersion:
    """The :class:`SuiteVersion` of ``files`` (duplicates count once) relative to ``root``.

    An unreadable file contributes its path and the marker ``unreadable``, so the version still
    changes when it appears or disappears.
    """
    # One resolve per distinct file, not per test: a 10,000-entry access file is one file.
    by_name = {_relative(root, path): path for path in dict.fromkeys(files)}
    digest = hashlib.sha256()
    for name in sorted(by_name):
        try:
            content = by_name[name].read_bytes()
        except OSError:
            content = b"unreadable"
        encoded = name.encode("utf-8", "surrogateescape")
        for piece in (encoded, content):
            digest.update(len(piece).to_bytes(8, "big"))
            digest.update(piece)
    return SuiteVersion(digest.hexdigest()[:SUITE_HASH_CHARS], len(by_name))


def files_of(nodeids: Iterable[str], root: Path) -> list[Path]:
    """The files that the test ids ``path::name`` were collected from."""
    return [root / nodeid.split("::", 1)[0] for nodeid in nodeids if nodeid]


@dataclass(frozen=True)
class RunContext:
    """What identifies the run; empty strings where it is not known."""

    cluster_name: str = ""
    job: str = ""
    pod: str = ""
    suite: SuiteVersion | None = None

    @classmethod
    def of(
        cls, cluster_name: str, env: Mapping[str, str], suite: SuiteVersion | None
    ) -> RunContext:
        return cls(
            cluster_name=cluster_name.strip(),
            job=env.get(ENV_JOB, "").strip(),
            pod=env.get(ENV_POD, "").strip(),
            suite=suite,
        )

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) for the report's environment table, only what is known."""
        rows = [("Cluster", self.cluster_name)]
        if self.suite is not None:
            rows.append(("Suite version", self.suite.describe()))
        rows += [("Job", self.job), ("Pod", self.pod)]
        return [(label, value) for label, value in rows if value]

    def annotations(self, domain: str) -> dict[str, str]:
        """``DOMAIN/cluster``, ``DOMAIN/suite-version``, ``DOMAIN/job``, ``DOMAIN/pod`` for the
        stored report's index ConfigMap, only what is known."""
        values = {
            "cluster": self.cluster_name,
            "suite-version": self.suite.digest if self.suite else "",
            "job": self.job,
            "pod": self.pod,
        }
        return {f"{domain}/{key}": value for key, value in values.items() if value}

    def header(self) -> str:
        """``cluster prod-eu | job gate-1 | pod gate-1-x2x9`` (no suite: it is known later)."""
        parts = [("cluster", self.cluster_name), ("job", self.job), ("pod", self.pod)]
        return " | ".join(f"{label} {value}" for label, value in parts if value)
