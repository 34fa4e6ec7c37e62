"""Loading access-matrix files: YAML documents of expected permissions, one per subject.

```yaml
as: system:serviceaccount:shop:api   # optional; omitted = the runner itself
namespace: shop                      # optional default namespace for namespaced checks
mode: review                         # review | request | both
markers: [smoke]
allowed: [get pods]
forbidden: [list secrets -n kube-system]
```

The YAML is read through the node API (``yaml.compose_all``) rather than ``safe_load`` so every
problem can name its line, and nothing is ever constructed from tags. :func:`load_matrix` checks
the whole file and raises one :class:`MatrixError` listing every problem; it raises nothing else,
whatever the input (the unit tests feed it generated garbage to hold it to that).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from pytest_incluster.access.admission_entries import (
    ADMISSION_LISTS,
    AdmissionEntry,
    parse_admission_list,
)
from pytest_incluster.access.bound_subject import BoundSubject, parse_bound_subject
from pytest_incluster.access.grammar import CheckSpec, GrammarError, parse_entry
from pytest_incluster.config.names import DNS_LABEL
from pytest_incluster.errors import InclusterError

Mode = Literal["review", "request", "both"]
Expected = Literal["allowed", "forbidden"]
MODES: tuple[Mode, ...] = ("review", "request", "both")
EXPECTATIONS: tuple[Expected, ...] = ("allowed", "forbidden")
KEYS = (
    "as",
    "groups",
    "namespace",
    "mode",
    "markers",
    "allowed",
    "forbidden",
    "exhaustive",
    "namespaces",
    "cluster-scope",
    "ignore",
    "who-can",
    "admitted",
    "rejected",
)
_BOOL = "tag:yaml.org,2002:bool"
SA_PREFIX = "system:serviceaccount:"

_STR = "tag:yaml.org,2002:str"
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_MARKER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Markers that mean nothing (or something else) on an access item: the plugin's own marker
# semantics act on Python tests, and these pytest markers need arguments a list cannot give.
_REFUSED_MARKERS = {
    "expect_forbidden": "the 'forbidden:' list is the expectation",
    "expect_unauthorized": "access items never expect a 401",
    "expect_allowed": "the 'allowed:' list is the expectation",
    "impersonate": "set the subject with 'as:' (and 'groups:')",
    "parametrize": "it needs arguments",
    "usefixtures": "access items use no fixtures",
    "skipif": "it needs a condition; use 'skip' or 'xfail'",
    "filterwarnings": "it needs arguments",
}

DOCUMENT_EXAMPLE = """\
as: system:serviceaccount:shop:api
namespace: shop
allowed:
  - get pods
forbidden:
  - list secrets -n kube-system"""

_TAG_WORDS = {
    "tag:yaml.org,2002:int": "a number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "true/false",
    "tag:yaml.org,2002:null": "empty",
    "tag:yaml.org,2002:timestamp": "a date",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a file; ``line`` is 1-based (None: the file as a whole)."""

    line: int | None
    message: str


class MatrixError(InclusterError):
    """An access file that cannot be used; ``str()`` lists every problem as ``file:line: ...``."""

    anchor = "access-file"

    def __init__(self, display: str, problems: list[Problem], *, show_example: bool = True):
        self.display = display
        self.problems = sorted(problems, key=lambda p: p.line or 0)
        lines = [
            f"{display}:{p.line}: {p.message}" if p.line else f"{display}: {p.message}"
            for p in self.problems
        ]
        if show_example:
            lines.append("An access document looks like:")
            lines.extend("    " + line for line in DOCUMENT_EXAMPLE.splitlines())
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Subject:
    """Who the checks are about: an impersonated user (and groups), or the runner (user None)."""

    user: str | None = None
    groups: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """``self``, ``system:serviceaccount:shop:api`` or ``alice+ops+dev``: node names and
        report rows.

        Groups are joined with ``+``, not written as ``alice[ops,dev]``: pytest reads ``[...]``
        in a node id as parametrization, so such an id could not be given on the command line
        and JUnit XML would split it in the wrong place; ``+`` is also one word for ``-k``.
        """
        if self.user is None:
            return "self"
        return "+".join((self.user, *self.groups))

    @property
    def service_account(self) -> tuple[str, str] | None:
        """(namespace, name) when the user is a ServiceAccount."""
        if self.user is None or not self.user.startswith(SA_PREFIX):
            return None
        namespace, _, name = self.user[len(SA_PREFIX) :].partition(":")
        return namespace, name


@dataclass(frozen=True)
class MatrixEntry:
    """One expectation: ``text`` (whitespace-normalised, the item's name) and its parse."""

    expected: Expected
    text: str
    spec: CheckSpec
    line: int


@dataclass(frozen=True)
class WhoCanEntry:
    """``get secrets -n prod: [group:ops]``: only these bound subjects may do ``text``."""

    text: str
    spec: CheckSpec
    subjects: tuple[BoundSubject, ...]
    line: int


@dataclass(frozen=True)
class Exhaustive:
    """``exhaustive: true``: nothing beyond ``allowed:`` in ``namespaces`` (empty: the
    document's or the runner's namespace) and, with ``cluster-scope: true``, cluster-wide;
    entries matching an ``ignore:`` glob are accepted without being listed."""

    namespaces: tuple[str, ...] = ()
    cluster_scope: bool = False
    ignore: tuple[str, ...] = ()
    line: int = 0


@dataclass(frozen=True)
class SubjectDoc:
    """One YAML document of an access file."""

    path: Path
    index: int  # 0-based position among the file's non-empty documents
    line: int
    subject: Subject
    namespace: str | None
    mode: Mode
    markers: tuple[str, ...]
    entries: tuple[MatrixEntry, ...]
    key_lines: Mapping[str, int] = field(default_factory=dict)
    exhaustive: Exhaustive | None = None
    who_can: tuple[WhoCanEntry, ...] = ()
    admission: tuple[AdmissionEntry, ...] = ()  # the admitted:/rejected: objects


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return _TAG_WORDS.get(node.tag, f"'{node.value}'" if node.tag == _STR else "tagged text")


class _Document:
    """Checks one document node, collecting problems instead of stopping at the first."""

    def __init__(self, path: Path, index: int, root: yaml.MappingNode) -> None:
        self.path = path
        self.index = index
        self.root = root
        self.problems: list[Problem] = []

    def problem(self, node: yaml.Node | int | None, message: str) -> None:
        line = _line(node) if isinstance(node, yaml.Node) else node
        self.problems.append(Problem(line, message))

    def text(self, key: str, node: yaml.Node, example: str) -> str | None:
        if isinstance(node, yaml.ScalarNode) and node.tag == _STR and node.value.strip():
            return str(node.value).strip()
        self.problem(node, f"'{key}' must be text, got {_describe(node)} (example: {example})")
        return None

    def text_list(self, key: str, node: yaml.Node, example: str) -> list[tuple[str, yaml.Node]]:
        if isinstance(node, yaml.ScalarNode) and node.tag == _STR:
            self.problem(node, f"'{key}' must be a list (example: {example})")
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.problem(
                node, f"'{key}' must be a list, got {_describe(node)} (example: {example})"
            )
            return []
        out: list[tuple[str, yaml.Node]] = []
        for child in node.value:
            if isinstance(child, yaml.ScalarNode) and child.tag == _STR and child.value.strip():
                out.append((str(child.value), child))
            else:
                self.problem(
                    child,
                    f"each item of '{key}' must be one line of text, got {_describe(child)} "
                    f"(example: {example})",
                )
        return out

    def load(self) -> SubjectDoc | None:
        values: dict[str, yaml.Node] = {}
        key_lines: dict[str, int] = {}
        for key_node, value_node in self.root.value:
            if not (isinstance(key_node, yaml.ScalarNode) and key_node.tag == _STR):
                self.problem(key_node, f"keys must be plain words, got {_describe(key_node)}")
                continue
            key = str(key_node.value)
            if key not in KEYS:
                close = difflib.get_close_matches(key, KEYS, n=1, cutoff=0.6)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                self.problem(key_node, f"unknown key '{key}'{hint}; valid keys: {', '.join(KEYS)}")
                continue
            if key in values:
                self.problem(
                    key_node,
                    f"key '{key}' appears twice (first on line {key_lines[key]}); merge them",
                )
                continue
            values[key] = value_node
            key_lines[key] = _line(key_node)

        subject = self._subject(values)
        namespace = None
        if "namespace" in values:
            namespace = self.text("namespace", values["namespace"], "namespace: shop")
            if namespace is not None and not DNS_LABEL.match(namespace):
                self.problem(
                    values["namespace"],
                    f"'{namespace}' is not a namespace name (lower-case letters, digits and '-')"
                    " (example: namespace: shop)",
                )
        mode: Mode = "review"
        if "mode" in values:
            chosen = self.text("mode", values["mode"], "mode: both")
            if chosen is not None and chosen not in MODES:
                self.problem(
                    values["mode"],
                    f"mode '{chosen}' is not one of {', '.join(MODES)} (example: mode: request)",
                )
            elif chosen is not None:
                mode = chosen
        markers = self._markers(values)
        entries = self._entries(values)
        exhaustive = self._exhaustive(values)
        who_can = self._who_can(values)
        admission = self._admission(values)
        if (
            not self.problems
            and not entries
            and exhaustive is None
            and not who_can
            and not admission
        ):
            self.problem(
                self.root,
                "this document checks nothing: give it an 'allowed:' or 'forbidden:' list",
            )
        if self.problems:
            return None
        return SubjectDoc(
            path=self.path,
            index=self.index,
            line=_line(self.root),
            subject=subject,
            namespace=namespace,
            mode=mode,
            markers=markers,
            entries=tuple(entries),
            key_lines=key_lines,
            exhaustive=exhaustive,
            who_can=tuple(who_can),
            admission=tuple(admission),
        )

    def _admission(self, values: dict[str, yaml.Node]) -> list[AdmissionEntry]:
        """The ``admitted:``/``rejected:`` objects; one name listed twice is a problem."""
        found: list[AdmissionEntry] = []
        for key in ADMISSION_LISTS:
            if key in values:
                found += parse_admission_list(key, values[key], self.path, self.problem)
        lines: dict[str, int] = {}
        for entry in found:
            if entry.name in lines:
                self.problem(
                    entry.line,
                    f"'{entry.name}' is listed twice (first on line {lines[entry.name]}); "
                    "give each object its own name",
                )
            lines.setdefault(entry.name, entry.line)
        return found

    def _subject(self, values: dict[str, yaml.Node]) -> Subject:
        user = None
        if "as" in values:
            user = self.text("as", values["as"], "as: system:serviceaccount:shop:api")
            if user is not None and user.startswith(SA_PREFIX):
                parts = user[len(SA_PREFIX) :].split(":")
                if (
                    len(parts) != 2
                    or not DNS_LABEL.match(parts[0])
                    or not _DNS_SUBDOMAIN.match(parts[1])
                ):
                    self.problem(
                        values["as"],
                        f"'{user}' is not a ServiceAccount user name; the form is "
                        "system:serviceaccount:NAMESPACE:NAME "
                        "(example: as: system:serviceaccount:shop:api)",
                    )
        groups: list[str] = []
        if "groups" in values:
            node = values["groups"]
            groups = [g.strip() for g, _ in self.text_list("groups", node, "groups: [ops]")]
            if "as" not in values:
                self.problem(
                    node,
                    "'groups' needs 'as': the server only impersonates groups together with a "
                    "user (example: as: alice, groups: [ops])",
                )
            elif user is not None and user.startswith(SA_PREFIX):
                self.problem(
                    node,
                    "'groups' cannot be combined with a ServiceAccount: its groups are fixed "
                    "(system:serviceaccounts, system:serviceaccounts:NAMESPACE) and a real token "
                    "for it never carries others; remove 'groups' or impersonate a user",
                )
        return Subject(user=user, groups=tuple(dict.fromkeys(groups)))

    def flag(self, key: str, node: yaml.Node) -> bool:
        if isinstance(node, yaml.ScalarNode) and node.tag == _BOOL:
            return str(node.value).lower() in ("true", "yes", "on")
        self.problem(node, f"'{key}' must be true or false, got {_describe(node)}")
        return False

    def _exhaustive(self, values: dict[str, yaml.Node]) -> Exhaustive | None:
        on = "exhaustive" in values and self.flag("exhaustive", values["exhaustive"])
        namespaces: list[str] = []
        if "namespaces" in values:
            for name, node in self.text_list("namespaces", values["namespaces"], "[shop]"):
                if DNS_LABEL.match(name.strip()):
                    namespaces.append(name.strip())
                else:
                    self.problem(node, f"'{name}' is not a namespace name (example: [shop])")
        cluster = "cluster-scope" in values and self.flag("cluster-scope", values["cluster-scope"])
        ignore: list[str] = []
        if "ignore" in values:
            example = "ignore: ['create selfsubject*', 'get /healthz*']"
            ignore = [
                " ".join(g.split()) for g, _ in self.text_list("ignore", values["ignore"], example)
            ]
        if not on:
            for key in ("namespaces", "cluster-scope", "ignore"):
                if key in values:
                    self.problem(
                        values[key], f"'{key}' belongs to 'exhaustive: true', which is not set"
                    )
            return None
        line = _line(values["exhaustive"])
        return Exhaustive(tuple(dict.fromkeys(namespaces)), cluster, tuple(ignore), line)

    def _who_can(self, values: dict[str, yaml.Node]) -> list[WhoCanEntry]:
        node = values.get("who-can")
        if node is None:
            return []
        example = "who-can: {get secrets -n prod: [group:ops]}"
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"'who-can' must be a mapping, got {_describe(node)} ({example})")
            return []
        found: list[WhoCanEntry] = []
        for key_node, value_node in node.value:
            raw = self.text("who-can", key_node, "get secrets -n prod")
            if raw is None:
                continue
            try:
                spec = parse_entry(raw)
            except GrammarError as exc:
                self.problem(key_node, f"who-can entry '{raw}': {exc}")
                continue
            subjects: list[BoundSubject] = []
            for text, child in self.text_list(raw, value_node, "[group:ops]"):
                try:
                    subjects.append(parse_bound_subject(text))
                except ValueError as exc:
                    self.problem(child, str(exc))
            text = " ".join(raw.split())
            found.append(WhoCanEntry(text, spec, tuple(dict.fromkeys(subjects)), _line(key_node)))
        return found

    def _markers(self, values: dict[str, yaml.Node]) -> tuple[str, ...]:
        if "markers" not in values:
            return ()
        names = []
        for name, node in self.text_list("markers", values["markers"], "markers: [smoke]"):
            if name.strip() in _REFUSED_MARKERS:
                self.problem(
                    node,
                    f"marker '{name.strip()}' cannot be used in an access file: "
                    f"{_REFUSED_MARKERS[name.strip()]} (example: markers: [smoke])",
                )
            elif _MARKER.match(name.strip()):
                names.append(name.strip())
            else:
                self.problem(
                    node,
                    f"marker '{name}' is not a marker name (letters, digits, '_'; no "
                    "arguments) (example: markers: [smoke])",
                )
        return tuple(dict.fromkeys(names))

    def _entries(self, values: dict[str, yaml.Node]) -> list[MatrixEntry]:
        entries: list[MatrixEntry] = []
        seen: dict[str, MatrixEntry] = {}
        for expected in EXPECTATIONS:
            if expected not in values:
                continue
            example = f"{expected}: [get pods, list secrets -n kube-system]"
            for raw, node in self.text_list(expected, values[expected], example):
                text = " ".join(raw.split())
                try:
                    spec = parse_entry(raw)
                except GrammarError as exc:
                    self.problem(node, f"{expected} entry '{text}': {exc}")
                    continue
                entry = MatrixEntry(expected=expected, text=text, spec=spec, line=_line(node))
                previous = seen.get(spec.canonical())
                if previous is not None:
                    if previous.expected != expected:
                        what = "is listed as both allowed (line {}) and forbidden (line {})"
                        a, f = (
                            (previous, entry)
                            if previous.expected == "allowed"
                            else (entry, previous)
                        )
                        self.problem(node, f"'{text}' " + what.format(a.line, f.line))
                    else:
                        self.problem(
                            node,
                            f"'{text}' is listed twice under {expected} (first on line "
                            f"{previous.line}); remove one",
                        )
                    continue
                seen[spec.canonical()] = entry
                entries.append(entry)
        return entries


# libyaml's loader when PyYAML was built with it: ~10x faster on large matrices, same marks.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _compose(text: str, display: str) -> list[yaml.Node]:
    try:
        return list(yaml.compose_all(text, Loader=_LOADER))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = int(mark.line) + 1 if mark is not None else None
        what = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise MatrixError(
            display, [Problem(line, f"YAML syntax error: {what or exc}")], show_example=False
        ) from None
    except yaml.YAMLError as exc:
        raise MatrixError(
            display, [Problem(None, f"YAML error: {exc}")], show_example=False
        ) from None
    except RecursionError:
        raise MatrixError(
            display, [Problem(None, "YAML nesting is too deep to read")], show_example=False
        ) from None


def load_matrix_text(text: str, path: Path, *, display: str | None = None) -> list[SubjectDoc]:
    """Parse and validate ``text`` as the contents of the access file ``path``."""
    shown = display or str(path)
    nodes = _compose(text, shown)
    docs: list[SubjectDoc] = []
    problems: list[Problem] = []
    index = 0
    for node in nodes:
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            continue  # an empty document (a trailing '---')
        if not isinstance(node, yaml.MappingNode):
            problems.append(
                Problem(
                    _line(node),
                    f"a document must be a mapping of keys ({', '.join(KEYS)}), got "
                    f"{_describe(node)}",
                )
            )
            index += 1
            continue
        checker = _Document(path, index, node)
        doc = checker.load()
        problems.extend(checker.problems)
        if doc is not None:
            docs.append(doc)
        index += 1
    if not problems and not docs:
        problems.append(Problem(None, "the file holds no documents"))
    if problems:
        raise MatrixError(shown, problems)
    return docs


def load_matrix(path: Path, *, display: str | None = None) -> list[SubjectDoc]:
    """The documents of the access file at ``path``; raises only :class:`MatrixError`.

    ``display`` is how the file is named in messages (default: the path as given).
    """
    shown = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise MatrixError(
            shown, [Problem(None, f"not UTF-8 text ({exc.reason})")], show_example=False
        ) from None
    except OSError as exc:
        raise MatrixError(
            shown, [Problem(None, f"cannot read: {exc.strerror or exc}")], show_example=False
        ) from None
    return load_matrix_text(text, path, display=shown)
