"""What changed between two runs: every check whose expectation or answer is not the same, and
the checks only one of the runs made (a new permission since the last release shows here)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from pytest_incluster.results.document import Decision, ResultsDocument
from pytest_incluster.results.fleet import Key

Answers = tuple[tuple[str, str], ...]  # sorted (expected, actual) pairs


@dataclass(frozen=True)
class Change:
    key: Key
    old: Answers  # () when the old run did not make the check
    new: Answers

    @property
    def kind(self) -> str:
        return "added" if not self.old else "removed" if not self.new else "changed"

    def describe(self) -> str:
        """``changed: alice: get secrets in namespace a: allowed (expected forbidden), was
        forbidden (expected forbidden)``."""
        subject, verb, resource, namespace = self.key
        what = Decision(subject, verb, resource, namespace, "", "", "", "", "", "").describe()
        if self.kind == "added":
            return f"added: {what}: {_answers(self.new)}"
        if self.kind == "removed":
            return f"removed: {what}: was {_answers(self.old)}"
        return f"changed: {what}: {_answers(self.new)}, was {_answers(self.old)}"


def _answers(answers: Answers) -> str:
    return " and ".join(f"{actual} (expected {expected})" for expected, actual in answers)


def _by_key(document: ResultsDocument) -> dict[Key, Answers]:
    found: dict[Key, set[tuple[str, str]]] = defaultdict(set)
    for d in document.decisions:
        found[d.key].add((d.expected, d.actual))
    return {key: tuple(sorted(pairs)) for key, pairs in found.items()}


def diff(old: ResultsDocument, new: ResultsDocument) -> list[Change]:
    """Every check that differs, sorted by what it is about."""
    before, after = _by_key(old), _by_key(new)
    return [
        Change(key, before.get(key, ()), after.get(key, ()))
        for key in sorted(set(before) | set(after))
        if before.get(key, ()) != after.get(key, ())
    ]
