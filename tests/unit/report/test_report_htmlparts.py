"""HTML fragments: untrusted text is escaped, secrets masked, tables say what happened."""

from __future__ import annotations

import re

from pytest_incluster.access.decision import AccessOutcome, Expectation
from pytest_incluster.calls import ApiCall
from pytest_incluster.report.htmlparts import MAX_CALL_ROWS, Html
from pytest_incluster.report.redact import Redactor

HOSTILE = '<script>alert(1)</script> "x" \x1b[31mred\x1b[0m \u202egnp.exe'


def html() -> Html:
    return Html(Redactor())


def test_text_escapes_markup_and_makes_escape_sequences_visible() -> None:
    out = html().text(HOSTILE)
    assert "<script" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "&quot;x&quot;" in out
    assert "\x1b" not in out
    assert "\\x1b[31mred\\x1b[0m" in out
    assert "\u202e" not in out
    assert "\\u202e" in out


def test_text_is_single_line_so_pytest_html_log_markup_cannot_split_it() -> None:
    out = html().text("first\nError line\r\nthird")
    assert "\n" not in out
    assert out == "first<br>Error line<br>third"


def test_text_is_redacted_before_escaping() -> None:
    r = Redactor()
    r.add_secret("s3cr3t-value-123")
    assert Html(r).text("<b>s3cr3t-value-123</b>") == "&lt;b&gt;***&lt;/b&gt;"


def test_calls_table_shows_each_call_and_the_server_message_of_denials() -> None:
    calls = [
        ApiCall("GET", "/api/v1/namespaces/a/pods?limit=5", 200, "OK", duration_s=0.012),
        ApiCall(
            "DELETE",
            "/api/v1/namespaces/a/pods/x",
            403,
            "Forbidden",
            message=f'pods "x" is forbidden: {HOSTILE}',
            duration_s=0.004,
            impersonated_user="system:serviceaccount:a:viewer",
        ),
        ApiCall("GET", "/version", None, message="connection refused", attempt=2),
    ]
    table = html().calls_table(calls)
    assert "\n" not in table
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table)
    # header, three calls, two messages, and the admission note of the DELETE: a 403 in words
    # other than RBAC's came from admission
    assert len(rows) == 1 + 3 + 2 + 1
    assert '<td colspan="6">admission: rejected by admission</td>' in rows[3]
    assert "<td>GET</td><td>/api/v1/namespaces/a/pods?limit=5</td><td>200</td>" in rows[1]
    assert "12 ms" in rows[1]
    assert "<td>403</td><td>Forbidden</td>" in rows[2]
    assert "system:serviceaccount:a:viewer" in rows[2]
    assert "server said: pods &quot;x&quot; is forbidden: &lt;script&gt;" in rows[4]
    assert "no response (attempt 2)" in rows[5]
    assert "error: connection refused" in rows[6]


def test_calls_table_is_capped() -> None:
    calls = [ApiCall("GET", f"/api/v1/x{i}", 200) for i in range(MAX_CALL_ROWS + 5)]
    table = html().calls_table(calls)
    assert f"API calls ({MAX_CALL_ROWS + 5})" in table
    assert "5 more calls not shown" in table
    assert "/api/v1/x204" not in table


def test_test_block_puts_the_error_first_and_is_empty_without_data() -> None:
    h = html()
    assert h.test_block(errors=[], calls=[], outcomes=[]) == ""
    block = h.test_block(
        errors=[{"type": "Forbidden", "message": "GET /x -> 403", "when": "call"}],
        calls=[ApiCall("GET", "/x", 403, "Forbidden")],
        outcomes=[],
    )
    assert block.index("incluster-error") < block.index("incluster-calls")
    assert "<b>Forbidden:</b> GET /x -&gt; 403" in block


def outcome(subject: str, expected: Expectation, actual: str, verb: str = "get") -> AccessOutcome:
    return AccessOutcome(f"t.py::{verb}", subject, verb, "pods", "ns", expected, actual, "why")


def test_access_summary_groups_by_subject_with_counts_failures_first() -> None:
    outcomes = [
        outcome("alice", "forbidden", "forbidden"),
        outcome("bob", "forbidden", "allowed", verb="delete"),
        outcome("bob", "allowed", "allowed"),
        outcome("alice", "allowed", "allowed", verb="list"),
        outcome("<carol>", "allowed", "forbidden"),
    ]
    section = html().access_summary(outcomes)
    assert "5 access checks: 3 passed, 2 failed (1 unexpectedly allowed, 1 unexpectedly " in (
        section
    )
    counts = re.findall(
        r"<tr[^>]*><td>([^<]*)</td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td></tr>", section
    )
    assert counts == [
        ("&lt;carol&gt;", "1", "0", "1"),
        ("bob", "2", "1", "1"),
        ("alice", "2", "2", "0"),
    ]
    headings = re.findall(r"<h3>(.*?)</h3>", section)
    assert headings == ["&lt;carol&gt;", "bob", "alice"]
    bob = section[section.index("<h3>bob</h3>") : section.index("<h3>alice</h3>")]
    assert bob.index("FAILED: unexpectedly allowed") < bob.index(">passed<")


def test_access_summary_says_when_there_were_no_checks() -> None:
    assert "No access checks were recorded" in html().access_summary([])


def test_tables_under_a_subject_heading_have_no_subject_column() -> None:
    outcomes = [outcome("alice", "forbidden", "forbidden"), outcome("bob", "allowed", "allowed")]
    section = html().access_summary(outcomes)
    alice = section[section.index("<h3>alice</h3>") : section.index("<h3>bob</h3>")]
    assert re.findall(r"<th>([^<]*)</th>", alice) == [
        "Verb",
        "Resource",
        "Namespace",
        "Expected",
        "Actual",
        "Result",
        "Test",
        "Reason",
    ]
    assert "<td>alice</td>" not in alice
    # A test's own table may mix subjects (an access file's documents): it keeps the column.
    block = html().test_block(errors=[], calls=[], outcomes=outcomes)
    assert re.findall(r"<th>([^<]*)</th>", block)[:2] == ["Subject", "Verb"]
    assert "<td>alice</td>" in block
    assert "<td>bob</td>" in block
