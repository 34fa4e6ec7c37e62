"""Storing the finished report in ConfigMaps, so it outlives the Job's pod.

A pod's filesystem is gone when the Job is cleaned up, and ``kubectl cp`` needs a running pod.
A ConfigMap in the runner's namespace needs nothing but RBAC (``create``/``update`` on
``configmaps``) and is read back with ``pytest-incluster fetch-report`` (:mod:`.fetch`) or
``deploy/fetch-report.sh``.

Layout, for ``--incluster-report-configmap NAME``:

* each file is gzip-compressed and stored under ``binaryData["<file>.gz"]``;
* a ConfigMap holds at most :data:`PART_BYTES` (900 KiB) of data, well under the API's 1 MiB
  object limit; larger reports are split into ``NAME``, ``NAME-1``, ``NAME-2``, ... and each
  file's gzip stream is the concatenation of its pieces in part order;
* ``NAME`` is the index: annotations ``pytest-incluster.io/parts`` (how many ConfigMaps),
  ``pytest-incluster.io/files`` (the file names, space separated),
  ``pytest-incluster.io/summary`` (the run's one-line result) and, where known, which run it
  was (``pytest-incluster.io/cluster``, ``/suite-version``, ``/job``, ``/pod``);
* every part carries ``pytest-incluster.io/run`` (one id per upload) and
  ``pytest-incluster.io/part`` (its number), and the label ``pytest-incluster.io/report=NAME``.

The index is written last, so a reader never finds an index that points at parts of another run
(both readers check the run ids). Parts left over from an earlier, larger report are
deleted where RBAC allows; where it does not they are harmless, since the index says how many
parts there are.

A ConfigMap is only ever replaced if it carries the label ``pytest-incluster.io/report=NAME``,
i.e. an earlier upload of the same report created it: a name that collides with someone else's
ConfigMap must not cost them their data. Every name is read first and the upload refused before
anything is written if one of them is foreign. The replacement itself is a PUT carrying the
``resourceVersion`` that was read and checked, so the API server refuses it (409 Conflict) if the
object changed in between, e.g. was deleted and re-created by someone else; the upload then reads
it again and decides again. There is no window in which an unchecked object can be overwritten.
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

from pytest_incluster.client.errors import UnverifiedDenial, parse_error_body
from pytest_incluster.errors import InclusterError

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
# NAME is also the value of the label pytest-incluster.io/report, and label values are limited to
# 63 characters. Part names (NAME-999 at most) stay far below the 253 of a ConfigMap name.
MAX_NAME: Final = 63
# Re-reads of one object that keeps changing under the upload before it gives up.
_ATTEMPTS: Final = 3


class UploadError(InclusterError):
    """The report could not be stored; ``str()`` says what the server answered and the fix."""

    anchor = "report-configmap"


class ForeignConfigMap(UploadError):
    """A ConfigMap the report would go to exists and was not created by pytest-incluster."""


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a report ConfigMap name, or None if it can."""
    if not _DNS_SUBDOMAIN.fullmatch(name):
        return (
            "it must be a DNS subdomain: lower-case letters, digits, '-' and '.', starting and "
            "ending with a letter or digit"
        )
    if len(name) > MAX_NAME:
        return (
            f"it must be at most {MAX_NAME} characters, not {len(name)}: it is also the value of "
            f"the label {LABEL_REPORT}, and label values are limited to {MAX_NAME} characters"
        )
    return None


def foreign_problem(config_map: Mapping[str, Any], report: str, namespace: str) -> str | None:
    """Why the existing ``config_map`` must not be replaced by report ``report``, or None if an
    earlier upload of that report created it (it carries ``pytest-incluster.io/report=report``)."""
    metadata = config_map.get("metadata") or {}
    labels = metadata.get("labels") or {}
    if labels.get(LABEL_REPORT) == report:
        return None
    name = metadata.get("name", report)
    return (
        f"ConfigMap {namespace}/{name} already exists and was not created by pytest-incluster "
        f"(it has no label {LABEL_REPORT}={report}), so it was left unchanged. Choose another "
        f"name, or delete that ConfigMap if it is yours and no longer needed"
    )


def find_foreign(client: httpx.Client, namespace: str, name: str) -> str | None:
    """If ConfigMap ``name`` exists and is not a report of pytest-incluster, why it may not be
    used; None if it is absent, ours, or cannot be read (the upload checks again)."""
    try:
        status, found = _read(client, namespace, name)
    except UploadError:
        return None
    if status != 200 or found is None:
        return None
    return foreign_problem(found, name, namespace)


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
    about: Mapping[str, str] | None = None,
    part_bytes: int = PART_BYTES,
) -> list[str]:
    """Store ``files`` (stored name -> local path) gzip-compressed in ConfigMap ``name`` (and
    ``name-1``, ... when they do not fit in one), creating or replacing them.

    ``client`` must be authenticated, with ``base_url`` set to the API server; the plugin
    passes a ``K8sClient`` built like the tests' client (retries, proxy, TLS). Returns the
    ConfigMap names written, index first. ``about``: more annotations for the index (which
    run it was). Raises :class:`UploadError`, and
    :class:`ForeignConfigMap` (having written nothing) when one of the names belongs to a
    ConfigMap that pytest-incluster did not create.
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
    found: dict[str, dict[str, Any] | None] = {}
    for part in names:
        # Any foreign name refuses the upload before anything is written. A name that cannot
        # be read (403: no 'get') is tried as absent; the write decides.
        _, current = _read(client, namespace, part)
        found[part] = current
        problem = foreign_problem(current, name, namespace) if current is not None else None
        if problem:
            raise ForeignConfigMap(f"cannot store the report: {problem}.")
    run = uuid.uuid4().hex
    # Parts first, the index last: a reader sees either the old report or the whole new one.
    for index in reversed(range(len(parts))):
        annotations = {ANNOTATION_RUN: run, ANNOTATION_PART: str(index)}
        if index == 0:
            annotations[ANNOTATION_PARTS] = str(len(parts))
            annotations[ANNOTATION_FILES] = " ".join(files)
            if summary:
                annotations[ANNOTATION_SUMMARY] = summary
            annotations.update(about or {})
        body = _config_map(names[index], namespace, name, annotations, parts[index])
        _store(client, namespace, body, report=name, current=found[names[index]])
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


def _path(namespace: str, name: str) -> str:
    return f"{_collection(namespace)}/{quote(name, safe='')}"


def _unreachable(where: str, exc: httpx.HTTPError) -> UploadError:
    return UploadError(
        f"cannot store the report in {where}: the API server was not reachable "
        f"({type(exc).__name__}: {exc})."
    )


def _send(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """The server's answer whatever its status: the plugin's client (``K8sClient``, which
    retries and follows the session's settings) raises typed errors for non-2xx answers, and
    the upload decides on the status itself (404: absent, 409: changed meanwhile, ...)."""
    try:
        return client.request(method, path, **kwargs)
    except (httpx.HTTPStatusError, UnverifiedDenial) as exc:
        response: httpx.Response = exc.response
        return response


def _read(client: httpx.Client, namespace: str, name: str) -> tuple[int, dict[str, Any] | None]:
    """(status code, the ConfigMap if it was read); raises UploadError if unreachable."""
    try:
        response = _send(client, "GET", _path(namespace, name))
    except httpx.HTTPError as exc:
        raise _unreachable(f"ConfigMap {namespace}/{name}", exc) from None
    if response.status_code != 200:
        return response.status_code, None
    try:
        body = response.json()
    except ValueError:
        return response.status_code, None
    return response.status_code, body if isinstance(body, dict) else None


def _store(
    client: httpx.Client,
    namespace: str,
    body: dict[str, Any],
    *,
    report: str,
    current: dict[str, Any] | None,
) -> None:
    """Create ConfigMap ``body``, or replace ``current``, the version of it last read.

    Only a ConfigMap of this report is replaced, and only the version that was checked: the PUT
    carries its ``resourceVersion``. If the object appeared, changed or vanished in between
    (409 on create, 409 or 404 on replace), it is read again and the decision made again.
    """
    name = body["metadata"]["name"]
    where = f"ConfigMap {namespace}/{name}"
    response: httpx.Response | None = None
    for _ in range(_ATTEMPTS):
        try:
            if current is None:
                response = _send(client, "POST", _collection(namespace), json=body)
                changed = response.status_code == 409  # AlreadyExists: created meanwhile
            else:
                problem = foreign_problem(current, report, namespace)
                if problem:
                    raise ForeignConfigMap(f"cannot store the report: {problem}.")
                version = (current.get("metadata") or {}).get("resourceVersion")
                replacement = {**body, "metadata": {**body["metadata"], "resourceVersion": version}}
                response = _send(client, "PUT", _path(namespace, name), json=replacement)
                changed = response.status_code in (404, 409)  # deleted or changed meanwhile
        except httpx.HTTPError as exc:
            raise _unreachable(where, exc) from None
        if response.is_success:
            return
        if not changed:
            break
        status, current = _read(client, namespace, name)
        if status not in (200, 404):
            raise UploadError(
                f"cannot store the report in {where}: it already exists, and reading it to check "
                f"that an earlier run of pytest-incluster created it was answered with {status}. "
                f"Grant the runner 'get' on configmaps in namespace {namespace}."
            )
    assert response is not None
    if response.is_success:
        return
    _, reason, message = parse_error_body(response.status_code, response.content)
    hint = ""
    if response.status_code == 403:
        hint = (
            f" Grant the runner 'get', 'create' and 'update' (and 'delete', to remove parts of "
            f"a larger earlier report) on configmaps in namespace {namespace}."
        )
    elif response.status_code in (404, 409):
        hint = " It kept changing while the report was being stored; run again."
    raise UploadError(
        f"cannot store the report in {where}: {response.status_code} {reason}: {message}.{hint}"
    )


def _delete_stale(client: httpx.Client, namespace: str, name: str, *, first: int) -> None:
    """Delete ``name-first``, ``name-(first+1)``, ... while they exist and carry this report's
    label (a ConfigMap someone else named ``name-3`` is left alone); best effort."""
    for index in range(first, MAX_PARTS + 1):
        path = _path(namespace, f"{name}-{index}")
        try:
            found = _send(client, "GET", path)
            if not found.is_success:  # 404: no more parts; 403: not allowed, the index rules
                return
            metadata = found.json().get("metadata", {})
            if (metadata.get("labels") or {}).get(LABEL_REPORT) != name:
                return
            precondition = {"preconditions": {"uid": metadata.get("uid")}}
            deleted = _send(client, "DELETE", path, json=precondition)
        except (httpx.HTTPError, ValueError):
            return
        if not deleted.is_success:
            return
