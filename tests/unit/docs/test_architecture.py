"""The import rules of docs/architecture.md, checked: layers, no circles, no long functions.

Every ``import`` in the package counts, including those inside functions (lazy imports) and
under ``TYPE_CHECKING``: a lazy import hides a dependency from the reader, not from the design.
Run alone with ``pytest tests/unit/docs/test_architecture.py -q``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "pytest_incluster"

# What each part may import: its own package and the parts of a LOWER rank (see
# docs/architecture.md). The root modules errors/calls/secret are the very bottom.
LAYERS: dict[str, float] = {
    "errors": 0,
    "calls": 0,
    "secret": 0,
    "version": 0,
    "kube_versions": 0,
    "config": 2,
    "credentials": 2.5,  # exec credential plugins: above config, below the client that uses them
    "client": 3,
    "access": 4,
    "admission": 4,
    "local": 4,
    "privilege": 4.5,  # least privilege: builds on access/ (grammar, resolution, reviews)
    "results": 4.5,  # the results document, merge and diff: plain data the report may show
    "report": 5,
    "pytest_plugin": 6,
    "cli": 6,
    "hooks": 6,
    "plugin": 7,
    "pytest_incluster": 8,  # __init__: the public API, re-exported from the parts below
}
# Imports that break the rule on purpose, each with its reason. Keep this list short.
EXCEPTIONS: dict[tuple[str, str], str] = {
    # K8sClient.check_access/review are public API; the SSAR request/decision data and the
    # access engine live in access/ (a lazy import inside the method, for check_access).
    ("client.client", "access.check"): "K8sClient.check_access is public API",
    ("client.client", "access.decision"): "K8sClient.can_i returns AccessDecision",
    ("client.client", "access.review"): "K8sClient.review sends a SelfSubjectAccessReview",
    ("client.client", "access"): "the review module is imported from the access package",
    ("client.client", "privilege.who_can"): "K8sClient.who_can is public API",
    # K8sClient.admission_check is public API; the dry run and its classification live in
    # admission/ (a lazy import inside the method).
    ("client.client", "admission.check"): "K8sClient.admission_check is public API",
    ("client.client", "admission.decision"): "K8sClient.admission_check returns AdmissionDecision",
}
# pytest is imported only by the integration, the entry point and the hookspecs.
PYTEST_FREE = (
    "config",
    "credentials",
    "client",
    "local",
    "privilege",
    "results",
    "cli",
    "errors",
    "calls",
    "secret",
    "version",
    "kube_versions",
)
MAX_FUNCTION_LINES = 80


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, int]]:
    """(imported module, line) for every import in ``path``, relative ones made absolute."""
    tree = ast.parse(path.read_text())
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((base, node.lineno))
            found += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
    return found


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _part(module: str) -> str:
    """``client`` for ``pytest_incluster.client.auth``; ``pytest_incluster`` for the root."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _local(module: str, modules: dict[str, Path]) -> str | None:
    """The package module ``module`` names (``pkg.mod.Name`` -> ``pkg.mod``), else None."""
    while module and module not in modules:
        module = module.rpartition(".")[0]
    return module or None


def layer_violations(modules: dict[str, Path]) -> list[str]:
    problems = []
    for name, path in modules.items():
        mine = _part(name)
        for imported, line in _imports(path):
            if not imported.startswith("pytest_incluster"):
                continue
            target = _local(imported, modules)
            if target is None:
                continue
            theirs = _part(target)
            short = (
                name.removeprefix("pytest_incluster."),
                target.removeprefix("pytest_incluster."),
            )
            if theirs == mine or LAYERS[theirs] < LAYERS[mine] or short in EXCEPTIONS:
                continue
            problems.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {mine} imports {target}")
    return problems


def import_cycles(modules: dict[str, Path]) -> list[list[str]]:
    """Strongly connected groups of two or more modules (every import counts)."""
    graph = {
        name: {
            t
            for imported, _ in _imports(path)
            if imported.startswith("pytest_incluster")
            and (t := _local(imported, modules)) not in (None, name)
            # A package's __init__ re-exporting its own modules is not a circle of design.
            and not (path.name == "__init__.py" and t.startswith(name + "."))
            and not (modules[t].name == "__init__.py" and name.startswith(t + "."))
        }
        for name, path in modules.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for node in graph:
        if node not in index:
            visit(node)
    return cycles


def long_functions(modules: dict[str, Path]) -> list[str]:
    found = []
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    found.append(f"{name}.{node.name}: {length} lines")
    return found


def test_every_part_has_a_layer() -> None:
    assert {_part(name) for name in _modules()} <= set(LAYERS)


def test_imports_go_down_the_layers() -> None:
    assert layer_violations(_modules()) == []


def test_the_exceptions_are_still_needed() -> None:
    """An exception nobody uses any more is removed from the list, not kept as a loophole."""
    modules = _modules()
    used = {
        (name.removeprefix("pytest_incluster."), t.removeprefix("pytest_incluster."))
        for name, path in modules.items()
        for imported, _ in _imports(path)
        if imported.startswith("pytest_incluster") and (t := _local(imported, modules))
    }
    assert set(EXCEPTIONS) <= used


@pytest.mark.parametrize("part", PYTEST_FREE)
def test_no_pytest_below_the_integration(part: str) -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{line}"
        for name, path in _modules().items()
        if _part(name) == part
        for imported, line in _imports(path)
        if imported == "pytest" or imported.startswith(("pytest.", "_pytest"))
    ]
    assert offenders == []


def test_no_import_circles() -> None:
    assert import_cycles(_modules()) == []


def test_no_function_over_80_lines() -> None:
    assert long_functions(_modules()) == []


def client_duck_typing(modules: dict[str, Path]) -> list[str]:
    """``getattr`` calls and ``Discovery(...)`` constructions in access/ (a module aside).

    access/ talks to the client through ``access/client_protocol.py`` and uses the client's own
    ``discovery()``: one discovery cache, the client's.
    """
    found = []
    for name, path in modules.items():
        if _part(name) != "access":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            first = node.args[0] if node.args else None
            on_module = isinstance(first, ast.Name) and first.id == "yaml"
            if (node.func.id == "getattr" and not on_module) or node.func.id == "Discovery":
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {node.func.id}")
    return found


def test_access_uses_the_client_protocol_and_its_discovery() -> None:
    assert client_duck_typing(_modules()) == []


def test_the_checks_catch_what_they_claim(tmp_path: Path) -> None:
    """A client module importing pytest glue, a circle, and a long function are all reported."""
    pkg = tmp_path / "pytest_incluster"
    (pkg / "client").mkdir(parents=True)
    (pkg / "pytest_plugin").mkdir()
    (pkg / "client" / "a.py").write_text("from pytest_incluster.pytest_plugin import b\n")
    (pkg / "access").mkdir()
    (pkg / "access" / "c.py").write_text(
        "def g(client):\n    return getattr(client, 'namespace', None), Discovery(client)\n"
    )
    (pkg / "pytest_plugin" / "b.py").write_text(
        "def f():\n    from pytest_incluster.client import a\n" + "    x = 1\n" * 79
    )
    modules = {
        "pytest_incluster.client.a": pkg / "client" / "a.py",
        "pytest_incluster.pytest_plugin.b": pkg / "pytest_plugin" / "b.py",
    }
    global PACKAGE
    saved, PACKAGE = PACKAGE, pkg
    try:
        assert len(layer_violations(modules)) == 1
        assert import_cycles(modules) == [sorted(modules)]
        assert long_functions(modules) == ["pytest_incluster.pytest_plugin.b.f: 81 lines"]
        access = {"pytest_incluster.access.c": pkg / "access" / "c.py"}
        assert client_duck_typing(access) == [
            "pytest_incluster/access/c.py:2: getattr",
            "pytest_incluster/access/c.py:2: Discovery",
        ]
    finally:
        PACKAGE = saved
