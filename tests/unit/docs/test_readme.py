"""README.md's configuration table is generated from the integration's ``options.SETTINGS``.

The table sits between two HTML comments in README.md; this test renders it from the option
table and compares. After changing a setting, print the new table with
``python tests/integration/deploy/test_readme.py`` and paste it between the markers.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from pytest_incluster.errors import TROUBLESHOOTING
from pytest_incluster.pytest_plugin.settings import DEFAULTS, SETTINGS, Setting

README = Path(__file__).resolve().parents[3] / "README.md"
START = (
    "<!-- settings-table: generated from pytest_incluster/pytest_plugin/settings.py SETTINGS -->"
)
END = "<!-- settings-table: end -->"

# Environment variables the configuration discovery reads (the others are Setting.env).
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
        environment = ENVIRONMENT.get(setting.name) or (f"`{setting.env}`" if setting.env else "—")
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


def readme_anchors(text: str) -> set[str]:
    """Anchors a reader's browser finds in README.md: ``<a id>`` tags and GitHub's heading ids."""
    explicit = set(re.findall(r'<a id="([^"]+)"></a>', text))
    headings = set()
    for title in re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        headings.add(slug)
    return explicit | headings


# Named anchors the package uses as defaults (pytest_incluster/errors.py).
CONSTANTS = {"TROUBLESHOOTING": TROUBLESHOOTING}


def emitted_anchors() -> dict[str, list[str]]:
    """Every ``README.md#anchor`` the package can put in a message, with where it comes from:
    ``anchor=`` arguments, ``anchor`` parameter defaults (``ConfigError``'s own included) and
    literal ``README.md#...`` text."""
    package = README.parent / "pytest_incluster"
    found: dict[str, list[str]] = {}
    for path in sorted(package.rglob("*.py")):
        where = str(path.relative_to(README.parent))
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            values: list[ast.expr] = []
            if isinstance(node, ast.Call):
                values = [k.value for k in node.keywords if k.arg == "anchor"]
            elif isinstance(node, ast.FunctionDef):
                arguments = node.args
                positional = arguments.posonlyargs + arguments.args
                pairs = list(
                    zip(
                        positional[len(positional) - len(arguments.defaults) :],
                        arguments.defaults,
                        strict=True,
                    )
                )
                pairs += [
                    (arg, default)
                    for arg, default in zip(
                        arguments.kwonlyargs, arguments.kw_defaults, strict=True
                    )
                    if default is not None
                ]
                values = [default for arg, default in pairs if arg.arg == "anchor"]
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == "anchor" for t in targets):
                    values = [node.value] if node.value is not None else []
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                for anchor in re.findall(r"README\.md#([\w-]+)", node.value):
                    found.setdefault(anchor, []).append(f"{where}:{node.lineno}")
            for value in values:
                if isinstance(value, ast.Name) and value.id == "anchor":
                    continue  # handed on from a parameter whose default is collected
                if isinstance(value, ast.Name) and value.id in CONSTANTS:
                    value = ast.Constant(CONSTANTS[value.id], lineno=value.lineno)
                assert isinstance(value, ast.Constant), f"{where}:{value.lineno}: not a literal"
                found.setdefault(str(value.value), []).append(f"{where}:{value.lineno}")
    return found


def test_every_anchor_the_package_links_exists_in_the_readme() -> None:
    """Errors link users to ``README.md#anchor``; every such anchor must exist."""
    emitted = emitted_anchors()
    present = readme_anchors(README.read_text())
    missing = {anchor: where for anchor, where in emitted.items() if anchor not in present}
    assert not missing, f"README.md has no section for {missing}"


def test_the_anchor_scan_sees_the_links() -> None:
    """The control: the scan finds the anchors that messages link to, defaults included."""
    emitted = emitted_anchors()
    assert {"troubleshooting", "kubeconfig", "unsupported-credentials", "token-file"} <= set(
        emitted
    )
    assert "no-such-section" not in readme_anchors(README.read_text())


def test_every_link_inside_the_readme_has_its_anchor() -> None:
    text = README.read_text()
    present = readme_anchors(text)
    missing = sorted(set(re.findall(r"\]\(#([^)]+)\)", text)) - present)
    assert not missing, f"README.md links to missing anchors {missing}"


def test_the_unsupported_credentials_section_explains_auth_providers() -> None:
    """The auth-provider error links ``#unsupported-credentials``; that section is about it."""
    text = README.read_text()
    section = text.split('<a id="unsupported-credentials"></a>', 1)[1].split("<a id=", 1)[0]
    assert "Auth-provider plugins" in section
    assert "exec credential plugin" in section
    assert "--incluster-token-file" in section


def test_every_environment_entry_names_a_setting() -> None:
    assert set(ENVIRONMENT) <= {s.name for s in SETTINGS}


if __name__ == "__main__":
    print(settings_table())
