"""README.md's configuration table is generated from the integration's ``options.SETTINGS``.

The table sits between two HTML comments in README.md; this test renders it from the option
table and compares. After changing a setting, print the new table with
``python tests/integration/deploy/test_readme.py`` and paste it between the markers.
"""

from __future__ import annotations

import re
from pathlib import Path

from pytest_incluster.pytest_plugin.settings import DEFAULTS, SETTINGS, Setting

README = Path(__file__).resolve().parents[3] / "README.md"
START = (
    "<!-- settings-table: generated from pytest_incluster/pytest_plugin/settings.py SETTINGS -->"
)
END = "<!-- settings-table: end -->"

# Environment variables a setting falls back to (settings.py does not carry them).
ENVIRONMENT = {
    "server": "`KUBERNETES_SERVICE_HOST`, `KUBERNETES_SERVICE_PORT`",
    "namespace": "`POD_NAMESPACE`",
    "kubeconfig": "`KUBECONFIG`",
}


# "(default: X)" in a setting's help; the table shows X in its own column.
HELP_DEFAULT = re.compile(r" ?\(default:? ([^()]*(?:\([^()]*\)[^()]*)*)\)")


def _default(setting: Setting) -> str:
    value = DEFAULTS.get(setting.name)
    if isinstance(value, list):
        return ", ".join(f"`{v}`" for v in value)
    if value is not None:
        return f"`{value}`"
    if setting.is_flag:
        return "off"
    in_help = HELP_DEFAULT.search(setting.help)
    return in_help[1] if in_help else "none"


def _description(setting: Setting) -> str:
    return HELP_DEFAULT.sub("", setting.help)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def settings_table() -> str:
    """The Markdown table: option, ini key, environment, default, what it does."""
    lines = [
        "| Option | ini key | Environment | Default | What it does |",
        "|---|---|---|---|---|",
    ]
    for setting in SETTINGS:
        option = f"`{setting.flag}`" + (f" `{setting.metavar}`" if setting.metavar else "")
        if setting.repeatable:
            option += " (repeatable)"
        ini = f"`{setting.dest}` ({setting.ini_type})"
        environment = ENVIRONMENT.get(setting.name, "—")
        lines.append(
            f"| {option} | {ini} | {environment} | {_cell(_default(setting))} "
            f"| {_cell(_description(setting))} |"
        )
    return "\n".join(lines)


def test_readme_settings_table_matches_settings_py() -> None:
    text = README.read_text()
    found = re.search(re.escape(START) + r"\n(.*?)\n" + re.escape(END), text, re.DOTALL)
    assert found, f"README.md lacks the markers {START!r} ... {END!r}"
    assert found[1] == settings_table(), (
        "README.md's settings table is out of date; regenerate it with "
        "`python tests/integration/deploy/test_readme.py`"
    )


def test_every_error_anchor_has_a_troubleshooting_section() -> None:
    """``ConfigError(..., anchor="x")`` and ``anchor = "x"`` link to ``README.md#x``: it exists."""
    package = README.parent / "pytest_incluster"
    anchors = {
        anchor
        for path in package.rglob("*.py")
        for anchor in re.findall(r'anchor ?= ?"([^"]+)"', path.read_text())
    }
    text = README.read_text()
    missing = sorted(a for a in anchors if f'<a id="{a}"></a>' not in text)
    assert not missing, f"README.md has no section for anchors {missing}"


def test_every_environment_entry_names_a_setting() -> None:
    assert set(ENVIRONMENT) <= {s.name for s in SETTINGS}


if __name__ == "__main__":
    print(settings_table())
