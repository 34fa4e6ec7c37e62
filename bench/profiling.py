"""Where a pytest run spends its time: pyinstrument, summarised for people who fix code.

``python -m pyinstrument -m pytest ...`` samples the main thread (the plugin's 16 review
threads show up as the main thread waiting for their answers). The session is rendered as a
text tree and summarised three ways that point at code:

* phases: pytest's configure, collection, test loop and session finish (inclusive), and the
  rest (interpreter start, imports of pytest and the plugins before configure);
* self time by owner: time in built-ins and the standard library is charged to the nearest
  calling frame of a named package (pytest, httpx, a ``pytest_incluster`` module, ...), so
  ``compile`` called by pytest's assertion rewriter counts as "pytest assertion rewriting"
  rather than "other";
* the ``pytest_incluster`` functions with the most inclusive time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import child

_GROUPS = (
    ("/_pytest/assertion/rewrite.py", "pytest assertion rewriting"),
    ("/_pytest/", "pytest"),
    ("/pluggy/", "pytest"),
    ("/pytest_html/", "pytest-html"),
    ("/httpx/", "httpx/httpcore"),
    ("/httpcore/", "httpx/httpcore"),
    ("/h11/", "httpx/httpcore"),
    ("/ssl.py", "ssl"),
    ("/yaml/", "PyYAML"),
    ("/concurrent/futures/", "waiting on worker threads"),
    ("/threading.py", "waiting on worker threads"),
    ("<frozen importlib", "imports (importlib)"),
    ("/importlib/", "imports (importlib)"),
)
# pytest's phases, by the function that runs each (outermost frame of that name).
PHASES = (
    ("configure (all plugins)", "_do_configure"),
    ("collection", "pytest_collection"),
    ("test loop", "pytest_runtestloop"),
    ("session finish (reports)", "pytest_sessionfinish"),
    ("unconfigure", "_ensure_unconfigure"),
)
_UNOWNED = ""


def _group(path: str) -> str:
    """The owner of frames in ``path``; :data:`_UNOWNED` for built-ins and the stdlib."""
    if "/pytest_incluster/" in path:
        return "pytest_incluster/" + path.split("/pytest_incluster/", 1)[1].removesuffix(".py")
    for needle, group in _GROUPS:
        if needle in path:
            return group
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    return _UNOWNED


@dataclass(frozen=True)
class Profile:
    """A saved profile and its summary."""

    text_file: Path
    total_s: float
    phases: list[tuple[str, float]]
    by_owner: list[tuple[str, float]]  # self time, largest first
    plugin_functions: list[tuple[str, float]]  # inclusive time, largest first


def _summarise(session_file: Path, text_file: Path) -> Profile:
    from pyinstrument.renderers import ConsoleRenderer
    from pyinstrument.session import Session

    session = Session.load(str(session_file))
    text_file.write_text(ConsoleRenderer(unicode=False, color=False).render(session))
    root: Any = session.root_frame()
    if root is None:
        return Profile(text_file, 0.0, [], [], [])
    self_time: dict[str, float] = defaultdict(float)
    inclusive: dict[str, float] = defaultdict(float)
    phase_time: dict[str, float] = defaultdict(float)
    phase_of = {function: name for name, function in PHASES}

    def visit(frame: Any, owner: str, active: frozenset[str], in_phase: bool) -> None:
        path = frame.file_path or ""
        group = _group(path) if path else _UNOWNED
        owner = group or owner
        function = frame.function or ""
        key = ""
        if "/pytest_incluster/" in path:
            module = path.split("/pytest_incluster/", 1)[1].removesuffix(".py")
            key = f"{module}:{function}"
            if key not in active:
                inclusive[key] += frame.time
        if function in phase_of and path and not in_phase:
            phase_time[phase_of[function]] += frame.time
            in_phase = True
        if not frame.children:
            self_time[owner or "python (stdlib, built-ins)"] += frame.time
        for sub in frame.children:
            visit(sub, owner, active | {key} if key else active, in_phase)

    visit(root, _UNOWNED, frozenset(), False)
    total = float(root.time)
    phases = [(name, phase_time.get(name, 0.0)) for name, _ in PHASES]
    phases.append(
        ("start-up and imports before configure, other", total - sum(phase_time.values()))
    )
    return Profile(
        text_file,
        total,
        phases,
        sorted(self_time.items(), key=lambda kv: -kv[1]),
        sorted(inclusive.items(), key=lambda kv: -kv[1])[:15],
    )


def profile_pytest(
    pytest_args: Sequence[str],
    *,
    cwd: Path,
    out_stem: Path,
    log: Path,
    env: dict[str, str] | None = None,
) -> Profile:
    """Run ``python -m pyinstrument -m pytest ARGS``; writes ``out_stem`` + ``.txt``."""
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    session_file = log.with_suffix(".pyisession")
    ran = child.run(
        [
            child.python(),
            "-m",
            "pyinstrument",
            "-r",
            "pyisession",
            "-o",
            str(session_file),
            *pytest_args,
        ],
        cwd=cwd,
        log=log,
        env=env,
    )
    if not session_file.exists():
        raise RuntimeError(
            f"pyinstrument wrote no profile (exit {ran.returncode}):\n{ran.output[-2000:]}"
        )
    return _summarise(session_file, out_stem.with_suffix(".txt"))
