"""Collecting access-matrix files as pytest items, one per expectation.

The tree is ``file -> subject -> allowed|forbidden -> entry``, so node ids read like
``shop.access.yaml::system:serviceaccount:shop:api::forbidden::list secrets -n kube-system`` or
``team.access.yaml::jane+developers::allowed::list pods`` (``as: jane``, ``groups:
[developers]``) and select exactly one check on the command line; ``-k secrets`` and ``-m smoke``
(from the document's ``markers:``) work as for Python tests. The runner's own documents are named
``self`` rather than by its user name, so ids do not change between clusters or CI runners; the
report's outcome rows carry the real user name when it is known.

pytest splits node ids on ``::`` and reads the first ``[`` as the start of parametrization (on
the command line, in ``--deselect`` and ``--lf`` it only matches the end, in JUnit XML it decides
``classname`` and ``name``). So no node name here contains ``[``, ``]`` or a ``::``, or starts
or ends with ``:`` (:func:`node_name`); ordinary subjects and entries never do and keep their
text.

Speed: when the first item of a file runs, the questions of the file's selected items are all
sent (concurrently, in run order, cached for the session, see
:mod:`~pytest_incluster.access.check`); each item then waits only for its own answer, so the
server answers later items while pytest reports earlier ones.

Bad input: a file that cannot be loaded becomes one ``[invalid]`` item that errors at setup
with every problem as ``file:line: what is wrong (example: ...)``. A real collection error would
make pytest stop before running anything ("Interrupted: 1 error during collection"); reporting
it as an error item keeps the promise that other files and items still run, while the run still
ends red.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_incluster.access.matrix import (
    EXPECTATIONS,
    Expected,
    MatrixEntry,
    MatrixError,
    Problem,
    SubjectDoc,
    load_matrix,
)
from pytest_incluster.access.question import Check, CheckResult
from pytest_incluster.access.verdict import judge, outcome
from pytest_incluster.config.errors import ConfigError
from pytest_incluster.errors import InclusterError

if TYPE_CHECKING:
    # The engine imports the HTTP client; collecting (and --collect-only) does not need it.
    from pytest_incluster.access.check import AccessChecker, PendingResult

DEFAULT_PATTERNS = ("*.access.yaml",)
_CHECKER = pytest.StashKey["AccessChecker"]()


def matches(file_path: Path, patterns: Sequence[str]) -> bool:
    """Like ``python_files``: a pattern with a ``/`` matches the path's end, else the name."""
    for pattern in patterns:
        if "/" in pattern or os.sep in pattern:
            if fnmatch.fnmatch(str(file_path), f"*{os.sep}{pattern.lstrip(os.sep)}"):
                return True
        elif fnmatch.fnmatch(file_path.name, pattern):
            return True
    return False


def collect_access_file(
    file_path: Path, parent: pytest.Collector, patterns: Sequence[str]
) -> pytest.Collector | None:
    """``pytest_collect_file`` for access files: an :class:`AccessFile` if a pattern matches."""
    if not matches(file_path, patterns or DEFAULT_PATTERNS):
        return None
    node: AccessFile = AccessFile.from_parent(parent, path=file_path)
    return node


def _window(config: pytest.Config) -> int:
    """How many items ahead of the running one have their questions sent: four times the
    concurrency, so the server always has work queued while pytest reports, and a file of
    10,000 entries does not hold 10,000 pending answers at once."""
    from pytest_incluster.pytest_plugin.settings import number

    return 4 * int(number(config, "concurrency"))


def get_checker(config: pytest.Config) -> AccessChecker:
    """The session's checker (created on first use, closed when pytest unconfigures)."""
    found = config.stash.get(_CHECKER, None)
    if found is None:
        from pytest_incluster.access.check import AccessChecker
        from pytest_incluster.pytest_plugin.cluster_access import session_client
        from pytest_incluster.pytest_plugin.settings import number
        from pytest_incluster.pytest_plugin.state import get_state

        found = AccessChecker(
            lambda: session_client(config),
            max_in_flight=int(number(config, "concurrency")),
            made_for=get_state(config).calls.made_for,
        )
        config.stash[_CHECKER] = found
        config.add_cleanup(found.close)
    return found


def node_name(text: str) -> str:
    """``text`` as a node name that every pytest id consumer reads back as one name.

    ``[``/``]`` become ``(``/``)``; a ``:`` next to another ``:`` or at either end gets a ``_``
    beside it (``a::b`` -> ``a:_:b``), so no ``::`` separator can appear inside a name.
    """
    name = text.replace("[", "(").replace("]", ")")
    name = re.sub(r":(?=:)", ":_", name)
    if name.startswith(":"):
        name = "_" + name
    if name.endswith(":"):
        name += "_"
    return name


def unique_names(texts: Iterable[str]) -> list[str]:
    """:func:`node_name` of each text, ``#2``, ``#3``... appended to repeats."""
    seen: dict[str, int] = {}
    names = []
    for text in texts:
        name = node_name(text)
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return names


def _display(config: pytest.Config, path: Path) -> str:
    try:
        return os.path.relpath(path, config.rootpath)
    except ValueError:  # another drive on Windows
        return str(path)


class AccessFile(pytest.File):
    """One ``*.access.yaml`` file: a subject node per YAML document."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # nodeid -> its submitted check; None once the item has read its result.
        self._pending: dict[str, PendingResult | None] = {}

    @functools.cached_property
    def display(self) -> str:
        """The path as shown in ids and messages (computed once: every item asks for it)."""
        return _display(self.config, self.path)

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        try:
            docs = load_matrix(self.path, display=self.display)
        except MatrixError as exc:
            yield InvalidAccess.from_parent(self, name="[invalid]", error=exc)
            return
        marker_problems = [p for doc in docs for p in self._marker_problems(doc)]
        if marker_problems:
            error = MatrixError(self.display, marker_problems, show_example=False)
            yield InvalidAccess.from_parent(self, name="[invalid]", error=error)
            return
        for doc, name in zip(docs, unique_names(d.subject.label for d in docs), strict=True):
            subject: AccessSubject = AccessSubject.from_parent(self, name=name, doc=doc)
            with warnings.catch_warnings():
                # Already reported against the access file by _marker_problems.
                warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
                for marker in doc.markers:
                    subject.add_marker(marker)
            yield subject

    def _marker_problems(self, doc: SubjectDoc) -> list[Problem]:
        """Unregistered markers, judged as pytest judges them in Python files.

        Under ``--strict-markers`` one is an error; otherwise pytest's unknown-mark warning is
        issued, pointing at the access file's ``markers:`` line instead of at this module (and
        becomes an error here, too, if warnings are errors).
        """
        problems = []
        line = doc.key_lines.get("markers", doc.line)
        for marker in doc.markers:
            strict = False
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    getattr(pytest.mark, marker)
                except pytest.fail.Exception:
                    strict = True
            unknown = [w for w in caught if issubclass(w.category, pytest.PytestUnknownMarkWarning)]
            if not strict and not unknown:
                continue
            unregistered = Problem(
                line,
                f"marker '{marker}' is not registered; add it to the 'markers' ini option "
                f'(example: markers = ["{marker}: what it selects"]) or remove it',
            )
            if strict:
                problems.append(unregistered)
                continue
            try:
                warnings.warn_explicit(
                    f"Unknown marker '{marker}' in access file {self.display} - is this a typo? "
                    "Register it in the 'markers' ini option.",
                    pytest.PytestUnknownMarkWarning,
                    filename=str(self.path),
                    lineno=line,
                )
            except pytest.PytestUnknownMarkWarning:
                problems.append(unregistered)
        return problems

    @functools.cached_property
    def _selected_items(self) -> list[AccessItem]:
        """This file's items that survived selection, in run order (first asked for during the
        run, when selection is final; computed once, not per evaluation batch)."""
        return [
            other
            for other in self.session.items
            if isinstance(other, AccessItem) and other.getparent(AccessFile) is self
        ]

    @functools.cached_property
    def _positions(self) -> dict[str, int]:
        return {other.nodeid: i for i, other in enumerate(self._selected_items)}

    def result_for(self, item: AccessItem) -> CheckResult:
        """``item``'s answer; waits for it alone, after sending the questions of the items
        that follow it (up to :func:`_window` of them, those not sent yet).

        So the later items' questions are on the wire (in run order, at most
        ``concurrency`` at a time) while pytest runs and reports the items before them: the
        server's latency overlaps pytest's per-item work instead of each item waiting for its
        own round trip. Topped up at every item, the queue never runs dry.

        On a pytest-xdist worker, which runs only the items the controller sends it, the
        window is the same: xdist sends consecutive items, so two workers rarely ask the same
        question, and when they do the answer is the same.
        """
        self._send_ahead(item)
        found = self._pending.get(item.nodeid)
        if found is None:  # run again (a rerun plugin): the checker's cache answers
            return get_checker(self.config).submit([item.check])[0].result()
        # Dropped once read (10,000 results need not live to the end of the session).
        self._pending[item.nodeid] = None
        return found.result()

    @functools.cached_property
    def _ahead(self) -> int:
        """:func:`_window`, read from the settings once per file rather than once per item."""
        return _window(self.config)

    def _send_ahead(self, item: AccessItem) -> None:
        start = self._positions.get(item.nodeid)
        # The window starts with the item itself; an item not among the selected ones (run
        # directly) sends only its own question.
        following = [item] if start is None else self._selected_items[start : start + self._ahead]
        batch = [other for other in following if other.nodeid not in self._pending]
        if not batch:
            return
        submitted = get_checker(self.config).submit([other.check for other in batch])
        self._pending.update(zip((other.nodeid for other in batch), submitted, strict=True))


class AccessSubject(pytest.Collector):
    """One document: who is asked about; children are its ``allowed``/``forbidden`` lists and
    its ``admitted``/``rejected`` objects (:mod:`.admission_items`)."""

    def __init__(self, *, doc: SubjectDoc, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.doc = doc

    def collect(self) -> Iterator[pytest.Collector]:
        """``allowed``/``forbidden`` lists, then ``exhaustive`` and ``who-can`` if asked, then
        the ``admitted``/``rejected`` objects."""
        from pytest_incluster.pytest_plugin.admission_items import admission_lists
        from pytest_incluster.pytest_plugin.privilege_items import privilege_groups

        for expected in EXPECTATIONS:
            entries = [e for e in self.doc.entries if e.expected == expected]
            if entries:
                node: AccessExpectation = AccessExpectation.from_parent(
                    self, name=expected, doc=self.doc, entries=entries
                )
                yield node
        display = _display(self.config, self.path)
        names = unique_names(entry.text for entry in self.doc.who_can)
        yield from privilege_groups(self, self.doc, display, names)
        yield from admission_lists(self, self.doc)


class AccessExpectation(pytest.Collector):
    """The ``allowed`` or ``forbidden`` list of one document."""

    def __init__(self, *, doc: SubjectDoc, entries: list[MatrixEntry], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.doc = doc
        self.entries = entries

    def collect(self) -> Iterator[pytest.Item]:
        names = unique_names(entry.text for entry in self.entries)
        for entry, name in zip(self.entries, names, strict=True):
            item: AccessItem = AccessItem.from_parent(self, name=name, doc=self.doc, entry=entry)
            yield item


class AccessMismatch(AssertionError, InclusterError):
    """The server's answer differs from the file's expectation; ``str()`` says how."""

    anchor = "access-mismatch"


class AccessItem(pytest.Item):
    """One entry: ``expected`` for ``doc.subject`` doing ``entry.text``."""

    def __init__(self, *, doc: SubjectDoc, entry: MatrixEntry, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.doc = doc
        self.entry = entry
        self.check = Check(
            subject=doc.subject,
            spec=entry.spec,
            mode=doc.mode,
            namespace=doc.namespace,
            asked_by=self.nodeid,
        )

    @property
    def expected(self) -> Expected:
        return self.entry.expected

    def _subject_text(self) -> str:
        if self.doc.subject.user is not None:
            return self.doc.subject.label
        from pytest_incluster.pytest_plugin.cluster_access import runner_label

        # Asked of the server when the header did not (-q), so one runner is one group.
        return runner_label(self.config)

    def runtest(self) -> None:
        from pytest_incluster.pytest_plugin.state import get_state

        file_node = self.getparent(AccessFile)
        assert file_node is not None
        try:
            result: CheckResult | ConfigError = file_node.result_for(self)
        except ConfigError as exc:
            result = exc
        if isinstance(result, ConfigError):  # failed outside the except: no chained context
            from pytest_incluster.pytest_plugin.cluster_access import fail_without_cluster

            fail_without_cluster(self.config, result)
        subject = self._subject_text()
        where = f"{file_node.display}:{self.entry.line}"
        verdict = judge(self.entry, subject, result, where)
        get_state(self.config).outcomes.append(
            outcome(self.nodeid, self.entry, subject, result, verdict)
        )
        if not verdict.passed:
            raise AccessMismatch(verdict.message)

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> Any:
        """The message alone (no traceback into the plugin); with ``--tb=line``, one line.

        A plain string would be printed in full by ``--tb=line`` and then once more, cut at 50
        characters, as its "crash line". The one-line form is an empty traceback plus the crash
        location ``FILE:LINE: first line of the message``, which pytest prints once, puts in the
        short summary and JUnit's ``message``, and which survives pytest-xdist's serialization.
        """
        value = excinfo.value
        message_only = isinstance(value, AccessMismatch) or (
            isinstance(value, pytest.fail.Exception) and not value.pytrace
        )
        if not message_only:
            return super().repr_failure(excinfo, style=style)
        if (style or self.config.getoption("tbstyle", "auto")) == "line":
            return self._one_line(str(value))
        if isinstance(value, AccessMismatch):
            return str(value)
        return super().repr_failure(excinfo, style=style)

    def _one_line(self, message: str) -> Any:
        # pytest has no public constructor for a failure representation; these are the classes
        # its own items return, and the ones its report serialization (xdist) knows.
        from _pytest._code.code import ReprExceptionInfo, ReprFileLocation, ReprTraceback

        file_node = self.getparent(AccessFile)
        where = file_node.display if file_node is not None else str(self.path)
        first = message.splitlines()[0] if message.strip() else message
        return ReprExceptionInfo(
            reprtraceback=ReprTraceback([], None, "line"),
            reprcrash=ReprFileLocation(where, self.entry.line, first),
        )

    def reportinfo(self) -> tuple[Path, int, str]:
        return (
            self.path,
            self.entry.line - 1,
            f"{self.doc.subject.label} {self.entry.expected}: {self.entry.text}",
        )


class InvalidAccess(pytest.Item):
    """Stands for an access file that could not be loaded; errors at setup with the problems.

    ``pytest.fail(pytrace=False)`` is what makes a setup error print as just the message.
    """

    def __init__(self, *, error: MatrixError, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def setup(self) -> None:
        pytest.fail(str(self.error), pytrace=False)

    def runtest(self) -> None:  # pragma: no cover - setup always fails
        pytest.fail(str(self.error), pytrace=False)

    def reportinfo(self) -> tuple[Path, int, str]:
        first = self.error.problems[0].line if self.error.problems else None
        return self.path, (first or 1) - 1, f"invalid access file {self.error.display}"
