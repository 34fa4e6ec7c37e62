"""One exception root: everything the plugin raises on purpose is an ``InclusterError``.

Users (and wrapping tools) catch that one class; every error links to a README section that
exists. The httpx bases stay, so code written for plain httpx still catches the HTTP errors.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import httpx
import pytest

import pytest_incluster
from pytest_incluster import InclusterError
from pytest_incluster.errors import help_url

README = Path(__file__).resolve().parents[3] / "README.md"


def _package_exceptions() -> list[type[BaseException]]:
    found: list[type[BaseException]] = []
    for info in pkgutil.walk_packages(pytest_incluster.__path__, "pytest_incluster."):
        module = importlib.import_module(info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(value, Exception)
                and value.__module__ == info.name
                and value not in found
            ):
                found.append(value)
    return found


def test_every_package_exception_has_the_one_root() -> None:
    exceptions = _package_exceptions()
    assert len(exceptions) > 20  # the walk found the package's errors
    strays = [
        f"{e.__module__}.{e.__qualname__}" for e in exceptions if not issubclass(e, InclusterError)
    ]
    assert strays == []


def test_http_errors_keep_their_httpx_bases() -> None:
    from pytest_incluster.client import AccessWaitTimeout, ApiError, ApiUnreachable, Forbidden

    assert issubclass(Forbidden, ApiError)
    assert issubclass(ApiError, httpx.HTTPStatusError)
    assert issubclass(ApiUnreachable, httpx.TransportError)
    assert issubclass(AccessWaitTimeout, AssertionError)
    assert issubclass(Forbidden, InclusterError)


def test_a_stray_exception_is_reported() -> None:
    """The root check fails for an error class outside the tree (the check is not vacuous)."""

    class Stray(Exception):
        pass

    assert not issubclass(Stray, InclusterError)


@pytest.mark.parametrize("error", _package_exceptions(), ids=lambda e: e.__qualname__)
def test_every_error_links_to_a_readme_section(error: type[InclusterError]) -> None:
    anchor = error.anchor
    text = README.read_text()
    headings = {_slug(h) for h in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}
    assert f'<a id="{anchor}"></a>' in text or anchor in headings, help_url(anchor)


def _slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
