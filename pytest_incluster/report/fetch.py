"""Reading a stored report back from its ConfigMaps: the other half of :mod:`.upload`.

``pytest-incluster fetch-report NAME`` calls :func:`fetch_report`. The layout is the one
:mod:`.upload` writes: ConfigMap ``NAME`` is the index (``pytest-incluster.io/parts``,
``/files``, ``/summary``); the parts ``NAME``, ``NAME-1``, ... each carry a piece of every file's
gzip stream under ``binaryData["<file>.gz"]`` and the upload's ``pytest-incluster.io/run`` id.

Everything is read and checked before anything is written: parts of two different uploads (a
report being replaced while it is read) are refused rather than stitched together, a file name
from the cluster must be a plain name (never a path), and a file that does not decompress is
reported as corrupt. Only then are the files written into the output directory.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from pytest_incluster.client.errors import parse_error_body
from pytest_incluster.errors import InclusterError
from pytest_incluster.report.upload import (
    ANNOTATION_FILES,
    ANNOTATION_PARTS,
    ANNOTATION_RUN,
    ANNOTATION_SUMMARY,
    MAX_PARTS,
    part_names,
)

_PLAIN_FILE_NAME = re.compile(r"[A-Za-z0-9][-._A-Za-z0-9]*")
_CHECK_NAME = (
    "Check the name (the one given to --incluster-report-configmap) and the namespace (-n, the "
    "runner's namespace)."
)
_INCOMPLETE = "The report is incomplete (being replaced, or a part was deleted); run again."


class FetchError(InclusterError):
    """The report could not be read back; ``str()`` says why and what to do."""

    anchor = "fetch-report"


@dataclass(frozen=True)
class FetchedReport:
    """The files written (in the order the upload listed them) and the run's summary line."""

    files: list[Path]
    summary: str


def fetch_report(client: httpx.Client, namespace: str, name: str, out_dir: Path) -> FetchedReport:
    """Read report ``name`` from ConfigMaps in ``namespace`` and write its files to ``out_dir``.

    ``client`` is authenticated, with ``base_url`` set to the API server. Raises
    :class:`FetchError` (having written nothing) when a ConfigMap is missing, unreadable, not a
    report, or belongs to another upload, or a file is corrupt.
    """
    index = _read(client, namespace, name, what="ConfigMap", missing=_CHECK_NAME)
    annotations = _annotations(index)
    parts = annotations.get(ANNOTATION_PARTS, "")
    if not parts.isdigit() or not 1 <= int(parts) <= MAX_PARTS:
        raise FetchError(
            f"ConfigMap {namespace}/{name} is not a pytest-incluster report (no "
            f"{ANNOTATION_PARTS} annotation). Give the name passed to "
            "--incluster-report-configmap."
        )
    files = annotations.get(ANNOTATION_FILES, "").split()
    if not files:
        raise FetchError(f"ConfigMap {namespace}/{name} lists no files ({ANNOTATION_FILES}).")
    for file_name in files:
        # The names come from the cluster: accept plain file names only, never a path.
        if not _PLAIN_FILE_NAME.fullmatch(file_name) or file_name in (".", ".."):
            raise FetchError(
                f"ConfigMap {namespace}/{name} names the file {file_name!r}, which is not a "
                "plain file name; refusing to write it."
            )
    config_maps = [index, *_other_parts(client, namespace, name, int(parts), annotations)]
    contents = {f: _reassemble(config_maps, f, namespace, name) for f in files}
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, data in contents.items():
        target = out_dir / file_name
        target.write_bytes(data)
        written.append(target)
    return FetchedReport(files=written, summary=annotations.get(ANNOTATION_SUMMARY, ""))


def _other_parts(
    client: httpx.Client, namespace: str, name: str, count: int, index: dict[str, str]
) -> list[dict[str, Any]]:
    """Parts 1..count-1, each checked to belong to the same upload as the index."""
    run = index.get(ANNOTATION_RUN, "")
    found = []
    for part in part_names(name, count)[1:]:
        what = f"part {part} of {count} of the report"
        config_map = _read(client, namespace, part, what=what, missing=_INCOMPLETE)
        if _annotations(config_map).get(ANNOTATION_RUN, "") != run:
            raise FetchError(
                f"ConfigMap {namespace}/{part} belongs to another upload than {name} (the report "
                "is being replaced?); run again."
            )
        found.append(config_map)
    return found


def _reassemble(
    config_maps: list[dict[str, Any]], file_name: str, namespace: str, name: str
) -> bytes:
    """The file's gzip stream (its pieces in part order), decompressed."""
    key = f"{file_name}.gz"
    try:
        stream = b"".join(
            base64.b64decode((c.get("binaryData") or {}).get(key, ""), validate=True)
            for c in config_maps
        )
        return gzip.decompress(stream)
    except (binascii.Error, OSError, EOFError, zlib.error):
        raise FetchError(
            f"{file_name} in report {namespace}/{name} is corrupt (its stored gzip data does not "
            "decompress). Run the tests again to store a new report."
        ) from None


def _annotations(config_map: dict[str, Any]) -> dict[str, str]:
    found = (config_map.get("metadata") or {}).get("annotations") or {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def _read(
    client: httpx.Client, namespace: str, name: str, *, what: str, missing: str
) -> dict[str, Any]:
    """ConfigMap ``name``, or a FetchError that says what the server answered and the fix."""
    where = f"{namespace}/{name}"
    path = f"/api/v1/namespaces/{quote(namespace, safe='')}/configmaps/{quote(name, safe='')}"
    try:
        response = client.get(path)
    except httpx.HTTPError as exc:
        raise FetchError(
            f"cannot read {what} ({where}): the API server at {client.base_url} was not reachable "
            f"({type(exc).__name__}: {exc})."
        ) from None
    if response.status_code == 200:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            return body
        raise FetchError(f"cannot read {what} ({where}): the answer was not a ConfigMap.")
    _, reason, message = parse_error_body(response.status_code, response.content)
    hint = ""
    if response.status_code == 404:
        hint = f" {missing}"
    elif response.status_code == 403:
        hint = f" Reading the report needs 'get' on configmaps in namespace {namespace}."
    raise FetchError(
        f"cannot read {what} ({where}): {response.status_code} {reason}: {message}.{hint}"
    )
