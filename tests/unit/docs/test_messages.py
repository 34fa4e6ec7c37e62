"""User-facing messages speak of what the user did, not of the plugin's internals.

A message that says "Create it first (ensure_service_account, ...)" sends a user who ran a
command looking for a Python function they never called. This scans the text of every
``raise ...(...)``, ``pytest.fail/skip/exit(...)`` and ``UsageError(...)`` in the package for
the name of one of the package's own module-level functions. Public entry points that users do
type (fixtures and ``pytest_incluster_*`` hooks) are allowed.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[3] / "pytest_incluster"
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _is_fixture(node: ast.FunctionDef) -> bool:
    return any("fixture" in ast.unparse(d) for d in node.decorator_list)


def internal_function_names() -> set[str]:
    """Module-level functions of the package that a user never calls by name."""
    names = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if (
                isinstance(node, ast.FunctionDef)
                and "_" in node.name.strip("_")
                and not node.name.startswith("pytest_")
                and not _is_fixture(node)
            ):
                names.add(node.name)
    return names


def _message_nodes(tree: ast.AST) -> list[ast.AST]:
    found: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            found.append(node.exc)
        elif isinstance(node, ast.Call):
            called = ast.unparse(node.func)
            if called in {"pytest.fail", "pytest.skip", "pytest.exit"} or called.endswith(
                "UsageError"
            ):
                found.append(node)
    return found


def messages_naming_internals() -> list[str]:
    internal = internal_function_names()
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for message in _message_nodes(ast.parse(path.read_text())):
            for text in ast.walk(message):
                if isinstance(text, ast.Constant) and isinstance(text.value, str):
                    named = internal & set(_WORD.findall(text.value))
                    problems += [
                        f"{path.relative_to(PACKAGE.parent)}:{text.lineno}: {name}"
                        for name in sorted(named)
                    ]
    return problems


def test_no_message_names_an_internal_function() -> None:
    assert messages_naming_internals() == []


def test_the_scan_finds_internal_names() -> None:
    """The control: the scan knows the functions that messages once named."""
    assert {"ensure_service_account", "ensure_namespace"} <= internal_function_names()
    assert "k8s_token" not in internal_function_names()  # a fixture: users type it
    tree = ast.parse('raise ProvisionError("Create it first (ensure_namespace, or --create).")')
    assert len(_message_nodes(tree)) == 1
