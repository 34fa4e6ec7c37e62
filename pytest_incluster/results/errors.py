"""The error a results file that cannot be used raises."""

from __future__ import annotations

from pytest_incluster.errors import InclusterError


class ResultsError(InclusterError):
    """A results file is missing, not JSON, or not a pytest-incluster results document."""

    anchor = "pytest-incluster-report-cannot-read-results"
