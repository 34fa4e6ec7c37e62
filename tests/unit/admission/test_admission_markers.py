"""The admission markers' arguments are validated at collection, like the other markers."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("markers", "expected"),
    [
        (
            ['expect_rejected(bye="PodSecurity")'],
            "@pytest.mark.expect_rejected: unexpected argument 'bye'; "
            "accepted: expect_rejected(by=None, match=None)",
        ),
        (
            ['expect_rejected(match="(")'],
            "@pytest.mark.expect_rejected: match= is not a valid regular expression: "
            "missing ), unterminated subpattern at position 0; "
            "accepted: expect_rejected(by=None, match=None)",
        ),
        (
            ["expect_rejected(by=3)"],
            "@pytest.mark.expect_rejected: by= must be a non-empty string, got 3; "
            "accepted: expect_rejected(by=None, match=None)",
        ),
        (
            ['expect_rejected("a", "b", "c")'],
            "@pytest.mark.expect_rejected: takes at most 2 positional arguments; "
            "accepted: expect_rejected(by=None, match=None)",
        ),
        (
            ['expect_admitted("PodSecurity")'],
            "@pytest.mark.expect_admitted: takes at most 0 positional arguments; "
            "accepted: expect_admitted()",
        ),
        (
            ["expect_warning"],
            "@pytest.mark.expect_warning: requires the warning to look for, e.g. "
            "expect_warning('PodSecurity'); accepted: expect_warning(match)",
        ),
        (
            ["expect_admitted", "expect_rejected"],
            "@pytest.mark.expect_rejected: conflicting markers expect_admitted, "
            "expect_rejected; use only one; accepted: expect_rejected(by=None, match=None)",
        ),
        (
            ["expect_rejected", "expect_forbidden"],
            "@pytest.mark.expect_rejected: conflicting markers expect_rejected, "
            "expect_forbidden; use only one; accepted: expect_rejected(by=None, match=None)",
        ),
    ],
)
def test_bad_admission_marker_arguments_are_a_usage_error(
    pytester: pytest.Pytester, markers: list[str], expected: str
) -> None:
    decorators = "\n".join(f"@pytest.mark.{m}" for m in markers)
    pytester.makepyfile(
        f"import pytest\n\n{decorators}\ndef test_it():\n    pass\n\ndef test_other():\n    pass\n"
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: invalid pytest-incluster marker arguments:", f"test_*.py::test_it: {expected}"]
    )


def test_good_admission_markers_collect(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.expect_rejected(by="PodSecurity", match="privileged")
        @pytest.mark.expect_warning("deprecated")
        def test_a():
            pass

        @pytest.mark.expect_admitted
        @pytest.mark.expect_warning(match="would violate")
        def test_b():
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.OK
