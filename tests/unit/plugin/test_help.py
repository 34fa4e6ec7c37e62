"""``pytest --help`` shows every option of the plugin in one section of its own.

The help is read as a user sees it (a subprocess), then split into its sections by their
unindented title lines.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from pytest_incluster.pytest_plugin.settings import GROUP_TITLE, SETTINGS

OPTION = re.compile(r"^  (--incluster-[a-z-]+)", flags=re.MULTILINE)


def sections(help_text: str) -> dict[str, str]:
    """Section title -> its text, for every unindented ``Title:`` line of the help."""
    found: dict[str, str] = {}
    title = ""
    for line in help_text.splitlines():
        if line and not line[0].isspace() and line.endswith(":"):
            title = line[:-1]
            found[title] = ""
        elif title:
            found[title] += line + "\n"
    return found


def options_outside(help_text: str, title: str) -> dict[str, list[str]]:
    """``--incluster-*`` options listed in any section but ``title``, by section."""
    return {
        name: OPTION.findall(text)
        for name, text in sections(help_text).items()
        if name != title and OPTION.findall(text)
    }


def pytest_help(cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "incluster", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
    )
    return done.stdout


def test_every_option_is_in_the_plugins_section(tmp_path: Path) -> None:
    text = pytest_help(tmp_path)
    assert GROUP_TITLE in sections(text)
    assert OPTION.findall(sections(text)[GROUP_TITLE]) == [s.flag for s in SETTINGS]
    assert options_outside(text, GROUP_TITLE) == {}


def test_an_option_in_another_section_is_found() -> None:
    """The check above would see an option that strayed into another group."""
    text = (
        f"{GROUP_TITLE}:\n  --incluster-server=URL\n                        API server URL.\n\n"
        "general:\n  --incluster-stray     an option in the wrong group.\n"
    )
    assert options_outside(text, GROUP_TITLE) == {"general": ["--incluster-stray"]}
