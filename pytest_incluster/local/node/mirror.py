"""The Debian mirror and release this machine's apt uses, read at run time.

Nothing here names a mirror: the base image comes from wherever ``apt`` on this machine gets its
packages (deb822 ``*.sources`` files or one-line ``sources.list`` entries), and from the release
the machine runs (``VERSION_CODENAME`` in ``/etc/os-release``).
"""

from __future__ import annotations

import re
from pathlib import Path

from pytest_incluster.local.node.errors import NodeError

APT_DIR = Path("/etc/apt")
OS_RELEASE = Path("/etc/os-release")


def _codename(os_release: Path) -> str:
    for line in os_release.read_text().splitlines():
        key, _, value = line.partition("=")
        if key == "VERSION_CODENAME" and value.strip('"'):
            return value.strip('"')
    raise NodeError(
        f"{os_release} names no VERSION_CODENAME, so the Debian release for the runner's base "
        "image is unknown. The real node's image build needs a Debian-based machine."
    )


def _deb822_entries(text: str) -> list[tuple[str, list[str]]]:
    entries: list[tuple[str, list[str]]] = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            key, sep, value = line.partition(":")
            if sep and not line.startswith((" ", "#")):
                fields[key.strip().lower()] = value.strip()
        if "deb" in fields.get("types", "").split() and fields.get("uris"):
            for uri in fields["uris"].split():
                entries.append((uri, fields.get("suites", "").split()))
    return entries


def _one_line_entries(text: str) -> list[tuple[str, list[str]]]:
    entries: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        words = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()
        if len(words) >= 3 and words[0] == "deb":
            entries.append((words[1], [words[2]]))
    return entries


def debian_mirror(apt_dir: Path = APT_DIR, os_release: Path = OS_RELEASE) -> tuple[str, str]:
    """``(mirror URI, release codename)``: the first apt source that serves the release itself."""
    suite = _codename(os_release)
    entries: list[tuple[str, list[str]]] = []
    sources = sorted((apt_dir / "sources.list.d").glob("*.sources"))
    for path in sources:
        entries += _deb822_entries(path.read_text())
    for path in [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]:
        if path.is_file():
            entries += _one_line_entries(path.read_text())
    for uri, suites in entries:
        if suite in suites:
            return uri, suite
    raise NodeError(
        f"No apt source in {apt_dir}/sources.list or {apt_dir}/sources.list.d serves the "
        f"Debian release {suite!r}, so mmdebstrap has no mirror for the runner's base image. "
        f"Add the release's main archive to apt's sources (as `apt-get update` uses it)."
    )
