"""Storing the finished report in ConfigMaps, so it outlives the Job's pod.

A pod's filesystem is gone when the Job is cleaned up, and ``kubectl cp`` needs a running pod.
A ConfigMap in the runner's namespace needs nothing but RBAC (``create``/``update`` on
``configmaps``) and is read back with ``deploy/fetch-report.sh``.

Layout, for ``--incluster-report-configmap NAME``:

* each file is gzip-compressed and stored under ``binaryData["<file>.gz"]``;
* a ConfigMap holds at most :data:`PART_BYTES` (900 KiB) of data, well under the API's 1 MiB
  object limit; larger reports are split into ``NAME``, ``NAME-1``, ``NAME-2``, ... and each
  file's gzip stream is the concatenation of its pieces in part order;
* ``NAME`` is the index: annotations ``pytest-incluster.io/parts`` (how many ConfigMaps),
  ``pytest-incluster.io/files`` (the file names, space separated) and
  ``pytest-incluster.io/summary`` (the run's one-line result);
* every part carries ``pytest-incluster.io/run`` (one id per upload) and
  ``pytest-incluster.io/part`` (its number), and the label ``pytest-incluster.io/report=NAME``.

The index is written last, so a reader never finds an index that points at parts of another run
(``fetch-report.sh`` checks the run ids). Parts left over from an earlier, larger report are
deleted where RBAC allows; where it does not they are harmless, since the index says how many
parts there are.
"""

from __future__ import annotations

import gzip
import re
import uuid
from base64 import b64encode
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import httpx

from pytest_incluster.client.errors import parse_error_body

PART_BYTES: Final = 900 * 1024
MAX_PARTS: Final = 1000
DOMAIN: Final = "pytest-incluster.io"
LABEL_REPORT: Final = f"{DOMAIN}/report"
ANNOTATION_PARTS: Final = f"{DOMAIN}/parts"
ANNOTATION_FILES: Final = f"{DOMAIN}/files"
ANNOTATION_SUMMARY: Final = f"{DOMAIN}/summary"
ANNOTATION_RUN: Final = f"{DOMAIN}/run"
ANNOTATION_PART: Final = f"{DOMAIN}/part"

_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_FILE_KEY = re.compile(r"[-._a-zA-Z0-9]+")
# Room for "-999" so every part name is valid too.
_MAX_NAME = 253 - 4


class UploadError(Exception):
    """The report could not be stored; ``str()`` says what the server answered and the fix."""


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a report ConfigMap name, or None if it can."""
    if not _DNS_SUBDOMAIN.fullmatch(name):
        return (
            "it must be a DNS subdomain: lower-case letters, digits, '-' and '.', starting and "
            "ending with a letter or digit"
        )
    if len(name) > _MAX_NAME:
        return f"it must be at most {_MAX_NAME} characters (parts get a '-N' suffix)"
    return None


def part_names(name: str, count: int) -> list[str]:
    """``[NAME, NAME-1, ..., NAME-(count-1)]``."""
    return [name] + [f"{name}-{i}" for i in range(1, count)]


def split_parts(blobs: Mapping[str, bytes], limit: int = PART_BYTES) -> list[dict[str, bytes]]:
    """Pack the blobs, in order, into parts of at most ``limit`` bytes, splitting a blob across
    parts where needed; concatenating a key's pieces in part order gives the blob back."""
    if limit <= 0:
        raise ValueError("limit must be positive")
    parts: list[dict[str, bytes]] = [{}]
    room = limit
    for key, blob in blobs.items():
        offset = 0
        while True:
            if room == 0:
                parts.append({})
                room = limit
            piece = blob[offset : offset + room]
            parts[-1][key] = piece
            offset += len(piece)
            room -= len(piece)
            if offset >= len(blob):
                break
    return parts


def compress(files: Mapping[str, Path]) -> dict[str, bytes]:
    """``{"<file>.gz": gzip bytes}``; ``mtime=0`` so equal reports give equal bytes."""
    blobs = {}
    for file_name, path in files.items():
        if not _FILE_KEY.fullmatch(file_name):
            raise ValueError(f"{file_name!r} is not a valid ConfigMap key")
        blobs[f"{file_name}.gz"] = gzip.compress(path.read_bytes(), compresslevel=9, mtime=0)
    return blobs


def upload_report(
    client: httpx.Client,
    namespace: str,
    name: str,
    files: Mapping[str, Path],
    *,
    summary: str = "",
    part_bytes: int = PART_BYTES,
) -> list[str]:
    """Store ``files`` (stored name -> local path) gzip-compressed in ConfigMap ``name`` (and
    ``name-1``, ... when they do not fit in one), creating or replacing them.

    ``client`` must be authenticated, with ``base_url`` set to the API server. Returns the
    ConfigMap names written, index first. Raises :class:`UploadError`.
    """
    problem = name_problem(name)
    if problem:
        raise UploadError(f"cannot store the report in ConfigMap {name!r}: {problem}.")
    try:
        parts = split_parts(compress(files), part_bytes)
    except (OSError, ValueError) as exc:
        raise UploadError(f"cannot read the report files to store: {exc}") from None
    if len(parts) > MAX_PARTS:
        raise UploadError(
            f"the report needs {len(parts)} ConfigMaps of {part_bytes // 1024} KiB, more than "
            f"{MAX_PARTS}; it is too large to store in ConfigMaps."
        )
    names = part_names(name, len(parts))
    run = uuid.uuid4().hex
    # Parts first, the index last: a reader sees either the old report or the whole new one.
    for index in reversed(range(len(parts))):
        annotations = {ANNOTATION_RUN: run, ANNOTATION_PART: str(index)}
        if index == 0:
            annotations[ANNOTATION_PARTS] = str(len(parts))
            annotations[ANNOTATION_FILES] = " ".join(files)
            if summary:
                annotations[ANNOTATION_SUMMARY] = summary
        body = _config_map(names[index], namespace, name, annotations, parts[index])
        _create_or_replace(client, namespace, body)
    _delete_stale(client, namespace, name, first=len(parts))
    return names


def _config_map(
    name: str, namespace: str, report: str, annotations: dict[str, str], data: dict[str, bytes]
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {
                LABEL_REPORT: report,
                "app.kubernetes.io/managed-by": "pytest-incluster",
            },
            "annotations": annotations,
        },
        "binaryData": {key: b64encode(piece).decode("ascii") for key, piece in data.items()},
    }


def _collection(namespace: str) -> str:
    return f"/api/v1/namespaces/{quote(namespace, safe='')}/configmaps"


def _create_or_replace(client: httpx.Client, namespace: str, body: dict[str, Any]) -> None:
    name = body["metadata"]["name"]
    where = f"ConfigMap {namespace}/{name}"
    try:
        response = client.post(_collection(namespace), json=body)
        if response.status_code == 409:  # AlreadyExists: replace it (unconditional update)
            response = client.put(f"{_collection(namespace)}/{quote(name, safe='')}", json=body)
    except httpx.HTTPError as exc:
        raise UploadError(
            f"cannot store the report in {where}: the API server was not reachable "
            f"({type(exc).__name__}: {exc})."
        ) from None
    if response.is_success:
        return
    _, reason, message = parse_error_body(response.status_code, response.content)
    hint = ""
    if response.status_code == 403:
        hint = (
            f" Grant the runner 'create' and 'update' (and, to remove parts of a larger earlier "
            f"report, 'get' and 'delete') on configmaps in namespace {namespace}."
        )
    raise UploadError(
        f"cannot store the report in {where}: {response.status_code} {reason}: {message}.{hint}"
    )


def _delete_stale(client: httpx.Client, namespace: str, name: str, *, first: int) -> None:
    """Delete ``name-first``, ``name-(first+1)``, ... while they exist and carry this report's
    label (a ConfigMap someone else named ``name-3`` is left alone); best effort."""
    for index in range(first, MAX_PARTS + 1):
        path = f"{_collection(namespace)}/{quote(f'{name}-{index}', safe='')}"
        try:
            found = client.get(path)
            if not found.is_success:  # 404: no more parts; 403: not allowed, the index rules
                return
            metadata = found.json().get("metadata", {})
            if (metadata.get("labels") or {}).get(LABEL_REPORT) != name:
                return
            precondition = {"preconditions": {"uid": metadata.get("uid")}}
            deleted = client.request("DELETE", path, json=precondition)
        except (httpx.HTTPError, ValueError):
            return
        if not deleted.is_success:
            return
