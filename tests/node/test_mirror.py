"""The base image's Debian mirror comes from this machine's apt sources, in either format."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_incluster.local.node.errors import NodeError
from pytest_incluster.local.node.image import context_files
from pytest_incluster.local.node.mirror import debian_mirror


def apt(tmp_path: Path, *, sources: str = "", one_line: str = "") -> Path:
    (tmp_path / "sources.list.d").mkdir(parents=True)
    if sources:
        (tmp_path / "sources.list.d" / "debian.sources").write_text(sources)
    if one_line:
        (tmp_path / "sources.list").write_text(one_line)
    (tmp_path / "os-release").write_text('PRETTY_NAME="X"\nVERSION_CODENAME=bookworm\n')
    return tmp_path


def test_deb822_sources_skip_the_security_stanza(tmp_path: Path) -> None:
    root = apt(
        tmp_path,
        sources="Types: deb\nURIs: http://security.invalid/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n\n"
        "Types: deb deb-src\nURIs: http://mirror.invalid/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n",
    )
    assert debian_mirror(root, root / "os-release") == ("http://mirror.invalid/debian", "bookworm")


def test_one_line_sources_with_options(tmp_path: Path) -> None:
    root = apt(
        tmp_path,
        one_line="# comment\ndeb-src http://src.invalid/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.invalid/debian bookworm main\n",
    )
    assert debian_mirror(root, root / "os-release") == ("http://mirror.invalid/debian", "bookworm")


def test_no_source_for_the_release_names_the_files(tmp_path: Path) -> None:
    root = apt(tmp_path, one_line="deb http://mirror.invalid/debian trixie main\n")
    with pytest.raises(NodeError) as raised:
        debian_mirror(root, root / "os-release")
    assert str(raised.value).startswith(
        f"No apt source in {root}/sources.list or {root}/sources.list.d serves the Debian "
        "release 'bookworm'"
    )


def test_the_build_context_is_the_dockerignore_allow_list(tmp_path: Path) -> None:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "Dockerfile").write_text("FROM x\n")
    (tmp_path / "deploy" / "Dockerfile.dockerignore").write_text("*\n!pyproject.toml\n!pkg/\n")
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "secret.txt").write_text("")
    (tmp_path / "pkg" / "__pycache__").mkdir(parents=True)
    (tmp_path / "pkg" / "a.py").write_text("")
    (tmp_path / "pkg" / "__pycache__" / "a.pyc").write_text("")
    files = context_files(tmp_path / "deploy" / "Dockerfile", tmp_path)
    assert files == [Path("pkg/a.py"), Path("pyproject.toml")]
