"""The report in a real browser: headless Chromium loads it without console errors, renders the
access summary and the per-test tables, and never runs markup from a server message.

Chromium comes from Debian (``apt-get install -y chromium``). It logs every console message
(``console.error``, uncaught exceptions) to stderr as ``...:CONSOLE:<line>] "<message>"`` with
``--enable-logging=stderr``; the first test proves that this detection works.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from tests.unit.report.test_report_html import CONFTEST, TESTS

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
)

# The onerror handler would log to the console (which fails the test) if it ever ran.
XSS = "<img src=x onerror=console.error(42)>"


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail(
            "Chromium is needed to check the HTML report in a real browser: install Debian's "
            "package with 'apt-get update && apt-get install -y chromium'.",
            pytrace=False,
        )
    return found


def run_chromium(chromium: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def test_console_errors_are_detected(chromium: str, tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>undefined_function();</script></body></html>")
    result = run_chromium(chromium, tmp_path, "--dump-dom", page.as_uri())
    assert any("undefined_function" in m for m in console_messages(result.stderr))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report of a suite with API calls, access checks and hostile server messages."""
    root = tmp_path_factory.mktemp("suite")
    (root / "conftest.py").write_text(CONFTEST.replace("<script>alert(1)</script>", XSS))
    (root / "test_suite.py").write_text(TESTS)
    result = subprocess.run(
        [
            "python",
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--html=report.html",
            "--self-contained-html",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=_clean_env(),
    )
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout + result.stderr
    return root / "report.html"


def _clean_env() -> dict[str, str]:
    import os
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "PYTEST_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_report_renders_without_console_errors(chromium: str, report: Path, tmp_path: Path) -> None:
    result = run_chromium(chromium, tmp_path, "--dump-dom", report.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    assert console_messages(result.stderr) == []
    dom = result.stdout
    # pytest-html's script built the results table from the JSON data ...
    assert dom.count('<tbody class="results-table-row passed"') == 2
    assert dom.count('<tbody class="results-table-row failed"') == 2
    # ... including our per-test block, with the server message as text, not markup.
    assert '<table class="incluster-table incluster-calls">' in dom
    assert 'server said: pods "&lt;img src=x onerror=console.error(42)&gt;' in dom
    assert '<img src="x"' not in dom
    # The access summary is rendered, grouped by subject, and sortable.
    assert '<section class="incluster-access" id="incluster-access-summary">' in dom
    assert "3 access checks: 1 passed, 2 failed" in dom
    assert (
        '<table class="incluster-table incluster-sortable" id="incluster-access-subjects">' in dom
    )
    assert "TLS verification of the API server is DISABLED" in dom


def test_screenshot_shows_a_rendered_page(chromium: str, report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    result = run_chromium(
        chromium, tmp_path, "--window-size=1280,2400", f"--screenshot={shot}", report.as_uri()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert console_messages(result.stderr) == []
    width, height, rows = png_rows(shot)
    assert (width, height) == (1280, 2400)
    # Not a blank page: text and tables make hundreds of distinct scanlines.
    assert len(set(rows)) > 300
    assert len(set(b"".join(rows[:1200]))) > 100


def png_rows(path: Path) -> tuple[int, int, list[bytes]]:
    """(width, height, scanlines as stored) of an 8-bit RGB(A) PNG: enough to tell a rendered
    page from a blank one (whose scanlines all filter to the same bytes) without an imaging
    library."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat = 8, b""
    width = height = channels = 0
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8
            channels = {2: 3, 6: 4}[colour]
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels + 1
    return width, height, [raw[y * stride : (y + 1) * stride] for y in range(height)]


def test_access_tables_sort_by_a_clicked_column(
    chromium: str, report: Path, tmp_path: Path
) -> None:
    clicked = tmp_path / "clicked.html"
    click = (
        "<script>document.querySelectorAll('#incluster-access-subjects th')[1].click();"
        "</script></body>"
    )
    clicked.write_text(report.read_text().replace("</body>", click))
    result = run_chromium(chromium, tmp_path, "--dump-dom", clicked.as_uri())
    assert console_messages(result.stderr) == []
    table = result.stdout.split('id="incluster-access-subjects"')[1].split("</table>")[0]
    assert '<th data-dir="asc">Checks</th>' in table
    assert table.index("system:serviceaccount:tests:viewer") < table.index("alice")


def _after_load(report: Path, target: Path, script: str) -> Path:
    """``report`` with ``script`` run 100 ms after load (pytest-html has built its table)."""
    hook = (
        "<script>window.addEventListener('load',function(){setTimeout(function(){"
        f"{script}}},100);}});</script></body>"
    )
    target.write_text(report.read_text().replace("</body>", hook))
    return target


def _dom_after(chromium: str, page: Path, tmp_path: Path) -> str:
    result = run_chromium(
        chromium, tmp_path, "--virtual-time-budget=3000", "--dump-dom", page.as_uri()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert console_messages(result.stderr) == []
    return result.stdout


def test_matrix_filters_hide_what_is_not_asked_for(
    chromium: str, report: Path, tmp_path: Path
) -> None:
    unfiltered = _dom_after(chromium, report, tmp_path)
    assert unfiltered.count('<div class="incluster-matrix" ') == 2
    assert (
        'style="display: none;"'
        not in unfiltered.split('id="incluster-matrix"')[1].split("</section>")[0]
    )

    mismatches = _after_load(
        report,
        tmp_path / "mismatches.html",
        "var m=document.getElementById('incluster-matrix-mismatches');m.checked=true;"
        "m.dispatchEvent(new Event('change'));",
    )
    dom = _dom_after(chromium, mismatches, tmp_path)
    # alice's grid (two mismatches) stays, the viewer's (none) goes.
    assert '<div class="incluster-matrix" data-subject="alice" data-namespace="tests">' in dom
    assert (
        '<div class="incluster-matrix" data-subject="system:serviceaccount:tests:viewer" '
        'data-namespace="tests" style="display: none;">'
    ) in dom

    by_subject = _after_load(
        report,
        tmp_path / "subject.html",
        "var s=document.getElementById('incluster-matrix-subject');"
        "s.value='system:serviceaccount:tests:viewer';s.dispatchEvent(new Event('change'));",
    )
    dom = _dom_after(chromium, by_subject, tmp_path)
    assert (
        '<div class="incluster-matrix" data-subject="alice" data-namespace="tests" '
        'style="display: none;">'
    ) in dom
    assert (
        '<div class="incluster-matrix" data-subject="system:serviceaccount:tests:viewer" '
        'data-namespace="tests">'
    ) in dom


def test_a_mismatch_opens_its_test_in_the_results_table(
    chromium: str, report: Path, tmp_path: Path
) -> None:
    clicked = _after_load(
        report,
        tmp_path / "clicked.html",
        "document.querySelector('a.incluster-test-link[data-test$=test_hole_in_rbac]').click();"
        "document.body.setAttribute('data-scrolled',String(window.scrollY));",
    )
    dom = _dom_after(chromium, clicked, tmp_path)
    linked = dom.split('class="results-table-row failed incluster-linked"')
    assert len(linked) == 2, "exactly one results row is marked as the link's target"
    assert linked[1].index("test_suite.py::test_hole_in_rbac") < linked[1].index("</tbody>")
    scrolled = int(dom.split('data-scrolled="')[1].split('"')[0])
    assert scrolled > 500  # the row is far below the matrix


def test_matrix_screenshot_shows_the_grid(chromium: str, report: Path, tmp_path: Path) -> None:
    # Only the matrix: everything else on the page hidden, so the picture is the grid.
    only = _after_load(report, tmp_path / "only.html", "")
    only.write_text(
        only.read_text().replace(
            "</head>",
            "<style>body *{visibility:hidden}#incluster-matrix,#incluster-matrix *"
            "{visibility:visible}#incluster-matrix{position:absolute;top:0;left:0;"
            "background:#fff}</style></head>",
        )
    )
    shot = tmp_path / "matrix.png"
    result = run_chromium(
        chromium, tmp_path, "--window-size=900,500", f"--screenshot={shot}", only.as_uri()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert console_messages(result.stderr) == []
    width, height, rows = png_rows(shot)
    assert (width, height) == (900, 500)
    assert len(set(rows)) > 50


def test_a_report_of_5000_checks_renders_and_its_matrix_works(
    chromium: str, tmp_path: Path
) -> None:
    """The size bench/report_size.py measures; here only whether it works, never how fast."""
    from bench.report_size import make_report

    report, results, _ = make_report(tmp_path, 5000)
    mismatches = _after_load(
        report,
        tmp_path / "mismatches.html",
        "var m=document.getElementById('incluster-matrix-mismatches');m.checked=true;"
        "m.dispatchEvent(new Event('change'));"
        "document.body.setAttribute('data-hidden-rows',String(document.querySelectorAll("
        "'.incluster-matrix tbody tr[style*=none]').length));",
    )
    result = run_chromium(
        chromium, tmp_path, "--virtual-time-budget=600000", "--dump-dom", mismatches.as_uri()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert console_messages(result.stderr) == []
    dom = result.stdout
    assert dom.count('<div class="incluster-matrix" ') == 110
    assert dom.count('<tbody class="results-table-row passed"') == 4750
    assert dom.count('<tbody class="results-table-row failed"') == 250  # one in 20
    hidden = int(dom.split('data-hidden-rows="')[1].split('"')[0])
    assert 0 < hidden < dom.count('<tr data-mismatch="')
    assert len(json.loads(results.read_text())["decisions"]) == 5000
