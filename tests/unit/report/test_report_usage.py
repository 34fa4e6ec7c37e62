"""User mistakes around the report are one-paragraph usage errors naming the fix."""

from __future__ import annotations

import pytest


def test_invalid_configmap_name_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_ok():\n    pass\n")
    result = pytester.runpytest("--incluster-report-configmap", "My_Report")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: --incluster-report-configmap is 'My_Report', which is not a valid ConfigMap "
            "name: it must be a DNS subdomain*"
            "Choose a name such as 'pytest-report'."
        ]
    )


def test_invalid_configmap_name_from_the_ini_file_names_the_ini_key(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\nincluster_report_configmap = -bad\n")
    pytester.makepyfile("def test_ok():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*(from ini incluster_report_configmap) is '-bad'*"])


def test_bad_redaction_pattern_names_the_hook(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("def pytest_incluster_redact(config):\n    return ['(unclosed']\n")
    pytester.makepyfile("def test_ok():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: pytest_incluster_redact returned '(unclosed', which is not a usable regular "
            "expression (missing ), unterminated subpattern at position 0). Fix or remove it in "
            "the conftest.py or plugin that implements the hook."
        ]
    )


def test_configmap_without_html_flag_still_produces_a_self_contained_report(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No cluster here, so the upload itself fails; the point is that there was a report to
    # store, written by pytest-html into a temporary directory, and that after the failed
    # upload it is still there, where the terminal says it is.
    monkeypatch.setenv("TMPDIR", str(pytester.mkdir("tmp")))
    pytester.makepyfile("def test_ok():\n    pass\n")
    result = pytester.runpytest_subprocess(
        "--incluster-report-configmap",
        "r",
        "--incluster-server",
        "https://127.0.0.1:1",
        "--incluster-retries",
        "0",
        "-p",
        "no:cacheprovider",
    )
    assert result.ret == pytest.ExitCode.OK
    [report] = list((pytester.path / "tmp").glob("pytest-incluster-report-*/report.html"))
    result.stdout.fnmatch_lines(
        [
            "incluster WARNING: --incluster-report-configmap: cannot store the report in "
            "ConfigMap default/r: the API server was not reachable*",
            "incluster WARNING: --incluster-report-configmap: the report was not stored in a "
            f"ConfigMap; the local files are kept: {report}",
            f"*Generated html report: {report.as_uri()}*",
        ]
    )
    assert "<style>" in report.read_text()  # self-contained
