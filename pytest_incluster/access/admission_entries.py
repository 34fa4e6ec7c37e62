"""The ``admitted:`` and ``rejected:`` lists of an access document.

```yaml
namespace: prod
rejected:
  - manifest: {apiVersion: v1, kind: Pod, metadata: {name: root}, spec: {...}}
    by: PodSecurity
    match: privileged
admitted:
  - file: manifests/web.yaml        # relative to the access file; several documents allowed
```

Each object becomes one entry named ``Kind/name``; the check itself (a server-side dry run
judged by :mod:`pytest_incluster.admission`) runs in the pytest integration. Problems are
reported like every other problem of an access file: ``file:line: what is wrong (example)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

AdmissionExpected = Literal["admitted", "rejected"]
ADMISSION_LISTS: tuple[AdmissionExpected, ...] = ("admitted", "rejected")
_ITEM_KEYS = ("manifest", "file", "by", "match")
_EXAMPLE = "rejected: [{file: pods/privileged.yaml, by: PodSecurity}]"

Report = Callable[[yaml.Node | int | None, str], None]


@dataclass(frozen=True)
class AdmissionEntry:
    """One object the document says the cluster admits or rejects."""

    expected: AdmissionExpected
    name: str  # "Kind/name", the item's name
    manifest: dict[str, Any]
    line: int  # the list item's line in the access file
    by: str | None = None
    match: str | None = None


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _scalar(node: yaml.Node) -> str | None:
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:str":
        text = str(node.value).strip()
        return text or None
    return None


def _construct(node: yaml.Node) -> Any:
    """The Python value of a ``manifest:`` node (plain YAML only: tags are refused)."""
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node)
    except (yaml.YAMLError, RecursionError, TypeError, ValueError) as exc:
        return _Unreadable(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    finally:
        loader.dispose()


@dataclass(frozen=True)
class _Unreadable:
    """A manifest YAML could not turn into plain data (an unknown tag, too deep)."""

    why: str


def _objects_in_file(path: Path, shown: str) -> list[Any] | str:
    """The documents of a manifest file, or why it cannot be read (``shown``: its name)."""
    try:
        if not path.is_file():  # not a directory, and never a device that reads forever
            return f"cannot read {shown}: not a file"
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return f"{shown} is not UTF-8 text ({exc.reason})"
    except OSError as exc:
        return f"cannot read {shown}: {exc.strerror or exc}"
    except ValueError as exc:  # a NUL in the path
        return f"cannot read {shown!r}: {exc}"
    try:
        return [d for d in yaml.load_all(text, Loader=yaml.SafeLoader) if d is not None]
    except yaml.YAMLError as exc:
        return f"{shown} is not YAML: {(str(exc).splitlines() or [''])[0]}"
    except RecursionError:
        return f"{shown}: YAML nesting is too deep to read"


def _object_problem(obj: Any) -> str | None:
    if isinstance(obj, _Unreadable):
        return f"the manifest is not plain YAML data: {obj.why}"
    if not isinstance(obj, dict):
        return "an object must be a mapping with apiVersion, kind and metadata.name"
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(obj.get("apiVersion"), str) or not isinstance(obj.get("kind"), str):
        return "an object needs 'apiVersion' and 'kind'"
    if not isinstance(name, str) or not name:
        return f"the {obj['kind']} needs metadata.name (it names the test item)"
    return None


def parse_admission_list(
    key: AdmissionExpected, node: yaml.Node, access_file: Path, report: Report
) -> list[AdmissionEntry]:
    """The entries of one ``admitted:``/``rejected:`` list; problems go to ``report``."""
    if not isinstance(node, yaml.SequenceNode):
        report(node, f"'{key}' must be a list of mappings (example: {_EXAMPLE})")
        return []
    entries: list[AdmissionEntry] = []
    for child in node.value:
        entries.extend(_item(key, child, access_file, report))
    return entries


def _item(
    key: AdmissionExpected, node: yaml.Node, access_file: Path, report: Report
) -> list[AdmissionEntry]:
    if not isinstance(node, yaml.MappingNode):
        report(node, f"each item of '{key}' must be a mapping (example: {_EXAMPLE})")
        return []
    values: dict[str, yaml.Node] = {}
    for key_node, value in node.value:
        word = _scalar(key_node) or ""
        if word not in _ITEM_KEYS:
            report(
                key_node, f"unknown key '{word}' in a '{key}' item; valid: {', '.join(_ITEM_KEYS)}"
            )
            return []
        values[word] = value
    if ("manifest" in values) == ("file" in values):
        report(
            node,
            f"a '{key}' item needs exactly one of 'manifest:' or 'file:' (example: {_EXAMPLE})",
        )
        return []
    by = _scalar(values["by"]) if "by" in values else None
    match = _scalar(values["match"]) if "match" in values else None
    for word, text in (("by", by), ("match", match)):
        if word in values and text is None:
            report(values[word], f"'{word}' must be text (example: by: PodSecurity)")
            return []
    if match is not None:
        try:
            re.compile(match)
        except re.error as exc:
            report(values["match"], f"'match' is not a valid regular expression: {exc}")
            return []
    objects = _objects(values, access_file, report)
    entries = []
    for obj in objects:
        problem = _object_problem(obj)
        if problem is not None:
            report(node, f"{problem} (example: {_EXAMPLE})")
            continue
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        entries.append(AdmissionEntry(key, name, obj, _line(node), by, match))
    return entries


def _objects(values: dict[str, yaml.Node], access_file: Path, report: Report) -> list[Any]:
    if "manifest" in values:
        return [_construct(values["manifest"])]
    relative = _scalar(values["file"])
    if relative is None or Path(relative).is_absolute():
        report(values["file"], "'file' must be a path relative to the access file")
        return []
    found = _objects_in_file(access_file.parent / relative, relative)
    if isinstance(found, str):
        report(values["file"], found)
        return []
    if not found:
        report(values["file"], f"{relative} holds no objects")
    return found
